#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "collectors/core/collector.h"
#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"
#include "collectors/logs/log_tailer.h"
#include "collectors/logs/request_metrics.h"
#include "collectors/logs/waker.h"

namespace sidecar {

struct AccessLogOptions {
  // Value of the `collector` label on every series (also set into `metrics.collector`).
  std::string name;
  // Which files, from where, position file, line length bound.
  LogTailerOptions tailer;
  accesslog::LogFormatKind format_kind = accesslog::LogFormatKind::kNginx;
  // nginx `log_format` / Apache `LogFormat` string, or the RE2 pattern for kRegex; unused for
  // kJson. Empty means "combined" for nginx and Apache.
  std::string format;
  accesslog::LogFormatOptions format_options;
  // Labels, rewrites, buckets and limits of the request metrics. `collector` and `fields` are
  // filled in by the collector (from `name` and the compiled format).
  accesslog::RequestMetricsOptions metrics;
  // The tail loop polls at least this often; with inotify it also wakes as soon as a watched
  // directory changes (at most every 50 ms).
  std::chrono::milliseconds poll_interval{1000};
};

// Follows access logs on a shared volume and turns their lines into request metrics, the
// pipeline of mtail: LogTailer → LogFormat::Parse → RequestMetrics::Observe, driven by a
// background thread that loops `waker.Wait(stop)` → `tailer.Poll(sink)`.
//
// Collect() returns the request metrics (accesslog_http_*, see RequestMetrics) and, per tailed
// file, the pipeline metrics:
//   sidecar_exporter_log_lines_read_total{collector,file}             counter
//   sidecar_exporter_log_parse_errors_total{collector,file}           counter
//   sidecar_exporter_log_lines_too_long_total{collector,file}         counter
//   sidecar_exporter_log_bytes_read_total{collector,file}             counter
//   sidecar_exporter_log_rotations_total{collector,file}              counter
//   sidecar_exporter_log_truncations_total{collector,file}            counter
//   sidecar_exporter_log_truncations_without_copy_total{collector,file} counter
//   sidecar_exporter_log_lag_bytes{collector,file}                    gauge
//   sidecar_exporter_log_last_line_timestamp_seconds{collector,file}  gauge (absent before the
//                                                                     first line)
// A file that cannot be read (permission denied...) or a failing position file is reported in
// CollectResult::error; a file that does not exist yet is not an error (it is waited for).
//
// Lifetime: the constructor compiles the format, builds the metrics and the tailer (throwing
// std::invalid_argument with the reason when any of them is invalid), polls once, then starts
// the thread. The destructor requests stop (which wakes the waker), joins the thread after it
// has made one last Poll, so that lines written just before shutdown are counted, and saves the
// positions.
//
// Thread-safety: Collect() and Stuck() may be called from any thread, concurrently with the tail
// thread. Not copyable or movable.
class AccessLogCollector final : public Collector {
 public:
  // Waits with inotify (falling back to polling every `poll_interval` when inotify is
  // unavailable).
  explicit AccessLogCollector(AccessLogOptions options);
  // With an injected waker (tests step the loop with it).
  AccessLogCollector(AccessLogOptions options, std::unique_ptr<Waker> waker);
  ~AccessLogCollector() override;
  AccessLogCollector(const AccessLogCollector&) = delete;
  AccessLogCollector& operator=(const AccessLogCollector&) = delete;

  CollectResult Collect(const CollectContext& context) override;
  std::string Summary() const override;
  // Stops the tail loop after a last Poll and saves the positions. Call from the thread that
  // owns the collector, not concurrently with destruction. Stuck() reports the stopped loop
  // after its usual delay, should a retired collector stay in service (a failed reload).
  void Retire() override;

  // A reason when the tail loop has not completed a turn for 10 × poll_interval + 30 s.
  std::optional<std::string> Stuck(std::chrono::steady_clock::time_point now) const override;

 private:
  void Run(std::stop_token stop);
  void PollOnce();
  void OnLine(std::string_view path, std::string_view line);

  const AccessLogOptions options_;
  // Declared before the thread, destroyed after it.
  std::unique_ptr<accesslog::LogFormat> format_;  // tail thread only
  std::unique_ptr<accesslog::RequestMetrics> metrics_;
  std::unique_ptr<LogTailer> tailer_;
  std::unique_ptr<Waker> waker_;
  accesslog::LogRecord record_;  // tail thread only
  LogTailer::LineSink sink_;

  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> parse_errors_;  // by path
  std::string poll_error_;  // why the last Poll failed; empty when it did not

  // steady_clock ticks of the end of the last loop turn.
  std::atomic<std::chrono::steady_clock::rep> last_turn_;

  // Last member: stopped and joined first.
  std::jthread thread_;
};

}  // namespace sidecar
