// http_probe and tcp_probe side by side with Debian's prometheus-blackbox-exporter: the same
// endpoints (a real nginx, plain and with self-signed certificates, a real redis, a closed port),
// probed by both with the same options, must give the same probe_* values.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "collectors/probes/http_probe_collector.h"
#include "collectors/probes/tcp_probe_collector.h"
#include "tests/support/peers.h"
#include "tests/support/probe_peers.h"

namespace sidecar::testing {
namespace {

// One probe configured the same way in both exporters. `options` and `tls` are YAML flow-mapping
// entries that mean the same in blackbox_exporter's module and in our collector.
struct ProbeCase {
  std::string name;
  std::string prober;  // http or tcp
  std::string target;  // URL, or host:port
  std::string options = "";
  std::string tls = "";
  std::string timeout = "5s";
  // What our probe_failure_reason says; empty when the probe succeeds.
  std::string reason = "";
};

std::string Join(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& part : parts) {
    if (part.empty()) continue;
    joined += (joined.empty() ? "" : ", ") + part;
  }
  return joined;
}

std::string BlackboxModule(const ProbeCase& probe) {
  const bool tcp = probe.prober == "tcp";
  const std::string tls_config = probe.tls.empty() ? "" : "tls_config: {" + probe.tls + "}";
  return "  " + probe.name + ": {prober: " + probe.prober + ", timeout: " + probe.timeout + ", " +
         probe.prober + ": {" +
         Join({probe.options, tls_config, tcp && !probe.tls.empty() ? "tls: true" : ""}) + "}}\n";
}

std::string OurCollector(const ProbeCase& probe) {
  const bool tcp = probe.prober == "tcp";
  return "  - {" +
         Join({"type: " + probe.prober + "_probe", "name: " + probe.name,
               (tcp ? "address: '" : "url: '") + probe.target + "'", "timeout: " + probe.timeout,
               probe.options, probe.tls.empty() ? "" : "tls: {" + probe.tls + "}"}) +
         "}\n";
}

// The value of `name` in blackbox's answer, or NaN when absent (it has no labels there).
double Value(const std::map<std::string, double>& metrics, const std::string& name) {
  const auto it = metrics.find(name);
  return it == metrics.end() ? std::nan("") : it->second;
}

std::string Text(double value) {
  if (std::isnan(value)) return "absent";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", value);
  return buffer;
}

TEST_CASE("http_probe and tcp_probe agree with blackbox_exporter", "[e2e][probes][blackbox]") {
  TempDir dir;
  const Certificate fresh = MakeSelfSignedCertificate(dir.path(), "fresh", 365);
  // About to expire: the case an expiry alert exists for.
  const Certificate expiring = MakeSelfSignedCertificate(dir.path(), "expiring", 1);
  WriteFile(dir / "password", "secret\n");
  WriteFile(dir / "token", "t0ken\n");
  WriteFile(dir / "slow.txt", std::string(64, 'x'));

  const int plain = FreePort();
  const int fresh_tls = FreePort();
  const int expiring_tls = FreePort();
  const int closed = FreePort();  // nothing listens there
  const int h2_tls = FreePort();
  NginxServer nginx;
  const std::string endpoints = R"(
      location = /ok { add_header X-Degraded false; return 200 '{"status": "UP"}'; }
      location = /down { return 200 '{"status": "DOWN"}'; }
      location = /degraded { add_header X-Degraded true; return 200 '{"status": "UP"}'; }
      location = /503 { return 503 'unavailable'; }
      location = /redirect { return 301 /ok; }
      location = /loop { return 302 /loop; }
      location = /basic { if ($http_authorization != "Basic cHJvYmU6c2VjcmV0") { return 401; } return 200 'ok'; }
      location = /bearer { if ($http_authorization != "Bearer t0ken") { return 401; } return 200 'ok'; }
      location = /json { if ($http_accept != "application/json") { return 406; } return 200 '{}'; }
      location = /via_proxy { if ($http_via !~ tinyproxy) { return 403; } return 200 'proxied'; }
      location = /slow.txt { root )" +
                                dir.path().string() +
                                R"(; limit_rate 1; }
)";
  nginx.AddHttpConfig("server { listen 127.0.0.1:" + std::to_string(plain) + ";" + endpoints + "}");
  for (const auto& [port, certificate] : {std::pair{fresh_tls, fresh}, {expiring_tls, expiring}}) {
    nginx.AddHttpConfig("server { listen 127.0.0.1:" + std::to_string(port) +
                        " ssl; ssl_certificate " + certificate.cert_file.string() +
                        "; ssl_certificate_key " + certificate.key_file.string() + ";" + endpoints +
                        "}");
  }
  nginx.AddHttpConfig("server { listen 127.0.0.1:" + std::to_string(h2_tls) +
                      " ssl http2; ssl_certificate " + fresh.cert_file.string() +
                      "; ssl_certificate_key " + fresh.key_file.string() + ";" + endpoints + "}");
  nginx.Start();
  REQUIRE(WaitForPort(plain, std::chrono::seconds(5)));
  RedisServer redis;
  // Debian's tinyproxy as the forward proxy (nginx cannot tunnel CONNECT), allowed to tunnel to
  // the TLS port.
  PeerProcess proxy({"tinyproxy", "-d", "-c", "{dir}/tinyproxy.conf"},
                    {{"tinyproxy.conf",
                      "Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 10\n"
                      "ConnectPort " +
                          std::to_string(fresh_tls) + "\n"}});
  const std::string proxy_url =
      "proxy_url: 'http://127.0.0.1:" + std::to_string(proxy.port()) + "'";

  const std::string http = "http://127.0.0.1:" + std::to_string(plain);
  const std::string fresh_url = "https://127.0.0.1:" + std::to_string(fresh_tls);
  const std::string expiring_url = "https://localhost:" + std::to_string(expiring_tls);
  const std::string fresh_ca = "ca_file: " + fresh.cert_file.string();
  const std::vector<ProbeCase> cases = {
      {"ok", "http", http + "/ok"},
      {"status_503", "http", http + "/503", "", "", "5s", "status_code"},
      {"valid_503", "http", http + "/503", "valid_status_codes: [200, 503]"},
      {"redirect", "http", http + "/redirect"},
      {"redirect_not_followed", "http", http + "/redirect",
       "follow_redirects: false, valid_status_codes: [301]"},
      {"redirect_loop", "http", http + "/loop", "", "", "5s", "too_many_redirects"},
      {"body_not_matching", "http", http + "/down",
       R"(fail_if_body_not_matches_regexp: ['"status":\s*"UP"'])", "", "5s", "body_regex"},
      {"body_matching", "http", http + "/down", "fail_if_body_matches_regexp: [DOWN]", "", "5s",
       "body_regex"},
      {"body_fine", "http", http + "/ok",
       R"(fail_if_body_matches_regexp: [DOWN], fail_if_body_not_matches_regexp: ['"UP"'])"},
      {"header_matching", "http", http + "/degraded",
       "fail_if_header_matches: [{header: X-Degraded, regexp: 'true'}]", "", "5s", "header_regex"},
      {"header_fine", "http", http + "/ok",
       "fail_if_header_matches: [{header: X-Degraded, regexp: 'true'}]"},
      {"header_missing", "http", http + "/503",
       "valid_status_codes: [503], fail_if_header_matches: [{header: X-Degraded, regexp: 'true'}]",
       "", "5s", "header_regex"},
      {"post", "http", http + "/ok", "method: POST, body: 'ping=1'"},
      {"head", "http", http + "/ok", "method: HEAD"},
      {"headers", "http", http + "/json", "headers: {Accept: application/json}"},
      {"basic_auth", "http", http + "/basic",
       "basic_auth: {username: probe, password_file: " + (dir / "password").string() + "}"},
      {"bearer", "http", http + "/bearer", "bearer_token_file: " + (dir / "token").string()},
      {"refused", "http", "http://127.0.0.1:" + std::to_string(closed) + "/", "", "", "5s",
       "connection_refused"},
      {"timeout", "http", http + "/slow.txt", "", "", "1s", "timeout"},
      {"tls_trusted", "http", fresh_url + "/ok", "", fresh_ca},
      {"tls_server_name", "http", fresh_url + "/ok", "", fresh_ca + ", server_name: localhost"},
      {"tls_expiring", "http", expiring_url + "/ok", "", "insecure_skip_verify: true"},
      {"tls_untrusted", "http", expiring_url + "/ok", "", "", "5s", "tls"},
      {"tls_wrong_ca", "http", expiring_url + "/ok", "", fresh_ca, "5s", "tls"},
      {"tls_to_plain_port", "http", "https://127.0.0.1:" + std::to_string(plain) + "/ok", "",
       "insecure_skip_verify: true", "5s", "tls"},
      {"version_ok", "http", http + "/ok", "valid_http_versions: [HTTP/1.1]"},
      {"version_wrong", "http", http + "/ok", "valid_http_versions: [HTTP/1.0, HTTP/2.0]", "", "5s",
       "http_version"},
      {"version_h2", "http", "https://127.0.0.1:" + std::to_string(h2_tls) + "/ok",
       "valid_http_versions: [HTTP/2.0]", fresh_ca + ", server_name: localhost"},
      {"fail_if_ssl", "http", fresh_url + "/ok", "fail_if_ssl: true", fresh_ca, "5s",
       "fail_if_ssl"},
      {"fail_if_ssl_plain", "http", http + "/ok", "fail_if_ssl: true"},
      {"fail_if_not_ssl", "http", http + "/ok", "fail_if_not_ssl: true", "", "5s",
       "fail_if_not_ssl"},
      {"fail_if_not_ssl_tls", "http", fresh_url + "/ok", "fail_if_not_ssl: true", fresh_ca},
      {"no_proxy", "http", http + "/via_proxy", "", "", "5s", "status_code"},
      {"proxy_http", "http", http + "/via_proxy", proxy_url},
      {"proxy_https", "http", fresh_url + "/ok", proxy_url, fresh_ca},
      {"proxy_refused", "http", http + "/ok",
       "proxy_url: 'http://127.0.0.1:" + std::to_string(closed) + "'", "", "5s",
       "connection_refused"},
      {"redis_ping", "tcp", redis.address(),
       R"(query_response: [{send: PING}, {expect: '^\+PONG$'}])"},
      {"redis_echo", "tcp", redis.address(),
       R"(query_response: [{send: PING}, {expect: '^\+(PONG)', send: 'ECHO ${1}-$1'}, {expect: '^PONG-PONG$'}])"},
      {"redis_mismatch", "tcp", redis.address(),
       R"(query_response: [{send: QUIT}, {expect: '^\+NOPE'}])", "", "5s", "expect_regex"},
      {"tcp_refused", "tcp", "127.0.0.1:" + std::to_string(closed), "", "", "5s",
       "connection_refused"},
      {"tcp_tls_trusted", "tcp", "localhost:" + std::to_string(fresh_tls), "", fresh_ca},
      {"tcp_tls_expiring", "tcp", "127.0.0.1:" + std::to_string(expiring_tls), "",
       "insecure_skip_verify: true"},
      {"tcp_tls_untrusted", "tcp", "127.0.0.1:" + std::to_string(expiring_tls), "",
       "server_name: localhost", "5s", "tls"},
  };

  std::string modules;
  std::string collectors = "global: {timeout: 10s}\ncollectors:\n";
  for (const ProbeCase& probe : cases) {
    modules += BlackboxModule(probe);
    collectors += OurCollector(probe);
  }
  BlackboxExporter blackbox(modules);
  ExporterProcess exporter(collectors);
  const HttpResult scrape = HttpGet(exporter.url("/metrics"));
  REQUIRE(scrape.status == 200);
  const std::map<std::string, double> ours = ParseMetrics(scrape.body);
  const PromtoolCheck lint = CheckWithPromtool(scrape.body);
  INFO(lint.output);
  CHECK(lint.ok());

  std::printf("%-22s %-40s %s\n", "probe", "metric", "blackbox_exporter / sidecar-exporter");
  for (const ProbeCase& probe : cases) {
    INFO("probe " << probe.name << ": " << probe.target << " {" << probe.options << "} tls {"
                  << probe.tls << "}");
    const std::map<std::string, double> peer = blackbox.Probe(probe.name, probe.target);
    const std::string label = "{collector=\"" + probe.name + "\"}";
    std::vector<std::string> compared = {"probe_success", "probe_failed_due_to_regex",
                                         "probe_ssl_earliest_cert_expiry"};
    if (probe.prober == "http") {
      compared.insert(compared.end(),
                      {"probe_http_status_code", "probe_http_redirects", "probe_http_ssl",
                       "probe_http_version", "probe_http_content_length"});
    }
    for (const std::string& metric : compared) {
      const double theirs = Value(peer, metric);
      const double mine = Value(ours, metric + label);
      std::printf("%-22s %-40s %s / %s\n", probe.name.c_str(), metric.c_str(), Text(theirs).c_str(),
                  Text(mine).c_str());
      INFO(metric << ": blackbox " << Text(theirs) << ", sidecar " << Text(mine));
      CHECK(Text(theirs) == Text(mine));
    }
    // TLS version, as a label.
    for (const std::string version : {"TLS 1.2", "TLS 1.3"}) {
      const std::string series = "probe_tls_version_info{version=\"" + version + "\"}";
      INFO(series);
      CHECK(Text(Value(peer, series)) ==
            Text(Value(ours, "probe_tls_version_info{collector=\"" + probe.name + "\",version=\"" +
                                 version + "\"}")));
    }
    // Our reason, present exactly while failing.
    const std::string reason_series =
        "probe_failure_reason{collector=\"" + probe.name + "\",reason=\"" + probe.reason + "\"}";
    if (probe.reason.empty()) {
      CHECK(Value(ours, "probe_success" + label) == 1);
    } else {
      INFO("want " << reason_series);
      CHECK(Value(ours, reason_series) == 1);
    }
  }
  // Both exporters tunnelled their proxy_https probe through tinyproxy (one CONNECT each).
  const std::string proxy_log = proxy.process().Log();
  const std::string connect = "CONNECT 127.0.0.1:" + std::to_string(fresh_tls) + " ";
  std::size_t connects = 0;
  for (std::size_t at = proxy_log.find(connect); at != std::string::npos;
       at = proxy_log.find(connect, at + 1)) {
    ++connects;
  }
  INFO(proxy_log);
  CHECK(connects == 2);
  // The expiry is the certificate's own notAfter.
  CHECK(Value(ours, "probe_ssl_earliest_cert_expiry{collector=\"tls_trusted\"}") ==
        static_cast<double>(fresh.not_after));
  CHECK(Value(ours, "probe_ssl_earliest_cert_expiry{collector=\"tls_expiring\"}") ==
        static_cast<double>(expiring.not_after));
  CHECK(Value(ours, "probe_ssl_earliest_cert_expiry{collector=\"tcp_tls_expiring\"}") ==
        static_cast<double>(expiring.not_after));
}

}  // namespace
}  // namespace sidecar::testing

namespace sidecar::testing {
namespace {

const prometheus::MetricFamily* FindFamily(const CollectResult& result, const std::string& name) {
  for (const auto& family : result.families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// The probe's gauge without labels other than "collector"; NaN when absent.
double Gauge(const CollectResult& result, const std::string& name) {
  const prometheus::MetricFamily* family = FindFamily(result, name);
  return family && !family->metric.empty() ? family->metric[0].gauge.value : std::nan("");
}

std::string Reason(const CollectResult& result) {
  const prometheus::MetricFamily* family = FindFamily(result, "probe_failure_reason");
  return family ? family->metric.at(0).label.at(1).value : "";
}

CollectContext Within(std::chrono::seconds seconds) {
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + seconds;
  return context;
}

// nginx serving a sparse 1 GB file and a body trickled at 1 byte/s.
class HostileNginx {
 public:
  HostileNginx() {
    WriteFile(dir_ / "huge.bin", "");
    std::filesystem::resize_file(dir_ / "huge.bin", 1LL << 30);  // sparse: no disk used
    WriteFile(dir_ / "slow.txt", std::string(64, 'x'));
    port_ = FreePort();
    nginx_.AddHttpConfig("server { listen 127.0.0.1:" + std::to_string(port_) +
                         "; location / { root " + dir_.path().string() +
                         "; } location = /slow.txt { root " + dir_.path().string() +
                         "; limit_rate 1; } }");
    nginx_.Start();
    REQUIRE(WaitForPort(port_, std::chrono::seconds(5)));
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  NginxServer& nginx() { return nginx_; }

 private:
  TempDir dir_;
  int port_ = 0;
  NginxServer nginx_;
};

TEST_CASE("a 1 GB body fails the probe at max_response_bytes, with or without body regexes",
          "[e2e][probes]") {
  HostileNginx server;
  for (const bool with_regex : {false, true}) {
    HttpProbeOptions options;
    options.name = "huge";
    options.url = server.url("/huge.bin");
    options.max_response_bytes = 1 << 20;
    if (with_regex) options.fail_if_body_matches.push_back(std::make_shared<const RE2>("x"));
    HttpProbeCollector collector(options);
    const CollectResult result = collector.Collect(Within(std::chrono::seconds(10)));
    CHECK_FALSE(result.error);
    CHECK(Reason(result) == "body_too_large");
    CHECK(Gauge(result, "probe_http_content_length") == 1LL << 30);
    CHECK(Gauge(result, "probe_http_uncompressed_body_length") <= 1 << 20);
    CHECK(Gauge(result, "probe_failed_due_to_regex") == 0);
    CHECK_THAT(collector.Summary(),
               Catch::Contains("failing: body_too_large (response body larger than 1048576 bytes "
                               "refused)"));
  }
}

TEST_CASE("a line without end fails a tcp_probe at 64 KiB", "[e2e][probes]") {
  HostileNginx server;
  TcpProbeOptions options;
  options.name = "raw";
  options.address = server.address();
  // An HTTP request by hand; the 1 GB body of zeros has no newline.
  options.query_response = {{nullptr, "GET /huge.bin HTTP/1.0\r"},
                            {nullptr, "\r"},
                            {std::make_shared<const RE2>("^never$"), ""}};
  TcpProbeCollector collector(options);
  const CollectResult result = collector.Collect(Within(std::chrono::seconds(10)));
  CHECK(Reason(result) == "line_too_long");
  CHECK(Gauge(result, "probe_success") == 0);
}

TEST_CASE("a probe ends early when the exporter shuts down", "[e2e][probes]") {
  HostileNginx server;
  HttpProbeOptions http;
  http.name = "slow";
  http.url = server.url("/slow.txt");
  http.timeout = std::chrono::seconds(30);
  HttpProbeCollector http_collector(http);
  RedisServer redis;
  TcpProbeOptions tcp;
  tcp.name = "silent";
  tcp.address = redis.address();
  tcp.timeout = std::chrono::seconds(30);
  tcp.query_response = {{std::make_shared<const RE2>("never sent"), ""}};
  TcpProbeCollector tcp_collector(tcp);
  for (Collector* collector : std::vector<Collector*>{&http_collector, &tcp_collector}) {
    std::stop_source stop;
    CollectContext context = Within(std::chrono::seconds(30));
    context.stop = stop.get_token();
    std::thread stopper([&stop] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      stop.request_stop();
    });
    const auto start = std::chrono::steady_clock::now();
    const CollectResult result = collector->Collect(context);
    stopper.join();
    CHECK(Reason(result) == "aborted");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
}

TEST_CASE("http_probe over a Unix socket, and its reason on the status page", "[e2e][probes]") {
  NginxServer nginx;
  nginx.Start();
  ExporterProcess exporter(
      "collectors:\n"
      "  - type: http_probe\n    name: socket\n    url: http://app/\n"
      "    unix_socket: " +
      nginx.unix_socket().string() +
      "\n    fail_if_body_not_matches_regexp: [hello]\n"
      "  - type: http_probe\n    name: missing\n    url: " +
      nginx.url("/status/404") + "\n");
  const auto metrics = exporter.Metrics();
  CHECK(metrics.at("probe_success{collector=\"socket\"}") == 1);
  CHECK(metrics.at("probe_http_status_code{collector=\"socket\"}") == 200);
  CHECK(metrics.at("probe_success{collector=\"missing\"}") == 0);
  CHECK(metrics.at("probe_failure_reason{collector=\"missing\",reason=\"status_code\"}") == 1);
  // A failing probe is a measurement: the collector itself succeeded.
  CHECK(metrics.at("sidecar_exporter_collector_success{collector=\"missing\"}") == 1);
  const HttpResult page = HttpGet(exporter.url("/"));
  CHECK_THAT(page.body, Catch::Contains("GET " + nginx.url("/status/404") +
                                        ": failing: status_code (HTTP status 404, want 2xx)"));
  CHECK_THAT(page.body,
             Catch::Contains("GET http://app/ over " + nginx.unix_socket().string() + ": ok in "));
}

}  // namespace
}  // namespace sidecar::testing
