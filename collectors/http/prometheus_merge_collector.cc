#include "collectors/http/prometheus_merge_collector.h"

#include <memory>

#include "collectors/http/http_fetcher.h"

namespace sidecar {

PrometheusMergeCollector::PrometheusMergeCollector(const PrometheusMergeOptions& options)
    : StatusPageCollector(
          std::make_unique<HttpFetcher>(options.page.url, options.page.unix_socket,
                                        std::vector<std::string>{kExpositionAcceptHeader}),
          {.up_name = "",
           .up_help = "",
           .timeout = options.page.timeout,
           .max_body_bytes = options.page.max_body_bytes,
           .labels = options.page.labels}) {
  parse_options_.extra_labels = options.page.labels;
  parse_options_.sample_limit = options.sample_limit;
  collector_ = options.collector;
}

std::optional<std::string> PrometheusMergeCollector::ExportResult(const FetchedDocument& document,
                                                                  CollectResult& result) {
  ExpositionParseOptions options = parse_options_;
  options.format = FormatOfContentType(document.content_type);
  std::string error;
  std::optional<ParsedExposition> parsed =
      ParseExposition(document.body, options, error, lines_->Take());
  if (!parsed) {
    return (options.format == ExpositionFormat::kOpenMetrics ? "OpenMetrics " : "text format ") +
           error;
  }
  result.merged = std::move(parsed->families);
  // The size of what was merged, for the dashboard: series count and bytes of the app's answer.
  const LabelPairs labels = {{"collector", collector_}};
  result.families.push_back(
      MetricFamilyBuilder("sidecar_exporter_merge_samples",
                          "Samples read from the main container's /metrics in the last scrape "
                          "(before name clashes are dropped).",
                          prometheus::MetricType::Gauge, labels)
          .Add(static_cast<double>(parsed->samples))
          .Build());
  result.families.push_back(
      MetricFamilyBuilder("sidecar_exporter_merge_response_bytes",
                          "Bytes of the main container's last /metrics answer (decoded).",
                          prometheus::MetricType::Gauge, labels)
          .Add(static_cast<double>(document.body.size()))
          .Build());
  return std::nullopt;
}

CollectorFactory DecodePrometheusMerge(FieldDecoder& fields, const CollectorDefaults& defaults) {
  PrometheusMergeOptions options;
  options.collector = defaults.name;
  options.page =
      DecodeStatusPageOptions(fields, defaults, "http://127.0.0.1:8080/metrics", 16 << 20);
  options.sample_limit = fields.Unsigned("sample_limit", 0, 0, 100'000'000);
  return [options] { return std::make_unique<PrometheusMergeCollector>(options); };
}

}  // namespace sidecar
