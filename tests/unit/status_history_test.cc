#include "exporter/status_history.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "collectors/core/metric_family_builder.h"
#include "collectors/logs/log_format.h"
#include "collectors/logs/request_metrics.h"
#include "exporter/status_report.h"

namespace sidecar {
namespace {

using accesslog::LogRecord;
using accesslog::RequestMetrics;
using prometheus::MetricType;
using std::chrono::seconds;

constexpr std::string_view kFormat =
    R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time)";

// The real request metrics of an access-log collector, so that the sampler is tested against the
// families the collector really returns.
std::unique_ptr<RequestMetrics> MakeMetrics(std::vector<std::string> labels,
                                            std::size_t series_limit = 2000) {
  accesslog::FormatError format_error;
  auto format =
      accesslog::LogFormat::Compile(accesslog::LogFormatKind::kNginx, kFormat, {}, format_error);
  REQUIRE(format != nullptr);
  accesslog::RequestMetricsOptions options;
  options.collector = "web";
  options.fields = format->fields();
  options.labels = std::move(labels);
  options.series_limit = series_limit;
  accesslog::OptionsError error;
  auto metrics = RequestMetrics::Create(options, error);
  INFO(error.message);
  REQUIRE(metrics != nullptr);
  return metrics;
}

void Observe(RequestMetrics& metrics, int count, std::uint32_t status, double seconds_taken,
             std::string_view path = "/", std::string_view client = "10.0.0.1") {
  LogRecord record;
  record.method = "GET";
  record.path = path;
  record.remote_addr = client;
  record.status = status;
  record.body_bytes_sent = 100;
  record.request_time = seconds_taken;
  for (int i = 0; i < count; ++i) metrics.Observe(record);
}

const auto kStart = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

StatusSnapshot SampleAt(StatusSampler& sampler, int at_seconds,
                        const std::vector<prometheus::MetricFamily>& families,
                        std::string name = "web", std::string type = "access_log",
                        bool collected = true) {
  const std::vector<CollectorOutput> outputs = {
      {std::move(name), std::move(type), collected, 0.002, &families}};
  return sampler.Sample(kStart + seconds(at_seconds), outputs, {}, at_seconds / 5.0);
}

StatusReport Report(const StatusHistory& history) {
  StatusPageData page;
  page.now = kStart;
  const auto snapshots = history.Snapshots();
  return BuildStatusReport(page, snapshots, kStatusSampleInterval, history.capacity(),
                           history.ApproximateBytes());
}

TEST_CASE("quantiles from histogram buckets state the bucket they lie in", "[status]") {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> bounds = {0.1, 0.5, 1, inf};
  const std::vector<double> counts = {10, 60, 90, 100};
  const auto p50 = EstimateQuantile(bounds, counts, 0.5);
  REQUIRE(p50);
  CHECK(p50->estimate == Approx(0.42));  // 0.1 + 0.4 × (50 − 10) / 50
  CHECK(p50->lower == 0.1);
  CHECK(p50->upper == 0.5);
  const auto p90 = EstimateQuantile(bounds, counts, 0.9);
  REQUIRE(p90);
  CHECK(p90->estimate == Approx(1.0));
  CHECK(p90->lower == 0.5);
  CHECK(p90->upper == 1);
  // Beyond the last finite bound only that bound is known.
  const auto p99 = EstimateQuantile(bounds, counts, 0.99);
  REQUIRE(p99);
  CHECK(p99->lower == 1);
  CHECK(std::isinf(p99->upper));
  const auto p01 = EstimateQuantile(bounds, counts, 0.01);
  REQUIRE(p01);
  CHECK(p01->lower == 0);
  CHECK(p01->estimate == Approx(0.01));
  CHECK_FALSE(EstimateQuantile(bounds, {0, 0, 0, 0}, 0.5));
  CHECK_FALSE(EstimateQuantile({}, {}, 0.5));
}

TEST_CASE("the sampler reads an access log's compact families as it reads the model", "[status]") {
  auto metrics = MakeMetrics({"method", "status", "path", "remote_addr"});
  StatusSampler from_model;
  StatusSampler from_compact;
  double total = 0;
  for (int round = 0; round < 3; ++round) {
    total += 7 + 2 * round;
    Observe(*metrics, 5 + round, 200, 0.003, "/a\"b", "10.0.0.1");
    Observe(*metrics, 2, 404, 0.2, "/missing", "10.0.0.2");
    Observe(*metrics, round, 500, 2.0, "/broken", "10.0.0.2");
    const std::vector<prometheus::MetricFamily> model = metrics->Collect();
    const std::vector<SeriesFamily> compact = metrics->CollectSeries();
    const std::vector<prometheus::MetricFamily> rest = {metrics->CollectDropped()};
    const std::vector<CollectorOutput> model_outputs = {{"web", "access_log", true, 0.002, &model}};
    const std::vector<CollectorOutput> compact_outputs = {
        {"web", "access_log", true, 0.002, &rest, &compact}};
    const auto at = kStart + seconds(5 * round);
    const StatusSnapshot expected = from_model.Sample(at, model_outputs, {}, 1);
    const StatusSnapshot got = from_compact.Sample(at, compact_outputs, {}, 1);
    REQUIRE(expected.sources.size() == 1);
    REQUIRE(got.sources.size() == 1);
    const SourceSample& want = expected.sources[0];
    const SourceSample& have = got.sources[0];
    CHECK(have.kind == "access_log");
    CHECK(have.has_requests);
    CHECK(have.requests == want.requests);
    CHECK(have.requests == total);
    CHECK(have.response_bytes == want.response_bytes);
    CHECK(have.requests_by_status == want.requests_by_status);
    CHECK(have.status_label == want.status_label);
    REQUIRE(have.duration);
    REQUIRE(want.duration);
    CHECK(have.duration->upper_bounds == want.duration->upper_bounds);
    CHECK(have.duration->cumulative_counts == want.duration->cumulative_counts);
    CHECK(have.new_requests_by_path == want.new_requests_by_path);
    CHECK(have.new_requests_by_client == want.new_requests_by_client);
    REQUIRE(have.new_requests_by_path);
    CHECK_FALSE(have.new_requests_by_path->empty());
  }
}

TEST_CASE("access-log figures over 1, 5 and 15 minutes from the collector's own families",
          "[status]") {
  auto metrics = MakeMetrics({"method", "status", "path", "remote_addr"});
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  // Twenty minutes of samples: 2 requests per sample for the first 17 minutes...
  int at = 0;
  for (; at <= 17 * 60; at += 5) {
    history.Add(SampleAt(sampler, at, metrics->Collect()));
    Observe(*metrics, 2, 200, 0.003, "/old");
  }
  // ... then a burst in the last minute: 60 × 200 (3 ms), 30 × 404 (30 ms), 10 × 500 (2 s).
  for (; at < 20 * 60; at += 5) history.Add(SampleAt(sampler, at, metrics->Collect()));
  Observe(*metrics, 60, 200, 0.003, "/", "10.0.0.1");
  Observe(*metrics, 30, 404, 0.030, "/missing", "10.0.0.2");
  Observe(*metrics, 10, 500, 2.0, "/broken", "10.0.0.2");
  history.Add(SampleAt(sampler, at, metrics->Collect()));

  const StatusReport report = Report(history);
  REQUIRE(report.sources.size() == 1);
  const SourceReport& web = report.sources[0];
  CHECK(web.kind == "access_log");
  REQUIRE(web.windows.size() == 3);
  const WindowFigures& minute = web.windows[0];
  CHECK(minute.window_seconds == 60);
  CHECK(minute.span_seconds == 60);
  CHECK(minute.requests == 100);
  CHECK(minute.requests_per_second == Approx(100.0 / 60));
  REQUIRE(minute.share_4xx);
  CHECK(*minute.share_4xx == Approx(0.30));
  REQUIRE(minute.share_5xx);
  CHECK(*minute.share_5xx == Approx(0.10));
  REQUIRE(minute.response_bytes_per_second);
  CHECK(*minute.response_bytes_per_second == Approx(100 * 100 / 60.0));
  CHECK(minute.status_mix == NamedValues{{"200", 60}, {"404", 30}, {"500", 10}});
  REQUIRE(minute.latency.size() == 3);
  // p50: the 50th of 100 lies among the 60 requests of 3 ms, bucket (0, 5 ms].
  CHECK(minute.latency[0].lower == 0);
  CHECK(minute.latency[0].upper == 0.005);
  // p90: among the 404s of 30 ms, bucket (25 ms, 50 ms].
  CHECK(minute.latency[1].lower == 0.025);
  CHECK(minute.latency[1].upper == 0.05);
  // p99: among the 500s of 2 s, bucket (1 s, 2.5 s].
  CHECK(minute.latency[2].lower == 1);
  CHECK(minute.latency[2].upper == 2.5);
  REQUIRE(minute.top_paths);
  CHECK(*minute.top_paths == NamedValues{{"/", 60}, {"/missing", 30}, {"/broken", 10}});
  REQUIRE(minute.top_clients);
  CHECK(*minute.top_clients == NamedValues{{"10.0.0.1", 60}, {"10.0.0.2", 40}});

  // Five minutes: the burst plus 2 requests in each of the 25 intervals from 15:00 to 17:05.
  const WindowFigures& five = web.windows[1];
  CHECK(five.span_seconds == 300);
  CHECK(five.requests == 150);
  CHECK(*five.share_5xx == Approx(10.0 / 150));
  const WindowFigures& fifteen = web.windows[2];
  CHECK(fifteen.span_seconds == 900);
  CHECK(fifteen.requests == 100 + 2 * (12 * 12 + 1));

  // The chart: one point per interval of the last 30 minutes, stacked by status class.
  REQUIRE(!web.charts.empty());
  const Chart& requests = web.charts[0];
  CHECK(requests.style == Chart::Style::kStacked);
  CHECK(requests.seconds_ago.size() == history.Snapshots().size() - 1);
  CHECK(requests.seconds_ago.back() == 0);
  REQUIRE(requests.series.size() == 4);  // 2xx 3xx 4xx 5xx; no "other" without such statuses
  CHECK(requests.series[3].name == "5xx");
  CHECK(*requests.series[3].values.back() == Approx(10.0 / 5));
  CHECK(*requests.series[0].values.front() == Approx(2.0 / 5));
}

TEST_CASE("a window without requests has no shares, not 0 %", "[status]") {
  auto metrics = MakeMetrics({"method", "status", "remote_addr"});
  Observe(*metrics, 3, 200, 0.1);  // before the first sample
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  for (int at = 0; at <= 60; at += 5) history.Add(SampleAt(sampler, at, metrics->Collect()));
  const StatusReport report = Report(history);
  const WindowFigures& minute = report.sources.at(0).windows.at(0);
  CHECK(minute.requests == 0);
  CHECK_FALSE(minute.share_4xx);
  CHECK_FALSE(minute.share_5xx);
  CHECK(minute.latency.empty());
  CHECK(minute.has_status);
  CHECK_FALSE(minute.top_paths);  // no path label: the page says how to get one
  REQUIRE(minute.top_clients);    // a client label, but no traffic yet
  CHECK(minute.top_clients->empty());
}

TEST_CASE("just after start the figures say how much of the window they cover", "[status]") {
  auto metrics = MakeMetrics({"status"});
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  history.Add(SampleAt(sampler, 0, metrics->Collect()));
  CHECK(Report(history).sources.at(0).windows.at(0).span_seconds == 0);  // nothing to compare
  Observe(*metrics, 4, 503, 0.1);
  history.Add(SampleAt(sampler, 5, metrics->Collect()));
  Observe(*metrics, 4, 200, 0.1);
  history.Add(SampleAt(sampler, 10, metrics->Collect()));
  const StatusReport report = Report(history);
  for (const WindowFigures& figures : report.sources.at(0).windows) {
    CHECK(figures.span_seconds == 10);
    CHECK(figures.requests == 8);
    CHECK(*figures.share_5xx == Approx(0.5));
  }
}

TEST_CASE("a collector rebuilt by a reload counts from zero again without negative rates",
          "[status]") {
  auto metrics = MakeMetrics({"status"});
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  Observe(*metrics, 50, 200, 0.1);
  history.Add(SampleAt(sampler, 0, metrics->Collect()));
  auto replacement = MakeMetrics({"status"});
  Observe(*replacement, 7, 200, 0.1);
  history.Add(SampleAt(sampler, 5, replacement->Collect()));
  const StatusReport report = Report(history);
  const WindowFigures& minute = report.sources.at(0).windows.at(0);
  CHECK(minute.requests == 7);
  CHECK(minute.status_mix == NamedValues{{"200", 7}});
}

TEST_CASE("top paths keep the largest per sample and sum the rest under (other)", "[status]") {
  auto metrics = MakeMetrics({"path"});
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  history.Add(SampleAt(sampler, 0, metrics->Collect()));
  for (int p = 0; p < 40; ++p) Observe(*metrics, p + 1, 200, 0.1, "/p" + std::to_string(p));
  const StatusSnapshot sample = SampleAt(sampler, 5, metrics->Collect());
  const NamedValues& fresh = sample.sources.at(0).new_requests_by_path.value();
  REQUIRE(fresh.size() == kTopValuesPerSample + 1);
  CHECK(fresh.front() == std::pair<std::string, double>{"/p39", 40});
  CHECK(fresh.back().first == kOtherValues);
  // The paths left out are 1..24 requests: 24 × 25 / 2.
  CHECK(fresh.back().second == 300);
  history.Add(sample);
  const StatusReport report = Report(history);
  const auto& top = report.sources.at(0).windows.at(0).top_paths.value();
  REQUIRE(top.size() == kTopListed + 1);
  CHECK(top.front().first == "/p39");
  CHECK(top.back().first == kOtherValues);
  double total = 0;
  for (const auto& [path, count] : top) total += count;
  CHECK(total == 40 * 41 / 2);
}

TEST_CASE("the ring keeps its capacity and bounded memory whatever the logs contain", "[status]") {
  // A hostile log: every line a new 256-byte path and client and a new status. (The collector's
  // series limit would fold them into its overflow series long before; this is worse.)
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  for (int at = 0, n = 0; at < 2 * 1800; at += 5) {
    MetricFamilyBuilder requests("accesslog_http_requests_total", "", MetricType::Counter);
    for (int i = 0; i < 40; ++i, ++n) {
      const std::string value =
          std::string(250, static_cast<char>('a' + n % 26)) + std::to_string(n);
      auto& metric = requests.NewMetric(
          {{"path", value}, {"remote_addr", value}, {"status", std::to_string(n)}});
      requests.SetValue(metric, 1);
    }
    const std::vector<prometheus::MetricFamily> families = {requests.Build()};
    history.Add(SampleAt(sampler, at, families));
  }
  CHECK(history.Snapshots().size() == kStatusHistoryCapacity);
  const std::size_t bytes = history.ApproximateBytes();
  INFO(bytes << " bytes");
  // The worst a snapshot of one source can hold: the top paths and clients at 256 bytes each,
  // the statuses, the fixed parts.
  using Entry = NamedValues::value_type;
  const std::size_t worst = sizeof(StatusSnapshot) + sizeof(SourceSample) + 256 +
                            2 * (kTopValuesPerSample + 1) * (sizeof(Entry) + 257) +
                            (kMaxStatusValues + 1) * (sizeof(Entry) + 16);
  CHECK(bytes <= kStatusHistoryCapacity * worst);
  CHECK(bytes >= kStatusHistoryCapacity * worst / 2);
  const SourceSample& last = history.Snapshots().back()->sources.at(0);
  CHECK(last.requests_by_status.size() == kMaxStatusValues + 1);
  CHECK(last.new_requests_by_path->size() == kTopValuesPerSample + 1);
}

std::vector<prometheus::MetricFamily> NginxFamilies(double up, double active, double requests) {
  std::vector<prometheus::MetricFamily> families;
  families.push_back(MetricFamilyBuilder("nginx_up", "", MetricType::Gauge).Add(up).Build());
  if (up == 0) return families;
  families.push_back(
      MetricFamilyBuilder("nginx_connections_active", "", MetricType::Gauge).Add(active).Build());
  families.push_back(
      MetricFamilyBuilder("nginx_connections_waiting", "", MetricType::Gauge).Add(1).Build());
  families.push_back(MetricFamilyBuilder("nginx_http_requests_total", "", MetricType::Counter)
                         .Add(requests)
                         .Build());
  return families;
}

TEST_CASE("nginx status: connections by state, request rate and up/down history", "[status]") {
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  for (int at = 0; at <= 60; at += 5) {
    const bool down = at == 30 || at == 35;  // two of the twelve intervals
    history.Add(SampleAt(sampler, at, NginxFamilies(down ? 0 : 1, 3, at * 2.0), "nginx",
                         "nginx_status", !down));
  }
  const StatusReport report = Report(history);
  const SourceReport& nginx = report.sources.at(0);
  CHECK(nginx.kind == "nginx");
  CHECK(nginx.title == "nginx");
  CHECK(nginx.source_up == true);
  CHECK(nginx.gauges == NamedValues{{"active connections", 3}, {"waiting", 1}});
  const WindowFigures& minute = nginx.windows.at(0);
  CHECK(minute.rates == NamedValues{{"requests", 2.0}});
  REQUIRE(minute.up_ratio);
  CHECK(*minute.up_ratio == Approx(10.0 / 12));
  REQUIRE(nginx.charts.size() == 2);
  CHECK(nginx.charts[0].style == Chart::Style::kUpDown);
  CHECK(nginx.charts[0].series[0].values[5] == 0.0);
  CHECK(nginx.charts[0].series[0].values[0] == 1.0);
}

TEST_CASE("another collector tailing logs shows its pipeline", "[status]") {
  StatusSampler sampler;
  StatusHistory history(kStatusHistoryCapacity);
  for (int at = 0; at <= 60; at += 5) {
    std::vector<prometheus::MetricFamily> tailer;
    tailer.push_back(
        MetricFamilyBuilder("sidecar_exporter_log_lines_read_total", "", MetricType::Counter)
            .Add(at * 10.0, {{"file", "/logs/app.log"}})
            .Build());
    tailer.push_back(
        MetricFamilyBuilder("sidecar_exporter_log_parse_errors_total", "", MetricType::Counter)
            .Add(at / 5.0, {{"file", "/logs/app.log"}})
            .Build());
    tailer.push_back(MetricFamilyBuilder("sidecar_exporter_log_lag_bytes", "", MetricType::Gauge)
                         .Add(512, {{"file", "/logs/app.log"}})
                         .Build());
    const std::vector<CollectorOutput> outputs = {{"app", "log_metrics", true, 0.001, &tailer}};
    history.Add(sampler.Sample(kStart + std::chrono::seconds(at), outputs, {}, 0));
  }
  const StatusReport report = Report(history);
  REQUIRE(report.sources.size() == 1);
  const SourceReport& app = report.sources[0];
  CHECK(app.kind == "log");
  CHECK(app.title == "log_metrics");
  CHECK(app.windows[0].rates == NamedValues{{"lines read", 10}, {"unparsed lines", 0.2}});
  CHECK(app.windows[0].up_ratio == 1.0);
  CHECK(app.lag_bytes_by_file == NamedValues{{"/logs/app.log", 512}});
  REQUIRE(app.charts.size() == 1);
  CHECK(app.charts[0].style == Chart::Style::kUpDown);
}

TEST_CASE("probes, Apache and PHP-FPM light up from their metric names alone", "[status]") {
  StatusSampler sampler;
  std::vector<prometheus::MetricFamily> probe;
  probe.push_back(MetricFamilyBuilder("probe_success", "", MetricType::Gauge).Add(0).Build());
  probe.push_back(
      MetricFamilyBuilder("probe_duration_seconds", "", MetricType::Gauge).Add(0.25).Build());
  probe.push_back(MetricFamilyBuilder("probe_failure_reason", "", MetricType::Gauge)
                      .Add(0, {{"reason", "timeout"}})
                      .Add(1, {{"reason", "connection_refused"}})
                      .Build());
  std::vector<prometheus::MetricFamily> apache;
  apache.push_back(MetricFamilyBuilder("apache_up", "", MetricType::Gauge).Add(1).Build());
  apache.push_back(MetricFamilyBuilder("apache_workers", "", MetricType::Gauge)
                       .Add(3, {{"state", "busy"}})
                       .Add(7, {{"state", "idle"}})
                       .Build());
  apache.push_back(
      MetricFamilyBuilder("apache_accesses_total", "", MetricType::Counter).Add(10).Build());
  std::vector<prometheus::MetricFamily> fpm;
  fpm.push_back(
      MetricFamilyBuilder("phpfpm_up", "", MetricType::Gauge).Add(1, {{"pool", "www"}}).Build());
  fpm.push_back(MetricFamilyBuilder("phpfpm_active_processes", "", MetricType::Gauge)
                    .Add(2, {{"pool", "www"}})
                    .Build());
  fpm.push_back(MetricFamilyBuilder("phpfpm_idle_processes", "", MetricType::Gauge)
                    .Add(1, {{"pool", "api"}})
                    .Add(0, {{"pool", "www"}})
                    .Build());
  const std::vector<CollectorOutput> outputs = {
      {"api", "http_probe", true, 0.25, &probe},
      {"apache", "apache_status", true, 0.01, &apache},
      {"fpm", "phpfpm_status", true, 0.01, &fpm},
      {"other", "something_new", true, 0.01, nullptr},
  };
  const StatusSnapshot snapshot = sampler.Sample(kStart, outputs, {}, 0);
  REQUIRE(snapshot.sources.size() == 4);
  const SourceSample& api = snapshot.sources[0];
  CHECK(api.kind == "probe");
  CHECK(api.source_up == 0.0);
  CHECK(api.failure_reason == "connection_refused");
  CHECK(api.gauges == NamedValues{{"duration", 0.25}});
  const SourceSample& httpd = snapshot.sources[1];
  CHECK(httpd.kind == "apache");
  CHECK(httpd.gauges == NamedValues{{"workers busy", 3}, {"workers idle", 7}});
  CHECK(httpd.counters == NamedValues{{"requests", 10}});
  const SourceSample& php = snapshot.sources[2];
  CHECK(php.kind == "php-fpm");
  // The pool every series has is not repeated; labels that tell series apart are.
  CHECK(php.gauges == NamedValues{{"active processes", 2},
                                  {"idle processes {pool=api}", 1},
                                  {"idle processes {pool=www}", 0}});
  CHECK(snapshot.sources[3].kind.empty());
  CHECK(snapshot.exporter.collect_seconds.size() == 4);
}

}  // namespace
}  // namespace sidecar
