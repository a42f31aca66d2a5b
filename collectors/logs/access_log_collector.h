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
#include "collectors/logs/tail_pipeline.h"
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

// Follows access logs on a shared volume and turns their lines into request metrics: a
// TailPipeline (tailer, tail thread, positions committed with each scrape, the
// sidecar_exporter_log_* pipeline metrics; see there for exactness across crashes) whose lines go
// through LogFormat::Parse → RequestMetrics::Observe.
//
// Collect() returns the request metrics (accesslog_http_*, see RequestMetrics) and the pipeline
// metrics of TailPipeline.
//
// Lifetime: the constructor compiles the format, builds the metrics and checks the tailer's
// options (throwing std::invalid_argument with the reason when any of them is invalid), without
// touching files. Start() loads the positions, opens the files, polls once, then starts the
// thread. The destructor stops and joins the thread.
//
// Thread-safety: as TailPipeline. Not copyable or movable.
class AccessLogCollector final : public TailingLogCollector {
 public:
  // Waits with inotify (falling back to polling every `poll_interval` when inotify is
  // unavailable).
  explicit AccessLogCollector(AccessLogOptions options);
  // With an injected waker (tests step the loop with it).
  AccessLogCollector(AccessLogOptions options, std::unique_ptr<Waker> waker);
  ~AccessLogCollector() override;
  AccessLogCollector(const AccessLogCollector&) = delete;
  AccessLogCollector& operator=(const AccessLogCollector&) = delete;

 private:
  bool HandleLine(std::string_view path, std::string_view line) override;
  std::vector<prometheus::MetricFamily> CollectFamilies() override;
  std::vector<SeriesFamily> CollectSeriesFamilies() override;

  const AccessLogOptions options_;
  std::unique_ptr<accesslog::LogFormat> format_;  // tail thread only
  std::unique_ptr<accesslog::RequestMetrics> metrics_;
  accesslog::LogRecord record_;  // tail thread only
};

}  // namespace sidecar
