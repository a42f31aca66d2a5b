#include "collectors/logs/tail_pipeline.h"

#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "collectors/core/metric_family_builder.h"

namespace sidecar {
namespace {

using prometheus::MetricType;

std::unique_ptr<Waker> DefaultWaker(const TailPipelineOptions& options) {
  try {
    return std::make_unique<InotifyWaker>(options.tailer.paths, options.poll_interval);
  } catch (const std::system_error&) {
    // No inotify (limits reached, seccomp): polling alone still works.
    return std::make_unique<IntervalWaker>(options.poll_interval);
  }
}

std::chrono::steady_clock::rep Now() {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}

}  // namespace
TailPipeline::TailPipeline(TailPipelineOptions options, std::unique_ptr<Waker> waker,
                           LogLineHandler& handler)
    : options_(std::move(options)), waker_(std::move(waker)), handler_(handler), last_turn_(Now()) {
  if (options_.poll_interval <= std::chrono::milliseconds::zero()) {
    throw std::invalid_argument(options_.type + " " + options_.name +
                                ": poll_interval must be positive");
  }
  try {
    LogTailer::ValidateOptions(options_.tailer);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(options_.type + " " + options_.name + ": " + e.what());
  }
  sink_ = [this](std::string_view path, std::string_view line) {
    if (!handler_.HandleLine(path, line)) {
      CountParseError(path);
    }
  };
}

TailPipeline::~TailPipeline() {
  // Explicit so that the thread is gone before any member it uses.
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void TailPipeline::Start() {
  if (tailer_) return;
  LogTailerOptions tailer_options = options_.tailer;
  // Positions are committed by Collect(), with the counts they match, never ahead of them.
  tailer_options.autosave_positions = false;
  auto tailer = std::make_unique<LogTailer>(std::move(tailer_options));
  {
    std::lock_guard commit_lock(commit_mutex_);
    // Where counting starts matches the zero counts before the first scrape: a crash before it
    // resumes here instead of skipping to the end of the files.
    committed_ = tailer->Positions();
    tailer->CommitPositions(committed_);
    std::lock_guard poll_lock(poll_mutex_);
    tailer_ = std::move(tailer);
  }
  if (!waker_) waker_ = DefaultWaker(options_);
  // Files present at start (from_beginning, saved positions) are counted before the first scrape.
  PollOnce();
  last_turn_.store(Now(), std::memory_order_relaxed);
  thread_ = std::jthread([this](std::stop_token stop) { Run(std::move(stop)); });
}

void TailPipeline::Retire() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  std::lock_guard commit_lock(commit_mutex_);
  retired_ = true;
  // The replacement owns the position file from now on and resumes at the last commit, which
  // matches the counts this collector last returned: lines it read after that are read again
  // there, and this collector's destructor, which runs later on whichever thread drops the last
  // reference, writes nothing.
  if (tailer_) tailer_->Retire();
}

void TailPipeline::Run(std::stop_token stop) {
  // No last Poll after stop: lines it read could never be exported (the server stops first), and
  // a restart or a replacement reads them again from the committed positions.
  while (waker_->Wait(stop)) {
    PollOnce();
  }
}

void TailPipeline::PollOnce() {
  std::string error;
  try {
    std::lock_guard poll_lock(poll_mutex_);
    tailer_->Poll(sink_);
    handler_.AfterPoll(std::chrono::steady_clock::now(),
                       [this](std::string_view path) { CountParseError(path); });
  } catch (const std::exception& e) {
    // Out of memory or the like: keep the loop alive (the next Poll resumes) and report it.
    error = std::string("tail loop: ") + e.what();
  }
  {
    std::lock_guard lock(mutex_);
    poll_error_ = std::move(error);
  }
  last_turn_.store(Now(), std::memory_order_relaxed);
}

void TailPipeline::CountParseError(std::string_view path) {
  std::lock_guard lock(mutex_);
  auto it = parse_errors_.find(path);
  if (it == parse_errors_.end()) {
    it = parse_errors_.emplace(std::string(path), 0).first;
  }
  ++it->second;
}

CollectResult TailPipeline::Collect() {
  std::lock_guard commit_lock(commit_mutex_);
  CollectResult result;
  if (retired_ || !tailer_) {
    // Retired: what was last exported, which the committed positions match. Not started: nothing.
    result.families = last_exported_;
    result.series = last_exported_series_;
    return result;
  }
  // The counts and the positions they correspond to, taken between two polls.
  std::vector<TailedFileStats> stats;
  std::vector<FilePosition> positions;
  std::vector<ReclaimMark> reclaim_marks;
  std::map<std::string, std::uint64_t, std::less<>> parse_errors;
  std::string error;
  {
    std::lock_guard poll_lock(poll_mutex_);
    result.series = handler_.CollectSeriesFamilies();
    result.families = handler_.CollectFamilies();
    stats = tailer_->Stats();
    positions = tailer_->Positions();
    reclaim_marks = tailer_->ReclaimMarks();
    std::lock_guard lock(mutex_);
    parse_errors = parse_errors_;
    error = poll_error_;
  }
  // Committed before the counts are returned: after a crash, lines counted but never exported
  // are read again and lines exported are not (rename(2) is atomic across a process crash).
  bool committed = options_.tailer.position_file.empty() || positions == committed_;
  if (!committed && tailer_->CommitPositions(positions)) {
    committed_ = std::move(positions);
    committed = true;
  }
  // The lines behind the committed positions (or, without a position file, behind the counts
  // returned now, which no restart reads again) are never needed again: their blocks may go.
  if (committed) tailer_->Reclaim(std::move(reclaim_marks));

  MetricFamilyBuilder lines("sidecar_exporter_log_lines_read_total",
                            "Complete lines read from the log file by the tailer.",
                            MetricType::Counter);
  MetricFamilyBuilder errors("sidecar_exporter_log_parse_errors_total",
                             "Lines of the log file that did not match the configured format.",
                             MetricType::Counter);
  MetricFamilyBuilder too_long(
      "sidecar_exporter_log_lines_too_long_total",
      "Lines of the log file skipped because they were longer than max_line_bytes.",
      MetricType::Counter);
  MetricFamilyBuilder bytes("sidecar_exporter_log_bytes_read_total",
                            "Bytes read from the log file, line terminators and skipped lines "
                            "included.",
                            MetricType::Counter);
  MetricFamilyBuilder rotations("sidecar_exporter_log_rotations_total",
                                "Times the log path was found to name another file (rename, "
                                "delete and create, symlink change).",
                                MetricType::Counter);
  MetricFamilyBuilder truncations("sidecar_exporter_log_truncations_total",
                                  "Times the log file was truncated in place (copytruncate) and "
                                  "read again from its start.",
                                  MetricType::Counter);
  MetricFamilyBuilder truncations_without_copy(
      "sidecar_exporter_log_truncations_without_copy_total",
      "Truncations of the log file with no logrotate copy next to it to read the unread rest "
      "from; lines written just before them may be lost.",
      MetricType::Counter);
  MetricFamilyBuilder lag("sidecar_exporter_log_lag_bytes",
                          "Size of the log file minus the tailer's read offset, at the end of "
                          "the last poll.",
                          MetricType::Gauge);
  MetricFamilyBuilder reclaimed("sidecar_exporter_log_reclaimed_bytes_total",
                                "Bytes of the log file before the committed position whose disk "
                                "blocks were freed with fallocate(PUNCH_HOLE) (reclaim: "
                                "punch_hole).",
                                MetricType::Counter);
  MetricFamilyBuilder reclaim_failures(
      "sidecar_exporter_log_reclaim_failures_total",
      "Failed attempts to free the log file's read blocks (reclaim: punch_hole), by reason: "
      "unsupported (the filesystem cannot punch holes) and permission (the file cannot be opened "
      "for writing) once per file, error per attempt.",
      MetricType::Counter);
  MetricFamilyBuilder last_line("sidecar_exporter_log_last_line_timestamp_seconds",
                                "Unix time of the poll that read the last line of the log file.",
                                MetricType::Gauge);

  for (const TailedFileStats& file : stats) {
    const MetricFamilyBuilder::Labels labels = {{"collector", options_.name}, {"file", file.path}};
    const auto parsed = parse_errors.find(file.path);
    lines.Add(static_cast<double>(file.lines), labels);
    errors.Add(parsed == parse_errors.end() ? 0.0 : static_cast<double>(parsed->second), labels);
    too_long.Add(static_cast<double>(file.lines_too_long), labels);
    bytes.Add(static_cast<double>(file.bytes_read), labels);
    rotations.Add(static_cast<double>(file.rotations), labels);
    truncations.Add(static_cast<double>(file.truncations), labels);
    truncations_without_copy.Add(static_cast<double>(file.truncations_without_copy), labels);
    lag.Add(static_cast<double>(file.lag_bytes), labels);
    if (file.last_line_unix_seconds > 0) {
      last_line.Add(file.last_line_unix_seconds, labels);
    }
    if (options_.tailer.reclaim != LogReclaim::kNone) {
      reclaimed.Add(static_cast<double>(file.reclaimed_bytes), labels);
      for (const auto& [reason, count] : {std::pair{"unsupported", file.reclaim_unsupported},
                                          std::pair{"permission", file.reclaim_permission},
                                          std::pair{"error", file.reclaim_errors}}) {
        reclaim_failures.Add(
            static_cast<double>(count),
            {{"collector", options_.name}, {"file", file.path}, {"reason", reason}});
      }
    }
    // Reclaiming is a service beside the counting, which a reclaim failure leaves exact: it is
    // counted and shown in the summary, and does not fail the collection.
    if (!file.error.empty()) {
      error += (error.empty() ? "" : "; ") + file.path + ": " + file.error;
    }
  }
  if (const std::string position_error = tailer_->PositionFileError(); !position_error.empty()) {
    error += (error.empty() ? "" : "; ") + position_error;
  }
  for (MetricFamilyBuilder* builder :
       {&lines, &errors, &too_long, &bytes, &rotations, &truncations, &truncations_without_copy,
        &lag, &last_line, &reclaimed, &reclaim_failures}) {
    prometheus::MetricFamily family = builder->Build();
    if (!family.metric.empty()) {
      result.families.push_back(std::move(family));
    }
  }
  if (!error.empty()) {
    result.error = std::move(error);
  }
  last_exported_ = result.families;
  last_exported_series_ = result.series;
  return result;
}

std::string TailPipeline::Summary() const {
  std::map<std::string, std::uint64_t, std::less<>> parse_errors;
  {
    std::lock_guard lock(mutex_);
    parse_errors = parse_errors_;
  }
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string summary;
  for (const TailedFileStats& file : Stats()) {
    if (!summary.empty()) summary += "\n";
    summary += file.path + ": ";
    if (!file.open && file.lines == 0) {
      summary += "waiting for the file";
      continue;
    }
    const auto parsed = parse_errors.find(file.path);
    summary += std::to_string(file.lines) + " lines, " +
               std::to_string(parsed == parse_errors.end() ? 0 : parsed->second) +
               " parse errors, " + std::to_string(file.lag_bytes) + " bytes behind";
    if (file.last_line_unix_seconds > 0) {
      summary += ", last line " +
                 std::to_string(static_cast<long long>(now - file.last_line_unix_seconds)) +
                 " s ago";
    }
    if (!file.reclaim_error.empty()) summary += "; " + file.reclaim_error;
  }
  if (summary.empty())
    summary = "no file matches " + std::to_string(options_.tailer.paths.size()) + " path(s) yet";
  return summary;
}

std::vector<TailedFileStats> TailPipeline::Stats() const {
  std::lock_guard poll_lock(poll_mutex_);
  return tailer_ ? tailer_->Stats() : std::vector<TailedFileStats>{};
}

std::optional<std::string> TailPipeline::Stuck(std::chrono::steady_clock::time_point now) const {
  const std::chrono::steady_clock::time_point last_turn{
      std::chrono::steady_clock::duration(last_turn_.load(std::memory_order_relaxed))};
  const auto limit = 10 * options_.poll_interval + std::chrono::seconds(30);
  if (now - last_turn <= limit) {
    return std::nullopt;
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - last_turn).count();
  return options_.type + " " + options_.name + ": the tail loop has not turned for " +
         std::to_string(seconds) + " s (poll_interval " +
         std::to_string(options_.poll_interval.count()) + " ms)";
}

void TailingLogCollector::CreatePipeline(TailPipelineOptions options,
                                         std::unique_ptr<Waker> waker) {
  pipeline_ = std::make_unique<TailPipeline>(std::move(options), std::move(waker),
                                             static_cast<LogLineHandler&>(*this));
}

CollectResult TailingLogCollector::Collect(const CollectContext& /*context*/) {
  return pipeline_->Collect();
}

std::string TailingLogCollector::Summary() const { return pipeline_->Summary(); }

void TailingLogCollector::Start() { pipeline_->Start(); }

void TailingLogCollector::Retire() { pipeline_->Retire(); }

std::optional<std::string> TailingLogCollector::Stuck(
    std::chrono::steady_clock::time_point now) const {
  return pipeline_->Stuck(now);
}

}  // namespace sidecar
