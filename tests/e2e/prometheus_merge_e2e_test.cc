// `type: prometheus` against real sources: a Prometheus server's own /metrics, Debian's
// prometheus-node-exporter and prometheus-nginx-exporter, and a real Prometheus scraping the
// sidecar.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <optional>
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
  std::optional<long long> timestamp_ms;
};

// Where the label set that starts `line` ends (after its "}"), skipping quoted label values.
std::size_t EndOfKey(const std::string& line) {
  const std::size_t brace = line.find_first_of("{ ");
  if (brace == std::string::npos || line[brace] == ' ') return brace;
  bool quoted = false;
  for (std::size_t i = brace + 1; i < line.size(); ++i) {
    if (quoted && line[i] == '\\') {
      ++i;
    } else if (line[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && line[i] == '}') {
      return i + 1;
    }
  }
  return std::string::npos;
}

// The samples of an exposition as a scraper keeps them: comments, `# EOF`, exemplars and, in
// OpenMetrics, `_created` samples left out, timestamps in milliseconds (OpenMetrics writes
// seconds); also the TYPE of each family.
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
    const std::size_t end = EndOfKey(line);
    REQUIRE(end != std::string::npos);
    Sample sample{line.substr(0, end), 0, std::nullopt};
    if (open_metrics && sample.key.substr(0, sample.key.find('{')).ends_with("_created")) continue;
    std::string rest = line.substr(end);
    if (const std::size_t exemplar = rest.find(" # {"); exemplar != std::string::npos) {
      rest.resize(exemplar);
    }
    std::istringstream words(rest);
    std::string value, timestamp;
    words >> value >> timestamp;
    sample.value = std::stod(value);
    if (!timestamp.empty()) {
      sample.timestamp_ms =
          open_metrics ? std::llround(std::stod(timestamp) * 1000) : std::stoll(timestamp);
    }
    samples.push_back(sample);
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
// Returns the merged exposition.
std::string CheckMergedExactly(const std::string& source_url, std::size_t min_samples) {
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
  std::map<std::string, std::optional<long long>> timestamps;
  for (const Sample& sample : Samples(before.body, open_metrics, &types)) {
    CHECK(first.emplace(sample.key, sample.value).second);
    timestamps[sample.key] = sample.timestamp_ms;
  }
  for (const Sample& sample : Samples(after.body, open_metrics)) second[sample.key] = sample.value;
  REQUIRE(first.size() >= min_samples);

  std::map<std::string, int> seen;
  std::map<std::string, double> merged_values;
  std::map<std::string, std::optional<long long>> merged_timestamps;
  std::set<std::string> own_names;
  for (const Sample& sample : Samples(merged.body, false)) {
    if (sample.key.find("source=\"app\"") == std::string::npos) {
      own_names.insert(MetricName(sample.key));
      continue;
    }
    ++seen[sample.key];
    merged_values[sample.key] = sample.value;
    merged_timestamps[sample.key] = sample.timestamp_ms;
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
    // The app's own timestamps are kept (in milliseconds).
    CHECK(merged_timestamps[merged_key] == timestamps[key]);
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
  return merged.body;
}

// Prometheus scraping itself and each (job, host:port) of `jobs`, every second.
std::string PrometheusConfig(const std::vector<std::pair<std::string, std::string>>& jobs) {
  std::string config =
      "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
      "scrape_configs:\n"
      "  - job_name: self\n    static_configs: [{targets: ['127.0.0.1:{port}']}]\n";
  for (const auto& [job, target] : jobs) {
    config += "  - job_name: " + job + "\n    static_configs: [{targets: ['" + target + "']}]\n";
  }
  return config;
}

std::unique_ptr<PeerProcess> StartPrometheus(
    const std::vector<std::pair<std::string, std::string>>& jobs = {}) {
  return std::make_unique<PeerProcess>(
      std::vector<std::string>{"prometheus", "--config.file={dir}/prometheus.yml",
                               "--storage.tsdb.path={dir}/data",
                               "--web.listen-address=127.0.0.1:{port}"},
      std::vector<std::pair<std::string, std::string>>{{"prometheus.yml", PrometheusConfig(jobs)}});
}

// The answer of `prometheus` to an instant query.
std::string Query(const PeerProcess& prometheus, const std::string& expr) {
  return HttpGet(prometheus.url("/api/v1/query?query=" + UrlEncode(expr))).body;
}

// Waits (at most 30 s) until `prometheus` has scraped `job` once.
void WaitForScrape(const PeerProcess& prometheus, const std::string& job) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline &&
         Query(prometheus, "up{job=\"" + job + "\"}").find("\"value\":[") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Checks that `prometheus` saw no duplicate, out-of-order or out-of-bounds samples and no sample
// limit exceeded in any scrape.
void CheckNoIngestionErrors(const PeerProcess& prometheus) {
  const auto own = ParseMetrics(HttpGet(prometheus.url("/metrics")).body);
  CHECK(own.at("prometheus_target_scrapes_sample_duplicate_timestamp_total") == 0);
  CHECK(own.at("prometheus_target_scrapes_sample_out_of_order_total") == 0);
  CHECK(own.at("prometheus_target_scrapes_sample_out_of_bounds_total") == 0);
  CHECK(own.at("prometheus_target_scrapes_exceeded_sample_limit_total") == 0);
}

// The folder Debian's python3-prometheus-client installed its module into (for PYTHONPATH, so
// that whichever python3 comes first in PATH finds it).
std::string DebianPythonPath(const std::string& package) {
  const CommandResult listing = RunCommand({"dpkg-query", "-L", package});
  REQUIRE(listing.exit_code == 0);
  std::istringstream lines(listing.output);
  std::string shortest;
  for (std::string line; std::getline(lines, line);) {
    if (line.ends_with("-packages") && (shortest.empty() || line.size() < shortest.size())) {
      shortest = line;
    }
  }
  REQUIRE(!shortest.empty());
  return shortest;
}

// tests/data/openmetrics_app.py: a Python service instrumented with python3-prometheus-client,
// which answers OpenMetrics (with exemplars and `_created`) when asked.
std::unique_ptr<PeerProcess> StartOpenMetricsApp() {
  return std::make_unique<PeerProcess>(std::vector<std::string>{
      "env", "PYTHONPATH=" + DebianPythonPath("python3-prometheus-client"), "python3",
      std::string(SIDECAR_TEST_DATA_DIR) + "/openmetrics_app.py", "{port}"});
}

TEST_CASE("a real Prometheus server's own /metrics merges sample for sample",
          "[e2e][merge][prometheus]") {
  auto prometheus = StartPrometheus();
  CheckMergedExactly(prometheus->url("/metrics"), 250);
}

TEST_CASE("an OpenMetrics app (python3-prometheus-client) merges sample for sample",
          "[e2e][merge][openmetrics]") {
  auto app = StartOpenMetricsApp();
  // The source really answers OpenMetrics, with what the text format cannot carry.
  const HttpResult source = HttpGet(app->url("/metrics"), {kExpositionAcceptHeader});
  REQUIRE(source.status == 200);
  REQUIRE(source.headers.at("content-type").starts_with("application/openmetrics-text"));
  REQUIRE(source.body.ends_with("# EOF\n"));
  REQUIRE(source.body.find(
              "sidecar_test_app_requests_total{path=\"/a\"} 3.0 # {trace_id=\"abc123\"}") !=
          std::string::npos);
  REQUIRE(source.body.find("sidecar_test_app_requests_created{path=\"/a\"}") != std::string::npos);
  REQUIRE(source.body.find("# TYPE sidecar_test_app_build info") != std::string::npos);
  REQUIRE(source.body.find("# TYPE sidecar_test_app_state stateset") != std::string::npos);

  const std::string merged = CheckMergedExactly(app->url("/metrics"), 30);
  INFO(merged);
  // The collector's own account of what it merged: every sample but the _created ones, and the
  // size of the answer (the app's /metrics is the same from scrape to scrape but for process_*,
  // whose lengths vary by a few bytes).
  const auto own = ParseMetrics(merged);
  CHECK(own.at("sidecar_exporter_merge_samples{collector=\"app\"}") ==
        static_cast<double>(Samples(source.body, true).size()));
  CHECK(std::abs(own.at("sidecar_exporter_merge_response_bytes{collector=\"app\"}") -
                 static_cast<double>(source.body.size())) < 200);
  // Exemplars and _created samples left out, as the README says; families renamed as Prometheus
  // stores them; HELP kept.
  CHECK(merged.find(" # {") == std::string::npos);
  CHECK(merged.find("_created") == std::string::npos);
  for (const std::string line :
       {"# HELP sidecar_test_app_requests_total Requests handled, by path.",
        "# TYPE sidecar_test_app_requests_total counter",
        "sidecar_test_app_requests_total{path=\"/a\",source=\"app\"} 3\n",
        "sidecar_test_app_requests_total{path=\"/b \\\"quoted\\\"\\\\path\",source=\"app\"} 0.25\n",
        "# TYPE sidecar_test_app_latency_seconds histogram",
        "sidecar_test_app_latency_seconds_bucket{le=\"0.1\",source=\"app\"} 1\n",
        "# TYPE sidecar_test_app_work_seconds summary", "# TYPE sidecar_test_app_build_info gauge",
        "sidecar_test_app_build_info{revision=\"abc\",version=\"1.2.3\",source=\"app\"} 1\n",
        "# TYPE sidecar_test_app_state gauge",
        "sidecar_test_app_state{sidecar_test_app_state=\"running\",source=\"app\"} 1\n",
        "sidecar_test_app_ratio{source=\"app\"} NaN\n"}) {
    CHECK(merged.find(line) != std::string::npos);
  }
}

// "name{labels}" of a /federate line with the labels `dropped` left out and the rest sorted.
std::string WithoutLabels(const std::string& key, const std::set<std::string>& dropped) {
  const std::size_t brace = key.find('{');
  if (brace == std::string::npos) return key;
  std::vector<std::string> kept;
  std::size_t start = brace + 1;
  bool quoted = false;
  for (std::size_t i = start; i < key.size(); ++i) {
    if (quoted && key[i] == '\\') {
      ++i;
    } else if (key[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && (key[i] == ',' || key[i] == '}')) {
      const std::string pair = key.substr(start, i - start);
      if (!pair.empty() && !dropped.contains(pair.substr(0, pair.find('=')))) kept.push_back(pair);
      start = i + 1;
    }
  }
  std::sort(kept.begin(), kept.end());
  std::string out = key.substr(0, brace);
  for (std::size_t i = 0; i < kept.size(); ++i) out += (i == 0 ? "{" : ",") + kept[i];
  return kept.empty() ? out : out + "}";
}

// What `prometheus` stores for `selector`, through /federate: series without job, instance and
// source -> sample.
std::map<std::string, Sample> Stored(const PeerProcess& prometheus, const std::string& selector) {
  const HttpResult federated = HttpGet(prometheus.url("/federate?match[]=" + UrlEncode(selector)));
  REQUIRE(federated.status == 200);
  std::map<std::string, Sample> stored;
  for (Sample sample : Samples(federated.body, false)) {
    sample.key = WithoutLabels(sample.key, {"job", "instance", "source"});
    stored[sample.key] = sample;
  }
  return stored;
}

TEST_CASE(
    "a real Prometheus stores the same series from an OpenMetrics app whether it scrapes it "
    "directly or through the sidecar",
    "[e2e][merge][openmetrics][prometheus]") {
  auto app = StartOpenMetricsApp();
  ExporterProcess sidecar("collectors:\n  - type: prometheus\n    name: app\n    url: " +
                          app->url("/metrics") + "\n    labels: {source: app}\n");
  auto scraper = StartPrometheus({{"app", "127.0.0.1:" + std::to_string(app->port())},
                                  {"sidecar", "127.0.0.1:" + std::to_string(sidecar.port())}});
  WaitForScrape(*scraper, "app");
  WaitForScrape(*scraper, "sidecar");
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a few more scrapes
  const std::string up = Query(*scraper, "up");
  INFO(up);
  CHECK(up.find("\"job\":\"app\"},\"value\":[") != std::string::npos);
  CHECK(Query(*scraper, "up{job=\"app\"} == 1").find("\"value\"") != std::string::npos);
  CHECK(Query(*scraper, "up{job=\"sidecar\"} == 1").find("\"value\"") != std::string::npos);
  CheckNoIngestionErrors(*scraper);

  // The app's series minus Prometheus' own (up, scrape_*) and the ones the sidecar exports itself.
  const std::map<std::string, Sample> direct =
      Stored(*scraper, "{job=\"app\",__name__!~\"up|scrape_.*|process_.*\"}");
  const std::map<std::string, Sample> merged = Stored(*scraper, "{job=\"sidecar\",source=\"app\"}");
  REQUIRE(direct.size() >= 25);
  std::size_t created = 0;
  for (const auto& [key, sample] : direct) {
    INFO(key);
    // Prometheus 2.42 stores OpenMetrics' _created samples as series of their own; the merge
    // leaves them out (README).
    if (key.substr(0, key.find('{')).ends_with("_created")) {
      ++created;
      CHECK(merged.count(key) == 0);
      continue;
    }
    REQUIRE(merged.count(key) == 1);
    if (key.starts_with("sidecar_test_app_")) {
      const Sample& through_sidecar = merged.at(key);
      CHECK((sample.value == through_sidecar.value ||
             (std::isnan(sample.value) && std::isnan(through_sidecar.value))));
      if (key.starts_with("sidecar_test_app_last_batch_rows")) {
        // The app's own timestamp, stored as the app set it either way.
        CHECK(sample.timestamp_ms == through_sidecar.timestamp_ms);
      }
    }
  }
  for (const auto& [key, sample] : merged) {
    INFO(key);
    CHECK(direct.count(key) == 1);
  }
  std::printf(
      "OpenMetrics app: %zu series stored scraping it directly, %zu through the sidecar "
      "(%zu _created series left out)\n",
      direct.size(), merged.size(), created);
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
  auto scraper = StartPrometheus({{"sidecar", "127.0.0.1:" + std::to_string(sidecar.port())}});
  WaitForScrape(*scraper, "sidecar");
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a few more scrapes
  const std::string up = Query(*scraper, "up{job=\"sidecar\"}");
  INFO(up);
  CHECK(up.find("\"1\"]") != std::string::npos);
  // The merged series are stored, with their label.
  CHECK(Query(*scraper, "count(prometheus_build_info{source=\"app\"})").find("\"1\"]") !=
        std::string::npos);
  CHECK(Query(*scraper, "scrape_samples_scraped{job=\"sidecar\"} > 250").find("\"value\"") !=
        std::string::npos);
  CheckNoIngestionErrors(*scraper);
}

}  // namespace
}  // namespace sidecar::testing
