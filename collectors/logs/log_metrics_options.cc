#include "collectors/logs/log_metrics_options.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collectors/logs/tail_options.h"

namespace sidecar {
namespace {

using accesslog::LogFormatKind;
using logmetrics::MetricDefinition;
using logmetrics::MetricKind;

MetricDefinition Counter(std::string name, std::string help, std::vector<std::string> labels,
                         std::string match = {}) {
  return logmetrics::DefineMetric(std::move(name), MetricKind::kCounter, std::move(help),
                                  std::move(labels), {}, std::move(match));
}

// Decodes one entry of `metrics`.
MetricDefinition DecodeMetric(FieldDecoder& fields) {
  MetricDefinition metric;
  metric.name = fields.RequiredString("name");
  const std::string type = fields.Enum("type", "counter", {"counter", "gauge", "histogram"});
  metric.kind = type == "gauge"       ? MetricKind::kGauge
                : type == "histogram" ? MetricKind::kHistogram
                                      : MetricKind::kCounter;
  metric.help = fields.String("help", "");
  if (fields.Has("labels")) metric.labels = fields.StringList("labels");
  metric.value = fields.String("value", "");
  if (fields.Has("buckets")) metric.buckets = fields.DoubleList("buckets");
  metric.match = fields.String("match", "");
  metric.where = fields.StringMap("where", /*label_names=*/false);
  fields.RejectUnknownKeys();
  return metric;
}

}  // namespace

bool ApplyLogMetricsPreset(std::string_view preset, LogMetricsCollectorOptions& options) {
  std::vector<MetricDefinition>& metrics = options.metrics.metrics;
  if (preset == "nginx_error") {
    // nginx's error_log: "2026/11/29 21:53:37 [error] 1234#1234: *5 message, client: ...".
    options.format_kind = LogFormatKind::kRegex;
    options.format =
        R"(^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>[a-z]+)\] (?P<pid>\d+)#\d+: )";
    metrics.push_back(Counter("nginx_error_log_lines_total",
                              "Lines of nginx's error log, by severity level.", {"level"}));
    metrics.push_back(Counter("nginx_error_log_upstream_timeouts_total",
                              "nginx error-log lines saying an upstream timed out (110: "
                              "connect, send or read timeout).",
                              {}, "upstream timed out"));
    metrics.push_back(Counter("nginx_error_log_upstream_connect_failures_total",
                              "nginx error-log lines saying connect() to an upstream failed "
                              "(refused, unreachable).",
                              {},
                              R"(connect\(\) (?:to \S+ )?failed .*while connecting to upstream)"));
    metrics.push_back(Counter("nginx_error_log_request_body_too_large_total",
                              "nginx error-log lines for request bodies larger than "
                              "client_max_body_size (answered 413).",
                              {}, "client intended to send too large body"));
    metrics.push_back(Counter("nginx_error_log_worker_signal_exits_total",
                              "nginx error-log lines saying a worker process exited on a signal "
                              "(crash or kill).",
                              {}, R"(worker process \d+ exited on signal)"));
    return true;
  }
  if (preset == "apache_error") {
    // Apache 2.4's default ErrorLogFormat: "[Sun Nov 29 21:53:37.123456 2026] [proxy:error]
    // [pid 1234:tid 5678] (111)Connection refused: AH00957: ...". Lines without a module
    // ("[:error]", 2.2's "[error]") get module "".
    options.format_kind = LogFormatKind::kRegex;
    options.format = R"(^\[[^\]]*\] \[(?:(?P<module>[^:\]]*):)?(?P<level>[^\]]+)\] )";
    metrics.push_back(Counter("apache_error_log_lines_total",
                              "Lines of Apache's error log, by severity level and module.",
                              {"level", "module"}));
    return true;
  }
  return false;
}

CollectorFactory DecodeLogMetrics(FieldDecoder& fields, const CollectorDefaults& defaults) {
  const int errors_before = fields.errors_count();
  LogMetricsCollectorOptions options;
  options.name = defaults.name;

  TailOptions tail = DecodeTailOptions(fields);
  options.tailer = std::move(tail.tailer);
  options.poll_interval = tail.poll_interval;

  // Format: from the preset, or as given, or none (raw lines for `match` only).
  std::string format_field;
  std::size_t preset_metrics = 0;
  if (const std::optional<std::string> preset = fields.OptionalString("preset")) {
    if (!ApplyLogMetricsPreset(*preset, options)) {
      fields.Error("preset", "unknown preset \"" + *preset + "\" (nginx_error, apache_error)");
    }
    for (const char* key : {"format", "regex", "log_format"}) {
      if (fields.Has(key)) {
        fields.Error(key, std::string("the preset sets the format; ") + key + " is not used");
      }
    }
    preset_metrics = options.metrics.metrics.size();
    format_field = "preset";
  } else if (fields.Has("format")) {
    const std::string kind_name =
        fields.Enum("format", "regex", {"regex", "json", "logfmt", "nginx", "apache"});
    LogFormatKind kind = LogFormatKind::kRegex;
    if (accesslog::ParseLogFormatKind(kind_name, kind)) options.format_kind = kind;
    if (kind == LogFormatKind::kRegex) {
      format_field = "regex";
      options.format = fields.RequiredString("regex");
    } else if (fields.Has("regex")) {
      fields.Error("regex", "only used with format: regex");
    }
    if (kind == LogFormatKind::kNginx || kind == LogFormatKind::kApache) {
      format_field = "log_format";
      options.format = fields.String("log_format", "combined");
    } else if (fields.Has("log_format")) {
      fields.Error("log_format", "only used with format: nginx or apache");
    }
    if (kind == LogFormatKind::kJson || kind == LogFormatKind::kLogfmt) format_field = "format";
  } else {
    for (const char* key : {"regex", "log_format"}) {
      if (fields.Has(key)) fields.Error(key, std::string(key) + " needs a format");
    }
  }

  // Metrics.
  std::vector<FieldDecoder> metric_fields = fields.ChildList("metrics");
  for (FieldDecoder& metric : metric_fields) {
    options.metrics.metrics.push_back(DecodeMetric(metric));
  }
  if (options.metrics.metrics.empty() && !fields.Has("preset")) {
    fields.Error("metrics", "define at least one metric (or use a preset)");
  }
  options.metrics.series_limit =
      fields.Unsigned("series_limit", options.metrics.series_limit, 1, 1'000'000);

  // Multiline records.
  if (fields.Has("multiline")) {
    FieldDecoder multiline = fields.Child("multiline");
    MultilineOptions joined;
    joined.start = multiline.RequiredString("start");
    joined.max_lines = multiline.Unsigned("max_lines", joined.max_lines, 1, 100'000);
    joined.max_bytes = multiline.Unsigned("max_bytes", joined.max_bytes, 256, 16 << 20);
    joined.flush_timeout = multiline.Duration("flush_timeout", joined.flush_timeout);
    if (joined.flush_timeout.count() <= 0) {
      multiline.Error("flush_timeout", "must be greater than 0");
    }
    multiline.RejectUnknownKeys();
    if (!joined.start.empty() && multiline.errors_count() == fields.errors_count()) {
      try {
        MultilineJoiner check(joined);
      } catch (const std::invalid_argument& e) {
        multiline.Error("start", e.what());
      }
    }
    options.multiline = std::move(joined);
  }

  // Compile the format and the metrics once now, so that their errors are configuration errors
  // at the right field (the collector builds its own at start).
  if (fields.errors_count() == errors_before && options.format_kind) {
    accesslog::FormatError error;
    if (!CompileLogMetricsFormat(options, error)) {
      if (format_field == "regex" || format_field == "log_format") {
        fields.ErrorInValue(format_field, error.offset, error.message);
      } else {
        fields.Error(format_field, error.message);
      }
    }
  }
  if (fields.errors_count() == errors_before) {
    logmetrics::LogMetricsOptions check = options.metrics;
    check.has_fields = options.format_kind.has_value();
    logmetrics::DefinitionError error;
    if (!logmetrics::LogMetrics::Create(check, error)) {
      if (error.metric == std::string::npos) {
        fields.Error(error.key, error.message);
      } else if (error.metric < preset_metrics) {
        fields.Error("preset", error.message);
      } else {
        metric_fields[error.metric - preset_metrics].Error(error.key, error.message);
      }
    }
  }
  return [options] { return std::make_unique<LogMetricsCollector>(options); };
}

}  // namespace sidecar
