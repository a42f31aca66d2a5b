// type: log_metrics against error logs written by the real nginx and Apache made to fail (an
// upstream that refuses, one that never answers, a body over the limit, a killed worker), and
// beside the real mtail (Debian's package) running the same program on the same log.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "collectors/core/unique_fd.h"
#include "tests/support/apache.h"
#include "tests/support/peers.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A TCP listener on 127.0.0.1 that accepts into its backlog and never answers: an upstream that
// times out.
class SilentUpstream {
 public:
  SilentUpstream() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    REQUIRE(bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
    REQUIRE(listen(fd_.get(), 64) == 0);
    REQUIRE(getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

// Lines of `text` matching `pattern` (ECMAScript, searched anywhere in the line).
int CountLines(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  int count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) count += std::regex_search(line, re) ? 1 : 0;
  return count;
}

// Waits until the exporter has read every line of `log` (its size in bytes), then returns its
// metrics.
std::map<std::string, double> MetricsAfterReading(ExporterProcess& exporter,
                                                  const std::filesystem::path& log,
                                                  const std::string& collector) {
  const std::string key = "sidecar_exporter_log_bytes_read_total{collector=\"" + collector +
                          "\",file=\"" + log.string() + "\"}";
  const double size = static_cast<double>(std::filesystem::file_size(log));
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::map<std::string, double> metrics;
  while (Clock::now() < deadline) {
    metrics = exporter.Metrics();
    if (metrics[key] >= size) return metrics;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("the exporter did not read " << log << " to its end: " << metrics[key] << " of " << size);
  return metrics;
}

// mtail's one-shot prometheus output: "name{labels,prog=...} value" -> value, with the prog
// label left out so that keys match ours without the collector label.
std::map<std::string, double> RunMtail(const std::filesystem::path& log,
                                       const std::filesystem::path& programs) {
  const CommandResult result =
      RunCommand({"mtail", "-one_shot", "-one_shot_format=prometheus", "-logs", log.string(),
                  "-progs", programs.string(), "-logtostderr"});
  REQUIRE(result.exit_code == 0);
  std::map<std::string, double> values;
  const std::regex sample(R"(^(\w+)\{(.*)\} (\S+)$)");
  const std::regex prog_label(R"(,?prog="[^"]*")");
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (!std::regex_match(line, match, sample)) continue;
    const std::string labels = std::regex_replace(match[2].str(), prog_label, "");
    values[match[1].str() + "{" + labels + "}"] = std::stod(match[3].str());
  }
  return values;
}

// Compares our `metrics` (collector `collector`) with mtail's run of tests/data/mtail on `log`,
// series by series for the families starting with `prefix`; returns how many were compared.
int CompareWithMtail(std::map<std::string, double>& metrics, const std::filesystem::path& log,
                     const std::string& prefix, const std::string& collector) {
  const std::map<std::string, double> mtail =
      RunMtail(log, std::filesystem::path(SIDECAR_TEST_DATA_DIR) / "mtail");
  int compared = 0;
  for (const auto& [series, value] : mtail) {
    if (!series.starts_with(prefix)) continue;
    std::string ours = series;
    const std::string label = "collector=\"" + collector + "\"";
    ours.insert(ours.find('{') + 1, series.ends_with("{}") ? label : label + ",");
    INFO(series);
    CHECK(metrics[ours] == value);
    ++compared;
  }
  return compared;
}

TEST_CASE("log_metrics nginx_error preset on nginx's real error log, equal to mtail",
          "[e2e][log_metrics]") {
  if (FindExecutable("nginx").empty() || FindExecutable("mtail").empty()) {
    WARN("SKIP: nginx or mtail not installed");
    return;
  }
  SilentUpstream silent;
  const int refused_port = FreePort();  // nothing listens there
  NginxServer nginx(2);
  // The failing locations, in a server of their own next to the helper's default one.
  const int failing_port = FreePort();
  nginx.AddHttpConfig(R"(server {
    listen 127.0.0.1:)" +
                      std::to_string(failing_port) + R"(;
    location /refused { proxy_pass http://127.0.0.1:)" +
                      std::to_string(refused_port) + R"(; }
    location /slow { proxy_pass http://127.0.0.1:)" +
                      std::to_string(silent.port()) + R"(; proxy_read_timeout 300ms; }
    location /upload { client_max_body_size 1k; proxy_pass http://127.0.0.1:)" +
                      std::to_string(refused_port) + R"(; }
})");
  nginx.Start();
  REQUIRE(WaitForPort(failing_port, std::chrono::seconds(5)));
  const std::string base = "http://127.0.0.1:" + std::to_string(failing_port);

  ExporterProcess exporter(R"(collectors:
  - type: log_metrics
    name: nginx_errors
    paths: [")" + nginx.error_log().string() +
                           R"("]
    preset: nginx_error
    from_beginning: true
    poll_interval: 100ms
)");

  for (int i = 0; i < 3; ++i) CHECK(HttpGet(base + "/refused").status == 502);
  for (int i = 0; i < 2; ++i) CHECK(HttpGet(base + "/slow").status == 504);
  TempDir bodies;
  WriteFile(bodies / "body", std::string(4096, 'x'));
  for (int i = 0; i < 2; ++i) {
    const CommandResult post =
        RunCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary",
                    "@" + (bodies / "body").string(), base + "/upload"});
    CHECK(post.output == "413");
  }
  const std::vector<int> workers = nginx.worker_pids();
  REQUIRE(workers.size() == 2);
  kill(workers[0], SIGKILL);
  // The master logs the signal once it has reaped the worker.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (CountLines(ReadFile(nginx.error_log()), "exited on signal 9") == 0 &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  const std::string log = ReadFile(nginx.error_log());
  INFO(log);
  auto metrics = MetricsAfterReading(exporter, nginx.error_log(), "nginx_errors");
  const std::string label = "{collector=\"nginx_errors\"}";
  // Exact counts, from the lines nginx wrote.
  CHECK(metrics["nginx_error_log_upstream_connect_failures_total" + label] == 3);
  CHECK(CountLines(log, R"(connect\(\) failed \(111: Connection refused\))") == 3);
  CHECK(metrics["nginx_error_log_upstream_timeouts_total" + label] == 2);
  CHECK(CountLines(log, "upstream timed out") == 2);
  CHECK(metrics["nginx_error_log_request_body_too_large_total" + label] == 2);
  CHECK(metrics["nginx_error_log_worker_signal_exits_total" + label] == 1);
  const int errors = CountLines(log, R"(^\S+ \S+ \[error\] )");
  CHECK(errors == 7);
  CHECK(metrics["nginx_error_log_lines_total{collector=\"nginx_errors\",level=\"error\"}"] ==
        errors);
  CHECK(metrics["nginx_error_log_lines_total{collector=\"nginx_errors\",level=\"alert\"}"] ==
        CountLines(log, R"(^\S+ \S+ \[alert\] )"));
  CHECK(metrics["sidecar_exporter_log_parse_errors_total{collector=\"nginx_errors\",file=\"" +
                nginx.error_log().string() + "\"}"] == 0);

  // mtail on the same file with the same program: equal counts, series by series. Four counters
  // without labels and at least the error and alert levels.
  CHECK(CompareWithMtail(metrics, nginx.error_log(), "nginx_error_log_", "nginx_errors") >= 6);
  nginx.Stop();
}

TEST_CASE("log_metrics apache_error preset on Apache's real error log, equal to mtail",
          "[e2e][log_metrics]") {
  if (FindExecutable("apache2").empty() || FindExecutable("mtail").empty()) {
    WARN("SKIP: apache2 or mtail not installed");
    return;
  }
  const int refused_port = FreePort();
  ApacheServer apache("prefork");
  apache.LoadModule("proxy");
  apache.LoadModule("proxy_http");
  apache.AddConfig("ProxyPass /refused http://127.0.0.1:" + std::to_string(refused_port) + "/\n");
  apache.Start();
  ExporterProcess exporter(R"(collectors:
  - type: log_metrics
    name: apache_errors
    paths: [")" + apache.error_log().string() +
                           R"("]
    preset: apache_error
    from_beginning: true
    poll_interval: 100ms
)");
  for (int i = 0; i < 3; ++i) CHECK(HttpGet(apache.url("/refused")).status == 503);
  const std::vector<int> children = apache.child_pids();
  REQUIRE_FALSE(children.empty());
  // A crashed child: the parent reports a segmentation fault (it says nothing of a SIGKILL).
  kill(children[0], SIGSEGV);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (CountLines(ReadFile(apache.error_log()), "exit signal Segmentation fault") == 0 &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string log = ReadFile(apache.error_log());
  INFO(log);
  auto metrics = MetricsAfterReading(exporter, apache.error_log(), "apache_errors");
  const auto series = [](const std::string& level, const std::string& module) {
    return "apache_error_log_lines_total{collector=\"apache_errors\",level=\"" + level +
           "\",module=\"" + module + "\"}";
  };
  // mod_proxy's refused connection: one [proxy:error] AH00957 and one [proxy_http:error]
  // AH01114 per request.
  CHECK(CountLines(log, R"(^\[[^\]]*\] \[proxy:error\] .*AH00957)") == 3);
  CHECK(metrics[series("error", "proxy")] == CountLines(log, R"(^\[[^\]]*\] \[proxy:error\])"));
  CHECK(metrics[series("error", "proxy_http")] ==
        CountLines(log, R"(^\[[^\]]*\] \[proxy_http:error\])"));
  CHECK(metrics[series("error", "proxy_http")] == 3);
  // The crashed child, reported by the parent (AH00052).
  CHECK(CountLines(log, R"(^\[[^\]]*\] \[core:notice\] .*AH00052: child pid \d+ exit signal)") ==
        1);
  CHECK(metrics[series("notice", "core")] == CountLines(log, R"(^\[[^\]]*\] \[core:notice\])"));
  CHECK(metrics[series("notice", "mpm_prefork")] ==
        CountLines(log, R"(^\[[^\]]*\] \[mpm_prefork:notice\])"));
  double total = 0;
  for (const auto& [name, value] : metrics) {
    if (name.starts_with("apache_error_log_lines_total{")) total += value;
  }
  CHECK(total == CountLines(log, R"(^\[)"));
  // mtail on the same file with the same program (tests/data/mtail/apache_error.mtail): equal
  // counts, series by series: proxy, proxy_http, core and mpm_prefork at least.
  CHECK(CompareWithMtail(metrics, apache.error_log(), "apache_error_log_", "apache_errors") >= 4);
  apache.Stop();
}

}  // namespace
}  // namespace sidecar::testing
