#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/logs/log_record.h"
#include "collectors/logs/series_limiter.h"
#include "prometheus/metric_family.h"

namespace sidecar::logmetrics {

enum class MetricKind { kCounter, kGauge, kHistogram };

// One metric a user defines over log lines (mtail's `counter x by a` with its pattern, in YAML).
struct MetricDefinition {
  std::string name;
  MetricKind kind = MetricKind::kCounter;
  std::string help;
  // Label names, each taken from the field (regex group, JSON or logfmt key, access-log field)
  // of the same name; a missing field gives "".
  std::vector<std::string> labels;
  // The field holding the number: what a counter adds (empty: 1 per line), a gauge's value, what
  // a histogram observes. Required for gauges and histograms.
  std::string value;
  // Histogram upper bounds, strictly increasing and finite (+Inf is added).
  std::vector<double> buckets;
  // RE2 on the raw line (unanchored, bytes); empty: every line.
  std::string match;
  // Field equals value, all of them; empty: every line.
  std::vector<std::pair<std::string, std::string>> where;
};

// A definition with the common fields set (presets, tests).
MetricDefinition DefineMetric(std::string name, MetricKind kind, std::string help = {},
                              std::vector<std::string> labels = {}, std::string value = {},
                              std::string match = {});

struct LogMetricsOptions {
  // Value of the `collector` label on every series.
  std::string collector;
  std::vector<MetricDefinition> metrics;
  // Distinct label sets per metric (the overflow series not counted); at least 1.
  std::size_t series_limit = accesslog::kDefaultSeriesLimit;
  // False when lines are not parsed (no format): metrics may then only use `match`.
  bool has_fields = true;
};

// Why a definition was refused: the index of the metric in LogMetricsOptions::metrics and its
// key ("name", "labels", "match"...), so that the config layer points at the right line;
// `metric` is npos for "series_limit".
struct DefinitionError {
  std::size_t metric = 0;
  std::string key;
  std::string message;
};

// The metrics a `log_metrics` collector defines, fed one log record at a time. A record feeds
// every metric whose `match` and `where` it passes (a line may feed several metrics).
//
// Exports, each with the `collector` label first and then its own labels:
//   <name>{collector,<labels>}                                     as defined
//   sidecar_exporter_log_series_dropped_total{collector,metric}     counter (SeriesLimiter)
//   sidecar_exporter_log_values_invalid_total{collector,metric}     counter, for metrics with a
//       `value`: matching lines whose value field was missing or not a finite number (not
//       counted, not observed).
// Series without labels exist from the start (counters and histograms at 0); a gauge appears
// with its first value.
//
// Thread-safety: none inside (a lock per line cost as much as counting a plain-string match):
// Observe() and Collect() must not run concurrently; LogMetricsCollector's pipeline calls both
// under its poll lock. Not copyable or movable.
class LogMetrics {
 public:
  // Null with `error` set when a definition is invalid.
  static std::unique_ptr<LogMetrics> Create(LogMetricsOptions options, DefinitionError& error);

  class PassKey {
    friend class LogMetrics;
    PassKey() = default;
  };
  LogMetrics(PassKey, LogMetricsOptions options);
  ~LogMetrics();
  LogMetrics(const LogMetrics&) = delete;
  LogMetrics& operator=(const LogMetrics&) = delete;

  // One record: `text` is its raw text (for `match`), `record` its parsed fields, or null when
  // it did not parse (then only metrics that use no field see it).
  void Observe(std::string_view text, const accesslog::LogRecord* record);

  std::vector<prometheus::MetricFamily> Collect() const;

 private:
  struct Metric;
  const LogMetricsOptions options_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  std::string key_;  // Observe() only
};

}  // namespace sidecar::logmetrics
