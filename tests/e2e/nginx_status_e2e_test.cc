// The exporter binary against a real nginx on 127.0.0.1, as a pod would run them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "tests/support/peers.h"

namespace sidecar::testing {
namespace {

std::string NginxConfig(const std::string& url, const std::string& extra = "") {
  return "global:\n  timeout: 2s\ncollectors:\n  - type: nginx_status\n    name: nginx\n    url: " +
         url + "\n" + extra;
}

// A TCP listener that never accepts: connections complete in the backlog and then hang, like a
// main container that is wedged.
class BlackholeListener {
 public:
  BlackholeListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(fd_, 64) == 0);
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~BlackholeListener() { close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/stub_status"; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_CASE("nginx counters move exactly with the requests sent", "[e2e][nginx]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(NginxConfig(nginx.url("/stub_status")));

  auto before = exporter.Metrics();
  REQUIRE(before["nginx_up"] == 1);
  constexpr int kRequests = 37;
  for (int i = 0; i < kRequests; ++i) REQUIRE(HttpGet(nginx.url("/")).status == 200);
  auto after = exporter.Metrics();
  REQUIRE(after["nginx_up"] == 1);
  // The exporter's own fetch of stub_status is one more request.
  CHECK(after["nginx_http_requests_total"] - before["nginx_http_requests_total"] == kRequests + 1);
  // Each test request opened a connection; the exporter reuses its keep-alive connection.
  const double accepted =
      after["nginx_connections_accepted"] - before["nginx_connections_accepted"];
  CHECK(accepted >= kRequests);
  CHECK(accepted <= kRequests + 1);
  CHECK(after["nginx_connections_handled"] == after["nginx_connections_accepted"]);
  CHECK(after["nginx_connections_active"] >= 1);
  CHECK(after["nginx_connections_writing"] >= 1);  // the stub_status request itself
  CHECK(after["sidecar_exporter_collector_success{collector=\"nginx\"}"] == 1);
  CHECK(after["sidecar_exporter_collector_errors_total{collector=\"nginx\"}"] == 0);
}

TEST_CASE("nginx going down turns nginx_up to 0 while readiness stays 200", "[e2e][nginx]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(NginxConfig(nginx.url("/stub_status")));
  REQUIRE(exporter.Metrics()["nginx_up"] == 1);

  nginx.Stop();
  auto down = exporter.Metrics();
  CHECK(down["nginx_up"] == 0);
  // The other nginx series disappear rather than go stale.
  CHECK(down.count("nginx_http_requests_total") == 0);
  CHECK(down.count("nginx_connections_active") == 0);
  CHECK(down["sidecar_exporter_collector_success{collector=\"nginx\"}"] == 0);
  CHECK(down["sidecar_exporter_collector_errors_total{collector=\"nginx\"}"] >= 1);
  CHECK(HttpGet(exporter.url("/readyz")).status == 200);
  CHECK(HttpGet(exporter.url("/healthz")).status == 200);
  const HttpResult page = HttpGet(exporter.url("/"));
  CHECK(page.status == 200);
  CHECK_THAT(page.body, Catch::Contains("failing") && Catch::Contains("Couldn"));

  nginx.Start();  // same port
  auto up = exporter.Metrics();
  CHECK(up["nginx_up"] == 1);
  CHECK(up.count("nginx_http_requests_total") == 1);
  CHECK(up["sidecar_exporter_collector_success{collector=\"nginx\"}"] == 1);

  // The outage is logged once when it starts (not on every scrape) and once when it ends.
  const std::string log = exporter.process().Log();
  const auto count = [&log](const std::string& text) {
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  CHECK(count("msg=\"collector failed\" collector=nginx") == 1);
  CHECK(count("msg=\"collector recovered\" collector=nginx") == 1);
}

TEST_CASE("stub_status over a Unix domain socket", "[e2e][nginx]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(
      "collectors:\n  - type: nginx_status\n    name: nginx\n"
      "    url: http://localhost/stub_status\n    unix_socket: " +
      nginx.unix_socket().string() + "\n");
  auto metrics = exporter.Metrics();
  CHECK(metrics["nginx_up"] == 1);
  CHECK(metrics["nginx_http_requests_total"] >= 1);
}

TEST_CASE("garbage and oversized answers count as errors, not crashes", "[e2e][nginx]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(R"(collectors:
  - {type: nginx_status, name: garbage, url: ")" +
                           nginx.url("/garbage") + R"(", labels: {instance: g}}
  - {type: nginx_status, name: big, url: ")" +
                           nginx.url("/big") + R"(", max_response_bytes: 256, labels: {instance: b}}
  - {type: nginx_status, name: missing, url: ")" +
                           nginx.url("/status/404") + R"(", labels: {instance: m}}
)");
  auto metrics = exporter.Metrics();
  CHECK(metrics["nginx_up{instance=\"g\"}"] == 0);
  CHECK(metrics["nginx_up{instance=\"b\"}"] == 0);
  CHECK(metrics["nginx_up{instance=\"m\"}"] == 0);
  const std::string page = HttpGet(exporter.url("/")).body;
  CHECK_THAT(page, Catch::Contains("expected 4 non-empty lines, got 2"));
  CHECK_THAT(page, Catch::Contains("larger than 256 bytes"));
  CHECK_THAT(page, Catch::Contains("HTTP status 404"));
  CHECK(exporter.process().Running());
}

TEST_CASE("a wedged main container is cut off at the timeout and scrapes share one fetch",
          "[e2e][nginx]") {
  BlackholeListener blackhole;
  ExporterProcess exporter(
      "global:\n  timeout: 1s\ncollectors:\n  - {type: nginx_status, name: "
      "nginx, url: '" +
      blackhole.url() + "'}\n");
  // Prometheus' scrape timeout header shortens the fetch below the configured timeout.
  const auto started = std::chrono::steady_clock::now();
  const HttpResult quick =
      HttpGet(exporter.url("/metrics"), {"X-Prometheus-Scrape-Timeout-Seconds: 0.6"});
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(quick.status == 200);
  CHECK_THAT(quick.body, Catch::Contains("nginx_up 0"));
  CHECK(took < std::chrono::milliseconds(900));

  const double errors_before =
      exporter.Metrics()["sidecar_exporter_collector_errors_total{collector=\"nginx\"}"];
  std::vector<std::future<long>> scrapes;
  for (int i = 0; i < 6; ++i) {
    scrapes.push_back(
        std::async(std::launch::async, [&] { return HttpGet(exporter.url("/metrics")).status; }));
  }
  for (auto& scrape : scrapes) CHECK(scrape.get() == 200);
  const double errors_after =
      exporter.Metrics()["sidecar_exporter_collector_errors_total{collector=\"nginx\"}"];
  // Six concurrent scrapes of a source that takes a full second: they join one run in flight
  // (two if the first finished just as the last arrived), then the last Metrics() is one more.
  CHECK(errors_after - errors_before <= 3);
  CHECK(errors_after - errors_before >= 2);

  // SIGTERM while a fetch hangs: the exporter still stops within 2 s.
  auto pending = std::async(std::launch::async, [&] { return HttpGet(exporter.url("/metrics")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto stop_started = std::chrono::steady_clock::now();
  exporter.process().Signal(SIGTERM);
  const auto code = exporter.process().Wait(std::chrono::seconds(2));
  CHECK(std::chrono::steady_clock::now() - stop_started < std::chrono::seconds(2));
  REQUIRE(code);
  CHECK(*code == 0);
  pending.wait();
}

TEST_CASE("HTTP surface: gzip, HEAD, 404, 405, content type", "[e2e][http]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(NginxConfig(nginx.url("/stub_status")));
  HttpResult plain = HttpGet(exporter.url("/metrics"));
  CHECK(plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(plain.headers.count("content-encoding") == 0);
  CHECK(plain.headers.count("date") == 1);
  CHECK(plain.headers.count("connection") == 0);  // HTTP/1.1 keep-alive by default
  CHECK(HttpGet(exporter.url("/healthz"), {"Connection: close"}).headers["connection"] == "close");
  HttpResult gzip = HttpGet(exporter.url("/metrics"), {"Accept-Encoding: gzip"});
  CHECK(gzip.status == 200);
  CHECK(gzip.headers["content-encoding"] == "gzip");
  CHECK(gzip.body.size() < plain.body.size() / 2);
  CHECK(HttpGet(exporter.url("/metrics"), {}, "HEAD").status == 200);
  CHECK(HttpGet(exporter.url("/nope")).status == 404);
  CHECK(HttpGet(exporter.url("/metrics/../etc/passwd")).status == 404);
  HttpResult post = HttpGet(exporter.url("/metrics"), {}, "POST");
  CHECK(post.status == 405);
  CHECK(post.headers["allow"] == "GET, HEAD");
  CHECK(HttpGet(exporter.url("/healthz"), {}, "DELETE").status == 405);
  HttpResult page = HttpGet(exporter.url("/"));
  CHECK(page.headers["content-type"] == "text/html; charset=utf-8");
  CHECK_THAT(page.body, Catch::Contains("nginx_status") && Catch::Contains("/readyz"));
}

TEST_CASE("promtool accepts the exposition, with nginx up and down", "[e2e][promtool]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(NginxConfig(nginx.url("/stub_status")));
  for (int round = 0; round < 2; ++round) {
    const HttpResult metrics = HttpGet(exporter.url("/metrics"));
    REQUIRE(metrics.status == 200);
    const PromtoolCheck check = CheckWithPromtool(metrics.body);
    INFO(check.output);
    CHECK(check.unexpected_findings.empty());
    CHECK(check.ok());
    nginx.Stop();
  }
}

TEST_CASE("config check mode reports every error with its location", "[e2e][config]") {
  TempDir dir;
  WriteFile(dir / "bad.yaml", R"(global:
  timeout: 5 sec
collectors:
  - type: nginx_status
    name: nginx
    url: not-a-url
    colour: blue
)");
  const CommandResult bad = RunCommand(
      {ExporterBinary(), "--config.check", "--config.file=" + (dir / "bad.yaml").string()});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Catch::Contains((dir / "bad.yaml").string() + ":2:12: global.timeout"));
  CHECK_THAT(bad.output, Catch::Contains(":6:10: collectors[0].url"));
  CHECK_THAT(bad.output, Catch::Contains(":7:5: collectors[0].colour: unknown field"));
  CHECK_THAT(bad.output, Catch::Contains("3 error(s)"));

  WriteFile(dir / "good.yaml", NginxConfig("http://127.0.0.1:8080/stub_status"));
  const CommandResult good = RunCommand(
      {ExporterBinary(), "--config.check", "--config.file=" + (dir / "good.yaml").string()});
  CHECK(good.exit_code == 0);
  CHECK_THAT(good.output, Catch::Contains("OK, 1 collector(s)"));

  // Without --config.check, a broken file stops the exporter at start-up with the same errors.
  const CommandResult start = RunCommand({ExporterBinary(), "--web.listen-address=127.0.0.1:0",
                                          "--config.file=" + (dir / "bad.yaml").string()});
  CHECK(start.exit_code == 1);
  CHECK_THAT(start.output, Catch::Contains("invalid configuration"));
}

TEST_CASE("SIGHUP reloads and an invalid new config keeps the running one", "[e2e][reload]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(NginxConfig(nginx.url("/stub_status")));
  CHECK(exporter.Metrics()["sidecar_exporter_collector_success{collector=\"nginx\"}"] == 1);

  WriteFile(exporter.config_file(), "collectors:\n  - {type: nginx_status, name: web, url: '" +
                                        nginx.url("/stub_status") + "'}\n");
  exporter.process().Signal(SIGHUP);
  REQUIRE(exporter.process().WaitForLog("configuration reloaded", std::chrono::seconds(5)));
  auto reloaded = exporter.Metrics();
  CHECK(reloaded.count("sidecar_exporter_collector_success{collector=\"nginx\"}") == 0);
  CHECK(reloaded["sidecar_exporter_collector_success{collector=\"web\"}"] == 1);
  CHECK(reloaded["sidecar_exporter_config_last_reload_successful"] == 1);

  WriteFile(exporter.config_file(),
            "collectors:\n  - {type: nginx_status, name: web, url: 'nope'}\n");
  exporter.process().Signal(SIGHUP);
  REQUIRE(exporter.process().WaitForLog("keeping the running one", std::chrono::seconds(5)));
  auto kept = exporter.Metrics();
  CHECK(kept["sidecar_exporter_config_last_reload_successful"] == 0);
  CHECK(kept["sidecar_exporter_config_reload_failures_total"] == 1);
  CHECK(kept["sidecar_exporter_collector_success{collector=\"web\"}"] == 1);
  CHECK(kept["nginx_up"] == 1);
  CHECK_THAT(HttpGet(exporter.url("/")).body, Catch::Contains("failed"));
}

}  // namespace
}  // namespace sidecar::testing

namespace sidecar::testing {
namespace {

TEST_CASE("SIGTERM after a burst of scrapes stops within 2 s with exit code 0",
          "[e2e][lifecycle]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(NginxConfig(nginx.url("/stub_status")));
  for (int i = 0; i < 20; ++i) REQUIRE(HttpGet(exporter.url("/metrics")).status == 200);
  const auto started = std::chrono::steady_clock::now();
  exporter.process().Signal(SIGTERM);
  const auto code = exporter.process().Wait(std::chrono::seconds(5));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK_THAT(exporter.process().Log(), Catch::Contains("msg=stopped"));
}

}  // namespace
}  // namespace sidecar::testing
