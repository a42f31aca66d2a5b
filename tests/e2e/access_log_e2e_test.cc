// The exporter binary reading access logs written by a real nginx, and a real Apache log.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "tests/support/peers.h"

namespace sidecar::testing {
namespace {

// nginx's log_format `timed` of NginxServer, pasted verbatim as a user would.
constexpr const char* kTimedFormat =
    R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time)";

// Sum of the series of `name` whose label text contains every one of `parts`.
double Sum(const std::map<std::string, double>& metrics, const std::string& name,
           const std::vector<std::string>& parts) {
  double sum = 0;
  for (const auto& [key, value] : metrics) {
    if (!key.starts_with(name + "{")) continue;
    bool match = true;
    for (const std::string& part : parts) match = match && key.find(part) != std::string::npos;
    if (match) sum += value;
  }
  return sum;
}

// Scrapes until `done(metrics)` or the deadline; returns the last scrape.
template <typename Done>
std::map<std::string, double> ScrapeUntil(ExporterProcess& exporter, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::map<std::string, double> metrics = exporter.Metrics();
  while (!done(metrics) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    metrics = exporter.Metrics();
  }
  return metrics;
}

void CheckPromtool(const std::string& exposition) {
  const PromtoolCheck check = CheckWithPromtool(exposition);
  INFO(check.output);
  CHECK(check.unexpected_findings.empty());
  CHECK(check.ok());
}

TEST_CASE("access_log counts nginx's requests exactly by status", "[e2e][access_log]") {
  NginxServer nginx;
  nginx.Start();
  const std::string log = nginx.access_log().string();
  ExporterProcess exporter(std::string("collectors:\n  - type: access_log\n    name: web\n") +
                           "    paths: ['" + log + "']\n    format: nginx\n    log_format: '" +
                           kTimedFormat + "'\n    poll_interval: 1s\n");

  const std::map<int, int> sent = {{200, 20}, {404, 7}, {500, 3}};
  int total = 0;
  for (const auto& [status, count] : sent) {
    for (int i = 0; i < count; ++i) {
      REQUIRE(HttpGet(nginx.url("/status/" + std::to_string(status))).status == status);
      ++total;
    }
  }

  auto counted = [&](const std::map<std::string, double>& metrics, int status) {
    return Sum(
        metrics, "accesslog_http_requests_total",
        {"collector=\"web\"", "method=\"GET\"", "status=\"" + std::to_string(status) + "\""});
  };
  auto metrics = ScrapeUntil(exporter, [&](const auto& m) {
    return Sum(m, "accesslog_http_requests_total", {}) >= total;
  });
  for (const auto& [status, count] : sent) {
    INFO("status " << status);
    CHECK(counted(metrics, status) == count);
  }
  CHECK(Sum(metrics, "accesslog_http_requests_total", {}) == total);
  CHECK(Sum(metrics, "accesslog_http_request_duration_seconds_count", {"collector=\"web\""}) ==
        total);
  const std::string file = "file=\"" + log + "\"";
  CHECK(Sum(metrics, "sidecar_exporter_log_lines_read_total", {file}) == total);
  CHECK(Sum(metrics, "sidecar_exporter_log_parse_errors_total", {file}) == 0);
  CHECK(Sum(metrics, "sidecar_exporter_log_lag_bytes", {file}) == 0);
  CHECK(Sum(metrics, "sidecar_exporter_log_bytes_read_total", {file}) ==
        static_cast<double>(std::filesystem::file_size(log)));
  CHECK(metrics["sidecar_exporter_collector_success{collector=\"web\"}"] == 1);

  // The exposition, request and pipeline metrics included, passes promtool's lint.
  const HttpResult body = HttpGet(exporter.url("/metrics"));
  REQUIRE(body.status == 200);
  CHECK_THAT(body.body, Catch::Contains("sidecar_exporter_log_last_line_timestamp_seconds{"));
  CheckPromtool(body.body);

  // A person on the status page sees the file and its counts.
  CHECK_THAT(HttpGet(exporter.url("/")).body,
             Catch::Contains(log + ": " + std::to_string(total) + " lines, 0 parse errors"));
}

TEST_CASE("nginx log rotation by rename and reopen loses and double-counts nothing",
          "[e2e][access_log]") {
  NginxServer nginx;
  nginx.Start();
  const std::string log = nginx.access_log().string();
  ExporterProcess exporter(std::string("collectors:\n  - type: access_log\n    name: web\n") +
                           "    paths: ['" + log + "']\n    log_format: '" + kTimedFormat + "'\n");
  int sent = 0;
  const auto send = [&](int count) {
    for (int i = 0; i < count; ++i) REQUIRE(HttpGet(nginx.url("/status/200")).status == 200);
    sent += count;
  };
  const auto counted = [&] {
    return ScrapeUntil(exporter, [&](const auto& m) {
      return Sum(m, "accesslog_http_requests_total", {}) >= sent;
    });
  };
  constexpr int kRotations = 5;
  for (int round = 0; round < kRotations; ++round) {
    send(11);
    // logrotate's default: rename, then tell nginx. Lines written in between still go to the
    // renamed file, which the tailer must read to its end.
    std::filesystem::rename(log, log + "." + std::to_string(round));
    send(4);
    nginx.ReopenLogs();
    send(6);
    // Rotations are minutes apart in real life; the documented bound is one poll per generation.
    CHECK(Sum(counted(), "accesslog_http_requests_total", {}) == sent);
  }
  const auto metrics = counted();
  CHECK(Sum(metrics, "accesslog_http_requests_total", {}) == sent);
  CHECK(Sum(metrics, "sidecar_exporter_log_rotations_total", {}) == kRotations);
  CHECK(Sum(metrics, "sidecar_exporter_log_parse_errors_total", {}) == 0);
}

TEST_CASE("SIGHUP keeps an unchanged access_log collector and its counts", "[e2e][access_log]") {
  NginxServer nginx;
  nginx.Start();
  const std::string log = nginx.access_log().string();
  const std::string access_log = std::string("  - type: access_log\n    name: web\n") +
                                 "    paths: ['" + log + "']\n    log_format: '" + kTimedFormat +
                                 "'\n";
  ExporterProcess exporter("collectors:\n" + access_log);
  for (int i = 0; i < 9; ++i) REQUIRE(HttpGet(nginx.url("/status/404")).status == 404);
  CHECK(Sum(ScrapeUntil(
                exporter,
                [](const auto& m) { return Sum(m, "accesslog_http_requests_total", {}) >= 9; }),
            "accesslog_http_requests_total", {"status=\"404\""}) == 9);

  // A new collector is added; the access_log one is unchanged and keeps its state.
  WriteFile(exporter.config_file(), "collectors:\n" + access_log +
                                        "  - {type: nginx_status, name: nginx, url: '" +
                                        nginx.url("/stub_status") + "'}\n");
  exporter.process().Signal(SIGHUP);
  REQUIRE(exporter.process().WaitForLog("configuration reloaded", std::chrono::seconds(5)));
  for (int i = 0; i < 2; ++i) REQUIRE(HttpGet(nginx.url("/status/404")).status == 404);
  auto metrics = ScrapeUntil(
      exporter, [](const auto& m) { return Sum(m, "accesslog_http_requests_total", {}) >= 11; });
  CHECK(Sum(metrics, "accesslog_http_requests_total", {"status=\"404\""}) == 11);
  CHECK(metrics["nginx_up"] == 1);
}

// The status of a combined-format line, read independently of the exporter's parsers: the
// token after the quoted request. Empty when the line is not in that shape.
std::string StatusOf(const std::string& line) {
  size_t at = line.find("] \"");
  if (at == std::string::npos) return "";
  at += 3;
  while (at < line.size() && line[at] != '"') at += line[at] == '\\' ? 2 : 1;
  if (at + 2 >= line.size() || line[at + 1] != ' ') return "";
  const size_t start = at + 2;
  const size_t end = line.find(' ', start);
  if (end == std::string::npos) return "";
  return line.substr(start, end - start);
}

TEST_CASE("access_log totals of a real Apache log match an independent count",
          "[e2e][access_log]") {
  TempDir dir;
  const std::filesystem::path log = dir / "access.log";
  std::filesystem::copy_file(SIDECAR_TEST_DATA_DIR "/apache_combined_10k.log", log);

  std::map<std::string, int> expected;
  int lines = 0;
  {
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) {
      ++lines;
      ++expected[StatusOf(line)];
    }
  }
  REQUIRE(lines == 10000);
  REQUIRE(expected.count("") == 0);  // every line has the combined shape

  ExporterProcess exporter("collectors:\n  - type: access_log\n    name: apache\n    paths: ['" +
                           log.string() + "']\n    format: apache\n    from_beginning: true\n");
  auto metrics = ScrapeUntil(exporter, [&](const auto& m) {
    return Sum(m, "sidecar_exporter_log_lines_read_total", {}) >= lines;
  });
  CHECK(Sum(metrics, "sidecar_exporter_log_lines_read_total", {}) == lines);
  CHECK(Sum(metrics, "sidecar_exporter_log_parse_errors_total", {}) == 0);
  CHECK(Sum(metrics, "accesslog_http_requests_total", {"collector=\"apache\""}) == lines);
  for (const auto& [status, count] : expected) {
    INFO("status " << status);
    CHECK(Sum(metrics, "accesslog_http_requests_total",
              {"collector=\"apache\"", "status=\"" + status + "\""}) == count);
  }
  CheckPromtool(HttpGet(exporter.url("/metrics")).body);
}

TEST_CASE("config check mode reports a bad access_log format at its field", "[e2e][access_log]") {
  TempDir dir;
  WriteFile(dir / "bad.yaml", R"(collectors:
  - type: access_log
    name: web
    paths: [/var/log/nginx/access.log]
    format: apache
    log_format: '%h %Z'
    path_rewrites:
      - {pattern: '(', replacement: x}
)");
  const CommandResult bad = RunCommand(
      {ExporterBinary(), "--config.check", "--config.file=" + (dir / "bad.yaml").string()});
  INFO(bad.output);
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Catch::Contains(":6:21: collectors[0].log_format"));
  CHECK_THAT(bad.output, Catch::Contains(":8:19: collectors[0].path_rewrites[0].pattern"));
  CHECK_THAT(bad.output, Catch::Contains("2 error(s)"));
}

}  // namespace
}  // namespace sidecar::testing
