// libFuzzer target: any bytes as access-log lines, through every format kind (logfmt included) and
// into the request metrics. The main container may write anything; the parser must never crash.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"
#include "collectors/logs/request_metrics.h"

namespace {

using sidecar::accesslog::LogFormat;
using sidecar::accesslog::LogFormatKind;

struct Pipeline {
  std::unique_ptr<LogFormat> format;
  std::unique_ptr<sidecar::accesslog::RequestMetrics> metrics;
};

Pipeline Make(LogFormatKind kind, std::string_view text) {
  sidecar::accesslog::FormatError format_error;
  Pipeline pipeline;
  pipeline.format = LogFormat::Compile(kind, text, {}, format_error);
  if (!pipeline.format) __builtin_trap();
  sidecar::accesslog::RequestMetricsOptions options;
  options.collector = "fuzz";
  options.fields = pipeline.format->fields();
  options.labels = {"method", "status"};
  if (options.fields.Has(sidecar::accesslog::Field::kPath)) {
    options.labels.push_back("path");
    options.path_rewrites = {{R"(/\d+)", "/:id"}};
  }
  options.series_limit = 50;
  sidecar::accesslog::OptionsError metrics_error;
  pipeline.metrics = sidecar::accesslog::RequestMetrics::Create(options, metrics_error);
  if (!pipeline.metrics) __builtin_trap();
  return pipeline;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Pipeline pipelines[] = {
      Make(LogFormatKind::kNginx, "combined"),
      Make(
          LogFormatKind::kNginx,
          R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time $upstream_status $upstream_addr)"),
      Make(LogFormatKind::kApache, "combined"),
      Make(LogFormatKind::kApache, R"(%h %l %u %t "%r" %>s %b %D %{ms}T "%{Referer}i")"),
      Make(LogFormatKind::kJson, ""),
      Make(LogFormatKind::kLogfmt, ""),
      Make(
          LogFormatKind::kRegex,
          R"re(^(?P<remote_addr>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d+) (?P<body_bytes_sent>\d+|-))re"),
  };
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  sidecar::accesslog::LogRecord record;
  for (Pipeline& pipeline : pipelines) {
    if (pipeline.format->Parse(input, record)) pipeline.metrics->Observe(record);
  }
  return 0;
}
