#include "collectors/logs/log_metrics.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_metrics_collector.h"
#include "collectors/logs/log_metrics_options.h"
#include "exporter/config.h"
#include "tests/support/families.h"
#include "tests/support/process.h"
#include "tests/support/step_waker.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

using logmetrics::LogMetrics;
using logmetrics::MetricDefinition;
using logmetrics::MetricKind;
using testing::SeriesValue;

MetricDefinition Define(std::string name, MetricKind kind, std::vector<std::string> labels = {},
                        std::string value = {}, std::string match = {}) {
  return logmetrics::DefineMetric(std::move(name), kind, {}, std::move(labels), std::move(value),
                                  std::move(match));
}

// Feeds `lines` through a format (logfmt unless given) into metrics defined by `definitions`.
std::vector<prometheus::MetricFamily> Run(
    std::vector<MetricDefinition> definitions, const std::vector<std::string>& lines,
    std::size_t series_limit = 2000,
    accesslog::LogFormatKind format_kind = accesslog::LogFormatKind::kLogfmt,
    const std::string& format_text = "") {
  logmetrics::LogMetricsOptions options;
  options.collector = "app";
  options.metrics = std::move(definitions);
  options.series_limit = series_limit;
  logmetrics::DefinitionError error;
  std::unique_ptr<LogMetrics> metrics = LogMetrics::Create(options, error);
  INFO(error.key << ": " << error.message);
  REQUIRE(metrics != nullptr);
  accesslog::LogFormatOptions format_options;
  format_options.keys_as_named = true;
  accesslog::FormatError format_error;
  auto format =
      accesslog::LogFormat::Compile(format_kind, format_text, format_options, format_error);
  INFO(format_error.message);
  REQUIRE(format != nullptr);
  accesslog::LogRecord record;
  for (const std::string& line : lines) {
    const bool parsed = format->Parse(line, record);
    metrics->Observe(line, parsed ? &record : nullptr);
  }
  return metrics->Collect();
}

TEST_CASE("log_metrics: one line feeds every metric it matches", "[log_metrics]") {
  MetricDefinition errors = Define("app_errors_total", MetricKind::kCounter, {}, {}, "level=error");
  MetricDefinition by_level = Define("app_lines_total", MetricKind::kCounter, {"level"});
  MetricDefinition bytes = Define("app_bytes_total", MetricKind::kCounter, {"job"}, "bytes");
  MetricDefinition last = Define("app_queue_length", MetricKind::kGauge, {}, "queue");
  MetricDefinition duration =
      Define("app_job_duration_seconds", MetricKind::kHistogram, {"job"}, "duration");
  duration.buckets = {0.1, 0.5, 1};
  MetricDefinition slow = Define("app_slow_jobs_total", MetricKind::kCounter);
  slow.where = {{"level", "warn"}, {"job", "export"}};
  const auto families = Run({errors, by_level, bytes, last, duration, slow},
                            {
                                "level=info job=import bytes=100 duration=0.05 queue=3",
                                "level=error job=import bytes=50 duration=0.7 queue=9",
                                "level=warn job=export bytes=7 duration=2 queue=4",
                                "level=warn job=import bytes=x duration=-",
                                "not logfmt \"at all",
                            });
  CHECK(SeriesValue(families, "app_errors_total") == 1);
  CHECK(SeriesValue(families, "app_lines_total", {{"level", "info"}}) == 1);
  CHECK(SeriesValue(families, "app_lines_total", {{"level", "warn"}}) == 2);
  CHECK(SeriesValue(families, "app_lines_total", {{"level", "error"}}) == 1);
  CHECK(SeriesValue(families, "app_bytes_total", {{"job", "import"}}) == 150);
  CHECK(SeriesValue(families, "app_bytes_total", {{"job", "export"}}) == 7);
  CHECK(SeriesValue(families, "app_queue_length") == 4);  // the last value
  CHECK(SeriesValue(families, "app_job_duration_seconds", {{"job", "import"}}) == 2);
  CHECK(SeriesValue(families, "app_slow_jobs_total") == 1);
  // bytes=x and a missing duration and queue: not counted, counted as invalid.
  CHECK(SeriesValue(families, "sidecar_exporter_log_values_invalid_total",
                    {{"metric", "app_bytes_total"}}) == 1);
  CHECK(SeriesValue(families, "sidecar_exporter_log_values_invalid_total",
                    {{"metric", "app_job_duration_seconds"}}) == 1);
  CHECK(SeriesValue(families, "sidecar_exporter_log_values_invalid_total",
                    {{"metric", "app_queue_length"}}) == 1);
  // The histogram's buckets and sum.
  int histograms_checked = 0;
  for (const auto& family : families) {
    if (family.name != "app_job_duration_seconds") continue;
    for (const auto& metric : family.metric) {
      if (metric.label.at(1).value != "import") continue;
      ++histograms_checked;
      CHECK(metric.histogram.sample_sum == Approx(0.75));
      REQUIRE(metric.histogram.bucket.size() == 4);
      CHECK(metric.histogram.bucket[0].cumulative_count == 1);
      CHECK(metric.histogram.bucket[1].cumulative_count == 1);
      CHECK(metric.histogram.bucket[2].cumulative_count == 2);
      CHECK(metric.histogram.bucket[0].upper_bound == 0.1);
    }
  }
  CHECK(histograms_checked == 1);
}

TEST_CASE("log_metrics: the standard fields of an access-log format, numbers included",
          "[log_metrics]") {
  // Numeric fields (status, body_bytes_sent, request_time) are parsed into numbers by the nginx
  // format: labels and `where` see their text, `value` their number.
  MetricDefinition bytes =
      Define("web_bytes_total", MetricKind::kCounter, {"status", "method"}, "body_bytes_sent");
  MetricDefinition failed = Define("web_failed_posts_total", MetricKind::kCounter);
  failed.where = {{"status", "500"}, {"method", "POST"}};
  MetricDefinition duration =
      Define("web_request_duration_seconds", MetricKind::kHistogram, {}, "request_time");
  duration.buckets = {0.1, 1};
  const auto families =
      Run({bytes, failed, duration},
          {
              R"(127.0.0.1 - - [29/Nov/2026:21:53:37 +0000] "GET / HTTP/1.1" 200 612 0.005)",
              R"(127.0.0.1 - - [29/Nov/2026:21:53:38 +0000] "POST /api HTTP/1.1" 500 20 1.500)",
              R"(127.0.0.1 - - [29/Nov/2026:21:53:39 +0000] "GET /x HTTP/1.1" 200 100 0.050)",
              R"(127.0.0.1 - - [29/Nov/2026:21:53:40 +0000] "GET /y HTTP/1.1" 304 - -)",
          },
          2000, accesslog::LogFormatKind::kNginx,
          R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent )"
          R"($request_time)");
  CHECK(SeriesValue(families, "web_bytes_total", {{"status", "200"}, {"method", "GET"}}) == 712);
  CHECK(SeriesValue(families, "web_bytes_total", {{"status", "500"}, {"method", "POST"}}) == 20);
  CHECK(SeriesValue(families, "web_failed_posts_total") == 1);
  CHECK(SeriesValue(families, "web_request_duration_seconds") == 3);
  // The 304's "-" size and time: missing, so invalid for the metrics with a value.
  CHECK(SeriesValue(families, "sidecar_exporter_log_values_invalid_total",
                    {{"metric", "web_bytes_total"}}) == 1);
  CHECK(SeriesValue(families, "sidecar_exporter_log_values_invalid_total",
                    {{"metric", "web_request_duration_seconds"}}) == 1);
}

TEST_CASE("log_metrics: series beyond the limit go to __overflow__ and are counted",
          "[log_metrics]") {
  std::vector<std::string> lines;
  for (int i = 0; i < 10; ++i) lines.push_back("user=u" + std::to_string(i % 5));
  const auto families = Run({Define("app_logins_total", MetricKind::kCounter, {"user"})}, lines, 3);
  CHECK(SeriesValue(families, "app_logins_total", {{"user", "u0"}}) == 2);
  CHECK(SeriesValue(families, "app_logins_total", {{"user", "u2"}}) == 2);
  CHECK(SeriesValue(families, "app_logins_total", {{"user", "u3"}}) == std::nullopt);
  CHECK(SeriesValue(families, "app_logins_total", {{"user", "__overflow__"}}) == 4);
  CHECK(SeriesValue(families, "sidecar_exporter_log_series_dropped_total",
                    {{"metric", "app_logins_total"}}) == 2);
}

TEST_CASE("log_metrics: label sets are told apart exactly, however many", "[log_metrics]") {
  // 3,000 label sets seen three times each (the series table grows several times on the way),
  // values that differ only after their first 8 bytes, and two labels whose values run together
  // the same way ("ab" "c" and "a" "bc").
  std::vector<std::string> lines;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3000; ++i) {
      lines.push_back("user=abcdefgh" + std::to_string(i) + " a=x b=y");
    }
  }
  for (int i = 0; i < 2; ++i) {
    lines.push_back("user=z a=ab b=c");
    lines.push_back("user=z a=a b=bc");
  }
  lines.push_back("user=z a=a b=bc");
  const auto families =
      Run({Define("app_logins_total", MetricKind::kCounter, {"user", "a", "b"})}, lines, 5000);
  CHECK(SeriesValue(families, "app_logins_total",
                    {{"user", "abcdefgh0"}, {"a", "x"}, {"b", "y"}}) == 3);
  CHECK(SeriesValue(families, "app_logins_total",
                    {{"user", "abcdefgh2999"}, {"a", "x"}, {"b", "y"}}) == 3);
  CHECK(SeriesValue(families, "app_logins_total", {{"user", "z"}, {"a", "ab"}, {"b", "c"}}) == 2);
  CHECK(SeriesValue(families, "app_logins_total", {{"user", "z"}, {"a", "a"}, {"b", "bc"}}) == 3);
  std::size_t series = 0;
  double total = 0;
  for (const auto& family : families) {
    if (family.name != "app_logins_total") continue;
    series += family.metric.size();
    for (const auto& metric : family.metric) total += metric.counter.value;
  }
  CHECK(series == 3002);
  CHECK(total == static_cast<double>(lines.size()));
}

std::vector<ConfigError> Errors(const std::string& collector_yaml) {
  return ParseConfig("collectors:\n  - type: log_metrics\n    name: app\n    paths: [/x.log]\n" +
                         collector_yaml,
                     "test.yaml")
      .errors;
}

std::string OnlyError(const std::vector<ConfigError>& errors) {
  for (const ConfigError& error : errors) INFO(error.ToString());
  REQUIRE(errors.size() == 1);
  return errors.front().ToString();
}

TEST_CASE("log_metrics: definition errors land on their field", "[config][log_metrics]") {
  CHECK(OnlyError(Errors("    format: logfmt\n    metrics:\n      - name: app_errors\n")) ==
        "test.yaml:7:15: collectors[0].metrics[0].name: a counter's name ends in _total "
        "(app_errors_total)");
  CHECK(OnlyError(Errors("    format: logfmt\n    metrics:\n      - name: app_a_total\n"
                         "      - name: app_seconds\n        type: histogram\n"
                         "        value: d\n")) ==
        "test.yaml:8:9: collectors[0].metrics[1].buckets: a histogram needs buckets");
  CHECK(OnlyError(Errors("    format: logfmt\n    metrics:\n      - name: app_seconds\n"
                         "        type: histogram\n        value: d\n"
                         "        buckets: [1, 0.5]\n")) ==
        "test.yaml:10:18: collectors[0].metrics[0].buckets: bucket bounds must be strictly "
        "increasing; 0.500000 follows 1.000000");
  CHECK(OnlyError(Errors("    format: logfmt\n    metrics:\n      - name: app_a_total\n"
                         "        labels: [le]\n")) ==
        "test.yaml:8:17: collectors[0].metrics[0].labels: label 'le' is reserved for histogram "
        "buckets; use another name");
  CHECK(OnlyError(Errors("    format: logfmt\n    metrics:\n      - name: 9lives_total\n")) ==
        "test.yaml:7:15: collectors[0].metrics[0].name: invalid metric name '9lives_total'; use "
        "letters, digits, underscores and colons, not starting with a digit");
  CHECK(OnlyError(Errors("    metrics:\n      - name: app_a_total\n        match: 'a(b'\n")) ==
        "test.yaml:7:16: collectors[0].metrics[0].match: invalid regular expression: missing ): "
        "a(b");
  CHECK(OnlyError(Errors("    metrics:\n      - name: app_a_total\n        labels: [level]\n")) ==
        "test.yaml:7:17: collectors[0].metrics[0].labels: fields need a format (regex, json, "
        "logfmt, nginx, apache) or a preset");
  CHECK(OnlyError(Errors("    format: regex\n    regex: '(?P<a>x'\n    metrics:\n"
                         "      - name: app_a_total\n")) ==
        "test.yaml:6:13: collectors[0].regex: invalid regex: missing ): (?P<a>x at position 1");
  CHECK(OnlyError(Errors("    preset: nginx_eror\n")) ==
        "test.yaml:5:13: collectors[0].preset: unknown preset \"nginx_eror\" (nginx_error, "
        "apache_error)");
  {
    const std::vector<ConfigError> errors =
        Errors("    preset: nginx_error\n    multiline: {start: '(', max_lines: 0}\n");
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].ToString() ==
          "test.yaml:6:40: collectors[0].multiline.max_lines: 0 is out of range; allowed: 1 to "
          "100000");
    CHECK(errors[1].ToString() ==
          "test.yaml:6:24: collectors[0].multiline.start: invalid regular expression: missing ): "
          "(");
  }
  CHECK(
      OnlyError(Errors("    preset: nginx_error\n    metrics:\n      - name: x_total\n"
                       "        type: summary\n")) ==
      "test.yaml:8:15: collectors[0].metrics[0].type: unknown value \"summary\"; allowed: counter, "
      "gauge, histogram");
  CHECK(OnlyError(Errors("    preset: nginx_error\n    metrics:\n"
                         "      - name: nginx_error_log_lines_total\n")) ==
        "test.yaml:7:15: collectors[0].metrics[0].name: metric 'nginx_error_log_lines_total' is "
        "defined twice");
}

TEST_CASE("log_metrics: a preset config decodes and builds", "[config][log_metrics]") {
  const ConfigLoad load = ParseConfig(R"(
collectors:
  - type: log_metrics
    name: nginx_errors
    paths: [/var/log/nginx/error.log]
    preset: nginx_error
    metrics:
      - name: nginx_ssl_handshake_failures_total
        match: 'SSL_do_handshake\(\) failed'
    multiline: {start: '^\d{4}/', max_lines: 10, max_bytes: 4096, flush_timeout: 1s}
)",
                                      "test.yaml");
  for (const ConfigError& error : load.errors) INFO(error.ToString());
  REQUIRE(load.errors.empty());
  REQUIRE(load.config->collectors.size() == 1);
  CHECK(load.config->collectors[0].factory() != nullptr);
}

using Clock = std::chrono::steady_clock;

LogMetricsCollectorOptions CollectorOptions(const std::string& path) {
  LogMetricsCollectorOptions options;
  options.name = "app";
  options.tailer.paths = {path};
  options.tailer.from_beginning = true;
  return options;
}

TEST_CASE("log_metrics collector: nginx_error preset on error-log lines", "[log_metrics]") {
  testing::TempDir dir;
  const std::string log = (dir / "error.log").string();
  testing::WriteFile(
      log,
      "2026/11/29 21:53:37 [error] 41#41: *7 upstream timed out (110: Connection timed out) while "
      "reading response header from upstream, client: 127.0.0.1, server: _, request: \"GET / "
      "HTTP/1.1\", upstream: \"http://127.0.0.1:9/\", host: \"x\"\n"
      "2026/11/29 21:53:38 [error] 41#41: *9 connect() failed (111: Connection refused) while "
      "connecting to upstream, client: 127.0.0.1\n"
      "2026/11/29 21:53:39 [error] 41#41: *11 client intended to send too large body: 2097152 "
      "bytes, client: 127.0.0.1\n"
      "2026/11/29 21:53:40 [alert] 40#40: worker process 41 exited on signal 9\n"
      "2026/11/29 21:53:41 [notice] 40#40: start worker process 77\n"
      "\x01\x02 garbage\xff\n");
  LogMetricsCollectorOptions options = CollectorOptions(log);
  REQUIRE(ApplyLogMetricsPreset("nginx_error", options));
  LogMetricsCollector collector(options, std::make_unique<testing::StepWaker>());
  collector.Start();
  const auto families = collector.Collect(CollectContext{}).families;
  CHECK(SeriesValue(families, "nginx_error_log_lines_total", {{"level", "error"}}) == 3);
  CHECK(SeriesValue(families, "nginx_error_log_lines_total", {{"level", "alert"}}) == 1);
  CHECK(SeriesValue(families, "nginx_error_log_lines_total", {{"level", "notice"}}) == 1);
  CHECK(SeriesValue(families, "nginx_error_log_upstream_timeouts_total") == 1);
  CHECK(SeriesValue(families, "nginx_error_log_upstream_connect_failures_total") == 1);
  CHECK(SeriesValue(families, "nginx_error_log_request_body_too_large_total") == 1);
  CHECK(SeriesValue(families, "nginx_error_log_worker_signal_exits_total") == 1);
  CHECK(SeriesValue(families, "sidecar_exporter_log_parse_errors_total", {{"file", log}}) == 1);
  CHECK(SeriesValue(families, "sidecar_exporter_log_lines_read_total", {{"file", log}}) == 6);
}

TEST_CASE("log_metrics collector: multiline records, bounded and flushed by time",
          "[log_metrics]") {
  testing::TempDir dir;
  const std::string log = (dir / "app.log").string();
  std::string text = "  at orphan.continuation(Before.java:1)\n";
  text += "2026-11-29 21:00:00 ERROR boom\n  at a.b(C.java:1)\n  at d.e(F.java:2)\n";
  text += "2026-11-29 21:00:01 INFO ok\n";
  text += "2026-11-29 21:00:02 ERROR deep\n";
  for (int i = 0; i < 20; ++i) text += "  at frame" + std::to_string(i) + "\n";
  testing::WriteFile(log, text);
  LogMetricsCollectorOptions options = CollectorOptions(log);
  options.format_kind = accesslog::LogFormatKind::kRegex;
  options.format = R"(^\S+ \S+ (?P<level>[A-Z]+) )";
  options.metrics.metrics = {Define("app_records_total", MetricKind::kCounter, {"level"}),
                             Define("app_traces_total", MetricKind::kCounter, {}, {}, "\n  at ")};
  options.multiline =
      MultilineOptions{R"(^\d{4}-\d\d-\d\d )", 5, 4096, std::chrono::milliseconds(1)};
  auto waker = std::make_unique<testing::StepWaker>();
  testing::StepWaker& step = *waker;
  LogMetricsCollector collector(options, std::move(waker));
  collector.Start();
  // The last record is still open: its file may go on.
  auto families = collector.Collect(CollectContext{}).families;
  CHECK(SeriesValue(families, "app_records_total", {{"level", "ERROR"}}) == 1);
  CHECK(SeriesValue(families, "app_records_total", {{"level", "INFO"}}) == 1);
  CHECK(SeriesValue(families, "app_traces_total") == 1);
  CHECK(SeriesValue(families, "sidecar_exporter_log_multiline_orphan_lines_total") == 1);
  // The orphan line does not parse: one parse error.
  CHECK(SeriesValue(families, "sidecar_exporter_log_parse_errors_total") == 1);
  // Quiet for longer than the flush timeout: the open record is complete.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  step.Step();
  families = collector.Collect(CollectContext{}).families;
  CHECK(SeriesValue(families, "app_records_total", {{"level", "ERROR"}}) == 2);
  CHECK(SeriesValue(families, "app_traces_total") == 2);
  CHECK(SeriesValue(families, "sidecar_exporter_log_multiline_records_total") == 4);
  CHECK(SeriesValue(families, "sidecar_exporter_log_multiline_timeouts_total") == 1);
  // 20 frames, 4 fit in a record of 5 lines.
  CHECK(SeriesValue(families, "sidecar_exporter_log_multiline_lines_dropped_total",
                    {{"reason", "max_lines"}}) == 16);
}

// Peak resident memory of this process, in KiB.
long PeakRssKb() { return testing::ProcStatusKib(::getpid(), "VmHWM"); }

TEST_CASE("log_metrics bad input: one 100 MB line, binary garbage, a start that never matches",
          "[log_metrics][bad_input]") {
  testing::TempDir dir;
  const std::string log = (dir / "app.log").string();
  int lines_with_nul = 0;
  {
    std::ofstream out(log, std::ios::binary);
    const std::string chunk(1 << 20, 'x');
    out << "level=info msg=before\n";
    for (int i = 0; i < 100; ++i) out << chunk;  // one line of 100 MiB
    out << "\nlevel=error msg=after\n";
    // Binary garbage: every byte value, NULs and lone quotes, in 4096 lines.
    std::string garbage;
    bool line_has_nul = false;
    for (std::uint64_t i = 0; i < 4096 * 200; ++i) {
      garbage.push_back(static_cast<char>((i * 7919 + i / 256) % 256));
      if (garbage.back() == '\n') garbage.back() = '\0';
      line_has_nul = line_has_nul || garbage.back() == '\0';
      if (i % 200 == 199) {
        garbage.push_back('\n');
        if (line_has_nul) ++lines_with_nul;
        line_has_nul = false;
      }
    }
    out << garbage;
  }
  LogMetricsCollectorOptions options = CollectorOptions(log);
  options.format_kind = accesslog::LogFormatKind::kLogfmt;
  options.metrics.metrics = {
      Define("app_lines_total", MetricKind::kCounter, {"level"}),
      Define("app_nul_lines_total", MetricKind::kCounter, {}, {}, std::string("\\x00"))};
  // A start pattern that never matches: every line is an orphan record of its own.
  options.multiline = MultilineOptions{"^NEVER-MATCHES ", 100, 4096, std::chrono::seconds(1)};
  const long peak_before = PeakRssKb();
  LogMetricsCollector collector(options, std::make_unique<testing::StepWaker>());
  collector.Start();
  const auto families = collector.Collect(CollectContext{}).families;
  // The long line is skipped by the tailer's line cap, never held whole.
  CHECK(SeriesValue(families, "sidecar_exporter_log_lines_too_long_total", {{"file", log}}) == 1);
  CHECK(SeriesValue(families, "sidecar_exporter_log_lines_read_total", {{"file", log}}) ==
        2 + 4096);
  CHECK(SeriesValue(families, "app_lines_total", {{"level", "info"}}) == 1);
  CHECK(SeriesValue(families, "app_lines_total", {{"level", "error"}}) == 1);
  // Every garbage line fails logfmt (a control byte or a quote in each), and is a parse error.
  CHECK(SeriesValue(families, "sidecar_exporter_log_parse_errors_total", {{"file", log}}) == 4096);
  // `match` runs on raw bytes, unparsed records included: every garbage line with a NUL counts.
  REQUIRE(lines_with_nul > 0);
  CHECK(SeriesValue(families, "app_nul_lines_total") == lines_with_nul);
  CHECK(SeriesValue(families, "sidecar_exporter_log_multiline_orphan_lines_total") == 2 + 4096);
  CHECK(SeriesValue(families, "sidecar_exporter_log_multiline_records_total") == 2 + 4096);
  // Bounded memory: nothing near the 100 MiB of the line was held.
  CHECK(PeakRssKb() - peak_before < 32 * 1024);
}

}  // namespace
}  // namespace sidecar
