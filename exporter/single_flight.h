#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

namespace sidecar {

// Collapses concurrent calls into one run (Go's singleflight): a caller that arrives while a
// run is in flight waits for that run and shares its result instead of starting another. Used
// so that concurrent scrapes cost the main container, and the exporter, one collection. The
// result is held only until every joiner has taken it: a large result (a whole exposition, a
// collector's families) does not stay in memory between runs.
//
// Thread-safe.
template <typename T>
class SingleFlight {
 public:
  // Runs `produce`, or joins the run in flight. A joiner whose deadline passes first gets
  // nullptr. `produce` runs without the lock held.
  template <typename Produce>
  std::shared_ptr<const T> Run(std::chrono::steady_clock::time_point deadline, Produce&& produce) {
    std::unique_lock lock(mutex_);
    if (in_flight_) {
      const std::uint64_t joined = generation_;
      ++joiners_;
      const bool finished =
          finished_.wait_until(lock, deadline, [&] { return generation_ != joined; });
      std::shared_ptr<const T> result = finished ? last_ : nullptr;
      if (--joiners_ == 0) last_.reset();
      return result;
    }
    in_flight_ = true;
    in_flight_deadline_ = deadline;
    lock.unlock();
    std::shared_ptr<const T> result;
    try {
      result = produce();
    } catch (...) {
      Finish(nullptr);
      throw;
    }
    Finish(result);
    return result;
  }

  // Callers waiting for the run in flight (for the status page and tests).
  std::size_t Joiners() const {
    std::lock_guard lock(mutex_);
    return joiners_;
  }

  // The deadline of the run in flight, if there is one.
  std::optional<std::chrono::steady_clock::time_point> InFlightDeadline() const {
    std::lock_guard lock(mutex_);
    if (!in_flight_) return std::nullopt;
    return in_flight_deadline_;
  }

 private:
  void Finish(std::shared_ptr<const T> result) {
    std::lock_guard lock(mutex_);
    // Kept for the joiners only; the last one to take it lets it go.
    if (joiners_ > 0) last_ = std::move(result);
    in_flight_ = false;
    ++generation_;
    finished_.notify_all();
  }

  mutable std::mutex mutex_;
  std::condition_variable finished_;
  bool in_flight_ = false;
  std::chrono::steady_clock::time_point in_flight_deadline_;
  std::uint64_t generation_ = 0;  // counts finished runs; joiners wait for it to move
  std::size_t joiners_ = 0;
  std::shared_ptr<const T> last_;  // the finished run's result, while joiners still take it
};

}  // namespace sidecar
