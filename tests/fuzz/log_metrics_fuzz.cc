// libFuzzer target for type: log_metrics. The input is a configuration file, then "\n---\n",
// then log lines. The configuration goes through the metric-definition decoding (and, when it is
// valid, builds the collectors, which compiles every format and definition); the lines go through
// logfmt and the nginx_error preset's regex, the multiline joiner and metrics with labels, values,
// `where` and a tiny series limit. Nothing may crash, whatever either part holds.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_metrics.h"
#include "collectors/logs/log_metrics_collector.h"
#include "collectors/logs/log_metrics_options.h"
#include "collectors/logs/multiline_joiner.h"
#include "exporter/config.h"

namespace {

using sidecar::accesslog::LogFormat;
using sidecar::accesslog::LogFormatKind;
using sidecar::logmetrics::LogMetrics;
using sidecar::logmetrics::MetricDefinition;
using sidecar::logmetrics::MetricKind;

struct Pipeline {
  std::unique_ptr<LogFormat> format;
  std::unique_ptr<LogMetrics> metrics;
};

Pipeline Make(LogFormatKind kind, std::string_view pattern,
              std::vector<MetricDefinition> definitions) {
  sidecar::accesslog::LogFormatOptions format_options;
  format_options.keys_as_named = true;
  sidecar::accesslog::FormatError format_error;
  Pipeline pipeline;
  pipeline.format = LogFormat::Compile(kind, pattern, format_options, format_error);
  if (!pipeline.format) __builtin_trap();
  sidecar::logmetrics::LogMetricsOptions options;
  options.collector = "fuzz";
  options.metrics = std::move(definitions);
  options.series_limit = 8;
  sidecar::logmetrics::DefinitionError error;
  pipeline.metrics = LogMetrics::Create(options, error);
  if (!pipeline.metrics) __builtin_trap();
  return pipeline;
}

MetricDefinition Define(std::string name, MetricKind kind, std::vector<std::string> labels,
                        std::string value, std::string match) {
  MetricDefinition metric = sidecar::logmetrics::DefineMetric(
      std::move(name), kind, {}, std::move(labels), std::move(value), std::move(match));
  if (kind == MetricKind::kHistogram) metric.buckets = {0.1, 1, 10};
  return metric;
}

Pipeline MakeLogfmt() {
  MetricDefinition where = Define("where_total", MetricKind::kCounter, {}, {}, {});
  where.where = {{"level", "error"}};
  return Make(LogFormatKind::kLogfmt, "",
              {Define("lines_total", MetricKind::kCounter, {"level", "msg"}, {}, {}),
               Define("bytes_total", MetricKind::kCounter, {}, "bytes", "bytes="),
               Define("last", MetricKind::kGauge, {"job"}, "queue", {}),
               Define("seconds", MetricKind::kHistogram, {}, "duration", {}), where});
}

Pipeline MakePreset() {
  sidecar::LogMetricsCollectorOptions options;
  if (!sidecar::ApplyLogMetricsPreset("nginx_error", options)) __builtin_trap();
  return Make(*options.format_kind, options.format, options.metrics.metrics);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Pipeline pipelines[] = {MakeLogfmt(), MakePreset()};
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find("\n---\n");
  const std::string_view config = input.substr(0, split);
  const std::string_view lines =
      split == std::string_view::npos ? std::string_view() : input.substr(split + 5);

  const sidecar::ConfigLoad load = sidecar::ParseConfig(config, "fuzz.yaml");
  if (load.config.has_value() == !load.errors.empty()) __builtin_trap();
  if (load.config) {
    for (const auto& collector : load.config->collectors) {
      // Construction compiles and validates without touching files; a decoded config must build.
      try {
        if (!collector.factory()) __builtin_trap();
      } catch (const std::exception&) {
        // Collectors of other types may check what only they can (files) at construction.
      }
    }
  }

  sidecar::MultilineJoiner joiner(
      sidecar::MultilineOptions{R"(^\d{4})", 4, 512, std::chrono::milliseconds(1)});
  sidecar::accesslog::LogRecord record;
  const auto feed = [&](std::string_view /*path*/, std::string_view text) {
    for (Pipeline& pipeline : pipelines) {
      const bool parsed = pipeline.format->Parse(text, record);
      pipeline.metrics->Observe(text, parsed ? &record : nullptr);
    }
    return true;
  };
  std::size_t start = 0;
  while (start <= lines.size() && !lines.empty()) {
    std::size_t end = lines.find('\n', start);
    if (end == std::string_view::npos) end = lines.size();
    joiner.Feed("f", lines.substr(start, end - start), feed);
    start = end + 1;
  }
  joiner.Flush(std::chrono::steady_clock::now(), feed, [](std::string_view) {});
  joiner.Flush(std::chrono::steady_clock::now() + std::chrono::seconds(1), feed,
               [](std::string_view) {});
  for (Pipeline& pipeline : pipelines) pipeline.metrics->Collect();
  return 0;
}
