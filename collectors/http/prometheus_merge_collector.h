#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/core/collector_type.h"
#include "collectors/core/recycler.h"
#include "collectors/http/exposition_parser.h"
#include "collectors/http/status_page_collector.h"

namespace sidecar {

// Where the main container's own /metrics is (`url`, `unix_socket`, `timeout`,
// `max_response_bytes`, `labels` added to every merged series) and `sample_limit`.
struct PrometheusMergeOptions {
  std::string collector;  // the collector's name, for its own series
  StatusPageOptions page;
  // More samples than this fail the collector, as Prometheus' sample_limit (0: no limit).
  std::size_t sample_limit = 0;
};

// Scrapes the main container's own metrics endpoint at scrape time, as Prometheus would (its
// Accept header: OpenMetrics 1.0 preferred, the text format 0.0.4 accepted), and passes every
// family through into the exporter's /metrics, as Istio's metrics merging does: one scrape per pod
// serves both. The exporter's own families win a name clash (the app's family is dropped and
// counted, see App::Gather). A malformed exposition fails this collector only.
//
// Thread-safety: as StatusPageCollector.
class PrometheusMergeCollector final : public StatusPageCollector {
 public:
  explicit PrometheusMergeCollector(const PrometheusMergeOptions& options);

 private:
  std::optional<std::string> ExportResult(const FetchedDocument& document,
                                          CollectResult& result) override;

  ExpositionParseOptions parse_options_;
  std::string collector_;
  // The buffers the app's lines are written into, reused from scrape to scrape.
  std::shared_ptr<Recycler<MergedLines>> lines_ = std::make_shared<Recycler<MergedLines>>();
};

// Decodes the options of a `prometheus` collector into a factory of PrometheusMergeCollector.
CollectorFactory DecodePrometheusMerge(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
