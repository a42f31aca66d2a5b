// `type: json` against real JSON from real servers: a Prometheus server's status API, and Spring
// Boot actuator and health-check documents served by a real nginx; and bad input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "tests/support/peers.h"

namespace sidecar::testing {
namespace {

std::string Fixture(const std::string& name) {
  return ReadFile(std::filesystem::path(SIDECAR_TEST_DATA_DIR) / "json" / name);
}

std::string Collector(const std::string& name, const std::string& url, const std::string& extra,
                      const std::string& metrics) {
  return "  - type: json\n    name: " + name + "\n    url: " + url + "\n" + extra +
         "    metrics:\n" + metrics;
}

TEST_CASE("a real Prometheus' runtimeinfo and targets documents", "[e2e][json][prometheus]") {
  PeerProcess prometheus(
      {"prometheus", "--config.file={dir}/prometheus.yml", "--storage.tsdb.path={dir}/data",
       "--web.listen-address=127.0.0.1:{port}"},
      {{"prometheus.yml",
        "global: {scrape_interval: 1s}\nscrape_configs:\n"
        "  - job_name: self\n    static_configs: [{targets: ['127.0.0.1:{port}']}]\n"
        "  - job_name: nothing\n    static_configs: [{targets: ['127.0.0.1:1']}]\n"}});
  // Both targets scraped once: one up, one down.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string targets;
  while (std::chrono::steady_clock::now() < deadline) {
    targets = HttpGet(prometheus.url("/api/v1/targets")).body;
    if (targets.find("\"health\":\"unknown\"") == std::string::npos &&
        targets.find("\"health\":\"up\"") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(targets.find("\"health\":\"down\"") != std::string::npos);

  ExporterProcess exporter(
      "collectors:\n" +
      Collector(
          "runtime", prometheus.url("/api/v1/status/runtimeinfo"), "",
          "      - name: prometheus_gomaxprocs\n        path: $.data.GOMAXPROCS\n"
          "      - name: prometheus_reload_config_success\n"
          "        path: $.data.reloadConfigSuccess\n"
          "      - name: prometheus_tsdb_corruptions\n        path: $.data.corruptionCount\n"
          "      - name: prometheus_storage_retention\n        path: $.data.storageRetention\n") +
      Collector("targets", prometheus.url("/api/v1/targets"), "",
                "      - name: prometheus_target_up\n"
                "        path: $.data.activeTargets[*].health\n"
                "        labels: {job: '@.labels.job', index: $key}\n"
                "        value_map: {up: 1, down: 0, unknown: 0}\n"
                "      - name: prometheus_target_scrape_interval\n"
                "        path: $.data.activeTargets.*.scrapeInterval\n"
                "        labels: {job: '@.scrapePool'}\n"));
  const auto metrics = exporter.Metrics();
  const std::string runtime = HttpGet(prometheus.url("/api/v1/status/runtimeinfo")).body;
  const std::string gomaxprocs = "\"GOMAXPROCS\":";
  const size_t at = runtime.find(gomaxprocs);
  REQUIRE(at != std::string::npos);
  CHECK(metrics.at("prometheus_gomaxprocs") == std::stod(runtime.substr(at + gomaxprocs.size())));
  CHECK(metrics.at("prometheus_reload_config_success") == 1);
  CHECK(metrics.at("prometheus_tsdb_corruptions") == 0);
  // "15d" is neither mapped nor a number.
  CHECK(metrics.count("prometheus_storage_retention") == 0);
  CHECK(metrics.at("sidecar_exporter_json_conversion_errors_total{collector=\"runtime\",metric="
                   "\"prometheus_storage_retention\"}") == 1);
  CHECK(metrics.at("sidecar_exporter_json_conversion_errors_total{collector=\"runtime\",metric="
                   "\"prometheus_gomaxprocs\"}") == 0);
  // Targets in the order the API lists them; "1s" is no number either.
  const bool self_first = targets.find("\"job\":\"self\"") < targets.find("\"job\":\"nothing\"");
  const std::string self = self_first ? "0" : "1", nothing = self_first ? "1" : "0";
  CHECK(metrics.at("prometheus_target_up{job=\"self\",index=\"" + self + "\"}") == 1);
  CHECK(metrics.at("prometheus_target_up{job=\"nothing\",index=\"" + nothing + "\"}") == 0);
  CHECK(metrics.at("sidecar_exporter_json_conversion_errors_total{collector=\"targets\",metric="
                   "\"prometheus_target_scrape_interval\"}") == 2);
  CHECK(metrics.at("sidecar_exporter_collector_success{collector=\"targets\"}") == 1);
  const PromtoolCheck check = CheckWithPromtool(HttpGet(exporter.url("/metrics")).body);
  INFO(check.output);
  CHECK(check.ok());
}

TEST_CASE("Spring Boot actuator and health-check documents served by nginx", "[e2e][json][nginx]") {
  NginxServer nginx;
  WriteFile(nginx.files_dir() / "health.json", Fixture("actuator_health.json"));
  WriteFile(nginx.files_dir() / "check.json", Fixture("health_check.json"));
  nginx.Start();
  ExporterProcess exporter(
      "collectors:\n" +
      Collector("actuator", nginx.url("/files/health.json"), "    labels: {app: shop}\n",
                "      - name: app_health_up\n        path: $.status\n"
                "        value_map: {UP: 1, DOWN: 0, OUT_OF_SERVICE: 0}\n"
                "      - name: app_component_up\n        path: $.components.*.status\n"
                "        labels: {component: $key}\n        value_map: {UP: 1, DOWN: 0}\n"
                "      - name: app_disk_free_bytes\n"
                "        path: $.components.diskSpace.details.free\n"
                "      - name: app_db_pool_active_connections\n"
                "        path: $.components.hikariPool.details.active\n"
                "      - name: app_disk_exists\n        path: $['components']['diskSpace']"
                "[\"details\"].exists\n") +
      Collector("check", nginx.url("/files/check.json"), "",
                "      - name: check_pass\n        path: $.checks.*[*].status\n"
                "        labels: {check: $key1, component: '@.componentId'}\n"
                "        value_map: {pass: 1, warn: 0.5, fail: 0}\n"
                "      - name: check_observed\n        path: $.checks.*[0].observedValue\n"
                "        labels: {check: $key}\n"));
  const auto metrics = exporter.Metrics();
  CHECK(metrics.at("app_health_up{app=\"shop\"}") == 0);
  CHECK(metrics.at("app_component_up{app=\"shop\",component=\"db\"}") == 1);
  CHECK(metrics.at("app_component_up{app=\"shop\",component=\"mail\"}") == 0);
  CHECK(metrics.count("app_component_up{app=\"shop\",component=\"readinessState\"}") == 0);
  CHECK(metrics.at("app_disk_free_bytes{app=\"shop\"}") == 118779326464.0);
  CHECK(metrics.at("app_db_pool_active_connections{app=\"shop\"}") == 3);
  CHECK(metrics.at("app_disk_exists{app=\"shop\"}") == 1);
  CHECK(metrics.at("sidecar_exporter_json_conversion_errors_total{collector=\"actuator\",metric="
                   "\"app_component_up\"}") == 1);  // OUT_OF_SERVICE is not in its value_map
  CHECK(metrics.at("check_pass{check=\"postgres:responseTime\",component=\"db-primary\"}") == 1);
  CHECK(metrics.at("check_pass{check=\"postgres:responseTime\",component=\"db-replica\"}") == 0.5);
  CHECK(metrics.at("check_pass{check=\"kube-apiserver:ready\",component=\"\"}") == 0);
  CHECK(metrics.at("check_observed{check=\"postgres:responseTime\"}") == 12.5);
  CHECK(metrics.at("check_observed{check=\"uptime\"}") == 1209600);  // a numeric string
  // A wildcard branch without the key (kube-apiserver:ready has no observedValue) is no error.
  CHECK(metrics.at("sidecar_exporter_json_conversion_errors_total{collector=\"check\",metric="
                   "\"check_observed\"}") == 0);
  // Observations without a componentId still differ by check: no duplicate series.
  CHECK(metrics.at("sidecar_exporter_json_conversion_errors_total{collector=\"check\",metric="
                   "\"check_pass\"}") == 0);
  CHECK(CheckWithPromtool(HttpGet(exporter.url("/metrics")).body).ok());
}

TEST_CASE("bad sources fail json and prometheus collectors with a clear error, nothing else",
          "[e2e][json][merge][bad_input]") {
  NginxServer nginx;
  WriteFile(nginx.files_dir() / "garbage.json", "{\"status\": \"UP\", oops}");
  WriteFile(nginx.files_dir() / "latin1.json", "{\"status\": \"\xe9t\xe9\"}");
  WriteFile(nginx.files_dir() / "health.json", Fixture("actuator_health.json"));
  WriteFile(nginx.files_dir() / "metrics.txt", "ok 1\nbad{a=\"x\"} one\n");
  // 1 GiB that takes no disk space: the collectors must stop reading at their cap.
  std::filesystem::resize_file(
      [&] {
        WriteFile(nginx.files_dir() / "huge", "");
        return nginx.files_dir() / "huge";
      }(),
      std::uint64_t{1} << 30);
  nginx.Start();
  const std::string closed = "http://127.0.0.1:" + std::to_string(FreePort()) + "/x";
  const std::string metric = "      - name: up\n        path: $.status\n";
  ExporterProcess exporter(
      "global: {timeout: 3s}\ncollectors:\n" +
      Collector("garbage", nginx.url("/files/garbage.json"), "", metric) +
      Collector("latin1", nginx.url("/files/latin1.json"), "", metric) +
      Collector("small", nginx.url("/files/health.json"), "    max_response_bytes: 256\n", metric) +
      Collector("huge_json", nginx.url("/files/huge"), "", metric) +
      Collector("refused", closed, "", metric) +
      "  - type: prometheus\n    name: huge_metrics\n    url: " + nginx.url("/files/huge") +
      "\n    labels: {source: a}\n"
      "  - type: prometheus\n    name: bad_metrics\n    url: " +
      nginx.url("/files/metrics.txt") +
      "\n    labels: {source: b}\n"
      "  - type: nginx_status\n    name: nginx\n    url: " +
      nginx.url("/stub_status") + "\n");
  const auto metrics = exporter.Metrics();
  for (const char* name :
       {"garbage", "latin1", "small", "huge_json", "refused", "huge_metrics", "bad_metrics"}) {
    INFO(name);
    CHECK(metrics.at("sidecar_exporter_collector_success{collector=\"" + std::string(name) +
                     "\"}") == 0);
  }
  CHECK(metrics.at("sidecar_exporter_collector_success{collector=\"nginx\"}") == 1);
  CHECK(metrics.at("nginx_up") == 1);
  CHECK(metrics.count("ok{source=\"b\"}") == 0);  // nothing of a malformed exposition
  const std::string page = HttpGet(exporter.url("/")).body;
  for (const std::string error :
       {"/files/garbage.json: invalid JSON: ", "/files/latin1.json: invalid JSON: ",
        "/files/metrics.txt: text format line 2: invalid value &quot;one&quot; of bad"}) {
    INFO(page);
    CHECK(page.find(error) != std::string::npos);
  }
  CHECK(exporter.process().Running());
}

}  // namespace
}  // namespace sidecar::testing
