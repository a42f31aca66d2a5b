// SIGKILL at random moments while a writer produces 50k lines/s and a scraper polls every 20 ms:
// what Prometheus would see (the sum over runs of each run's last scraped count) must equal the
// lines written. Positions are committed with each scrape (AccessLogCollector), so a kill loses
// only what no scrape returned, and a restart reads exactly that again.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <mutex>
#include <random>

#include "tests/faults/faults.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {
namespace {

constexpr const char* kLines = "sidecar_exporter_log_lines_read_total";
constexpr const char* kRequests = "accesslog_http_requests_total";

// What a scraper every 20 ms saw of one run of the exporter.
struct RunView {
  double last_lines = 0;     // last successful scrape
  double last_requests = 0;  // the same scrape's request count
  double max_step = 0;       // largest increase between two successful scrapes
  int failed = 0;            // scrapes without an answer (the kill)
};

// Scrapes `port` every 20 ms on its own thread until stopped.
class Scraper {
 public:
  explicit Scraper(int port)
      : thread_([this, port] {
          while (!stop_) {
            const HttpResult result =
                HttpGet("http://127.0.0.1:" + std::to_string(port) + "/metrics");
            {
              std::lock_guard lock(mutex_);
              if (result.status == 200) {
                const auto metrics = ParseMetrics(result.body);
                const double lines = SumOf(metrics, kLines);
                view_.max_step = std::max(view_.max_step, lines - view_.last_lines);
                view_.last_lines = lines;
                view_.last_requests = SumOf(metrics, kRequests);
              } else {
                ++view_.failed;
              }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  RunView Stop() {
    stop_ = true;
    thread_.join();
    std::lock_guard lock(mutex_);
    return view_;
  }

 private:
  std::atomic<bool> stop_ = false;
  std::mutex mutex_;
  RunView view_;
  std::thread thread_;
};

TEST_CASE("SIGKILL at random: what Prometheus sees equals the lines written", "[faults][crash]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  const std::string config = CountingConfig(log, (dir / "positions").string());
  std::mt19937 rng(std::random_device{}());
  LineWriter writer(log, 50'000);
  double seen_lines = 0;
  double seen_requests = 0;
  double bound = 0;  // lines a kill between commit and answer may hide (see the collector)
  constexpr int kKills = 10;
  for (int run = 0; run < kKills; ++run) {
    ExporterProcess exporter(config);
    Scraper scraper(exporter.port());
    const int lifetime_ms = std::uniform_int_distribution<int>(300, 2000)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(lifetime_ms));
    exporter.process().Signal(SIGKILL);
    REQUIRE(exporter.process().Wait(std::chrono::seconds(5)) == 128 + SIGKILL);
    const RunView view = scraper.Stop();
    seen_lines += view.last_lines;
    seen_requests += view.last_requests;
    if (view.failed > 0) bound += view.max_step;
    UNSCOPED_INFO("run " << run << ": killed after " << lifetime_ms << " ms, last scrape "
                         << view.last_lines << " lines, failed scrapes " << view.failed);
  }
  const std::uint64_t written = writer.Stop();
  // The last run lives until it has read everything.
  ExporterProcess exporter(config);
  const auto metrics = ScrapeUntil(exporter, [&](const auto& m) {
    return seen_lines + SumOf(m, kLines) >= static_cast<double>(written);
  });
  seen_lines += SumOf(metrics, kLines);
  seen_requests += SumOf(metrics, kRequests);
  INFO("written " << written << ", seen " << seen_lines << ", bound " << bound);
  CHECK(written > 100'000);
  CHECK(seen_requests == seen_lines);
  // Never counted twice; lost only within the stated bound (usually 0).
  CHECK(seen_lines <= static_cast<double>(written));
  CHECK(static_cast<double>(written) - seen_lines <= bound);
}

}  // namespace
}  // namespace sidecar::testing
