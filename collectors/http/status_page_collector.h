#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/collector_type.h"
#include "collectors/core/metric_family_builder.h"
#include "collectors/http/fetcher.h"

namespace sidecar {

// Where a status page is and how long to wait for it: the options every status-page collector
// shares (`url`, `unix_socket`, `timeout`, `max_response_bytes`, `labels`).
struct StatusPageOptions {
  std::string url;
  // When set, `url` is fetched over this Unix domain socket.
  std::optional<std::string> unix_socket;
  std::chrono::milliseconds timeout{5000};
  std::size_t max_body_bytes = 64 * 1024;
  // Extra labels on every series, to tell two instances of the main container apart.
  LabelPairs labels;
};

// Decodes the shared options; `default_url` and `default_max_body_bytes` are the collector's.
StatusPageOptions DecodeStatusPageOptions(FieldDecoder& fields, const CollectorDefaults& defaults,
                                          std::string default_url,
                                          std::size_t default_max_body_bytes);

// What a status-page collector is besides its parser.
struct StatusPageSettings {
  // The gauge that says whether the last fetch and parse succeeded ("nginx_up", "apache_up");
  // empty for none (sidecar_exporter_collector_success says it too).
  std::string up_name;
  std::string up_help;
  std::chrono::milliseconds timeout{5000};
  std::size_t max_body_bytes = 64 * 1024;
  // Labels on every series, the `up` gauge included.
  LabelPairs labels;
};

// A collector that fetches one status document at scrape time and turns it into families: the
// fetch (bounded by the collector's timeout, the scrape deadline and a body cap), the `up` gauge
// and the failure reporting are here; a subclass only parses. When the fetch or the parse fails,
// only `up 0` is exported: the other series disappear rather than go stale.
//
// Template method: Collect() is final and calls Export(). Thread-safety: Collect() must not run
// concurrently with itself (the exporter guarantees it).
class StatusPageCollector : public Collector {
 public:
  CollectResult Collect(const CollectContext& context) final;
  std::string Summary() const override;

 protected:
  StatusPageCollector(std::unique_ptr<Fetcher> fetcher, StatusPageSettings settings);

  // Appends the families read from `document` to `families`, every series with labels(); or
  // returns what is wrong with the document (then nothing appended is exported). A subclass
  // overrides this or ExportResult().
  virtual std::optional<std::string> Export(const FetchedDocument& /*document*/,
                                            std::vector<prometheus::MetricFamily>& /*families*/) {
    return "the collector has no parser";
  }

  // Fills `result` (families and merged families) from `document`, or returns what is wrong
  // with it (then nothing is exported but `up 0`). By default Export() into result.families;
  // a collector that passes another exposition through overrides it.
  virtual std::optional<std::string> ExportResult(const FetchedDocument& document,
                                                  CollectResult& result) {
    return Export(document, result.families);
  }

  const LabelPairs& labels() const { return settings_.labels; }

 private:
  const std::unique_ptr<Fetcher> fetcher_;
  const StatusPageSettings settings_;
  // The last body, given back to the next fetch to receive into (see Fetcher::Fetch).
  std::string spare_body_;
};

}  // namespace sidecar
