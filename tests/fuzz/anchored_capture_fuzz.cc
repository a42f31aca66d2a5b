// libFuzzer target for the regex format's own capture of anchored patterns, against RE2 itself.
// The input is a pattern, "\n", then a text (which may hold more newlines, as a multiline record
// does). For every pattern RE2 accepts and AnchoredCapture takes, both must give the same answer
// and the same submatches, as positions in the text.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "collectors/logs/anchored_capture.h"
#include "re2/re2.h"
#include "tests/fuzz/pattern_and_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::optional<sidecar::fuzz::PatternAndText> input =
      sidecar::fuzz::ReadPatternAndText(data, size);
  if (!input) return 0;
  const RE2& re = *input->re;
  const int groups = re.NumberOfCapturingGroups();
  const std::optional<sidecar::accesslog::AnchoredCapture> capture =
      sidecar::accesslog::AnchoredCapture::Compile(input->pattern, groups);
  if (!capture) return 0;
  const std::string_view text = input->text;
  const int count = 1 + groups;
  std::vector<re2::StringPiece> expected(static_cast<std::size_t>(count));
  std::vector<std::string_view> actual(static_cast<std::size_t>(count));
  const bool re2_matches = re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                                    RE2::UNANCHORED, expected.data(), count);
  if (capture->Match(text, actual.data(), count) != re2_matches) __builtin_trap();
  if (capture->Match(text, nullptr, 0) != re2_matches) __builtin_trap();
  if (!re2_matches) return 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (expected[i].data() != actual[i].data() || expected[i].size() != actual[i].size()) {
      __builtin_trap();
    }
  }
  return 0;
}
