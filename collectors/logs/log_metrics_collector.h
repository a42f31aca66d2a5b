#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/logs/log_format.h"
#include "collectors/logs/log_metrics.h"
#include "collectors/logs/log_record.h"
#include "collectors/logs/multiline_joiner.h"
#include "collectors/logs/tail_pipeline.h"
#include "collectors/logs/waker.h"

namespace sidecar {

struct LogMetricsCollectorOptions {
  // Value of the `collector` label on every series.
  std::string name;
  LogTailerOptions tailer;
  std::chrono::milliseconds poll_interval{1000};
  // Unset: lines are not parsed, metrics use only `match`.
  std::optional<accesslog::LogFormatKind> format_kind;
  // The RE2 for kRegex, the nginx `log_format` / Apache `LogFormat` string for those kinds.
  std::string format;
  // Metric definitions; `collector` and `has_fields` are filled in by the collector.
  logmetrics::LogMetricsOptions metrics;
  std::optional<MultilineOptions> multiline;
};

// Compiles the format of `options` the way the collector does: keys and groups of json, logfmt
// and regex become named fields. Null with `error` set when it is invalid.
std::unique_ptr<accesslog::LogFormat> CompileLogMetricsFormat(
    const LogMetricsCollectorOptions& options, accesslog::FormatError& error);

// Metrics defined in YAML over any log lines (mtail and grok_exporter's job): a TailPipeline
// (tailer, positions committed with each scrape, sidecar_exporter_log_* pipeline metrics) whose
// lines are joined into records (MultilineJoiner, when configured), parsed by the format (when
// one is set) and fed to LogMetrics.
//
// Collect() returns the defined metrics (see LogMetrics), the pipeline metrics and, with
// multiline:
//   sidecar_exporter_log_multiline_records_total{collector}                 counter
//   sidecar_exporter_log_multiline_timeouts_total{collector}                counter
//   sidecar_exporter_log_multiline_lines_dropped_total{collector,reason}    counter
//       reason: max_lines, max_bytes
//   sidecar_exporter_log_multiline_orphan_lines_total{collector}            counter
// A record that does not parse is one parse error of its file.
//
// Lifetime and thread-safety: as AccessLogCollector (constructor validates and throws
// std::invalid_argument, Start() begins tailing).
class LogMetricsCollector final : public TailingLogCollector {
 public:
  explicit LogMetricsCollector(LogMetricsCollectorOptions options);
  // With an injected waker (tests step the loop with it).
  LogMetricsCollector(LogMetricsCollectorOptions options, std::unique_ptr<Waker> waker);
  ~LogMetricsCollector() override;
  LogMetricsCollector(const LogMetricsCollector&) = delete;
  LogMetricsCollector& operator=(const LogMetricsCollector&) = delete;

 private:
  bool HandleLine(std::string_view path, std::string_view line) override;
  void AfterPoll(std::chrono::steady_clock::time_point now,
                 const std::function<void(std::string_view path)>& parse_error) override;
  std::vector<prometheus::MetricFamily> CollectFamilies() override;
  // One record (a line, or lines joined): false when the format refused it.
  bool HandleRecord(std::string_view record);

  const LogMetricsCollectorOptions options_;
  std::unique_ptr<accesslog::LogFormat> format_;  // tail thread only; null: no format
  // Fed on the tail thread, read by CollectFamilies(): the pipeline holds its poll lock around
  // both, which is the only lock LogMetrics has.
  std::unique_ptr<logmetrics::LogMetrics> metrics_;
  std::unique_ptr<MultilineJoiner> joiner_;  // tail thread (and CollectFamilies, under the lock)
  MultilineJoiner::RecordSink record_sink_;
  accesslog::LogRecord record_;  // tail thread only
};

}  // namespace sidecar
