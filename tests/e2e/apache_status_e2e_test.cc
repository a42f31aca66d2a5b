// The exporter against a real Apache httpd on 127.0.0.1, side by side with Debian's
// prometheus-apache-exporter scraping the same server.
#include <catch2/catch.hpp>
#include <cmath>
#include <thread>

#include "tests/support/apache.h"
#include "tests/support/peers.h"

namespace sidecar::testing {
namespace {

// "name{b="2",a="1"}" -> "name{a="1",b="2"}": the Go client sorts labels, ours keeps their order.
std::string SortedLabels(const std::string& series) {
  const size_t open = series.find('{');
  if (open == std::string::npos) return series;
  std::vector<std::string> labels;
  std::string current;
  bool quoted = false;
  for (size_t i = open + 1; i + 1 < series.size(); ++i) {
    const char c = series[i];
    if (c == '\\' && quoted) {
      current += c;
      current += series[++i];
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      labels.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  if (!current.empty()) labels.push_back(current);
  std::sort(labels.begin(), labels.end());
  std::string sorted = series.substr(0, open) + "{";
  for (size_t i = 0; i < labels.size(); ++i) sorted += (i ? "," : "") + labels[i];
  return sorted + "}";
}

std::map<std::string, double> Normalized(const std::map<std::string, double>& metrics) {
  std::map<std::string, double> normalized;
  for (const auto& [series, value] : metrics) normalized[SortedLabels(series)] = value;
  return normalized;
}

std::map<std::string, double> Scrape(const std::string& url) {
  const HttpResult result = HttpGet(url);
  REQUIRE(result.status == 200);
  return Normalized(ParseMetrics(result.body));
}

// Debian's prometheus-apache-exporter on a free port, scraping `scrape_uri`.
class ApacheExporterPeer {
 public:
  ApacheExporterPeer(const std::string& scrape_uri, const std::filesystem::path& log) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      process_ = std::make_unique<ChildProcess>(
          std::vector<std::string>{"prometheus-apache-exporter", "--scrape_uri=" + scrape_uri,
                                   "--telemetry.address=127.0.0.1:" + std::to_string(port_)},
          log);
      if (WaitForPort(port_, std::chrono::seconds(5)) && process_->Running()) return;
    }
    throw std::runtime_error("prometheus-apache-exporter did not start");
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }

 private:
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

std::string ApacheConfig(const ApacheServer& apache) {
  return "collectors:\n  - type: apache_status\n    name: apache\n    url: " +
         apache.url("/server-status?auto") + "\n    timeout: 2s\n";
}

void SendTraffic(const ApacheServer& apache, int requests) {
  for (int i = 0; i < requests; ++i) {
    const char* path = i % 3 == 0 ? "/static/index.html" : i % 3 == 1 ? "/static/10k.bin" : "/nope";
    REQUIRE(HttpGet(apache.url(path), {"User-Agent: side by side/1.0 (test)"}).status != 0);
  }
}

bool IsPeerOwnSeries(const std::string& series) {
  for (const char* prefix : {"go_", "process_", "promhttp_", "apache_exporter_"}) {
    if (series.starts_with(prefix)) return true;
  }
  return false;
}

TEST_CASE("every series the Apache exporter exports for a real Apache is ours, same value",
          "[e2e][apache]") {
  const std::string mpm = GENERATE(as<std::string>{}, "prefork", "worker", "event");
  INFO("MPM " << mpm);
  ApacheServer apache(mpm);
  apache.Start();
  ExporterProcess exporter(ApacheConfig(apache));
  ApacheExporterPeer peer(apache.url("/server-status?auto"), apache.dir() / "logs" / "peer.log");
  SendTraffic(apache, 30);

  // Ours is scraped between two scrapes of the peer: a value that moves with requests (the
  // scrapes themselves are requests) lies between the peer's two values.
  const auto peer_before = Scrape(peer.url());
  const auto ours = Scrape(exporter.url("/metrics"));
  const auto peer_after = Scrape(peer.url());

  int compared = 0;
  for (const auto& [series, before] : peer_before) {
    if (IsPeerOwnSeries(series)) continue;
    INFO(series);
    REQUIRE(ours.count(series) == 1);
    REQUIRE(peer_after.count(series) == 1);
    const double after = peer_after.at(series);
    // Slot and connection states also show the two scrapers' own connections: each is in
    // "reply" while its scrape is served and in "keepalive" in between, so they may differ by
    // those two.
    const bool connection_state = series.starts_with("apache_scoreboard{") ||
                                  series.starts_with("apache_workers{") ||
                                  series.starts_with("apache_connections{");
    const double slack = connection_state ? 2 : 1e-9 * std::max(1.0, std::abs(before));
    CHECK(ours.at(series) >= std::min(before, after) - slack);
    CHECK(ours.at(series) <= std::max(before, after) + slack);
    ++compared;
  }
  // Everything the page prints, so the comparison covered what matters (only the event MPM
  // prints process and connection counts).
  CHECK(compared >= (mpm == "event" ? 34 : 28));
  CHECK(peer_before.count("apache_processes{state=\"all\"}") == (mpm == "event" ? 1 : 0));
  for (const char* series :
       {"apache_up", "apache_accesses_total", "apache_sent_kilobytes_total",
        "apache_duration_ms_total", "apache_cpu_time_ms_total{type=\"user\"}", "apache_cpuload",
        "apache_uptime_seconds_total", "apache_version", "apache_workers{state=\"busy\"}",
        "apache_scoreboard{state=\"reply\"}", "apache_generation{type=\"config\"}",
        "apache_load{interval=\"1min\"}"}) {
    INFO(series);
    CHECK(peer_before.count(series) == 1);
  }
  CHECK(peer_before.at("apache_up") == 1);
  CHECK(ours.at("apache_accesses_total") >= 30);
  // And ours is valid exposition format.
  const PromtoolCheck check = CheckWithPromtool(HttpGet(exporter.url("/metrics")).body);
  INFO(check.output);
  CHECK(check.ok());
}

// Waits until the scrape shows the access-log collectors caught up with Apache's own count of
// the requests it served (each scrape is one more request, so both keep moving), and returns
// that scrape.
std::map<std::string, double> SettledScrape(ExporterProcess& exporter) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto metrics = exporter.Metrics();
    const double accesses = metrics["apache_accesses_total"];
    double lines_combined = 0;
    double lines_timed = 0;
    for (const auto& [series, value] : metrics) {
      if (!series.starts_with("accesslog_http_requests_total{")) continue;
      if (series.find("collector=\"combined\"") != std::string::npos) lines_combined += value;
      if (series.find("collector=\"timed\"") != std::string::npos) lines_timed += value;
    }
    if (accesses > 0 && lines_combined == accesses && lines_timed == accesses) return metrics;
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("access logs never caught up: Total Accesses "
           << accesses << ", combined " << lines_combined << ", timed " << lines_timed);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

double Sum(const std::map<std::string, double>& metrics, const std::string& prefix,
           const std::string& collector) {
  double sum = 0;
  for (const auto& [series, value] : metrics) {
    if (series.starts_with(prefix) &&
        series.find("collector=\"" + collector + "\"") != std::string::npos) {
      sum += value;
    }
  }
  return sum;
}

TEST_CASE("access_log counts equal Apache's Total Accesses delta, combined and with %D",
          "[e2e][apache]") {
  ApacheServer apache;
  apache.Start();
  ExporterProcess exporter(
      ApacheConfig(apache) +
      "  - type: access_log\n    name: combined\n    format: apache\n    log_format: combined\n"
      "    from_beginning: true\n    poll_interval: 100ms\n    paths: [" +
      apache.combined_log().string() +
      "]\n"
      "  - type: access_log\n    name: timed\n    format: apache\n    from_beginning: true\n"
      "    poll_interval: 100ms\n    log_format: '" +
      ApacheServer::kTimedLogFormat + "'\n    paths: [" + apache.timed_log().string() + "]\n");

  const auto before = SettledScrape(exporter);
  constexpr int kRequests = 60;
  SendTraffic(apache, kRequests);
  const auto after = SettledScrape(exporter);

  const double accesses = after.at("apache_accesses_total") - before.at("apache_accesses_total");
  // The traffic plus the exporter's own fetches of the status page in between.
  CHECK(accesses >= kRequests + 1);
  CHECK(Sum(after, "accesslog_http_requests_total{", "combined") -
            Sum(before, "accesslog_http_requests_total{", "combined") ==
        accesses);
  CHECK(Sum(after, "accesslog_http_requests_total{", "timed") -
            Sum(before, "accesslog_http_requests_total{", "timed") ==
        accesses);
  // Every line of the %D log has a duration, and the request counts split by status agree.
  CHECK(Sum(after, "accesslog_http_request_duration_seconds_count{", "timed") ==
        Sum(after, "accesslog_http_requests_total{", "timed"));
  CHECK(after.at(
            "accesslog_http_requests_total{collector=\"timed\",method=\"GET\",status=\"404\"}") ==
        kRequests / 3);
  CHECK(
      after.at(
          "accesslog_http_requests_total{collector=\"combined\",method=\"GET\",status=\"404\"}") ==
      kRequests / 3);
  CHECK(Sum(after, "sidecar_exporter_log_parse_errors_total{", "combined") == 0);
  CHECK(Sum(after, "sidecar_exporter_log_parse_errors_total{", "timed") == 0);
  // mod_status's kilobytes count at least the twenty 10 KiB bodies the traffic fetched.
  CHECK(after.at("apache_sent_kilobytes_total") - before.at("apache_sent_kilobytes_total") >=
        kRequests / 3 * 10);
}

TEST_CASE("Apache down, the HTML page and a page from something else: apache_up 0",
          "[e2e][apache]") {
  ApacheServer apache;
  apache.Start();
  ExporterProcess exporter(
      "collectors:\n"
      "  - {type: apache_status, name: auto, url: '" +
      apache.url("/server-status?auto") +
      "', labels: {page: auto}}\n"
      "  - {type: apache_status, name: html, url: '" +
      apache.url("/server-status") +
      "', labels: {page: html}}\n"
      "  - {type: apache_status, name: file, url: '" +
      apache.url("/static/index.html") + "', labels: {page: file}}\n");
  auto metrics = exporter.Metrics();
  CHECK(metrics.at("apache_up{page=\"auto\"}") == 1);
  CHECK(metrics.at("apache_up{page=\"html\"}") == 0);
  CHECK(metrics.at("apache_up{page=\"file\"}") == 0);
  CHECK(metrics.count("apache_workers{page=\"html\",state=\"busy\"}") == 0);
  const std::string page = HttpGet(exporter.url("/")).body;
  CHECK_THAT(page, Catch::Contains("an HTML page, not the machine-readable one; add ?auto"));

  apache.Stop();
  metrics = exporter.Metrics();
  CHECK(metrics.at("apache_up{page=\"auto\"}") == 0);
  CHECK(metrics.count("apache_workers{page=\"auto\",state=\"busy\"}") == 0);
  CHECK(metrics.count("apache_accesses_total{page=\"auto\"}") == 0);
  CHECK(metrics.at("sidecar_exporter_collector_success{collector=\"auto\"}") == 0);
  CHECK(exporter.process().Running());
}

}  // namespace
}  // namespace sidecar::testing
