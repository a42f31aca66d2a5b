// libFuzzer target for the log_metrics `match` prefilter, against RE2 itself. The input is a
// pattern, "\n", then a text (which may hold more newlines, as a multiline record does). For every
// pattern RE2 accepts: when RE2 finds the pattern in the text, the prefilter must let the text
// through (a refused line would be a lost count), and when the prefilter says it is exact (a
// plain string), its answer must be RE2's.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/logs/regex_prefilter.h"
#include "re2/re2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string_view pattern = input.substr(0, newline);
  const std::string_view text = input.substr(newline + 1);
  // As log_metrics compiles `match`.
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  const RE2 re(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re.ok()) return 0;
  const sidecar::logmetrics::RegexPrefilter prefilter(pattern);
  const bool matches = RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), re);
  const bool may_match = prefilter.MayMatch(text);
  if (matches && !may_match) __builtin_trap();
  if (prefilter.exact() && may_match != matches) __builtin_trap();
  return 0;
}
