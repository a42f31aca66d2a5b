// The regex kind: a user's RE2 pattern with named groups.

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/logs/anchored_capture.h"
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
  RegexLogFormat(std::unique_ptr<RE2> re, std::optional<AnchoredCapture> anchored,
                 std::vector<std::pair<int, Target>> groups)
      : re_(std::move(re)), anchored_(std::move(anchored)), groups_(std::move(groups)) {
    int max_group = 0;
    for (const auto& [index, target] : groups_) {
      max_group = std::max(max_group, index);
      AddTargetFields(target, fields_);
    }
    submatches_.resize(static_cast<std::size_t>(max_group) + 1);
    if (!anchored_) re2_submatches_.resize(submatches_.size());
  }

  bool Parse(std::string_view line, LogRecord& out) override {
    out.Clear();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    out.scratch.reserve(line.size());
    if (!Capture(line)) return false;
    for (const auto& [index, target] : groups_) {
      const std::string_view match = submatches_[static_cast<std::size_t>(index)];
      if (match.data() == nullptr) {
        continue;  // An optional group that did not take part.
      }
      if (!Store(target, match, /*unescape=*/true, out)) {
        return false;
      }
    }
    return true;
  }

 private:
  // Fills `submatches_`: only as many as the named groups need (RE2 is faster with fewer).
  bool Capture(std::string_view line) {
    const int count = static_cast<int>(submatches_.size());
    if (anchored_) return anchored_->Match(line, submatches_.data(), count);
    if (!re_->Match(line, 0, line.size(), RE2::UNANCHORED, re2_submatches_.data(), count)) {
      return false;
    }
    for (std::size_t i = 0; i < submatches_.size(); ++i) {
      submatches_[i] = std::string_view(re2_submatches_[i].data(), re2_submatches_[i].size());
    }
    return true;
  }

  const std::unique_ptr<RE2> re_;
  // The same pattern without RE2 when it is simple enough (most anchored line formats are).
  const std::optional<AnchoredCapture> anchored_;
  const std::vector<std::pair<int, Target>> groups_;
  std::vector<std::string_view> submatches_;
  std::vector<re2::StringPiece> re2_submatches_;
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
  std::optional<AnchoredCapture> anchored =
      AnchoredCapture::Compile(pattern, re->NumberOfCapturingGroups());
  return std::make_unique<RegexLogFormat>(std::move(re), std::move(anchored), std::move(groups));
}

}  // namespace sidecar::accesslog::internal
