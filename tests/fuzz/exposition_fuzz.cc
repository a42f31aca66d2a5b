// libFuzzer target: any bytes as the main container's /metrics, in both formats. What parses must
// be written back as text that parses again to the same number of samples and the same sample
// lines (a line copied as written and one put together part by part must not differ).
#include <algorithm>
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
    for (const auto& family : parsed->families) gathered.merged.push_back({&family});
    gathered.const_labels = {{"cluster", "x"}};
    const std::string text = sidecar::SerializeText(gathered);
    sidecar::ExpositionParseOptions again;
    const auto reparsed = sidecar::ParseExposition(text, again, error);
    if (!reparsed || reparsed->samples != parsed->samples) std::abort();
    sidecar::Gathered again_gathered;
    for (const auto& family : reparsed->families) again_gathered.merged.push_back({&family});
    again_gathered.const_labels = gathered.const_labels;
    if (SampleLines(sidecar::SerializeText(again_gathered)) != SampleLines(text)) std::abort();
  }
  return 0;
}
