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
// so that concurrent scrapes cost the main container, and the exporter, one collection. A run's
// result is held only until every caller that joined that run has taken it: a large result (a
// whole exposition, a collector's families) does not stay in memory between runs, nor while the
// next run's callers wait for theirs.
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
      // The run's own record: its result stays there until the last of its joiners has taken
      // it, whatever runs start after it.
      std::shared_ptr<Flight> flight = in_flight_;
      ++joiners_;
      const bool finished = finished_.wait_until(lock, deadline, [&] { return flight->finished; });
      --joiners_;
      std::shared_ptr<const T> result = finished ? flight->result : nullptr;
      lock.unlock();
      return result;
    }
    auto flight = std::make_shared<Flight>();
    in_flight_ = flight;
    in_flight_deadline_ = deadline;
    lock.unlock();
    std::shared_ptr<const T> result;
    try {
      result = produce();
    } catch (...) {
      Finish(*flight, nullptr);
      throw;
    }
    Finish(*flight, result);
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
  struct Flight {
    bool finished = false;
    std::shared_ptr<const T> result;  // for the joiners; goes with the last of them
  };

  void Finish(Flight& flight, std::shared_ptr<const T> result) {
    std::lock_guard lock(mutex_);
    flight.result = std::move(result);
    flight.finished = true;
    in_flight_.reset();
    finished_.notify_all();
  }

  mutable std::mutex mutex_;
  std::condition_variable finished_;
  std::shared_ptr<Flight> in_flight_;  // null when no run is in flight
  std::chrono::steady_clock::time_point in_flight_deadline_;
  std::size_t joiners_ = 0;
};

}  // namespace sidecar
