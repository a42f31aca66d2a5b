// libFuzzer target: any bytes as the main container's /metrics, in both formats. What parses must
// be written back as text that parses again to the same number of samples.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "collectors/http/exposition_parser.h"
#include "exporter/metric_families.h"

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
  }
  return 0;
}
