#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/series_family.h"
#include "collectors/logs/log_record.h"
#include "collectors/logs/series_limiter.h"
#include "prometheus/metric_family.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace sidecar::accesslog {

// Web-request latency buckets in seconds: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
std::vector<double> DefaultDurationBuckets();

// One rewrite of the path label: RE2 `pattern` replaced everywhere by `replacement` (\1 for a
// group), e.g. {R"(/users/\d+)", "/users/:id"}.
struct PathRewrite {
  std::string pattern;
  std::string replacement;
};

// The values a label may take; any other value becomes "other" ("OTHER" for method).
struct LabelAllowList {
  std::string label;
  std::vector<std::string> values;
};

// A label taken from a field under another name, typically a named field:
// {"vhost", "http_host"} or {"cache", "upstream_cache_status"}.
struct ExtraLabel {
  std::string label;
  std::string field;  // A standard field name (FieldFromName()) or a named field's name.
};

struct RequestMetricsOptions {
  // Value of the `collector` label on every series.
  std::string collector;
  // What the log format can fill (LogFormat::fields()). Decides which families exist: the
  // request size counter needs request_length, the duration histogram request_time, the
  // upstream histogram upstream_response_time, the response size counter body_bytes_sent (or
  // else bytes_sent). Labels must name fields in this set.
  FieldSet fields;
  // Labels named after the standard field they come from: method, status, path, host,
  // server_name, scheme, protocol, upstream_status, remote_user... (string fields and the two
  // statuses). Missing values are "".
  std::vector<std::string> labels = {"method", "status"};
  // status and upstream_status as "2xx" rather than "200".
  bool status_class = false;
  // Methods kept as they are; others become "OTHER". Empty keeps every method (then bounded
  // only by the series limit).
  std::vector<std::string> methods = {"GET",   "HEAD",    "POST",    "PUT",  "DELETE",
                                      "PATCH", "OPTIONS", "CONNECT", "TRACE"};
  // Applied in order, each to the result of the previous one, before allow-lists and the limit.
  std::vector<PathRewrite> path_rewrites;
  std::vector<LabelAllowList> allowed_values;
  std::vector<ExtraLabel> extra_labels;
  // Upper bounds in seconds, strictly increasing; +Inf is added.
  std::vector<double> duration_buckets = DefaultDurationBuckets();
  std::vector<double> upstream_duration_buckets = DefaultDurationBuckets();
  // Distinct label sets per metric; at least 1.
  std::size_t series_limit = kDefaultSeriesLimit;
};

// Aggregates parsed access-log lines into the request metrics of one log collector:
//
//   accesslog_http_requests_total{collector,<labels>}               counter (lines)
//   accesslog_http_response_size_bytes_total{collector,<labels>}    counter
//   accesslog_http_request_size_bytes_total{collector,<labels>}     counter
//   accesslog_http_request_duration_seconds{collector,<labels>}     histogram
//   accesslog_http_upstream_duration_seconds{collector,<labels>}    histogram
//   sidecar_exporter_log_series_dropped_total{collector,metric}     counter
//
// Cardinality guard (SeriesLimiter): every metric keeps at most `series_limit` label sets (they
// share label sets, so they reach the limit together); beyond it lines go to the `__overflow__`
// series and the dropped counter of every exported metric rises. Memory is thus bounded whatever
// the clients send: series_limit series, label values cut to kMaxLabelValueBytes, invalid UTF-8
// replaced by U+FFFD.
//
// Thread-safety: Observe() is called from one thread (the tail thread) at a time; Collect() may
// run concurrently from any thread. They share one mutex, held by Observe() for a hash lookup
// and a few additions and by Collect() while it copies the numbers out (not while it builds the
// families).
//
// Not copyable or movable (owns a mutex; handed out by unique_ptr).
// Why RequestMetricsOptions were refused, and which option, named as in the configuration
// ("labels", "extra_labels", "allowed_values", "path_rewrites", "duration_buckets",
// "series_limit"), so that the config layer can point at the right line.
struct OptionsError {
  std::string option;
  std::string message;
};

class RequestMetrics {
 public:
  // Null with `error` set when the options are invalid (unknown label or field, bad regex,
  // unsorted buckets...).
  static std::unique_ptr<RequestMetrics> Create(RequestMetricsOptions options, OptionsError& error);

  // Only Create() can make the key; public for std::make_unique.
  class PassKey {
    friend class RequestMetrics;
    PassKey() = default;
  };
  RequestMetrics(PassKey, RequestMetricsOptions options);

  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;
  ~RequestMetrics();

  // Counts one line. The hot path: no allocation once the label set has been seen (path
  // rewrites that match allocate inside RE2).
  void Observe(const LogRecord& record);

  // The request families with the totals so far, in the compact form a scrape writes straight
  // into the exposition; their label sets are shared with this object, rebuilt only when series
  // appear.
  std::vector<SeriesFamily> CollectSeries() const;
  // sidecar_exporter_log_series_dropped_total.
  prometheus::MetricFamily CollectDropped() const;
  // Both, as prometheus-cpp families (for tests and readers of that model).
  std::vector<prometheus::MetricFamily> Collect() const;

  // Label sets in use, the overflow series not included.
  std::size_t SeriesCount() const;

 private:
  static constexpr std::size_t kMaxLabels = 16;

  struct LabelSource;
  struct Histogram {
    std::vector<std::uint64_t> counts;  // Per bucket, not cumulative; the last one is +Inf.
    double sum = 0;
  };
  struct Series {
    std::vector<std::string> values;
    std::uint64_t requests = 0;
    std::uint64_t response_bytes = 0;
    std::uint64_t request_bytes = 0;
    Histogram duration;
    Histogram upstream;
  };
  std::string_view Resolve(std::size_t index, const LogRecord& record);
  // Under mutex_: labels_, brought up to date with the series.
  const std::shared_ptr<const SeriesLabels>& CurrentLabels() const;
  // The names of the families exported (those the log format's fields allow).
  std::vector<std::string_view> ExportedNames() const;
  Series& NewSeries(std::size_t label_count);
  static void ObserveHistogram(Histogram& histogram, const std::vector<double>& bounds,
                               double value);

  const RequestMetricsOptions options_;
  std::vector<LabelSource> sources_;
  std::vector<std::unique_ptr<re2::RE2>> path_rewrites_;
  bool has_response_size_ = false;
  bool response_from_body_ = false;
  bool has_request_size_ = false;
  bool has_duration_ = false;
  bool has_upstream_ = false;

  // Observe() thread only: the label values of the current line and their encoding.
  std::array<std::string_view, kMaxLabels> values_{};
  std::string key_;
  std::vector<std::string> buffers_;  // One per label, for values built from the line.
  std::string path_;

  mutable std::mutex mutex_;
  // Append-only (deque elements do not move), indexed as limiter_ numbers label sets.
  std::deque<Series> series_;
  SeriesLimiter limiter_;
  Series overflow_;
  bool overflow_used_ = false;
  // The escaped label sets of series_ (then overflow_, once used), for CollectSeries().
  mutable std::shared_ptr<const SeriesLabels> labels_;
};

}  // namespace sidecar::accesslog
