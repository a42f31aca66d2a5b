#include "exporter/collector_runner.h"

#include <exception>

namespace sidecar {

CollectorRunner::CollectorRunner(std::string name, std::string type, std::string fingerprint,
                                 std::unique_ptr<Collector> collector)
    : name_(std::move(name)),
      type_(std::move(type)),
      fingerprint_(std::move(fingerprint)),
      collector_(std::move(collector)) {
  state_.name = name_;
  state_.type = type_;
}

std::shared_ptr<const CollectResult> CollectorRunner::Collect(const CollectContext& context) {
  std::unique_lock lock(mutex_);
  if (in_flight_) {
    const std::uint64_t joined = generation_;
    const bool finished = finished_.wait_until(
        lock, context.deadline, [&] { return generation_ != joined || context.stop.stop_requested(); });
    if (finished && generation_ != joined) return last_result_;
    auto timed_out = std::make_shared<CollectResult>();
    timed_out->error = "scrape deadline passed while waiting for a collection already running";
    return timed_out;
  }
  in_flight_ = true;
  in_flight_deadline_ = context.deadline;
  lock.unlock();

  const auto started = std::chrono::steady_clock::now();
  auto result = std::make_shared<CollectResult>();
  try {
    *result = collector_->Collect(context);
  } catch (const std::exception& e) {
    // Collectors report expected failures in the result; an exception is a bug, but it must not
    // take the exporter down with it.
    result->families.clear();
    result->error = std::string("collector threw: ") + e.what();
  }
  const auto duration = std::chrono::steady_clock::now() - started;

  lock.lock();
  const auto now = std::chrono::system_clock::now();
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
  last_result_ = std::move(result);
  in_flight_ = false;
  ++generation_;
  finished_.notify_all();
  return last_result_;
}

CollectorState CollectorRunner::State() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::optional<std::string> CollectorRunner::Stuck(std::chrono::steady_clock::time_point now) const {
  {
    std::lock_guard lock(mutex_);
    if (in_flight_ && now > in_flight_deadline_ + kStuckGrace) {
      const auto late = std::chrono::duration_cast<std::chrono::seconds>(now - in_flight_deadline_);
      return "collector \"" + name_ + "\" has been running " + std::to_string(late.count()) +
             "s past its deadline";
    }
  }
  if (auto reason = collector_->Stuck(now)) return "collector \"" + name_ + "\": " + *reason;
  return std::nullopt;
}

}  // namespace sidecar
