#include "exporter/collector_runner.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "collectors/core/metric_family_builder.h"

namespace sidecar {
namespace {

// A collector that blocks in Collect() until the test opens its gate, counting its runs.
class GatedCollector final : public Collector {
 public:
  CollectResult Collect(const CollectContext&) override {
    std::unique_lock lock(mutex_);
    ++runs_;
    started_.notify_all();
    opened_.wait(lock, [this] { return open_; });
    CollectResult result;
    result.families.push_back(
        MetricFamilyBuilder("gated", "Test.", prometheus::MetricType::Gauge).Add(runs_).Build());
    if (fail_) result.error = "source down";
    return result;
  }
  void WaitForRuns(int runs) {
    std::unique_lock lock(mutex_);
    started_.wait(lock, [&] { return runs_ >= runs; });
  }
  void Open(bool fail = false) {
    std::lock_guard lock(mutex_);
    open_ = true;
    fail_ = fail;
    opened_.notify_all();
  }
  int runs() {
    std::lock_guard lock(mutex_);
    return runs_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable started_;
  std::condition_variable opened_;
  bool open_ = false;
  bool fail_ = false;
  int runs_ = 0;
};

CollectContext Within(std::chrono::milliseconds budget) {
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + budget;
  return context;
}

TEST_CASE("concurrent collections share the run in flight", "[runner]") {
  std::ostringstream log;
  Logger logger(log, LogLevel::kInfo, LogFormat::kLogfmt);
  auto collector = std::make_unique<GatedCollector>();
  GatedCollector& gate = *collector;
  CollectorRunner runner("gated", "test", "", std::move(collector), logger);

  auto first = std::async(std::launch::async,
                          [&] { return runner.Collect(Within(std::chrono::seconds(30))); });
  gate.WaitForRuns(1);
  std::vector<std::future<std::shared_ptr<const CollectResult>>> joiners;
  for (int i = 0; i < 4; ++i) {
    joiners.push_back(std::async(std::launch::async,
                                 [&] { return runner.Collect(Within(std::chrono::seconds(30))); }));
  }
  // Every joiner is waiting for the run in flight before it finishes (bounded by the ctest
  // timeout should one never arrive).
  while (runner.Joiners() < joiners.size()) std::this_thread::yield();
  // A joiner whose deadline passes while it waits gets its own error, not a hang.
  const auto impatient = runner.Collect(Within(std::chrono::milliseconds(20)));
  REQUIRE(impatient->error);
  CHECK_THAT(*impatient->error, Catch::Contains("deadline passed"));

  // The run in flight is far past its deadline: /healthz would call the collector stuck.
  CHECK_FALSE(runner.Stuck(std::chrono::steady_clock::now()));
  const auto later = std::chrono::steady_clock::now() + std::chrono::seconds(30) +
                     CollectorRunner::kStuckGrace + std::chrono::seconds(1);
  const auto stuck = runner.Stuck(later);
  REQUIRE(stuck);
  CHECK_THAT(*stuck, Catch::Contains("\"gated\"") && Catch::Contains("past its deadline"));

  gate.Open();
  const auto result = first.get();
  // Joiners that arrived while the first run was in flight share its result: one run in all.
  for (auto& joiner : joiners) CHECK(joiner.get() == result);
  CHECK(gate.runs() == 1);
  CHECK_FALSE(runner.Stuck(later));
  const CollectorState state = runner.State();
  CHECK(state.last_success);
  CHECK(state.errors_total == 0);
}

TEST_CASE("failures are counted per run and logged once per change", "[runner]") {
  std::ostringstream log;
  Logger logger(log, LogLevel::kInfo, LogFormat::kLogfmt);
  auto collector = std::make_unique<GatedCollector>();
  GatedCollector& gate = *collector;
  CollectorRunner runner("gated", "test", "", std::move(collector), logger);
  gate.Open(/*fail=*/true);
  for (int i = 0; i < 3; ++i) CHECK(runner.Collect(Within(std::chrono::seconds(5)))->error);
  const CollectorState state = runner.State();
  CHECK(state.runs == 3);
  CHECK(state.errors_total == 3);
  CHECK_FALSE(state.last_success);
  CHECK(state.last_error == "source down");
  const std::string text = log.str();
  CHECK(text.find("collector failed") != std::string::npos);
  CHECK(text.find("collector failed") == text.rfind("collector failed"));
}

}  // namespace
}  // namespace sidecar
