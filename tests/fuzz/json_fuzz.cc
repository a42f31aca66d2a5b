// libFuzzer target: the first line is a json metric's path, the rest the JSON document; the path
// language, the document parser and the mapping to series all see the bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collectors/http/json_collector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  std::string error;
  std::size_t offset = 0;
  auto path = sidecar::JsonPath::Parse(input.substr(0, newline), error, offset);
  if (!path) return 0;
  sidecar::JsonMetric metric;
  metric.name = "fuzz";
  metric.path = std::move(*path);
  metric.value_map = {{"UP", 1}, {"DOWN", 0}};
  if (metric.path.wildcards() > 0) {
    sidecar::JsonLabel key;
    key.name = "key";
    key.source = sidecar::JsonLabel::Source::kKey;
    key.wildcard = metric.path.wildcards() - 1;
    metric.labels.push_back(key);
  }
  sidecar::JsonLabel relative;
  relative.name = "name";
  relative.source = sidecar::JsonLabel::Source::kPath;
  relative.path = sidecar::JsonPath::Parse("@.name", error, offset);
  metric.labels.push_back(relative);

  simdjson::dom::parser parser(1 << 20);
  simdjson::dom::element root;
  if (parser.parse(std::string(input.substr(newline + 1))).get(root) != simdjson::SUCCESS) return 0;
  std::vector<prometheus::MetricFamily> families;
  std::uint64_t conversion_errors = 0;
  sidecar::MapJsonMetric(root, metric, {}, families, conversion_errors);
  return 0;
}
