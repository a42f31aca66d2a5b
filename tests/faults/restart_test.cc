// The main container restarting in a loop: a real nginx, under steady requests, killed with
// SIGKILL (what the kubelet's runtime does to a crashing container) and started again ten times,
// its access log kept on the shared volume. The sidecar keeps serving, shows nginx down on the
// status page and in nginx_up / sidecar_exporter_collector_success while it is, counts each
// restart, recovers by itself each time, and counts every line nginx wrote exactly once.
#include <catch2/catch.hpp>
#include <fstream>

#include "re2/re2.h"
#include "tests/faults/faults.h"

namespace sidecar::testing {
namespace {

constexpr const char* kLines = "sidecar_exporter_log_lines_read_total";
constexpr const char* kRequests = "accesslog_http_requests_total";
constexpr const char* kNginxSuccess = "sidecar_exporter_collector_success{collector=\"nginx\"}";
constexpr const char* kWebSuccess = "sidecar_exporter_collector_success{collector=\"web\"}";
constexpr const char* kRestarts = "sidecar_process_restarts_total{groupname=\"main\"}";
constexpr const char* kProcessUp = "sidecar_process_up{groupname=\"main\"}";

// nginx's log_format `timed` of NginxServer, pasted verbatim as a user would.
constexpr const char* kTimedFormat =
    R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time)";

// The status page's row of the collector `name` in its collectors table.
std::string CollectorRow(const std::string& page, const std::string& name) {
  const std::size_t start = page.find("<tr><td>" + name + "</td>");
  if (start == std::string::npos) return "";
  return page.substr(start, page.find("</tr>", start) - start);
}

std::uint64_t LinesIn(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::uint64_t lines = 0;
  std::string line;
  while (std::getline(in, line)) ++lines;
  return lines;
}

TEST_CASE("the main container restarting in a loop while writing its log", "[faults][restart]") {
  NginxServer nginx;
  nginx.Start();
  // The process group is this test's nginx alone (other tests' nginx may run on the machine).
  const std::string master = RE2::QuoteMeta((nginx.dir() / "nginx.conf").string());
  ExporterProcess exporter(
      "collectors:\n" +
      AccessLogConfig(
          "web", nginx.access_log().string(),
          "    from_beginning: true\n    log_format: '" + std::string(kTimedFormat) + "'\n") +
      "  - type: nginx_status\n    name: nginx\n    url: " + nginx.url("/stub_status") +
      "\n    timeout: 1s\n  - type: process\n    name: main\n    match: {cmdline: '" + master +
      "'}\n");

  // Requests all along, also while nginx is down (those are refused and not logged).
  std::atomic<bool> stop = false;
  std::atomic<int> answered = 0;
  std::atomic<int> refused = 0;
  std::thread client([&] {
    while (!stop) {
      (HttpGet(nginx.url("/")).status == 200 ? answered : refused)++;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  constexpr int kRestartCount = 10;
  for (int restart = 0; restart < kRestartCount; ++restart) {
    INFO("restart " << restart);
    // Up and logging: nginx_up 1, lines counted.
    const double before = SumOf(exporter.Metrics(), kLines);
    auto metrics = ScrapeUntil(exporter, [&](const auto& m) {
      return m.contains("nginx_up") && m.at("nginx_up") == 1 && SumOf(m, kLines) > before;
    });
    REQUIRE(metrics["nginx_up"] == 1);
    CHECK(metrics[kNginxSuccess] == 1);
    CHECK(metrics[kProcessUp] == 1);
    CHECK(metrics[kRestarts] == restart);

    nginx.Crash();
    // Down: the sidecar serves on and says so, in metrics and on the status page.
    metrics = exporter.Metrics();
    CHECK(metrics["nginx_up"] == 0);
    CHECK(metrics[kNginxSuccess] == 0);
    CHECK(metrics[kProcessUp] == 0);
    CHECK(metrics[kWebSuccess] == 1);  // the log is still there, only quiet
    const HttpResult page = HttpGet(exporter.url("/"));
    REQUIRE(page.status == 200);
    const std::string row = CollectorRow(page.body, "nginx");
    CHECK_THAT(row, Catch::Contains("failing"));
    CHECK_THAT(row, Catch::Contains("GET " + nginx.url("/stub_status") + ": Failed to connect"));
    CHECK_THAT(CollectorRow(page.body, "main"), Catch::Contains(": 0 running"));
    CHECK(HttpGet(exporter.url("/healthz")).status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    nginx.Start();  // same port, same log file (appended to)
  }
  stop = true;
  client.join();

  // Recovered by itself after the last restart: nginx up, the restarts counted, the status page
  // fine again.
  auto metrics = ScrapeUntil(
      exporter, [&](const auto& m) { return m.contains("nginx_up") && m.at("nginx_up") == 1; });
  CHECK(metrics.at(kNginxSuccess) == 1);
  CHECK(metrics.at(kProcessUp) == 1);
  CHECK(metrics.at(kRestarts) == kRestartCount);
  const std::string page = HttpGet(exporter.url("/")).body;
  CHECK_THAT(CollectorRow(page, "nginx"),
             Catch::Contains("<span class=\"ok\">") && !Catch::Contains("failing"));
  CHECK_THAT(CollectorRow(page, "main"),
             Catch::Contains(std::to_string(kRestartCount) + " restarts"));
  CHECK(HttpGet(exporter.url("/healthz")).status == 200);

  // Every line nginx wrote, counted once. nginx stops first: the exporter's own stub_status
  // fetches are logged too, so the log grows with every scrape while it runs.
  nginx.Stop();
  const std::uint64_t written = LinesIn(nginx.access_log());
  metrics = ScrapeUntil(
      exporter, [&](const auto& m) { return SumOf(m, kLines) >= static_cast<double>(written); });
  INFO("answered " << answered << ", refused " << refused << ", lines " << written);
  // nginx logs a request just after answering it: a kill in between loses that line (one
  // client, so at most one per kill).
  CHECK(written + kRestartCount >= static_cast<std::uint64_t>(answered));
  CHECK(refused > 0);
  CHECK(SumOf(metrics, kLines) == static_cast<double>(written));
  CHECK(SumOf(metrics, kRequests) == static_cast<double>(written));
}

}  // namespace
}  // namespace sidecar::testing
