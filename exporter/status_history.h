#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/core/series_family.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// Numbers keyed by a label value or a display name (a status code, a path, "active"...).
using NamedValues = std::vector<std::pair<std::string, double>>;

// A histogram summed over the series of one source: upper bounds (the last is +Inf) and the
// cumulative counts at each bound.
struct HistogramSample {
  std::vector<double> upper_bounds;
  std::vector<double> cumulative_counts;
};

// What one collector looked like at one instant, reduced to the numbers the status page shows.
// Counters are cumulative; the report subtracts two samples.
struct SourceSample {
  std::string name;  // the collector's name
  std::string type;  // the collector's type (access_log, nginx_status...)
  // The profile whose families were found ("access_log", "nginx", "apache", "php-fpm", "probe"),
  // "log" for another collector with the tailer's families, empty when none was (the source is
  // then shown only in the exporter's collector table).
  std::string kind;
  bool collected = false;  // the collector's run succeeded

  // Access logs (accesslog_http_* families), summed over the source's series.
  bool has_requests = false;
  double requests = 0;
  std::optional<double> response_bytes;
  NamedValues requests_by_status;  // by the `status` label
  bool status_label = false;       // the requests have a `status` label (or no series yet)
  std::optional<HistogramSample> duration;
  // Requests since the previous sample by the `path` and `remote_addr` labels, the largest
  // kTopValuesPerSample of them (the rest summed under kOtherValues). Absent without the label.
  std::optional<NamedValues> new_requests_by_path;
  std::optional<NamedValues> new_requests_by_client;
  // The tailer's pipeline (sidecar_exporter_log_*).
  NamedValues lag_bytes_by_file;
  double lines_read = 0;
  double parse_errors = 0;

  // Status endpoints and probes, as described by their StatusProfile.
  std::optional<double> source_up;  // the profile's up family, the lowest of its series
  NamedValues gauges;               // display name -> value
  NamedValues counters;             // display name -> cumulative value
  std::string failure_reason;       // the profile's reason family, the label of a series at 1
};

// The exporter's own numbers at one instant.
struct ExporterSample {
  double scrapes_total = 0;  // requests served on the metrics path
  std::optional<double> resident_memory_bytes;
  NamedValues collect_seconds;  // collector name -> duration of its last run
};

struct StatusSnapshot {
  std::chrono::system_clock::time_point time;
  std::vector<SourceSample> sources;
  ExporterSample exporter;
};

// One family the page shows for a kind of source: its name, the label that splits it into
// rows ("state"), how the page names it, the unit of its values ("s": written as a duration;
// empty: a count), and whether the source's chart of current values draws it.
struct FamilySpec {
  std::string_view family;
  std::string_view split_label;  // empty: the series are summed
  std::string_view display;
  std::string_view unit = {};
  bool charted = false;
};

// How the page recognises a kind of source from the metric families its collector returns, so
// that a new collector lights up its rows by exporting well-known names, without the page
// knowing the collector. One entry per kind in kStatusProfiles (status_history.cc).
struct StatusProfile {
  std::string_view kind;
  std::string_view title;
  std::string_view up_family;  // 1 when the source answered
  std::span<const FamilySpec> gauges;
  std::span<const FamilySpec> counters;  // shown as rates
  std::string_view reason_family;        // optional: a series at 1 whose `reason` label says why
};

// The profiles known to the page: nginx, Apache, PHP-FPM, probes.
std::span<const StatusProfile> StatusProfiles();
const StatusProfile* FindStatusProfile(std::string_view kind);
// The gauge spec of a profile that a sampled gauge's display name comes from ("workers busy"
// comes from "workers"), or null.
const FamilySpec* FindGaugeSpec(std::string_view kind, std::string_view gauge_name);

// How often the exporter samples its collectors for the status page, and how many snapshots it
// keeps: 30 minutes' worth, plus the one the oldest interval starts from.
inline constexpr std::chrono::seconds kStatusSampleInterval{5};
inline constexpr std::size_t kStatusHistoryCapacity = 30 * 60 / 5 + 1;

// Label values that do not fit in a sample's bounded lists are summed under this name.
inline constexpr std::string_view kOtherValues = "(other)";
// Bounds on what one source's sample holds, whatever the logs contain.
inline constexpr std::size_t kMaxStatusValues = 24;
inline constexpr std::size_t kTopValuesPerSample = 16;
inline constexpr std::size_t kMaxNamedValues = 32;

// What one collector returned in one run, as the sampler sees it.
struct CollectorOutput {
  std::string name;
  std::string type;
  bool collected = false;
  double duration_seconds = 0;
  const std::vector<prometheus::MetricFamily>* families = nullptr;
  // Its compact families (an access log's request families), read as they are.
  const std::vector<SeriesFamily>* series = nullptr;
};

// Reduces collector outputs to a StatusSnapshot. Keeps, per access-log source, the path and
// client totals of the previous sample (bounded by the collector's series limit) so that each
// sample stores only the requests new since then.
//
// Thread-compatible: one thread (the sampler's) calls Sample().
class StatusSampler {
 public:
  StatusSnapshot Sample(std::chrono::system_clock::time_point time,
                        std::span<const CollectorOutput> outputs,
                        const std::vector<prometheus::MetricFamily>& exporter_families,
                        double scrapes_total);

 private:
  SourceSample SampleSource(const CollectorOutput& output);
  NamedValues NewRequestsBy(const std::string& source, std::string_view label,
                            const std::map<std::string, double, std::less<>>& totals);

  // source + '\0' + label -> value -> cumulative requests at the previous sample.
  std::map<std::string, std::map<std::string, double, std::less<>>, std::less<>> previous_;
};

// A ring of the last `capacity` snapshots. Memory is bounded: each snapshot holds per source a
// fixed set of numbers plus at most kMaxStatusValues statuses, 2 × kTopValuesPerSample paths and
// clients (label values are at most 256 bytes) and kMaxNamedValues gauges, counters and files.
//
// Thread-safe: the sampler adds, the HTTP handlers copy.
class StatusHistory {
 public:
  explicit StatusHistory(std::size_t capacity);

  void Add(StatusSnapshot snapshot);
  // The snapshots, oldest first (shared, immutable).
  std::vector<std::shared_ptr<const StatusSnapshot>> Snapshots() const;
  std::size_t capacity() const { return capacity_; }
  // An estimate of the heap memory the ring holds, for the page to state.
  std::size_t ApproximateBytes() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<const StatusSnapshot>> ring_;
  std::size_t bytes_ = 0;
};

// Heap bytes held by one snapshot (strings and vectors), approximately.
std::size_t ApproximateBytes(const StatusSnapshot& snapshot);

}  // namespace sidecar
