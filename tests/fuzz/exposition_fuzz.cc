// libFuzzer target: any bytes as the main container's /metrics, in both formats. What parses must
// be written back as text that parses again to the same number of samples and the same sample
// lines (a line copied as written and one put together part by part must not differ), and every
// value either in its shortest round-trip form or a plain number every parser reads (digits, a
// point, an exponent: what is copied as written).
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/http/exposition_parser.h"
#include "exporter/metric_families.h"

namespace {

// The lines of an exposition that are not comments, sorted: families of a gaugehistogram, for
// example, are grouped otherwise when read back as the text format, their lines are the same.
std::vector<std::string_view> SampleLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (!line.starts_with('#')) lines.push_back(line);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// True when the value of a written sample line is NaN, +Inf, -Inf, what std::to_chars writes for
// it, or a plain number with a point or an exponent.
bool ValueWrittenPlainly(std::string_view line) {
  const std::size_t brace = line.rfind('}');
  const std::size_t start = line.find(' ', brace == std::string_view::npos ? 0 : brace) + 1;
  const std::string_view token = line.substr(start, line.find(' ', start) - start);
  if (token == "NaN" || token == "+Inf" || token == "-Inf") return true;
  const bool negative = token.starts_with('-');
  double value = 0;
  const auto [parsed_end, parse_error] =
      std::from_chars(token.data() + negative, token.data() + token.size(), value);
  if (parse_error != std::errc() || parsed_end != token.data() + token.size()) return false;
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, negative ? -value : value);
  if (std::string_view(buffer, static_cast<std::size_t>(end - buffer)) == token) return true;
  return token.find_first_not_of("-0123456789.e+") == std::string_view::npos &&
         token.find_first_of(".e") != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const auto format :
       {sidecar::ExpositionFormat::kText, sidecar::ExpositionFormat::kOpenMetrics}) {
    sidecar::ExpositionParseOptions options;
    options.format = format;
    options.extra_labels = {{"source", "app"}};
    options.sample_limit = 10000;
    std::string error;
    const auto parsed = sidecar::ParseExposition(body, options, error);
    if (!parsed) continue;
    sidecar::Gathered gathered;
    for (const auto& family : parsed->families) gathered.merged.emplace_back(&family);
    gathered.const_labels = {{"cluster", "x"}};
    const std::string text = sidecar::SerializeText(gathered);
    for (const std::string_view line : SampleLines(text)) {
      if (!ValueWrittenPlainly(line)) std::abort();
    }
    sidecar::ExpositionParseOptions again;
    const auto reparsed = sidecar::ParseExposition(text, again, error);
    if (!reparsed || reparsed->samples != parsed->samples) std::abort();
    sidecar::Gathered again_gathered;
    for (const auto& family : reparsed->families) again_gathered.merged.emplace_back(&family);
    again_gathered.const_labels = gathered.const_labels;
    if (SampleLines(sidecar::SerializeText(again_gathered)) != SampleLines(text)) std::abort();
  }
  return 0;
}
