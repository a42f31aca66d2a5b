#pragma once

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "collectors/core/merged_family.h"
#include "collectors/core/series_family.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// What one scrape asks of a collector.
struct CollectContext {
  // The collector must return by then; fetches are cut off at this point.
  std::chrono::steady_clock::time_point deadline;
  // Requested when the exporter shuts down, so that slow fetches end early.
  std::stop_token stop;
};

// What a collector hands back from one scrape.
struct CollectResult {
  // Fresh families owned by the caller. On failure they still carry what is known (for example
  // `nginx_up 0`) but never stale values of the source.
  std::vector<prometheus::MetricFamily> families;
  // More families of the exporter's own, in the compact form of collectors with many series;
  // exposed before `families`, joined with families of the same name as `families` are.
  std::vector<SeriesFamily> series;
  // Families passed through from the main container's own exposition (`type: prometheus`). The
  // exporter's own families take precedence: a merged family whose name one of them uses is
  // dropped and counted.
  std::vector<MergedFamily> merged;
  // Set when the source could not be collected; shown on the status page and counted in
  // sidecar_exporter_collector_errors_total.
  std::optional<std::string> error;
};

// One source of metrics in the main container (a status endpoint, a set of log files) or in the
// exporter itself. The exporter knows collectors only through this interface.
//
// Status collectors fetch at scrape time and build fresh families. Log collectors are the stateful
// exception: a background thread updates their counters and Collect() copies them out.
//
// Thread-safety: Collect() may be called from several threads; the exporter never runs two
// Collect() calls of the same collector at once (concurrent scrapes share one result), so
// implementations only need to guard state shared with their own background threads.
class Collector {
 public:
  virtual ~Collector() = default;

  // Never throws for expected failures (source down, slow, garbage): they go in `error`.
  virtual CollectResult Collect(const CollectContext& context) = 0;

  // One or a few lines for a person on the status page: the source and how it is doing (the
  // URL fetched, the files tailed with their line counts). Cheap; may run on any thread.
  virtual std::string Summary() const { return {}; }

  // Called once, after construction and before the first Collect(), from the thread that
  // builds collectors: starts background work (a tail loop) and reads persisted state (log
  // positions). Construction only validates and prepares, so that a reload can build every new
  // collector, and give up without side effects if one fails, before it retires the collectors
  // being replaced and starts their replacements. Never throws for expected failures.
  virtual void Start() {}

  // Called on reload once every collector of the new config is built, before the replacement
  // with the same name (its options changed) is started: stop background work and hand over
  // persisted state (log positions), so that the replacement resumes exactly where this one's
  // exported counts end, counting nothing twice. Collect() keeps answering with what it last
  // returned until the collector is destroyed.
  virtual void Retire() {}

  // For collectors with background threads: a reason when that machinery is wedged (a tail loop
  // that has not turned for far longer than its interval), which turns /healthz to 503.
  virtual std::optional<std::string> Stuck(std::chrono::steady_clock::time_point /*now*/) const {
    return std::nullopt;
  }
};

}  // namespace sidecar
