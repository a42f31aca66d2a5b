// Reloads and signals under load: a reload that fails half-way, a reload followed by a kill,
// SIGHUP storms while scraping and writing, SIGTERM in the middle of scrapes.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <mutex>

#include "tests/faults/faults.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLines = "sidecar_exporter_log_lines_read_total";
constexpr const char* kRequests = "accesslog_http_requests_total";

TEST_CASE("a reload that fails on its last collector keeps the running ones tailing",
          "[faults][reload]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  const std::string positions = (dir / "positions").string();
  const std::string web = AccessLogConfig(
      "web", log, "    from_beginning: true\n    position_file: '" + positions + "'\n");
  ExporterProcess exporter("collectors:\n" + web);
  LineWriter writer(log, 20'000);
  ScrapeUntil(exporter, [](const auto& m) { return SumOf(m, kLines) > 0; });

  // `web` changes (it would be replaced); the last collector passes the config check but cannot
  // be built: its glob matches its own position file.
  WriteFile(
      exporter.config_file(),
      "collectors:\n" + web + "    status_class: true\n" +
          AccessLogConfig("broken", (dir / "*").string(),
                          "    position_file: '" + (dir / "broken-positions").string() + "'\n"));
  exporter.process().Signal(SIGHUP);
  REQUIRE(exporter.process().WaitForLog("cannot build collectors", std::chrono::seconds(5)));
  auto metrics = exporter.Metrics();
  CHECK(metrics["sidecar_exporter_config_last_reload_successful"] == 0);
  CHECK(metrics["sidecar_exporter_config_reload_failures_total"] == 1);
  CHECK_THAT(HttpGet(exporter.url("/")).body, Catch::Contains("matches the position file"));

  // `web` was not retired: its loop still reads, its counts are exact, /healthz stays ok.
  const std::uint64_t written = writer.Stop();
  metrics = ScrapeUntil(
      exporter, [&](const auto& m) { return SumOf(m, kLines) >= static_cast<double>(written); });
  CHECK(SumOf(metrics, kLines) == static_cast<double>(written));
  CHECK(metrics.contains(
      R"(accesslog_http_requests_total{collector="web",method="GET",status="200"})"));
  CHECK(HttpGet(exporter.url("/healthz")).status == 200);
}

TEST_CASE("a reload that replaces an access_log, then a SIGKILL: nothing counted twice",
          "[faults][reload]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  const std::string web = AccessLogConfig(
      "web", log,
      "    from_beginning: true\n    position_file: '" + (dir / "positions").string() + "'\n");
  LineWriter writer(log, 20'000);
  auto exporter = std::make_unique<ExporterProcess>("collectors:\n" + web);
  // Prometheus' view: the last count each collector instance returned.
  double seen =
      SumOf(ScrapeUntil(*exporter, [](const auto& m) { return SumOf(m, kLines) > 1000; }), kLines);
  WriteFile(exporter->config_file(), "collectors:\n" + web + "    status_class: true\n");
  exporter->process().Signal(SIGHUP);
  REQUIRE(exporter->process().WaitForLog("configuration reloaded", std::chrono::seconds(5)));
  // The replacement counts from the old one's last exported position.
  const double replacement =
      SumOf(ScrapeUntil(*exporter, [](const auto& m) { return SumOf(m, kLines) > 1000; }), kLines);
  seen += replacement;
  exporter->process().Signal(SIGKILL);
  exporter->process().Wait(std::chrono::seconds(5));
  const std::uint64_t written = writer.Stop();
  exporter = std::make_unique<ExporterProcess>("collectors:\n" + web + "    status_class: true\n");
  const auto metrics = ScrapeUntil(*exporter, [&](const auto& m) {
    return seen + SumOf(m, kLines) >= static_cast<double>(written);
  });
  seen += SumOf(metrics, kLines);
  INFO("written " << written << ", seen " << seen);
  CHECK(seen == static_cast<double>(written));
}

TEST_CASE("100 SIGHUPs in a second while scraping 100/s and writing 20k lines/s",
          "[faults][reload]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  const std::string other = (dir / "other.log").string();
  const std::string web = AccessLogConfig("web", log, "    from_beginning: true\n");
  ExporterProcess exporter("collectors:\n" + web);
  LineWriter writer(log, 20'000);
  std::atomic<bool> stop = false;
  std::atomic<int> scrapes = 0;
  std::atomic<int> failed = 0;
  std::thread scraper([&] {
    while (!stop) {
      (HttpGet(exporter.url("/metrics")).status == 200 ? scrapes : failed)++;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  // Alternate between two configs: `web` unchanged (kept with its counts), `other` added and
  // removed each time.
  for (int i = 0; i < 100; ++i) {
    WriteFile(exporter.config_file(),
              "collectors:\n" + web + (i % 2 == 0 ? AccessLogConfig("other", other) : ""));
    exporter.process().Signal(SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::uint64_t written = writer.Stop();
  stop = true;
  scraper.join();
  CHECK(failed == 0);
  CHECK(scrapes > 30);
  CHECK(exporter.process().Running());
  const auto metrics = ScrapeUntil(
      exporter, [&](const auto& m) { return SumOf(m, kLines) >= static_cast<double>(written); });
  CHECK(SumOf(metrics, kLines) == static_cast<double>(written));
  CHECK(SumOf(metrics, kRequests) == static_cast<double>(written));
  CHECK(HttpGet(exporter.url("/healthz")).status == 200);
}

TEST_CASE("SIGTERM in the middle of scrapes: a clean stop, and a restart counts exactly",
          "[faults][reload]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  const std::string config = CountingConfig(log, (dir / "positions").string());
  LineWriter writer(log, 20'000);
  auto exporter = std::make_unique<ExporterProcess>(config);
  std::atomic<bool> stop = false;
  std::mutex mutex;
  double last = 0;  // largest count any scraper got
  int answered = 0;
  int refused = 0;  // no answer: the stop refused the connection (or cut it)
  std::vector<std::thread> scrapers;
  for (int i = 0; i < 4; ++i) {
    scrapers.emplace_back([&, port = exporter->port()] {
      while (!stop) {
        const HttpResult result = HttpGet("http://127.0.0.1:" + std::to_string(port) + "/metrics");
        std::lock_guard lock(mutex);
        if (result.status == 200) {
          last = std::max(last, SumOf(ParseMetrics(result.body), kLines));
          ++answered;
        } else {
          ++refused;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  exporter->process().Signal(SIGTERM);
  const auto started = std::chrono::steady_clock::now();
  CHECK(exporter->process().Wait(std::chrono::seconds(5)) == 0);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(2500));
  stop = true;
  for (auto& scraper : scrapers) scraper.join();
  // A graceful stop answers every scrape it committed positions for (scrapes it had not begun
  // are refused, and commit nothing): the largest count any scraper got is the last one
  // committed, and the restart counts exactly the rest.
  double seen = last;
  const std::uint64_t written = writer.Stop();
  exporter = std::make_unique<ExporterProcess>(config);
  const auto metrics = ScrapeUntil(*exporter, [&](const auto& m) {
    return seen + SumOf(m, kLines) >= static_cast<double>(written);
  });
  seen += SumOf(metrics, kLines);
  INFO("written " << written << ", seen " << seen << ", scrapes answered " << answered
                  << ", refused " << refused);
  CHECK(answered > 4);
  CHECK(seen == static_cast<double>(written));
}

}  // namespace
}  // namespace sidecar::testing
