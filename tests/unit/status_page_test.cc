#include "exporter/status_page.h"

#include <catch2/catch.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "collectors/core/metric_family_builder.h"
#include "simdjson.h"

namespace sidecar {
namespace {

using prometheus::MetricType;

const auto kStart = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

std::vector<prometheus::MetricFamily> AccessLog(double ok, double not_found, double bytes,
                                                const std::string& path) {
  std::vector<prometheus::MetricFamily> families;
  MetricFamilyBuilder requests("accesslog_http_requests_total", "", MetricType::Counter);
  if (ok > 0) requests.Add(ok, {{"collector", "web"}, {"status", "200"}, {"path", path}});
  if (not_found > 0) {
    requests.Add(not_found, {{"collector", "web"}, {"status", "404"}, {"path", path}});
  }
  families.push_back(requests.Build());
  families.push_back(
      MetricFamilyBuilder("accesslog_http_response_size_bytes_total", "", MetricType::Counter)
          .Add(bytes, {{"collector", "web"}})
          .Build());
  return families;
}

// A report of two sources over a minute: "web" with traffic from a hostile client, "quiet"
// without any, and nginx whose error text carries markup.
StatusReport MakeReport() {
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  const std::string path = "/<script>alert(1)</script>";
  for (int at = 0; at <= 60; at += 5) {
    const auto web = AccessLog(at * 3.0, at, at * 100.0, path);
    const auto quiet = AccessLog(0, 0, 0, "/");
    std::vector<prometheus::MetricFamily> nginx;
    nginx.push_back(MetricFamilyBuilder("nginx_up", "", MetricType::Gauge).Add(1).Build());
    nginx.push_back(
        MetricFamilyBuilder("nginx_connections_active", "", MetricType::Gauge).Add(2).Build());
    const std::vector<CollectorOutput> outputs = {{"web", "access_log", true, 0.001, &web},
                                                  {"quiet", "access_log", true, 0.001, &quiet},
                                                  {"nginx", "nginx_status", true, 0.002, &nginx}};
    history.Add(sampler.Sample(kStart + std::chrono::seconds(at), outputs, {}, at / 5.0));
  }
  StatusPageData page;
  page.version = "1";
  page.revision = "r";
  page.started = kStart;
  page.now = kStart + std::chrono::seconds(61);
  page.telemetry_path = "/metrics";
  page.health = "ok";
  page.readiness = "ready";
  CollectorState state;
  state.name = "nginx";
  state.type = "nginx_status";
  state.runs = 1;
  state.errors_total = 1;
  state.last_error = "<script>alert(1)</script>";
  state.summary = "GET http://127.0.0.1/stub_status?a=1&b=2";
  state.last_error_time = page.now;
  page.collectors.push_back(state);
  const auto snapshots = history.Snapshots();
  return BuildStatusReport(page, snapshots, kStatusSampleInterval, history.capacity(),
                           history.ApproximateBytes());
}

TEST_CASE("the status page escapes what the main container sends", "[status]") {
  const std::string html = RenderStatusPage(MakeReport(), 10);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("failing") != std::string::npos);
  CHECK(html.find("stub_status?a=1&amp;b=2") != std::string::npos);
  CHECK(html.find("href=\"metrics\"") != std::string::npos);
}

TEST_CASE("the status page loads nothing and refreshes itself without script", "[status]") {
  const std::string html = RenderStatusPage(MakeReport(), 10);
  CHECK(html.find("<meta http-equiv=\"refresh\" content=\"10\">") != std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  // Every link stays on this server, relative to the page (so that it works under a prefix
  // too, as through `kubectl proxy`).
  const std::regex link(R"re(href="([^"]*)")re");
  std::vector<std::string> targets;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), link); it != std::sregex_iterator();
       ++it) {
    targets.push_back((*it)[1]);
  }
  CHECK(targets == std::vector<std::string>{"data:,", "?refresh=0", "api/v1/status", "metrics",
                                            "metrics", "api/v1/status", "healthz", "readyz"});
  CHECK_THAT(RenderStatusPage(MakeReport(), 0), Catch::Contains("<a href=\"./\">refresh every"));
  CHECK(html.find("<svg viewBox") != std::string::npos);
  CHECK(RenderStatusPage(MakeReport(), 0).find("http-equiv") == std::string::npos);
}

TEST_CASE("the status page shows the figures, and no traffic as such", "[status]") {
  const std::string html = RenderStatusPage(MakeReport(), 10);
  // web: 240 requests in 60 s, a quarter of them 404.
  CHECK(html.find(R"(data-field="requests" data-window="60">240<)") != std::string::npos);
  CHECK(html.find(R"(data-field="requests_per_second" data-window="60">4.00<)") !=
        std::string::npos);
  CHECK(html.find(R"(data-field="share_4xx" data-window="60">25.0 %<)") != std::string::npos);
  CHECK(html.find(R"(data-field="share_5xx" data-window="60">0.0 %<)") != std::string::npos);
  // quiet: no traffic rather than 0 %.
  const std::size_t quiet = html.find("id=\"source-quiet\"");
  REQUIRE(quiet != std::string::npos);
  const std::string section = html.substr(quiet, html.find("</section>", quiet) - quiet);
  CHECK(section.find(R"(data-field="share_5xx" data-window="60">no traffic<)") !=
        std::string::npos);
  CHECK(section.find("%") == std::string::npos);
  CHECK(section.find(R"(data-field="response_bytes_per_second" data-window="60">no traffic<)") !=
        std::string::npos);
  // nginx: its gauges and up history.
  CHECK(html.find("active connections") != std::string::npos);
  CHECK(html.find("class=\"k-up\"") != std::string::npos);
}

TEST_CASE("a status source's states share a row, a probe's duration is a duration", "[status]") {
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  for (int at = 0; at <= 10; at += 5) {
    std::vector<prometheus::MetricFamily> apache;
    apache.push_back(MetricFamilyBuilder("apache_up", "", MetricType::Gauge).Add(1).Build());
    apache.push_back(MetricFamilyBuilder("apache_workers", "", MetricType::Gauge)
                         .Add(3, {{"state", "busy"}})
                         .Add(7, {{"state", "idle"}})
                         .Build());
    apache.push_back(MetricFamilyBuilder("apache_scoreboard", "", MetricType::Gauge)
                         .Add(0, {{"state", "dns"}})
                         .Add(7, {{"state", "idle"}})
                         .Add(0, {{"state", "read"}})
                         .Build());
    apache.push_back(MetricFamilyBuilder("apache_connections", "", MetricType::Gauge)
                         .Add(0, {{"state", "total"}})
                         .Build());
    std::vector<prometheus::MetricFamily> probe;
    probe.push_back(MetricFamilyBuilder("probe_success", "", MetricType::Gauge).Add(1).Build());
    probe.push_back(
        MetricFamilyBuilder("probe_duration_seconds", "", MetricType::Gauge).Add(0.0125).Build());
    const std::vector<CollectorOutput> outputs = {{"httpd", "apache_status", true, 0.01, &apache},
                                                  {"api", "http_probe", true, 0.01, &probe}};
    history.Add(sampler.Sample(kStart + std::chrono::seconds(at), outputs, {}, 0));
  }
  StatusPageData page;
  page.started = kStart;
  page.now = kStart + std::chrono::seconds(11);
  const auto snapshots = history.Snapshots();
  const StatusReport report = BuildStatusReport(page, snapshots, kStatusSampleInterval,
                                                history.capacity(), history.ApproximateBytes());
  const std::string html = RenderStatusPage(report, 0);
  CHECK_THAT(
      html,
      Catch::Contains(
          R"(<tr><td>workers</td><td>busy <b data-field="gauge-workers-busy">3</b> · idle <b data-field="gauge-workers-idle">7</b></td></tr>)"));
  CHECK_THAT(
      html,
      Catch::Contains(
          R"(<tr><td>scoreboard</td><td>idle <b data-field="gauge-scoreboard-idle">7</b> · 2 more at 0</td></tr>)"));
  CHECK_THAT(html, Catch::Contains(R"(<tr><td>connections</td><td>all at 0</td></tr>)"));
  CHECK_THAT(html, Catch::Contains(R"(data-field="gauge-duration" data-window="0">12.5 ms<)"));
  // The probe's chart draws its duration in seconds; Apache's, the workers by state.
  REQUIRE(report.sources.size() == 2);
  REQUIRE(report.sources[0].charts.size() == 2);
  CHECK(report.sources[0].charts[1].title == "Workers busy, workers idle");
  REQUIRE(report.sources[1].charts.size() == 2);
  CHECK(report.sources[1].charts[1].title == "Duration");
  CHECK(report.sources[1].charts[1].unit == "s");
  CHECK_THAT(RenderStatusText(report), Catch::Contains("now: duration 12.5 ms"));
}

TEST_CASE("the status JSON has stable field names and null for no traffic", "[status]") {
  const std::string json = RenderStatusJson(MakeReport());
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(json).get(root) == simdjson::SUCCESS);
  CHECK(std::string_view(root["version"]) == "1");
  CHECK(double(root["history"]["sample_interval_seconds"]) == 5);
  CHECK(uint64_t(double(root["history"]["snapshots"])) == 13);
  simdjson::dom::array sources = root["sources"];
  REQUIRE(sources.size() == 3);
  simdjson::dom::element web = sources.at(0);
  CHECK(std::string_view(web["kind"]) == "access_log");
  simdjson::dom::element minute = web["windows"].at(0);
  CHECK(double(minute["window_seconds"]) == 60);
  CHECK(double(minute["requests"]) == 240);
  CHECK(double(minute["share_4xx"]) == Approx(0.25));
  CHECK(std::string_view(minute["top_paths"].at(0)["path"]) == "/<script>alert(1)</script>");
  simdjson::dom::element quiet_minute = sources.at(1)["windows"].at(0);
  CHECK(bool(quiet_minute["traffic"]) == false);
  CHECK(quiet_minute["share_5xx"].is_null());
  simdjson::dom::element nginx = sources.at(2);
  CHECK(std::string_view(nginx["kind"]) == "nginx");
  CHECK(bool(nginx["up"]) == true);
  CHECK(double(nginx["windows"].at(0)["up_ratio"]) == 1);
  CHECK(std::string_view(root["exporter"]["collectors"].at(0)["last_error"]) ==
        "<script>alert(1)</script>");
}

TEST_CASE("the text summary fits a terminal screen", "[status]") {
  const std::string text = RenderStatusText(MakeReport());
  INFO(text);
  std::istringstream lines(text);
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    std::size_t columns = 0;
    for (const char c : line) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    CHECK(columns <= 100);
  }
  CHECK(count <= 40);
  CHECK(text.find("\n  5xx                    0.0 %                   0.0 %") != std::string::npos);
  // The windows are named once, above every source.
  CHECK(text.find("\n  last                   1 min                   5 min") != std::string::npos);
  CHECK(text.find("quiet (access log): up") != std::string::npos);
  CHECK(text.find("no traffic") != std::string::npos);
  CHECK(text.find("nginx (nginx): up") != std::string::npos);
}

TEST_CASE("text/plain is chosen only when the client prefers it", "[status]") {
  CHECK(PrefersPlainText("text/plain"));
  CHECK(PrefersPlainText("text/plain, text/html;q=0.5"));
  CHECK(PrefersPlainText("text/plain, text/html"));
  CHECK_FALSE(PrefersPlainText("text/html, text/plain"));
  CHECK_FALSE(PrefersPlainText("*/*"));
  CHECK_FALSE(PrefersPlainText(""));
  CHECK_FALSE(PrefersPlainText(
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"));
  CHECK_FALSE(PrefersPlainText("text/plain;q=0"));
}

}  // namespace
}  // namespace sidecar
