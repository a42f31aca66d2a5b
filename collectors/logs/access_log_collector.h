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
#include <vector>

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
//   with reclaim (LogReclaim::kPunchHole), after each scrape's commit, the blocks before the
//   committed positions are freed (LogTailer::Reclaim), and:
//   sidecar_exporter_log_reclaimed_bytes_total{collector,file}         counter
//   sidecar_exporter_log_reclaim_failures_total{collector,file,reason} counter
// A file that cannot be read (permission denied...) or a failing position file is reported in
// CollectResult::error; a file that does not exist yet is not an error (it is waited for).
//
// Lifetime: the constructor compiles the format, builds the metrics and checks the tailer's
// options (throwing std::invalid_argument with the reason when any of them is invalid), without
// touching files. Start() loads the positions, opens the files, polls once, then starts the
// thread. The destructor requests stop (which wakes the waker) and joins the thread.
//
// Exactness across crashes (with a position file): Collect() takes the counts and the positions
// they correspond to between two polls, writes those positions to the position file (atomically:
// temp file, fsync, rename, fsync of the directory) and only then returns the counts. The
// position file is written nowhere else (Start() writes the starting positions), so after a
// SIGKILL or an OOM kill the next run resumes exactly after the lines whose counts the last
// scrape returned: what Prometheus sees (each run's last scraped count, summed) is exact. The
// bound: a kill after the commit and before the scraper has received the answer loses the lines
// of that one scrape from Prometheus' view (never counts them twice). Lines in a rotated-away
// file being drained are not in the position file: after a crash they are not read again (lost
// if they were not exported yet). With several scrapers (two Prometheus replicas), it is exact
// for the one that scraped last. A node crash keeps the last commit that reached the disk (the
// directory is fsynced), but the log file itself loses what its writer had not synced; when the
// file is then shorter than the saved offset, it is read again from 0.
//
// Thread-safety: Collect() and Stuck() may be called from any thread, concurrently with the tail
// thread (Collect() waits for a Poll in progress). Start() and Retire() from the thread that
// owns the collector, not concurrently with destruction. Not copyable or movable.
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
  // See Collector::Start: loads positions, opens the files, polls once, starts the tail loop.
  void Start() override;
  // Stops the tail loop and hands the position file over (see Collector::Retire): it keeps the
  // positions of the last Collect(), which keeps returning those same families from now on.
  // Stuck() reports the stopped loop after its usual delay, should a retired collector stay in
  // service.
  void Retire() override;

  // A reason when the tail loop has not completed a turn for 10 × poll_interval + 30 s.
  std::optional<std::string> Stuck(std::chrono::steady_clock::time_point now) const override;

 private:
  void Run(std::stop_token stop);
  void PollOnce();
  void OnLine(std::string_view path, std::string_view line);
  std::vector<TailedFileStats> Stats() const;

  const AccessLogOptions options_;
  // Declared before the thread, destroyed after it.
  std::unique_ptr<accesslog::LogFormat> format_;  // tail thread only
  std::unique_ptr<accesslog::RequestMetrics> metrics_;
  std::unique_ptr<Waker> waker_;
  accesslog::LogRecord record_;  // tail thread only
  LogTailer::LineSink sink_;

  // Held around each Poll(), and by Collect() while it takes counts and positions, so that the
  // two match. Guards tailer_ (set by Start()).
  mutable std::mutex poll_mutex_;
  std::unique_ptr<LogTailer> tailer_;

  // Serialises Collect() (commits in order) with Retire().
  std::mutex commit_mutex_;
  std::vector<FilePosition> committed_;  // what the position file holds
  std::vector<prometheus::MetricFamily> last_exported_;
  bool retired_ = false;

  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> parse_errors_;  // by path
  std::string poll_error_;  // why the last Poll failed; empty when it did not

  // steady_clock ticks of the end of the last loop turn.
  std::atomic<std::chrono::steady_clock::rep> last_turn_;

  // Last member: stopped and joined first.
  std::jthread thread_;
};

}  // namespace sidecar
