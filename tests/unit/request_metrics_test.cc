#include "collectors/logs/request_metrics.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"

namespace sidecar::accesslog {
namespace {

using Labels = std::map<std::string, std::string>;

FieldSet FieldsOf(std::string_view nginx_format) {
  FormatError error;
  auto parser = LogFormat::Compile(LogFormatKind::kNginx, nginx_format, {}, error);
  REQUIRE(parser != nullptr);
  return parser->fields();
}

std::unique_ptr<RequestMetrics> Make(RequestMetricsOptions options) {
  OptionsError error;
  auto metrics = RequestMetrics::Create(std::move(options), error);
  INFO(error.message);
  REQUIRE(metrics != nullptr);
  return metrics;
}

// "option: message" of the error Create() refuses `options` with.
std::string CreateError(RequestMetricsOptions options) {
  OptionsError error;
  CHECK(RequestMetrics::Create(std::move(options), error) == nullptr);
  return error.option + ": " + error.message;
}

const prometheus::MetricFamily* FindFamily(const std::vector<prometheus::MetricFamily>& families,
                                           std::string_view name) {
  for (const auto& family : families) {
    if (family.name == name) {
      return &family;
    }
  }
  return nullptr;
}

Labels LabelsOf(const prometheus::ClientMetric& metric) {
  Labels labels;
  for (const auto& label : metric.label) {
    labels[label.name] = label.value;
  }
  return labels;
}

const prometheus::ClientMetric* FindMetric(const prometheus::MetricFamily* family,
                                           const Labels& labels) {
  REQUIRE(family != nullptr);
  for (const auto& metric : family->metric) {
    if (LabelsOf(metric) == labels) {
      return &metric;
    }
  }
  return nullptr;
}

double CounterValue(const std::vector<prometheus::MetricFamily>& families, std::string_view name,
                    const Labels& labels) {
  const auto* metric = FindMetric(FindFamily(families, name), labels);
  REQUIRE(metric != nullptr);
  return metric->counter.value;
}

LogRecord Request(std::string_view method, std::uint32_t status, std::string_view path = "/",
                  std::uint64_t bytes = 0) {
  LogRecord record;
  record.method = method;
  record.status = status;
  record.path = path;
  record.uri = path;
  record.body_bytes_sent = bytes;
  return record;
}

constexpr std::string_view kTimedFormat =
    "$remote_addr \"$request\" $status $body_bytes_sent $request_length $request_time "
    "\"$upstream_response_time\" $host";

TEST_CASE("requests are counted by method and status", "[request_metrics]") {
  RequestMetricsOptions options;
  options.collector = "web";
  options.fields = FieldsOf("");
  auto metrics = Make(options);
  metrics->Observe(Request("GET", 200, "/", 100));
  metrics->Observe(Request("GET", 200, "/x", 50));
  metrics->Observe(Request("POST", 500, "/", 7));
  metrics->Observe(Request("BREW", 418));
  const auto families = metrics->Collect();

  const auto* requests = FindFamily(families, "accesslog_http_requests_total");
  REQUIRE(requests != nullptr);
  CHECK(requests->type == prometheus::MetricType::Counter);
  CHECK_THAT(requests->help, Catch::Contains("lines of the access log"));
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "web"}, {"method", "GET"}, {"status", "200"}}) == 2);
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "web"}, {"method", "OTHER"}, {"status", "418"}}) == 1);
  CHECK(CounterValue(families, "accesslog_http_response_size_bytes_total",
                     {{"collector", "web"}, {"method", "GET"}, {"status", "200"}}) == 150);
  CHECK(CounterValue(families, "accesslog_http_response_size_bytes_total",
                     {{"collector", "web"}, {"method", "POST"}, {"status", "500"}}) == 7);
  // combined has no request length nor times.
  CHECK(FindFamily(families, "accesslog_http_request_size_bytes_total") == nullptr);
  CHECK(FindFamily(families, "accesslog_http_request_duration_seconds") == nullptr);
  CHECK(FindFamily(families, "accesslog_http_upstream_duration_seconds") == nullptr);
  CHECK(CounterValue(families, "sidecar_exporter_log_series_dropped_total",
                     {{"collector", "web"}, {"metric", "accesslog_http_requests_total"}}) == 0);
  // The first label is the collector.
  CHECK(requests->metric.front().label.front().name == "collector");
  CHECK(metrics->SeriesCount() == 3);
}

TEST_CASE("compact families share their label sets until a series appears", "[request_metrics]") {
  RequestMetricsOptions options;
  options.collector = "w\"eb";
  options.labels = {"method", "path"};
  options.fields = FieldsOf("");
  auto metrics = Make(options);
  metrics->Observe(Request("GET", 200, "/a\"b"));
  const std::vector<SeriesFamily> first = metrics->CollectSeries();
  REQUIRE(first.size() == 2);  // requests, response size: what combined has
  REQUIRE(first[0].labels != nullptr);
  CHECK(first[0].labels == first[1].labels);
  REQUIRE(first[0].labels->size() == 1);
  CHECK((*first[0].labels)[0] == R"(collector="w\"eb",method="GET",path="/a\"b")");
  CHECK(first[0].values == std::vector<double>{1});

  metrics->Observe(Request("GET", 200, "/a\"b"));
  const std::vector<SeriesFamily> second = metrics->CollectSeries();
  CHECK(second[0].labels == first[0].labels);  // no new series: the same label sets
  CHECK(second[0].values == std::vector<double>{2});
  CHECK(first[0].values == std::vector<double>{1});  // what a scrape got does not change

  metrics->Observe(Request("POST", 200, "/"));
  const std::vector<SeriesFamily> third = metrics->CollectSeries();
  CHECK(third[0].labels != first[0].labels);
  REQUIRE(third[0].labels->size() == 2);
  CHECK((*third[0].labels)[1] == R"(collector="w\"eb",method="POST",path="/")");
  CHECK(first[0].labels->size() == 1);
  CHECK(third[0].values == std::vector<double>{2, 1});
}

TEST_CASE("durations go into le buckets, upstream attempts summed", "[request_metrics]") {
  FormatError error;
  auto parser = LogFormat::Compile(LogFormatKind::kNginx, kTimedFormat, {}, error);
  REQUIRE(parser != nullptr);
  RequestMetricsOptions options;
  options.collector = "web";
  options.fields = parser->fields();
  auto metrics = Make(options);
  LogRecord record;
  for (std::string_view line : {
           R"(::1 "GET / HTTP/1.1" 200 10 300 0.005 "0.004" a)",
           R"(::1 "GET / HTTP/1.1" 200 10 300 0.006 "0.004, 0.2 : 0.1" a)",
           R"(::1 "GET / HTTP/1.1" 200 10 300 11.0 "-" a)",
           R"(::1 "GET / HTTP/1.1" 200 10 300 - "-" a)",
       }) {
    REQUIRE(parser->Parse(line, record));
    metrics->Observe(record);
  }
  const auto families = metrics->Collect();
  const Labels labels = {{"collector", "web"}, {"method", "GET"}, {"status", "200"}};
  CHECK(CounterValue(families, "accesslog_http_requests_total", labels) == 4);
  CHECK(CounterValue(families, "accesslog_http_request_size_bytes_total", labels) == 1200);

  const auto* duration =
      FindMetric(FindFamily(families, "accesslog_http_request_duration_seconds"), labels);
  REQUIRE(duration != nullptr);
  const auto& histogram = duration->histogram;
  CHECK(histogram.sample_count == 3);
  CHECK(histogram.sample_sum == Approx(11.011));
  REQUIRE(histogram.bucket.size() == 12);
  CHECK(histogram.bucket[0].upper_bound == 0.005);
  CHECK(histogram.bucket[0].cumulative_count == 1);  // 0.005 is in le="0.005".
  CHECK(histogram.bucket[1].cumulative_count == 2);
  CHECK(histogram.bucket[10].upper_bound == 10);
  CHECK(histogram.bucket[10].cumulative_count == 2);
  CHECK(std::isinf(histogram.bucket[11].upper_bound));
  CHECK(histogram.bucket[11].cumulative_count == 3);

  const auto* upstream =
      FindMetric(FindFamily(families, "accesslog_http_upstream_duration_seconds"), labels);
  REQUIRE(upstream != nullptr);
  CHECK(upstream->histogram.sample_count == 2);
  CHECK(upstream->histogram.sample_sum == Approx(0.308));
  CHECK(upstream->histogram.bucket[0].cumulative_count == 1);
  CHECK(upstream->histogram.bucket[5].cumulative_count == 1);  // 0.304 > 0.25
  CHECK(upstream->histogram.bucket[6].cumulative_count == 2);
}

TEST_CASE("status class, path rewrites, allow-lists and extra labels", "[request_metrics]") {
  RequestMetricsOptions options;
  options.collector = "c";
  options.fields = FieldsOf(kTimedFormat);
  options.labels = {"method", "status", "path", "host"};
  options.status_class = true;
  options.methods = {"GET"};
  options.path_rewrites = {{R"(/users/\d+)", "/users/:id"}, {R"(/posts/[0-9a-f]+)", "/posts/:id"}};
  options.allowed_values = {{"host", {"a.example", "b.example"}}};
  options.extra_labels = {{"tenant", "http_x_tenant"}};
  auto metrics = Make(options);

  LogRecord record = Request("GET", 204, "/users/12/posts/beef");
  record.host = "a.example";
  record.named.push_back({"http_x_tenant", "acme"});
  metrics->Observe(record);
  record.path = "/users/99/posts/cafe";
  record.status = 201;
  metrics->Observe(record);
  record.host = "evil.example";
  record.method = "PROPFIND";
  metrics->Observe(record);

  const auto families = metrics->Collect();
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "c"},
                      {"method", "GET"},
                      {"status", "2xx"},
                      {"path", "/users/:id/posts/:id"},
                      {"host", "a.example"},
                      {"tenant", "acme"}}) == 2);
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "c"},
                      {"method", "OTHER"},
                      {"status", "2xx"},
                      {"path", "/users/:id/posts/:id"},
                      {"host", "other"},
                      {"tenant", "acme"}}) == 1);
}

TEST_CASE("label sets beyond the limit go to __overflow__", "[request_metrics]") {
  RequestMetricsOptions options;
  options.collector = "c";
  options.fields = FieldsOf("");
  options.labels = {"method", "path"};
  options.series_limit = 3;
  auto metrics = Make(options);
  metrics->Observe(Request("GET", 200, "/a"));
  metrics->Observe(Request("GET", 200, "/b"));
  metrics->Observe(Request("GET", 200, "/c"));
  metrics->Observe(Request("GET", 200, "/d"));
  metrics->Observe(Request("GET", 200, "/d"));
  metrics->Observe(Request("GET", 200, "/e"));
  metrics->Observe(Request("GET", 200, "/a"));  // Known: still counted in its own series.
  CHECK(metrics->SeriesCount() == 3);

  const auto families = metrics->Collect();
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "c"}, {"method", "GET"}, {"path", "/a"}}) == 2);
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "c"}, {"method", "__overflow__"}, {"path", "__overflow__"}}) ==
        3);
  // Two distinct label sets (/d, /e) were refused.
  CHECK(CounterValue(families, "sidecar_exporter_log_series_dropped_total",
                     {{"collector", "c"}, {"metric", "accesslog_http_requests_total"}}) == 2);
  CHECK(CounterValue(
            families, "sidecar_exporter_log_series_dropped_total",
            {{"collector", "c"}, {"metric", "accesslog_http_response_size_bytes_total"}}) == 2);
}

TEST_CASE("a hostile client's random paths do not grow the series", "[request_metrics]") {
  RequestMetricsOptions options;
  options.collector = "c";
  options.fields = FieldsOf("");
  options.labels = {"method", "status", "path"};
  options.methods = {};
  auto metrics = Make(options);
  const std::string methods[] = {"M0", "M1", "M2"};
  std::string path;
  for (int i = 0; i < 50000; ++i) {
    path.assign(1, '/');
    path.append(std::to_string(i * 7919));
    path.append(static_cast<std::size_t>(i % 500), 'x');
    metrics->Observe(Request(methods[i % 3], 200, path));
  }
  CHECK(metrics->SeriesCount() == kDefaultSeriesLimit);
  const auto families = metrics->Collect();
  const auto* requests = FindFamily(families, "accesslog_http_requests_total");
  CHECK(requests->metric.size() == kDefaultSeriesLimit + 1);
  double total = 0;
  for (const auto& metric : requests->metric) {
    total += metric.counter.value;
    for (const auto& label : metric.label) {
      CHECK(label.value.size() <= kMaxLabelValueBytes);
    }
  }
  CHECK(total == 50000);
  CHECK(CounterValue(families, "sidecar_exporter_log_series_dropped_total",
                     {{"collector", "c"}, {"metric", "accesslog_http_requests_total"}}) == 48000);
}

TEST_CASE("label values are valid UTF-8 and bounded", "[request_metrics]") {
  RequestMetricsOptions options;
  options.collector = "c";
  options.fields = FieldsOf("");
  options.labels = {"path"};
  auto metrics = Make(options);
  metrics->Observe(Request("GET", 200, "/\xff\xfe/caf\xc3\xa9"));
  const std::string long_path = "/" + std::string(300, 'a') + "\xc3\xa9";
  metrics->Observe(Request("GET", 200, long_path));
  metrics->Observe(Request("GET", 200, ""));
  const auto families = metrics->Collect();
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "c"}, {"path", "/\xEF\xBF\xBD\xEF\xBF\xBD/caf\xc3\xa9"}}) == 1);
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "c"}, {"path", long_path.substr(0, kMaxLabelValueBytes)}}) ==
        1);
  CHECK(CounterValue(families, "accesslog_http_requests_total",
                     {{"collector", "c"}, {"path", ""}}) == 1);
}

TEST_CASE("invalid options are refused with a reason", "[request_metrics]") {
  RequestMetricsOptions options;
  options.fields = FieldsOf("");
  options.labels = {"colour"};
  CHECK_THAT(CreateError(options), Catch::StartsWith("labels: unknown label 'colour'"));
  options.labels = {"request_time"};
  CHECK_THAT(CreateError(options),
             Catch::StartsWith("labels: ") && Catch::Contains("request_time"));
  options.labels = {"host"};
  CHECK_THAT(CreateError(options),
             Catch::StartsWith("labels: ") && Catch::Contains("does not have"));
  options.labels = {"method", "method"};
  CHECK_THAT(CreateError(options), Catch::StartsWith("labels: ") && Catch::Contains("twice"));
  options.labels = {"method"};
  options.extra_labels = {{"collector", "x"}};
  CHECK_THAT(CreateError(options),
             Catch::StartsWith("extra_labels: invalid label name 'collector'"));
  options.extra_labels = {};
  options.path_rewrites = {{"(unclosed", "x"}};
  CHECK_THAT(CreateError(options),
             Catch::StartsWith("path_rewrites: ") && Catch::Contains("(unclosed"));
  options.path_rewrites = {{"/(a)", "\\2"}};
  CHECK_THAT(CreateError(options),
             Catch::StartsWith("path_rewrites: ") && Catch::Contains("replacement"));
  options.path_rewrites = {};
  options.duration_buckets = {0.1, 0.1};
  CHECK_THAT(CreateError(options), Catch::StartsWith("duration_buckets: "));
  options.duration_buckets = DefaultDurationBuckets();
  options.allowed_values = {{"status", {"200"}}};
  CHECK_THAT(CreateError(options),
             Catch::StartsWith("allowed_values: ") && Catch::Contains("not a label"));
  options.allowed_values = {};
  options.series_limit = 0;
  CHECK_THAT(CreateError(options), Catch::StartsWith("series_limit: "));
}

TEST_CASE("Collect runs while lines are observed", "[request_metrics]") {
  RequestMetricsOptions options;
  options.collector = "c";
  options.fields = FieldsOf("");
  auto metrics = Make(options);
  std::atomic<bool> done = false;
  std::thread tail([&] {
    for (int i = 0; i < 200000; ++i) {
      metrics->Observe(
          Request(i % 2 == 0 ? "GET" : "POST", 200 + static_cast<std::uint32_t>(i % 5), "/", 1));
    }
    done = true;
  });
  std::size_t scrapes = 0;
  while (!done) {
    const auto families = metrics->Collect();
    CHECK(!families.empty());
    ++scrapes;
  }
  tail.join();
  const auto families = metrics->Collect();
  double total = 0;
  for (const auto& metric : FindFamily(families, "accesslog_http_requests_total")->metric) {
    total += metric.counter.value;
  }
  CHECK(total == 200000);
  CHECK(scrapes > 0);
}

}  // namespace
}  // namespace sidecar::accesslog
