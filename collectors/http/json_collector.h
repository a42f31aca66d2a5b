#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/core/collector_type.h"
#include "collectors/http/json_path.h"
#include "collectors/http/status_page_collector.h"

namespace sidecar {

// One label of a JSON metric: a literal, the key (or index) a wildcard matched (`$key` for the
// last wildcard, `$key1`, `$key2`, ... counting from the first), or a value found by a relative
// path (`@.name`) from the item the last wildcard matched (the document without wildcards).
struct JsonLabel {
  enum class Source { kLiteral, kKey, kPath };
  std::string name;
  Source source = Source::kLiteral;
  std::string literal;
  std::size_t wildcard = 0;  // for kKey: 0-based wildcard number
  std::optional<JsonPath> path;
};

// One `metrics:` entry of a `json` collector, as json_exporter's.
struct JsonMetric {
  std::string name;
  std::string help;
  prometheus::MetricType type = prometheus::MetricType::Gauge;
  JsonPath path;
  std::vector<JsonLabel> labels;
  // Strings (and "true"/"false") to values; checked before a string is read as a number.
  std::vector<std::pair<std::string, double>> value_map;
};

// Turns the values `metric.path` reaches into series: numbers as they are, booleans 1 and 0,
// strings through value_map or as numbers ("12.5"). Anything else (an unmapped string, null, an
// object, a path reaching nothing, a second value with the same labels) is left out and counted in
// `conversion_errors`. Every series gets `base_labels` first.
void MapJsonMetric(simdjson::dom::element root, const JsonMetric& metric,
                   const LabelPairs& base_labels, std::vector<prometheus::MetricFamily>& families,
                   std::uint64_t& conversion_errors);

struct JsonOptions {
  StatusPageOptions page;
  std::string collector;  // the collector's name, for the conversion error counter
  std::vector<JsonMetric> metrics;
};

// Fetches a JSON document at scrape time (json_exporter's job, from inside the pod) and exports
// the metrics configured. An invalid document (not JSON, invalid UTF-8, too deep) fails the
// collector; a value that cannot be converted fails only its series and is counted in
// sidecar_exporter_json_conversion_errors_total{collector,metric}.
//
// Thread-safety: as StatusPageCollector.
class JsonCollector final : public StatusPageCollector {
 public:
  explicit JsonCollector(JsonOptions options);

 private:
  std::optional<std::string> Export(const FetchedDocument& document,
                                    std::vector<prometheus::MetricFamily>& families) override;

  const JsonOptions options_;
  simdjson::dom::parser parser_;
  // Per metric, since the collector was built.
  std::vector<std::uint64_t> conversion_errors_;
};

// Decodes the options of a `json` collector into a factory of JsonCollector.
CollectorFactory DecodeJson(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
