#include "exporter/single_flight.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace sidecar {
namespace {

// A result that says when it is destroyed.
struct Tracked {
  explicit Tracked(std::atomic<int>& alive) : alive(alive) { ++alive; }
  ~Tracked() { --alive; }
  std::atomic<int>& alive;
};

// A run that goes on until it is let go.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
};

// A deadline no run here reaches.
std::chrono::steady_clock::time_point Forever() {
  return std::chrono::steady_clock::now() + std::chrono::hours(1);
}

// Starts a run that makes a Tracked once `gate` opens, and returns when it is in flight.
std::future<std::shared_ptr<const Tracked>> StartGatedRun(SingleFlight<Tracked>& flight,
                                                          const Gate& gate,
                                                          std::atomic<int>& alive) {
  auto run = std::async(std::launch::async, [&flight, &gate, &alive] {
    return flight.Run(Forever(), [&gate, &alive] {
      gate.opened.wait();
      return std::make_shared<const Tracked>(alive);
    });
  });
  while (!flight.InFlightDeadline()) std::this_thread::yield();
  return run;
}

// Starts a scrape that must join the run in flight (it counts in `own_runs` if it ran its own
// instead: Catch's assertions are not for other threads), and returns once it has joined.
std::future<std::shared_ptr<const Tracked>> StartJoiner(SingleFlight<Tracked>& flight,
                                                        std::atomic<int>& own_runs) {
  const std::size_t before = flight.Joiners();
  auto joiner = std::async(std::launch::async, [&flight, &own_runs] {
    return flight.Run(Forever(), [&own_runs] {
      ++own_runs;
      return std::shared_ptr<const Tracked>();
    });
  });
  while (flight.Joiners() <= before) std::this_thread::yield();
  return joiner;
}

TEST_CASE("a run's result goes once its own joiners have it, whatever runs after it",
          "[single_flight]") {
  SingleFlight<Tracked> flight;
  std::atomic<int> alive{0};
  std::atomic<int> joiner_runs{0};  // joiners must never run their own
  Gate first_gate;
  auto first = StartGatedRun(flight, first_gate, alive);
  auto joiner = StartJoiner(flight, joiner_runs);
  first_gate.open.set_value();
  std::shared_ptr<const Tracked> first_result = first.get();
  std::shared_ptr<const Tracked> joined = joiner.get();
  CHECK(joined == first_result);

  // A second run with a joiner of its own, in flight while the first run's result is let go.
  Gate second_gate;
  auto second = StartGatedRun(flight, second_gate, alive);
  auto second_joiner = StartJoiner(flight, joiner_runs);
  // Nothing but its callers holds the first result: it goes with them, while the second run's
  // joiner still waits (it used to stay until every joiner of any run had left).
  first_result.reset();
  joined.reset();
  CHECK(alive == 0);
  second_gate.open.set_value();
  const auto second_result = second.get();
  CHECK(second_joiner.get() == second_result);
  CHECK(alive == 1);
  CHECK(joiner_runs == 0);
}

TEST_CASE("a joiner whose deadline passes gets nothing and leaves the run going",
          "[single_flight]") {
  SingleFlight<int> flight;
  std::atomic<int> joiner_runs{0};
  Gate gate;
  auto run = std::async(std::launch::async, [&] {
    return flight.Run(Forever(), [&] {
      gate.opened.wait();
      return std::make_shared<const int>(7);
    });
  });
  while (!flight.InFlightDeadline()) std::this_thread::yield();
  CHECK(flight.Run(std::chrono::steady_clock::now(), [&] {
    ++joiner_runs;
    return std::make_shared<const int>(0);
  }) == nullptr);
  CHECK(flight.Joiners() == 0);
  gate.open.set_value();
  CHECK(*run.get() == 7);
  CHECK_FALSE(flight.InFlightDeadline());
  CHECK(joiner_runs == 0);
}

}  // namespace
}  // namespace sidecar
