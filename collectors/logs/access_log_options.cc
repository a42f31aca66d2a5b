#include "collectors/logs/access_log_options.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collectors/logs/access_log_collector.h"
#include "collectors/logs/log_format.h"
#include "collectors/logs/request_metrics.h"
#include "collectors/logs/tail_options.h"
#include "re2/re2.h"
#include "yaml-cpp/yaml.h"

namespace sidecar {
namespace {

using accesslog::LogFormatKind;

// Strictly increasing finite bounds; records an error at `key` otherwise.
void CheckBuckets(FieldDecoder& fields, const std::string& key, const std::vector<double>& bounds) {
  if (bounds.empty()) {
    fields.Error(key, "expected at least one bucket bound (in seconds)");
    return;
  }
  for (size_t i = 1; i < bounds.size(); ++i) {
    if (!(bounds[i] > bounds[i - 1])) {
      fields.Error(key, "bucket bounds must be strictly increasing; " + std::to_string(bounds[i]) +
                            " follows " + std::to_string(bounds[i - 1]));
      return;
    }
  }
}

}  // namespace

CollectorFactory DecodeAccessLog(FieldDecoder& fields, const CollectorDefaults& defaults) {
  const int errors_before = fields.errors_count();
  AccessLogOptions options;
  options.name = defaults.name;

  // Files and how they are tailed, shared with the other log collectors.
  TailOptions tail = DecodeTailOptions(fields);
  options.tailer = std::move(tail.tailer);
  options.poll_interval = tail.poll_interval;

  // Format.
  const std::string kind_name =
      fields.Enum("format", "nginx", {"nginx", "apache", "json", "logfmt", "regex"});
  if (!accesslog::ParseLogFormatKind(kind_name, options.format_kind)) {
    options.format_kind = LogFormatKind::kNginx;  // error already recorded by Enum()
  }
  std::string format_field = "log_format";
  switch (options.format_kind) {
    case LogFormatKind::kNginx:
    case LogFormatKind::kApache:
      options.format = fields.String("log_format", "combined");
      if (fields.Has("regex")) fields.Error("regex", "only used with format: regex");
      break;
    case LogFormatKind::kJson:
    case LogFormatKind::kLogfmt:
      if (fields.Has("log_format")) {
        fields.Error("log_format", "not used with format: " + kind_name +
                                       " (keys are field names; json_fields renames JSON keys)");
      }
      if (fields.Has("regex")) fields.Error("regex", "only used with format: regex");
      break;
    case LogFormatKind::kRegex:
      format_field = "regex";
      options.format = fields.RequiredString("regex");
      if (fields.Has("log_format")) {
        fields.Error("log_format", "not used with format: regex (the pattern goes in regex)");
      }
      break;
  }
  if (options.format_kind == LogFormatKind::kJson) {
    options.format_options.json_keys = fields.StringMap("json_fields", /*label_names=*/false);
  } else if (fields.Has("json_fields")) {
    fields.Error("json_fields", "only used with format: json");
  }

  // Request metrics.
  accesslog::RequestMetricsOptions& metrics = options.metrics;
  metrics.collector = defaults.name;
  if (fields.Has("labels")) metrics.labels = fields.StringList("labels");
  metrics.status_class = fields.Bool("status_class", false);
  if (fields.Has("methods")) metrics.methods = fields.StringList("methods");
  for (FieldDecoder& rewrite_fields : fields.ChildList("path_rewrites")) {
    accesslog::PathRewrite rewrite;
    rewrite.pattern = rewrite_fields.RequiredString("pattern");
    if (!rewrite_fields.Has("replacement")) {
      rewrite_fields.Error("replacement", "missing required field \"replacement\"");
    }
    rewrite.replacement = rewrite_fields.String("replacement", "");
    rewrite_fields.RejectUnknownKeys();
    if (!rewrite.pattern.empty()) {
      RE2::Options re_options;
      re_options.set_encoding(RE2::Options::EncodingLatin1);
      re_options.set_log_errors(false);
      const RE2 re(rewrite.pattern, re_options);
      std::string error;
      if (!re.ok()) {
        rewrite_fields.Error("pattern", "invalid regular expression: " + re.error());
      } else if (!re.CheckRewriteString(rewrite.replacement, &error)) {
        rewrite_fields.Error("replacement", "invalid replacement: " + error);
      }
    }
    metrics.path_rewrites.push_back(std::move(rewrite));
  }
  {
    FieldDecoder allowed = fields.Child("allowed_values");
    for (const std::string& label : allowed.Keys()) {
      metrics.allowed_values.push_back({label, allowed.StringList(label)});
    }
  }
  for (auto& [label, field] : fields.StringMap("extra_labels", /*label_names=*/true)) {
    metrics.extra_labels.push_back({label, field});
  }
  if (fields.Has("duration_buckets")) {
    metrics.duration_buckets = fields.DoubleList("duration_buckets");
    CheckBuckets(fields, "duration_buckets", metrics.duration_buckets);
  }
  if (fields.Has("upstream_duration_buckets")) {
    metrics.upstream_duration_buckets = fields.DoubleList("upstream_duration_buckets");
    CheckBuckets(fields, "upstream_duration_buckets", metrics.upstream_duration_buckets);
  }
  metrics.series_limit = fields.Unsigned("series_limit", metrics.series_limit, 1, 1'000'000);

  // Compile the format and build the metrics once now, so that their errors are configuration
  // errors at the right field (the collector builds its own at start).
  accesslog::FormatError format_error;
  const std::unique_ptr<accesslog::LogFormat> format = accesslog::LogFormat::Compile(
      options.format_kind, options.format, options.format_options, format_error);
  if (!format) {
    if (options.format_kind == LogFormatKind::kJson) {
      fields.Error("json_fields", format_error.message);
    } else {
      fields.ErrorInValue(format_field, format_error.offset, format_error.message);
    }
  } else if (fields.errors_count() == errors_before) {
    accesslog::RequestMetricsOptions check = metrics;
    check.fields = format->fields();
    accesslog::OptionsError error;
    if (!accesslog::RequestMetrics::Create(check, error)) {
      // Bucket errors are checked above per field; the option name otherwise matches the key.
      fields.Error(error.option, error.message);
    }
  }

  return [options] { return std::make_unique<AccessLogCollector>(options); };
}

}  // namespace sidecar
