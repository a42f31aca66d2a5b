#include "collectors/logs/log_metrics_collector.h"

#include <stdexcept>
#include <utility>

#include "collectors/core/metric_family_builder.h"

namespace sidecar {

std::unique_ptr<accesslog::LogFormat> CompileLogMetricsFormat(
    const LogMetricsCollectorOptions& options, accesslog::FormatError& error) {
  accesslog::LogFormatOptions format_options;
  format_options.keys_as_named = true;
  return accesslog::LogFormat::Compile(*options.format_kind, options.format, format_options, error);
}

LogMetricsCollector::LogMetricsCollector(LogMetricsCollectorOptions options)
    : LogMetricsCollector(std::move(options), nullptr) {}

LogMetricsCollector::LogMetricsCollector(LogMetricsCollectorOptions options,
                                         std::unique_ptr<Waker> waker)
    : options_(std::move(options)) {
  const std::string prefix = "log_metrics " + options_.name + ": ";
  if (options_.format_kind) {
    accesslog::FormatError error;
    format_ = CompileLogMetricsFormat(options_, error);
    if (!format_) throw std::invalid_argument(prefix + "invalid format: " + error.message);
  }
  logmetrics::LogMetricsOptions metrics_options = options_.metrics;
  metrics_options.collector = options_.name;
  metrics_options.has_fields = format_ != nullptr;
  logmetrics::DefinitionError error;
  metrics_ = logmetrics::LogMetrics::Create(std::move(metrics_options), error);
  if (!metrics_) throw std::invalid_argument(prefix + error.key + ": " + error.message);
  if (options_.multiline) {
    try {
      joiner_ = std::make_unique<MultilineJoiner>(*options_.multiline);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(prefix + "multiline: " + e.what());
    }
    record_sink_ = [this](std::string_view /*path*/, std::string_view record) {
      return HandleRecord(record);
    };
  }
  CreatePipeline(
      TailPipelineOptions{"log_metrics", options_.name, options_.tailer, options_.poll_interval},
      std::move(waker));
}

LogMetricsCollector::~LogMetricsCollector() {
  // The tail thread uses the format, the joiner and the metrics: stop it before they go.
  StopPipeline();
}

bool LogMetricsCollector::HandleRecord(std::string_view record) {
  if (!format_) {
    metrics_->Observe(record, nullptr);
    return true;
  }
  const bool parsed = format_->Parse(record, record_);
  // Metrics that need no field still see a record the format refused.
  metrics_->Observe(record, parsed ? &record_ : nullptr);
  return parsed;
}

bool LogMetricsCollector::HandleLine(std::string_view path, std::string_view line) {
  if (joiner_) return joiner_->Feed(path, line, record_sink_);
  return HandleRecord(line);
}

void LogMetricsCollector::AfterPoll(std::chrono::steady_clock::time_point now,
                                    const std::function<void(std::string_view path)>& parse_error) {
  if (joiner_) joiner_->Flush(now, record_sink_, parse_error);
}

std::vector<prometheus::MetricFamily> LogMetricsCollector::CollectFamilies() {
  std::vector<prometheus::MetricFamily> families = metrics_->Collect();
  if (!joiner_) return families;
  const MultilineStats stats = joiner_->stats();
  const LabelPairs collector_label = {{"collector", options_.name}};
  struct Counter {
    const char* name;
    const char* help;
    std::uint64_t value;
    const char* reason;  // the `reason` label, or null
  };
  // Counters of one family (same name) are consecutive.
  const Counter counters[] = {
      {"sidecar_exporter_log_multiline_records_total",
       "Records the multiline joiner handed to the metrics (a start line with its continuation "
       "lines).",
       stats.records, nullptr},
      {"sidecar_exporter_log_multiline_timeouts_total",
       "Multiline records completed by the flush timeout rather than by the next start line.",
       stats.flushed_by_timeout, nullptr},
      {"sidecar_exporter_log_multiline_lines_dropped_total",
       "Lines left out of (or cut in) a multiline record because it reached max_lines or "
       "max_bytes.",
       stats.lines_over_max_lines, "max_lines"},
      {"sidecar_exporter_log_multiline_lines_dropped_total", "", stats.lines_over_max_bytes,
       "max_bytes"},
      {"sidecar_exporter_log_multiline_orphan_lines_total",
       "Lines that matched no multiline start and followed no open record; each was taken as a "
       "record of its own.",
       stats.orphan_lines, nullptr},
  };
  for (std::size_t i = 0; i < std::size(counters);) {
    MetricFamilyBuilder family(counters[i].name, counters[i].help, prometheus::MetricType::Counter,
                               collector_label);
    const std::string_view name = counters[i].name;
    for (; i < std::size(counters) && counters[i].name == name; ++i) {
      if (counters[i].reason != nullptr) {
        family.Add(static_cast<double>(counters[i].value), {{"reason", counters[i].reason}});
      } else {
        family.Add(static_cast<double>(counters[i].value));
      }
    }
    families.push_back(family.Build());
  }
  return families;
}

}  // namespace sidecar
