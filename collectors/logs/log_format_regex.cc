// The regex kind: a user's RE2 pattern with named groups.

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_format_internal.h"
#include "re2/re2.h"

namespace sidecar::accesslog::internal {
namespace {

Target RegexTarget(const std::string& name) {
  if (name == "request") {
    return Target::ForRequest();
  }
  // For logs that write the duration in other units (Apache %D is microseconds).
  if (name == "request_time_ms") {
    return Target::ForField(Field::kRequestTime, 1e3);
  }
  if (name == "request_time_us") {
    return Target::ForField(Field::kRequestTime, 1e6);
  }
  if (std::optional<Field> field = FieldFromName(name)) {
    return Target::ForField(*field);
  }
  return Target::ForNamed(name);
}

RE2::Options PatternOptions() {
  RE2::Options options;
  // Bytes, not UTF-8: lines carry whatever clients send, and `.` or `\S` must match an invalid
  // UTF-8 byte rather than make the whole line a parse error. Matching bytes is also faster.
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  return options;
}

class RegexLogFormat final : public LogFormat {
 public:
  RegexLogFormat(std::unique_ptr<RE2> re, std::vector<std::pair<int, Target>> groups)
      : re_(std::move(re)), groups_(std::move(groups)) {
    int max_group = 0;
    for (const auto& [index, target] : groups_) {
      max_group = std::max(max_group, index);
      AddTargetFields(target, fields_);
    }
    submatches_.resize(static_cast<std::size_t>(max_group) + 1);
  }

  bool Parse(std::string_view line, LogRecord& out) override {
    out.Clear();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    out.scratch.reserve(line.size());
    // Only as many submatches as the named groups need: RE2 is faster with fewer.
    if (!re_->Match(line, 0, line.size(), RE2::UNANCHORED, submatches_.data(),
                    static_cast<int>(submatches_.size()))) {
      return false;
    }
    for (const auto& [index, target] : groups_) {
      const re2::StringPiece& match = submatches_[static_cast<std::size_t>(index)];
      if (match.data() == nullptr) {
        continue;  // An optional group that did not take part.
      }
      if (!Store(target, std::string_view(match.data(), match.size()), /*unescape=*/true, out)) {
        return false;
      }
    }
    return true;
  }

 private:
  const std::unique_ptr<RE2> re_;
  const std::vector<std::pair<int, Target>> groups_;
  std::vector<re2::StringPiece> submatches_;
};

}  // namespace

std::unique_ptr<LogFormat> CompileRegex(std::string_view pattern, const LogFormatOptions& options,
                                        FormatError& error) {
  auto re =
      std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), PatternOptions());
  if (!re->ok()) {
    const std::size_t at =
        re->error_arg().empty() ? std::string_view::npos : pattern.find(re->error_arg());
    error.offset = at == std::string_view::npos ? 0 : at;
    error.message = "invalid regex: " + re->error();
    if (at != std::string_view::npos) {
      error.message += " at position " + std::to_string(at + 1);
    }
    return nullptr;
  }
  std::vector<std::pair<int, Target>> groups;
  for (const auto& [name, index] : re->NamedCapturingGroups()) {
    groups.emplace_back(index, options.keys_as_named ? Target::ForNamed(name) : RegexTarget(name));
  }
  // Apply in pattern order, so that a later group wins over an earlier one for the same field.
  std::sort(groups.begin(), groups.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return std::make_unique<RegexLogFormat>(std::move(re), std::move(groups));
}

}  // namespace sidecar::accesslog::internal
