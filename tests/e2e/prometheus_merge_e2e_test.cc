// `type: prometheus` against real sources: a Prometheus server's own /metrics, Debian's
// prometheus-node-exporter and prometheus-nginx-exporter, and a real Prometheus scraping the
// sidecar.
#include <catch2/catch.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "collectors/http/exposition_parser.h"
#include "tests/support/peers.h"

namespace sidecar::testing {
namespace {

struct Sample {
  std::string key;  // name{labels} as written
  double value = 0;
};

// The samples of an exposition as a scraper keeps them: comments, `# EOF`, exemplars and, in
// OpenMetrics, `_created` samples left out; also the TYPE of each family.
std::vector<Sample> Samples(const std::string& text, bool open_metrics,
                            std::map<std::string, std::string>* types = nullptr) {
  std::vector<Sample> samples;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ") && types != nullptr) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      (*types)[name] = type;
    }
    if (line.empty() || line[0] == '#') continue;
    if (const size_t exemplar = line.find(" # {"); exemplar != std::string::npos) {
      line.resize(exemplar);
    }
    const size_t brace = line.find_first_of("{ ");
    if (open_metrics && line.substr(0, brace).ends_with("_created")) continue;
    const size_t space = line.rfind(' ');
    samples.push_back({line.substr(0, space), std::stod(line.substr(space + 1))});
  }
  return samples;
}

// `key` with the label source="app" added, as the merge collector writes it.
std::string WithSourceLabel(const std::string& key) {
  if (key.back() == '}') return key.substr(0, key.size() - 1) + ",source=\"app\"}";
  return key + "{source=\"app\"}";
}

std::string MetricName(const std::string& key) { return key.substr(0, key.find('{')); }

bool Cumulative(const std::map<std::string, std::string>& types, const std::string& name) {
  for (const auto& [family, type] : types) {
    if (type == "counter" && (name == family || name == family + "_total")) return true;
    if ((type == "histogram" || type == "summary") && name.starts_with(family) &&
        (name == family + "_count" || name == family + "_sum" || name == family + "_bucket")) {
      return true;
    }
  }
  return false;
}

// Scrapes `source` back to back with the sidecar merging it: every sample of the source appears
// exactly once in the sidecar's /metrics with the label source="app" and the same value (a
// cumulative value between the two scrapes of the source), except the families whose names the
// sidecar uses itself, which are dropped and counted; nothing else of the source's appears; the
// merged output passes promtool with no finding the source itself does not have.
void CheckMergedExactly(const std::string& source_url, std::size_t min_samples) {
  ExporterProcess exporter("collectors:\n  - type: prometheus\n    name: app\n    url: " +
                           source_url + "\n    labels: {source: app}\n");
  const std::vector<std::string> accept = {kExpositionAcceptHeader};
  const HttpResult before = HttpGet(source_url, accept);
  const HttpResult merged = HttpGet(exporter.url("/metrics"));
  const HttpResult after = HttpGet(source_url, accept);
  REQUIRE(before.status == 200);
  REQUIRE(merged.status == 200);
  const bool open_metrics =
      before.headers.at("content-type").starts_with("application/openmetrics");
  INFO("source content type: " << before.headers.at("content-type"));

  std::map<std::string, std::string> types;
  std::map<std::string, double> first, second;
  for (const Sample& sample : Samples(before.body, open_metrics, &types)) {
    CHECK(first.emplace(sample.key, sample.value).second);
  }
  for (const Sample& sample : Samples(after.body, open_metrics)) second[sample.key] = sample.value;
  REQUIRE(first.size() >= min_samples);

  std::map<std::string, int> seen;
  std::map<std::string, double> merged_values;
  std::set<std::string> own_names;
  for (const Sample& sample : Samples(merged.body, false)) {
    if (sample.key.find("source=\"app\"") == std::string::npos) {
      own_names.insert(MetricName(sample.key));
      continue;
    }
    ++seen[sample.key];
    merged_values[sample.key] = sample.value;
  }
  std::size_t dropped = 0;
  for (const auto& [key, value] : first) {
    const std::string merged_key = WithSourceLabel(key);
    if (own_names.contains(MetricName(key))) {
      CHECK(seen.count(merged_key) == 0);
      ++dropped;
      continue;
    }
    INFO(merged_key);
    REQUIRE(seen[merged_key] == 1);
    const double got = merged_values[merged_key];
    const double later = second.count(key) ? second[key] : value;
    if (std::isnan(value)) {
      CHECK(std::isnan(got));
    } else if (Cumulative(types, MetricName(key))) {
      CHECK(got >= value);
      CHECK(got <= later);
    } else if (key.starts_with("sidecar_test_")) {
      // Gauges of the source move between scrapes; these are fixed.
      CHECK(got == value);
    }
  }
  // Nothing merged that the source did not write.
  for (const auto& [key, count] : seen) {
    bool found = false;
    for (const auto* scrape : {&first, &second}) {
      for (const auto& [source_key, value] : *scrape) {
        if (WithSourceLabel(source_key) == key) found = true;
      }
      if (found) break;
    }
    CHECK(found);
  }
  // The families the sidecar exports itself (process_*) are dropped and counted.
  const auto metrics = ParseMetrics(merged.body);
  if (dropped > 0) {
    CHECK(metrics.at("sidecar_exporter_merge_dropped_series_total{collector=\"app\",reason=\"name_"
                     "clash\"}") == static_cast<double>(dropped));
  }
  CHECK(metrics.at("sidecar_exporter_collector_success{collector=\"app\"}") == 1);

  const PromtoolCheck merged_check = CheckWithPromtool(merged.body);
  CHECK(merged_check.exit_code != 1);
  const PromtoolCheck source_check = CheckWithPromtool(HttpGet(source_url).body);
  const std::vector<std::string> source_findings = PromtoolFindings(source_check);
  for (const std::string& finding : PromtoolFindings(merged_check)) {
    INFO(merged_check.output);
    CHECK(std::binary_search(source_findings.begin(), source_findings.end(), finding));
  }
}

std::string PrometheusConfig(const std::string& scrape_target) {
  return "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
         "scrape_configs:\n"
         "  - job_name: self\n    static_configs: [{targets: ['127.0.0.1:{port}']}]\n" +
         (scrape_target.empty() ? std::string()
                                : "  - job_name: sidecar\n    static_configs: [{targets: ['" +
                                      scrape_target + "']}]\n");
}

std::unique_ptr<PeerProcess> StartPrometheus(const std::string& scrape_target = "") {
  return std::make_unique<PeerProcess>(
      std::vector<std::string>{"prometheus", "--config.file={dir}/prometheus.yml",
                               "--storage.tsdb.path={dir}/data",
                               "--web.listen-address=127.0.0.1:{port}"},
      std::vector<std::pair<std::string, std::string>>{
          {"prometheus.yml", PrometheusConfig(scrape_target)}});
}

TEST_CASE("a real Prometheus server's own /metrics merges sample for sample",
          "[e2e][merge][prometheus]") {
  auto prometheus = StartPrometheus();
  CheckMergedExactly(prometheus->url("/metrics"), 250);
}

TEST_CASE("prometheus-node-exporter merges sample for sample", "[e2e][merge][node_exporter]") {
  // Fixed gauges through the textfile collector, in forms that are easy to get wrong.
  PeerProcess node(
      {"prometheus-node-exporter", "--web.listen-address=127.0.0.1:{port}",
       "--collector.textfile.directory={dir}"},
      {{"fixed.prom",
        "# HELP sidecar_test_values Fixed values, written back exactly.\n"
        "# TYPE sidecar_test_values gauge\n"
        "sidecar_test_values{form=\"tiny\"} 1.234e-05\n"
        "sidecar_test_values{form=\"float\"} 0.30000000000000004\n"
        "sidecar_test_values{form=\"big\"} 1.8446744073709552e+19\n"
        "sidecar_test_values{form=\"negative\"} -42.5\n"
        "sidecar_test_values{form=\"inf\"} +Inf\n"
        "sidecar_test_values{form=\"nan\"} NaN\n"
        "sidecar_test_values{form=\"escaped\",path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 7\n"}});
  CheckMergedExactly(node.url("/metrics"), 300);
  // The fixed values were served, so the exact comparison above covered them.
  CHECK(HttpGet(node.url("/metrics"))
            .body.find("sidecar_test_values{form=\"float\",path=\"\"} 0.30000000000000004") !=
        std::string::npos);
}

TEST_CASE("prometheus-nginx-exporter merges sample for sample", "[e2e][merge][nginx]") {
  NginxServer nginx;
  nginx.Start();
  PeerProcess exporter({"prometheus-nginx-exporter", "-web.listen-address=127.0.0.1:{port}",
                        "-nginx.scrape-uri=" + nginx.url("/stub_status")});
  CheckMergedExactly(exporter.url("/metrics"), 8);
}

TEST_CASE(
    "a real Prometheus scraping the merged sidecar: up 1, no duplicate or out-of-order "
    "samples",
    "[e2e][merge][prometheus]") {
  auto source = StartPrometheus();
  NginxServer nginx;
  nginx.Start();
  ExporterProcess sidecar(
      "collectors:\n"
      "  - type: nginx_status\n    name: nginx\n    url: " +
      nginx.url("/stub_status") +
      "\n"
      "  - type: prometheus\n    name: app\n    url: " +
      source->url("/metrics") +
      "\n"
      "    labels: {source: app}\n");
  auto scraper = StartPrometheus("127.0.0.1:" + std::to_string(sidecar.port()));
  const auto query = [&](const std::string& expr) {
    std::string encoded;
    for (const char c : expr) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        encoded += c;
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
        encoded += hex;
      }
    }
    return HttpGet(scraper->url("/api/v1/query?query=" + encoded)).body;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string up;
  while (std::chrono::steady_clock::now() < deadline) {
    up = query("up{job=\"sidecar\"}");
    if (up.find("\"value\":[") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a few more scrapes
  INFO(up);
  CHECK(query("up{job=\"sidecar\"}").find("\"1\"]") != std::string::npos);
  // The merged series are stored, with their label.
  CHECK(query("count(prometheus_build_info{source=\"app\"})").find("\"1\"]") != std::string::npos);
  CHECK(query("scrape_samples_scraped{job=\"sidecar\"} > 250").find("\"value\"") !=
        std::string::npos);
  const auto own = ParseMetrics(HttpGet(scraper->url("/metrics")).body);
  CHECK(own.at("prometheus_target_scrapes_sample_duplicate_timestamp_total") == 0);
  CHECK(own.at("prometheus_target_scrapes_sample_out_of_order_total") == 0);
  CHECK(own.at("prometheus_target_scrapes_sample_out_of_bounds_total") == 0);
  CHECK(own.at("prometheus_target_scrapes_exceeded_sample_limit_total") == 0);
}

}  // namespace
}  // namespace sidecar::testing
