#include "collectors/logs/access_log_collector.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sidecar {
namespace {

using accesslog::FormatError;
using accesslog::LogFormat;
using accesslog::RequestMetrics;

std::unique_ptr<LogFormat> CompileFormat(const AccessLogOptions& options) {
  FormatError error;
  std::unique_ptr<LogFormat> format =
      LogFormat::Compile(options.format_kind, options.format, options.format_options, error);
  if (!format) {
    throw std::invalid_argument("access_log " + options.name + ": invalid " +
                                std::string(accesslog::LogFormatKindName(options.format_kind)) +
                                " format: " + error.message);
  }
  return format;
}

std::unique_ptr<RequestMetrics> CreateMetrics(const AccessLogOptions& options,
                                              accesslog::FieldSet fields) {
  accesslog::RequestMetricsOptions metrics_options = options.metrics;
  metrics_options.collector = options.name;
  metrics_options.fields = fields;
  accesslog::OptionsError error;
  std::unique_ptr<RequestMetrics> metrics = RequestMetrics::Create(metrics_options, error);
  if (!metrics) {
    throw std::invalid_argument("access_log " + options.name + ": " + error.option + ": " +
                                error.message);
  }
  return metrics;
}

}  // namespace

AccessLogCollector::AccessLogCollector(AccessLogOptions options)
    : AccessLogCollector(std::move(options), nullptr) {}

AccessLogCollector::AccessLogCollector(AccessLogOptions options, std::unique_ptr<Waker> waker)
    : options_(std::move(options)) {
  format_ = CompileFormat(options_);
  metrics_ = CreateMetrics(options_, format_->fields());
  CreatePipeline(
      TailPipelineOptions{"access_log", options_.name, options_.tailer, options_.poll_interval},
      std::move(waker));
}

AccessLogCollector::~AccessLogCollector() {
  // The tail thread uses the format and metrics: stop it before they go.
  StopPipeline();
}

bool AccessLogCollector::HandleLine(std::string_view /*path*/, std::string_view line) {
  if (!format_->Parse(line, record_)) {
    return false;
  }
  metrics_->Observe(record_);
  return true;
}

std::vector<prometheus::MetricFamily> AccessLogCollector::CollectFamilies() {
  return {metrics_->CollectDropped()};
}

std::vector<SeriesFamily> AccessLogCollector::CollectSeriesFamilies() {
  return metrics_->CollectSeries();
}

}  // namespace sidecar
