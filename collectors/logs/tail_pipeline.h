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
#include "collectors/logs/log_tailer.h"
#include "collectors/logs/waker.h"

namespace sidecar {

// What a log collector does with the lines its TailPipeline reads.
//
// Thread-safety: HandleLine() and AfterPoll() run on the tail thread (or the thread calling
// TailPipeline::Start()), CollectFamilies() on a scraping thread; the pipeline never runs two of
// them at once (it holds its poll lock around each).
class LogLineHandler {
 public:
  virtual ~LogLineHandler() = default;
  // One complete line of `path` (see LogTailer::LineSink). False when the line did not parse:
  // the pipeline counts it in sidecar_exporter_log_parse_errors_total. Must not throw.
  virtual bool HandleLine(std::string_view path, std::string_view line) = 0;
  // After each Poll: work that is due by time (a multiline record whose flush timeout passed).
  // Returns the lines it found unparsable, by path, like HandleLine's false.
  virtual void AfterPoll(std::chrono::steady_clock::time_point /*now*/,
                         const std::function<void(std::string_view path)>& /*parse_error*/) {}
  // The families whose counts match the tailer's current positions.
  virtual std::vector<prometheus::MetricFamily> CollectFamilies() = 0;
  // More of them, in the compact form of families with many series (exposed before the others).
  virtual std::vector<SeriesFamily> CollectSeriesFamilies() { return {}; }
};

struct TailPipelineOptions {
  // "access_log", "log_metrics": the collector's type, for messages.
  std::string type;
  // Value of the `collector` label of the pipeline metrics.
  std::string name;
  LogTailerOptions tailer;
  // The tail loop polls at least this often; with inotify it also wakes as soon as a watched
  // directory changes (at most every 50 ms).
  std::chrono::milliseconds poll_interval{1000};
};

// The tail-parse-count plumbing every log collector shares, the pipeline of mtail: LogTailer →
// LogLineHandler::HandleLine, driven by a background thread that loops `waker.Wait(stop)` →
// `tailer.Poll(sink)`, with the positions committed with each scrape. A log collector owns one
// and forwards Start(), Retire(), Collect(), Summary() and Stuck() to it.
//
// Collect() returns the handler's families and, per tailed file, the pipeline metrics:
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
// Lifetime: the constructor checks the tailer's options (throwing std::invalid_argument with the
// reason), without touching files. Start() loads the positions, opens the files, polls once, then
// starts the thread. The destructor requests stop (which wakes the waker) and joins the thread;
// declare the pipeline after everything the handler uses, so that it is destroyed first.
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
// Thread-safety: Collect(), Summary() and Stuck() may be called from any thread, concurrently with
// the tail thread (Collect() waits for a Poll in progress). Start() and Retire() from the thread
// that owns the collector, not concurrently with destruction. Not copyable or movable.
class TailPipeline {
 public:
  // `waker` null: inotify, falling back to polling every `poll_interval` when it is unavailable.
  // `handler` must outlive the pipeline.
  TailPipeline(TailPipelineOptions options, std::unique_ptr<Waker> waker, LogLineHandler& handler);
  ~TailPipeline();
  TailPipeline(const TailPipeline&) = delete;
  TailPipeline& operator=(const TailPipeline&) = delete;

  // See Collector::Start: loads positions, opens the files, polls once, starts the tail loop.
  void Start();
  // Stops the tail loop and hands the position file over (see Collector::Retire): it keeps the
  // positions of the last Collect(), which keeps returning those same families from now on.
  void Retire();
  CollectResult Collect();
  std::string Summary() const;
  // A reason when the tail loop has not completed a turn for 10 × poll_interval + 30 s.
  std::optional<std::string> Stuck(std::chrono::steady_clock::time_point now) const;

 private:
  void Run(std::stop_token stop);
  void PollOnce();
  void CountParseError(std::string_view path);
  std::vector<TailedFileStats> Stats() const;

  const TailPipelineOptions options_;
  std::unique_ptr<Waker> waker_;
  LogLineHandler& handler_;
  LogTailer::LineSink sink_;

  // Held around each Poll(), and by Collect() while it takes counts and positions, so that the
  // two match. Guards tailer_ (set by Start()).
  mutable std::mutex poll_mutex_;
  std::unique_ptr<LogTailer> tailer_;

  // Serialises Collect() (commits in order) with Retire().
  std::mutex commit_mutex_;
  std::vector<FilePosition> committed_;  // what the position file holds
  std::vector<prometheus::MetricFamily> last_exported_;
  std::vector<SeriesFamily> last_exported_series_;
  bool retired_ = false;

  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> parse_errors_;  // by path
  std::string poll_error_;  // why the last Poll failed; empty when it did not

  // steady_clock ticks of the end of the last loop turn.
  std::atomic<std::chrono::steady_clock::rep> last_turn_;

  // Last member: stopped and joined first.
  std::jthread thread_;
};

// The Collector side of a TailPipeline, shared by the log collectors: Start(), Retire(), Collect(),
// Summary() and Stuck() are the pipeline's. A subclass builds its parser and metrics, then calls
// CreatePipeline() at the end of its constructor and StopPipeline() first thing in its destructor
// (the tail thread calls the subclass's LogLineHandler methods until then).
class TailingLogCollector : public Collector, protected LogLineHandler {
 public:
  CollectResult Collect(const CollectContext& context) final;
  std::string Summary() const final;
  void Start() final;
  void Retire() final;
  std::optional<std::string> Stuck(std::chrono::steady_clock::time_point now) const final;

 protected:
  TailingLogCollector() = default;
  void CreatePipeline(TailPipelineOptions options, std::unique_ptr<Waker> waker);
  void StopPipeline() { pipeline_.reset(); }

 private:
  std::unique_ptr<TailPipeline> pipeline_;
};

}  // namespace sidecar
