#include "exporter/collector_runner.h"

#include <exception>

namespace sidecar {

CollectorRunner::CollectorRunner(std::string name, std::string type, std::string fingerprint,
                                 std::unique_ptr<Collector> collector, Logger& logger)
    : name_(std::move(name)),
      type_(std::move(type)),
      fingerprint_(std::move(fingerprint)),
      collector_(std::move(collector)),
      logger_(logger) {
  state_.name = name_;
  state_.type = type_;
}

std::shared_ptr<const CollectResult> CollectorRunner::Collect(const CollectContext& context) {
  auto result = flight_.Run(context.deadline, [&] { return Run(context); });
  if (result) return result;
  auto timed_out = std::make_shared<CollectResult>();
  timed_out->error = "scrape deadline passed while waiting for a collection already running";
  return timed_out;
}

std::shared_ptr<const CollectResult> CollectorRunner::Run(const CollectContext& context) {
  const auto started = std::chrono::steady_clock::now();
  auto result = std::make_shared<CollectResult>();
  try {
    *result = collector_->Collect(context);
  } catch (const std::exception& e) {
    // Collectors report expected failures in the result; an exception is a bug, but it must not
    // take the exporter down with it.
    result->families.clear();
    result->series.clear();
    result->error = std::string("collector threw: ") + e.what();
  }
  const auto duration = std::chrono::steady_clock::now() - started;

  std::lock_guard lock(mutex_);
  last_result_ = result;
  last_result_time_ = std::chrono::steady_clock::now();
  const auto now = std::chrono::system_clock::now();
  if (result->error &&
      (state_.last_success || state_.runs == 0 || state_.last_error != *result->error)) {
    logger_.Warn("collector failed", {{"collector", name_}, {"error", *result->error}});
  } else if (!result->error && !state_.last_success && state_.runs > 0) {
    logger_.Info("collector recovered", {{"collector", name_}});
  }
  ++state_.runs;
  state_.last_run = now;
  state_.last_duration_seconds = std::chrono::duration<double>(duration).count();
  state_.last_success = !result->error.has_value();
  if (result->error) {
    ++state_.errors_total;
    state_.last_error = *result->error;
    state_.last_error_time = now;
  } else {
    state_.last_success_time = now;
  }
  return result;
}

std::pair<std::shared_ptr<const CollectResult>, std::chrono::steady_clock::time_point>
CollectorRunner::LastResult() const {
  std::lock_guard lock(mutex_);
  return {last_result_, last_result_time_};
}

CollectorState CollectorRunner::State() const {
  CollectorState state;
  {
    std::lock_guard lock(mutex_);
    state = state_;
  }
  state.summary = collector_->Summary();
  return state;
}

std::optional<std::string> CollectorRunner::Stuck(std::chrono::steady_clock::time_point now) const {
  if (const auto deadline = flight_.InFlightDeadline(); deadline && now > *deadline + kStuckGrace) {
    const auto late = std::chrono::duration_cast<std::chrono::seconds>(now - *deadline);
    return "collector \"" + name_ + "\" has been running " + std::to_string(late.count()) +
           "s past its deadline";
  }
  if (auto reason = collector_->Stuck(now)) return "collector \"" + name_ + "\": " + *reason;
  return std::nullopt;
}

void CollectorRunner::CountDroppedSeries(const std::string& reason, std::uint64_t series) {
  if (series == 0) return;
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    std::uint64_t& total = state_.dropped_series_total[reason];
    first = total == 0;
    total += series;
  }
  if (first) {
    logger_.Warn(reason == "name_clash"
                     ? "series left out: the exporter exports a family of the same name"
                     : "series left out: another collector exports a family of the same name "
                       "with another type",
                 {{"collector", name_}, {"reason", reason}, {"series", std::to_string(series)}});
  }
}

}  // namespace sidecar
