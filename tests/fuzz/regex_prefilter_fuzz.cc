// libFuzzer target for the log_metrics `match` prefilter, against RE2 itself. The input is a
// pattern, "\n", then a text (which may hold more newlines, as a multiline record does). For every
// pattern RE2 accepts: when RE2 finds the pattern in the text, the prefilter must let the text
// through (a refused line would be a lost count), and when the prefilter says it is exact (a
// plain string), its answer must be RE2's.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "collectors/logs/regex_prefilter.h"
#include "re2/re2.h"
#include "tests/fuzz/pattern_and_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::optional<sidecar::fuzz::PatternAndText> input =
      sidecar::fuzz::ReadPatternAndText(data, size);
  if (!input) return 0;
  const std::string_view pattern = input->pattern;
  const std::string_view text = input->text;
  const RE2& re = *input->re;
  const sidecar::logmetrics::RegexPrefilter prefilter(pattern);
  const bool matches = RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), re);
  const bool may_match = prefilter.MayMatch(text);
  if (matches && !may_match) __builtin_trap();
  if (prefilter.exact() && may_match != matches) __builtin_trap();
  return 0;
}
