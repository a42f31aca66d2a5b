#include "collectors/logs/multiline_joiner.h"

#include <stdexcept>
#include <utility>

#include "re2/re2.h"

namespace sidecar {

MultilineJoiner::MultilineJoiner(MultilineOptions options) : options_(std::move(options)) {
  RE2::Options re_options;
  re_options.set_encoding(RE2::Options::EncodingLatin1);
  re_options.set_log_errors(false);
  start_ = std::make_unique<RE2>(options_.start, re_options);
  if (!start_->ok()) {
    throw std::invalid_argument("invalid regular expression: " + start_->error());
  }
  if (options_.max_lines == 0 || options_.max_bytes == 0 ||
      options_.flush_timeout <= std::chrono::milliseconds::zero()) {
    throw std::invalid_argument("multiline bounds and flush timeout must be positive");
  }
}

MultilineJoiner::~MultilineJoiner() = default;

bool MultilineJoiner::Emit(std::string_view path, Pending& pending, const RecordSink& sink) {
  pending.open = false;
  ++stats_.records;
  const bool accepted = sink(path, pending.text);
  pending.text.clear();
  pending.lines = 0;
  // A record of max_bytes should not keep its buffer around for every file forever.
  if (pending.text.capacity() > 4096) pending.text.shrink_to_fit();
  return accepted;
}

bool MultilineJoiner::Feed(std::string_view path, std::string_view line, const RecordSink& sink) {
  auto it = pending_.find(path);
  if (it == pending_.end()) it = pending_.emplace(std::string(path), Pending{}).first;
  Pending& pending = it->second;
  const bool starts = RE2::PartialMatch(line, *start_);
  if (!starts) {
    if (!pending.open) {
      ++stats_.orphan_lines;
      ++stats_.records;
      return sink(path, line);
    }
    pending.touched = true;
    if (pending.lines >= options_.max_lines) {
      ++stats_.lines_over_max_lines;
    } else if (pending.text.size() + 1 + line.size() > options_.max_bytes) {
      ++stats_.lines_over_max_bytes;
    } else {
      pending.text.push_back('\n');
      pending.text.append(line);
      ++pending.lines;
    }
    return true;
  }
  bool accepted = true;
  if (pending.open) accepted = Emit(path, pending, sink);
  pending.open = true;
  pending.touched = true;
  pending.lines = 1;
  // The start line itself is bounded by the tailer's max_line_bytes; keep at most max_bytes.
  pending.text.assign(line.substr(0, options_.max_bytes));
  if (line.size() > options_.max_bytes) ++stats_.lines_over_max_bytes;
  return accepted;
}

void MultilineJoiner::Flush(std::chrono::steady_clock::time_point now, const RecordSink& sink,
                            const std::function<void(std::string_view path)>& refused) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& pending = it->second;
    if (pending.touched) {
      pending.touched = false;
      pending.last_line = now;
    } else if (pending.open && now - pending.last_line >= options_.flush_timeout) {
      ++stats_.flushed_by_timeout;
      if (!Emit(it->first, pending, sink)) refused(it->first);
    }
    // Files that went quiet with nothing open (a glob match gone) are forgotten.
    if (!pending.open && !pending.touched) {
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace sidecar
