#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "exporter/collector_runner.h"
#include "exporter/status_history.h"

namespace sidecar {

// The figure windows of the page: the last 1, 5 and 15 minutes.
inline constexpr std::array<int, 3> kStatusWindowsSeconds = {60, 300, 900};
// The span of the charts.
inline constexpr int kStatusChartSeconds = 1800;
// Top paths and clients listed per window.
inline constexpr std::size_t kTopListed = 10;

// The process-wide facts of the page (not from the history).
struct StatusPageData {
  std::string version;
  std::string revision;
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point now;
  std::string config_file;
  bool last_reload_successful = true;
  std::string last_reload_error;
  std::string telemetry_path;
  std::string health;     // "ok" or why /healthz fails
  std::string readiness;  // "ready" or why /readyz fails
  std::vector<CollectorState> collectors;
};

// A quantile estimated from histogram buckets the way PromQL's histogram_quantile() does
// (linear inside the bucket); the true value lies between `lower` and `upper`, the bounds of
// the bucket that holds it (`upper` is +Inf when it lies beyond the last finite bound).
struct QuantileEstimate {
  double quantile = 0;
  double estimate = 0;
  double lower = 0;
  double upper = 0;
};

// `cumulative_counts` per bucket, `upper_bounds` strictly increasing with +Inf last. Nullopt
// when there are no observations.
std::optional<QuantileEstimate> EstimateQuantile(const std::vector<double>& upper_bounds,
                                                 const std::vector<double>& cumulative_counts,
                                                 double quantile);

// The figures of one source over one window, from the newest snapshot and the newest one at
// least the window older (or the oldest there is, just after start: see span_seconds).
struct WindowFigures {
  int window_seconds = 0;
  double span_seconds = 0;  // 0: a single snapshot so far, nothing to compare

  // Access logs.
  double requests = 0;
  double requests_per_second = 0;
  bool has_status = false;  // the requests carry a status label
  // Shares of all requests; nullopt when there was no traffic or no status label.
  std::optional<double> share_4xx;
  std::optional<double> share_5xx;
  std::optional<double> response_bytes_per_second;
  std::vector<QuantileEstimate> latency;  // p50, p90, p99; empty without traffic or histogram
  NamedValues status_mix;                 // requests by status, ascending status
  // Requests by path and client, largest first; nullopt without that label. Exact as long as
  // no 5 s sample saw more than kTopValuesPerSample distinct values (the rest is "(other)").
  std::optional<NamedValues> top_paths;
  std::optional<NamedValues> top_clients;
  double parse_errors = 0;

  // Status sources and probes.
  NamedValues rates;               // counter display name -> per second
  std::optional<double> up_ratio;  // share of the window's snapshots with the source up
};

// A chart of the last kStatusChartSeconds: one point per snapshot interval.
struct Chart {
  enum class Style { kLines, kStacked, kUpDown };
  std::string title;
  std::string unit;  // "req/s", "s", "bytes"...
  Style style = Style::kLines;
  std::vector<double> seconds_ago;  // x of each point, oldest first
  struct Series {
    std::string name;
    std::vector<std::optional<double>> values;  // one per point
  };
  std::vector<Series> series;
};

struct SourceReport {
  std::string name;
  std::string type;
  std::string kind;   // see SourceSample::kind
  std::string title;  // "access log", "nginx", "probe"...
  bool collected = false;
  std::optional<bool> source_up;
  std::vector<WindowFigures> windows;
  NamedValues gauges;  // latest values
  std::string failure_reason;
  NamedValues lag_bytes_by_file;
  std::vector<Chart> charts;
};

struct ExporterReport {
  // Scrapes per second of the metrics path, per window; nullopt before two snapshots.
  std::vector<std::pair<int, std::optional<double>>> scrapes_per_second;
  std::optional<double> resident_memory_bytes;
  // Average duration of each collector's runs over the window of 5 minutes.
  NamedValues average_collect_seconds;
  std::vector<Chart> charts;
};

struct StatusReport {
  StatusPageData page;
  double sample_interval_seconds = 0;
  std::size_t snapshots = 0;
  std::size_t capacity = 0;
  std::size_t history_bytes = 0;
  double history_span_seconds = 0;
  std::optional<std::chrono::system_clock::time_point> last_snapshot;
  std::vector<SourceReport> sources;
  ExporterReport exporter;
};

// Computes the page's figures from the history (oldest snapshot first).
StatusReport BuildStatusReport(StatusPageData page,
                               std::span<const std::shared_ptr<const StatusSnapshot>> history,
                               std::chrono::milliseconds sample_interval, std::size_t capacity,
                               std::size_t history_bytes);

}  // namespace sidecar
