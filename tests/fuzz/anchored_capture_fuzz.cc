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

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string_view pattern = input.substr(0, newline);
  const std::string_view text = input.substr(newline + 1);
  // As the regex format compiles it.
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  const RE2 re(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re.ok()) return 0;
  const std::optional<sidecar::accesslog::AnchoredCapture> capture =
      sidecar::accesslog::AnchoredCapture::Compile(pattern, re.NumberOfCapturingGroups());
  if (!capture) return 0;
  const int count = 1 + re.NumberOfCapturingGroups();
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
