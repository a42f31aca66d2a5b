#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

#include "collectors/logs/waker.h"

namespace sidecar::testing {

// Lets a test run a log collector's tail loop one turn at a time: Step() lets one Wait() return
// and comes back once the poll after it has finished (the loop is waiting again), so no sleeps
// are needed.
class StepWaker final : public Waker {
 public:
  bool Wait(std::stop_token stop) override {
    std::unique_lock lock(mutex_);
    ++waits_;
    cv_.notify_all();
    cv_.wait(lock, stop, [this] { return permits_ > 0; });
    if (stop.stop_requested()) return false;
    --permits_;
    return true;
  }

  void Step() {
    std::unique_lock lock(mutex_);
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(10), [this] { return waits_ > 0; }));
    const int target = waits_ + 1;
    ++permits_;
    cv_.notify_all();
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return waits_ >= target; }));
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any cv_;
  int waits_ = 0;
  int permits_ = 0;
};

}  // namespace sidecar::testing
