#include "collectors/logs/access_log_collector.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "collectors/logs/position_file.h"
#include "tests/support/families.h"
#include "tests/support/step_waker.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

using testing::AppendFile;
using testing::TempDir;
using testing::WriteFile;

using testing::StepWaker;
using Labels = testing::Labels;

std::optional<double> Value(const std::vector<prometheus::MetricFamily>& families,
                            const std::string& name, const Labels& labels) {
  return testing::SeriesValue(families, name, labels);
}

std::string CombinedLine(const std::string& method, const std::string& path, int status) {
  return "10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] \"" + method + " " + path + " HTTP/1.1\" " +
         std::to_string(status) + " 612 \"-\" \"curl/8.0\"\n";
}

std::string Lines(int count, const std::string& method, const std::string& path, int status) {
  std::string text;
  for (int i = 0; i < count; ++i) text += CombinedLine(method, path, status);
  return text;
}

AccessLogOptions Options(const std::vector<std::string>& paths) {
  AccessLogOptions options;
  options.name = "web";
  options.tailer.paths = paths;
  options.tailer.from_beginning = true;
  return options;
}

// Every family of a scrape, the compact ones converted (they come first).
std::vector<prometheus::MetricFamily> Collect(AccessLogCollector& collector) {
  CollectResult result = collector.Collect(CollectContext{});
  std::vector<prometheus::MetricFamily> families;
  for (const SeriesFamily& family : result.series) families.push_back(ToMetricFamily(family));
  families.insert(families.end(), result.families.begin(), result.families.end());
  return families;
}

TEST_CASE("access_log counts requests by status and the pipeline per file", "[access_log]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  WriteFile(log, Lines(5, "GET", "/", 200) + Lines(2, "POST", "/api", 404));
  auto waker = std::make_unique<StepWaker>();
  StepWaker& step = *waker;
  AccessLogCollector collector(Options({log}), std::move(waker));
  collector.Start();

  // The lines present at start are read before the first scrape (from_beginning).
  auto families = Collect(collector);
  CHECK(Value(families, "accesslog_http_requests_total", {{"method", "GET"}, {"status", "200"}}) ==
        5);
  CHECK(Value(families, "accesslog_http_requests_total",
              {{"collector", "web"}, {"method", "POST"}, {"status", "404"}}) == 2);

  AppendFile(log, Lines(3, "GET", "/", 500) + "garbage that is no access log\n" +
                      Lines(1, "GET", "/", 200) + "\n");
  step.Step();
  families = Collect(collector);
  const Labels file = {{"collector", "web"}, {"file", log}};
  CHECK(Value(families, "accesslog_http_requests_total", {{"method", "GET"}, {"status", "200"}}) ==
        6);
  CHECK(Value(families, "accesslog_http_requests_total", {{"method", "GET"}, {"status", "500"}}) ==
        3);
  CHECK(Value(families, "sidecar_exporter_log_lines_read_total", file) == 13);
  CHECK(Value(families, "sidecar_exporter_log_parse_errors_total", file) == 2);  // garbage, ""
  CHECK(Value(families, "sidecar_exporter_log_lines_too_long_total", file) == 0);
  CHECK(Value(families, "sidecar_exporter_log_rotations_total", file) == 0);
  CHECK(Value(families, "sidecar_exporter_log_truncations_total", file) == 0);
  CHECK(Value(families, "sidecar_exporter_log_truncations_without_copy_total", file) == 0);
  CHECK(Value(families, "sidecar_exporter_log_lag_bytes", file) == 0);
  CHECK(Value(families, "sidecar_exporter_log_bytes_read_total", file) ==
        static_cast<double>(testing::ReadFile(log).size()));
  CHECK(Value(families, "sidecar_exporter_log_last_line_timestamp_seconds", file) > 1.6e9);

  // The collector reports nothing wrong, and its loop is turning.
  CHECK_FALSE(collector.Collect(CollectContext{}).error);
  CHECK_FALSE(collector.Stuck(std::chrono::steady_clock::now()));
  CHECK(collector.Stuck(std::chrono::steady_clock::now() + std::chrono::minutes(5)));
}

TEST_CASE("access_log keeps parse errors and lines per file", "[access_log]") {
  TempDir dir;
  const std::string a = (dir / "a.log").string();
  const std::string b = (dir / "b.log").string();
  WriteFile(a, Lines(4, "GET", "/", 200) + "junk\n");
  auto waker = std::make_unique<StepWaker>();
  StepWaker& step = *waker;
  // b.log does not exist yet: it is waited for, without an error.
  AccessLogCollector collector(Options({a, b}), std::move(waker));
  collector.Start();
  CollectResult first = collector.Collect(CollectContext{});
  CHECK_FALSE(first.error);
  CHECK(Value(first.families, "sidecar_exporter_log_lines_read_total", {{"file", b}}) == 0);
  // Absent until the file has given a line.
  CHECK_FALSE(
      Value(first.families, "sidecar_exporter_log_last_line_timestamp_seconds", {{"file", b}}));

  WriteFile(b, "junk\njunk\n" + Lines(1, "GET", "/", 301));
  step.Step();
  auto families = Collect(collector);
  CHECK(Value(families, "sidecar_exporter_log_lines_read_total", {{"file", a}}) == 5);
  CHECK(Value(families, "sidecar_exporter_log_parse_errors_total", {{"file", a}}) == 1);
  CHECK(Value(families, "sidecar_exporter_log_lines_read_total", {{"file", b}}) == 3);
  CHECK(Value(families, "sidecar_exporter_log_parse_errors_total", {{"file", b}}) == 2);
  CHECK(Value(families, "accesslog_http_requests_total", {{"status", "200"}}) == 4);
  CHECK(Value(families, "accesslog_http_requests_total", {{"status", "301"}}) == 1);
  CHECK(Value(families, "sidecar_exporter_log_last_line_timestamp_seconds", {{"file", b}}));
}

TEST_CASE("access_log counts long lines and follows a rotation", "[access_log]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  WriteFile(log, Lines(2, "GET", "/", 200));
  auto options = Options({log});
  options.tailer.max_line_bytes = 256;
  auto waker = std::make_unique<StepWaker>();
  StepWaker& step = *waker;
  AccessLogCollector collector(options, std::move(waker));
  collector.Start();

  AppendFile(log, CombinedLine("GET", "/" + std::string(400, 'x'), 200));
  std::filesystem::rename(log, log + ".1");
  WriteFile(log, Lines(3, "GET", "/", 204));
  step.Step();
  auto families = Collect(collector);
  const Labels file = {{"file", log}};
  CHECK(Value(families, "sidecar_exporter_log_lines_too_long_total", file) == 1);
  CHECK(Value(families, "sidecar_exporter_log_rotations_total", file) == 1);
  CHECK(Value(families, "sidecar_exporter_log_lines_read_total", file) == 5);
  CHECK(Value(families, "accesslog_http_requests_total", {{"status", "200"}}) == 2);
  CHECK(Value(families, "accesslog_http_requests_total", {{"status", "204"}}) == 3);
}

TEST_CASE("access_log positions follow what was exported: a crash re-reads only unexported lines",
          "[access_log]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  const std::string positions = (dir / "positions").string();
  WriteFile(log, Lines(2, "GET", "/", 200));
  auto options = Options({log});
  options.tailer.position_file = positions;
  {
    auto waker = std::make_unique<StepWaker>();
    StepWaker& step = *waker;
    AccessLogCollector collector(options, std::move(waker));
    collector.Start();
    // Start committed where counting starts; the scrape commits the position of its counts.
    CHECK(ReadPositionFile(positions).positions.at(0).offset == 0);
    CHECK(Value(Collect(collector), "sidecar_exporter_log_lines_read_total", {}) == 2);
    const std::uint64_t exported = ReadPositionFile(positions).positions.at(0).offset;
    CHECK(exported == std::filesystem::file_size(log));
    // Read and counted, but never scraped: the position file must not move past them.
    AppendFile(log, Lines(3, "GET", "/", 404));
    step.Step();
    CHECK(ReadPositionFile(positions).positions.at(0).offset == exported);
  }  // as far as the position file goes, the same as a SIGKILL here
  AppendFile(log, Lines(1, "GET", "/", 503));
  AccessLogCollector restarted(options, std::make_unique<StepWaker>());
  restarted.Start();
  auto families = Collect(restarted);
  CHECK(Value(families, "sidecar_exporter_log_lines_read_total", {}) == 4);
  CHECK(Value(families, "accesslog_http_requests_total", {{"status", "404"}}) == 3);
  CHECK(Value(families, "accesslog_http_requests_total", {{"status", "503"}}) == 1);
  CHECK_FALSE(Value(families, "accesslog_http_requests_total", {{"status", "200"}}));
  CHECK(ReadPositionFile(positions).positions.at(0).offset == std::filesystem::file_size(log));
}

TEST_CASE("a retired access_log hands over to its replacement without double counting",
          "[access_log]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  const std::string positions = (dir / "positions").string();
  WriteFile(log, Lines(4, "GET", "/", 200));
  auto options = Options({log});
  options.tailer.position_file = positions;
  auto waker = std::make_unique<StepWaker>();
  StepWaker& step = *waker;
  auto old = std::make_unique<AccessLogCollector>(options, std::move(waker));
  old->Start();
  CHECK(Value(Collect(*old), "accesslog_http_requests_total", {{"status", "200"}}) == 4);
  AppendFile(log, Lines(2, "GET", "/", 200));
  step.Step();  // read, never exported
  // SIGHUP with changed options: the replacement is built first, then the old one retired.
  options.metrics.status_class = true;
  AccessLogCollector replacement(options, std::make_unique<StepWaker>());
  old->Retire();
  // A scrape between the retirement and the swap sees what was last exported, nothing newer.
  CHECK(Value(Collect(*old), "accesslog_http_requests_total", {{"status", "200"}}) == 4);
  AppendFile(log, Lines(3, "GET", "/", 404));
  replacement.Start();
  const auto families = Collect(replacement);
  CHECK(Value(families, "sidecar_exporter_log_lines_read_total", {}) == 5);
  CHECK(Value(families, "accesslog_http_requests_total", {{"status", "2xx"}}) == 2);
  CHECK(Value(families, "accesslog_http_requests_total", {{"status", "4xx"}}) == 3);
  CHECK(Value(Collect(*old), "sidecar_exporter_log_lines_read_total", {}) == 4);

  // The old one goes away later, on another thread: it must not write its positions back.
  const std::uint64_t committed = ReadPositionFile(positions).positions.at(0).offset;
  CHECK(committed == std::filesystem::file_size(log));
  std::thread([&old] { old.reset(); }).join();
  CHECK(ReadPositionFile(positions).positions.at(0).offset == committed);
  // Then a kill (the replacement is never destroyed cleanly) and a restart: nothing twice.
  AppendFile(log, Lines(1, "GET", "/", 503));
  AccessLogCollector restarted(options, std::make_unique<StepWaker>());
  restarted.Start();
  const auto after = Collect(restarted);
  CHECK(Value(after, "sidecar_exporter_log_lines_read_total", {}) == 1);
  CHECK(Value(after, "accesslog_http_requests_total", {{"status", "5xx"}}) == 1);
}

TEST_CASE("access_log built but never started touches nothing", "[access_log]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  WriteFile(log, Lines(2, "GET", "/", 200));
  auto options = Options({log});
  options.tailer.position_file = (dir / "positions").string();
  {
    AccessLogCollector built(options, std::make_unique<StepWaker>());
    CHECK(Collect(built).empty());
  }
  CHECK_FALSE(std::filesystem::exists(dir / "positions"));
}

TEST_CASE("access_log stops promptly with the real waker", "[access_log]") {
  TempDir dir;
  auto options = Options({(dir / "access.log").string()});
  options.poll_interval = std::chrono::hours(1);
  const auto started = std::chrono::steady_clock::now();
  {
    AccessLogCollector collector(options);
    collector.Start();
  }
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
}

TEST_CASE("access_log with inotify sees appended lines without a poll interval", "[access_log]") {
  TempDir dir;
  const std::string log = (dir / "access.log").string();
  WriteFile(log, "");
  auto options = Options({log});
  options.poll_interval = std::chrono::hours(1);  // only inotify can wake the loop in time
  AccessLogCollector collector(options);
  collector.Start();
  AppendFile(log, Lines(7, "GET", "/", 200));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<double> count;
  while (std::chrono::steady_clock::now() < deadline) {
    count = Value(Collect(collector), "accesslog_http_requests_total", {{"status", "200"}});
    if (count == 7) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(count == 7);
}

TEST_CASE("access_log rejects invalid options at construction", "[access_log]") {
  TempDir dir;
  auto options = Options({(dir / "access.log").string()});
  SECTION("unknown Apache directive") {
    options.format_kind = accesslog::LogFormatKind::kApache;
    options.format = "%h %Z";
    CHECK_THROWS_AS(AccessLogCollector(options), std::invalid_argument);
  }
  SECTION("label the format cannot fill") {
    options.format = "$remote_addr $status";
    options.metrics.labels = {"method", "status"};
    CHECK_THROWS_WITH(AccessLogCollector(options), Catch::Contains("method"));
  }
  SECTION("bad regex") {
    options.format_kind = accesslog::LogFormatKind::kRegex;
    options.format = "(?P<status>\\d+";
    CHECK_THROWS_AS(AccessLogCollector(options), std::invalid_argument);
  }
  SECTION("no paths") {
    options.tailer.paths.clear();
    CHECK_THROWS_AS(AccessLogCollector(options), std::invalid_argument);
  }
}

}  // namespace
}  // namespace sidecar
