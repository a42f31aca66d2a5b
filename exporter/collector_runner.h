#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "collectors/core/collector.h"
#include "exporter/logger.h"
#include "exporter/single_flight.h"

namespace sidecar {

// What the status page and the self metrics show about one collector.
struct CollectorState {
  std::string name;
  std::string type;
  std::uint64_t runs = 0;
  std::uint64_t errors_total = 0;
  // Series left out of /metrics, by reason: "type_clash" (another collector exports a family
  // of that name with another type), "name_clash" (a merged family has the name of one of the
  // exporter's own).
  std::map<std::string, std::uint64_t> dropped_series_total;
  bool last_success = false;
  double last_duration_seconds = 0;
  std::optional<std::chrono::system_clock::time_point> last_run;
  std::optional<std::chrono::system_clock::time_point> last_success_time;
  std::string last_error;
  std::optional<std::chrono::system_clock::time_point> last_error_time;
  std::string summary;  // Collector::Summary()
};

// Owns one collector and runs it for scrapes. Concurrent scrapes share a single run in flight
// (like Go's singleflight), so ten Prometheus replicas or a wrk run against /metrics cost the
// main container one fetch at a time, not ten.
//
// Thread-safe.
class CollectorRunner {
 public:
  // Failures are logged when a collector starts failing or its error changes, and recovery
  // when it succeeds again; not on every scrape.
  CollectorRunner(std::string name, std::string type, std::string fingerprint,
                  std::unique_ptr<Collector> collector, Logger& logger);
  CollectorRunner(const CollectorRunner&) = delete;
  CollectorRunner& operator=(const CollectorRunner&) = delete;

  // Runs the collector, or joins the run already in flight and returns its result. A caller
  // whose deadline passes while it waits gets an error result of its own.
  std::shared_ptr<const CollectResult> Collect(const CollectContext& context);

  // Callers waiting for the run in flight to share its result.
  std::size_t Joiners() const { return flight_.Joiners(); }
  // The result of the last run that completed and when it ended (null before the first), for
  // readers that can do with a recent result rather than a run of their own (the status page's
  // sampler).
  std::pair<std::shared_ptr<const CollectResult>, std::chrono::steady_clock::time_point>
  LastResult() const;

  // The state, with the collector's summary for people filled in.
  CollectorState State() const;
  // Counts series of this collector that the exposition refused (see CollectorState).
  void CountDroppedSeries(const std::string& reason, std::uint64_t series);
  // See Collector::Start.
  void Start() { collector_->Start(); }
  // See Collector::Retire.
  void Retire() { collector_->Retire(); }
  // Why this collector's machinery is wedged, if it is: a run far past its deadline, or the
  // collector's own background work (see Collector::Stuck).
  std::optional<std::string> Stuck(std::chrono::steady_clock::time_point now) const;

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }
  const std::string& fingerprint() const { return fingerprint_; }

  // How far past its deadline a run may go before /healthz calls it stuck.
  static constexpr std::chrono::seconds kStuckGrace{10};

 private:
  // One run of the collector, recording its outcome in state_.
  std::shared_ptr<const CollectResult> Run(const CollectContext& context);

  const std::string name_;
  const std::string type_;
  const std::string fingerprint_;
  const std::unique_ptr<Collector> collector_;
  Logger& logger_;

  SingleFlight<CollectResult> flight_;
  mutable std::mutex mutex_;  // guards state_
  CollectorState state_;
  std::shared_ptr<const CollectResult> last_result_;
  std::chrono::steady_clock::time_point last_result_time_;
};

}  // namespace sidecar
