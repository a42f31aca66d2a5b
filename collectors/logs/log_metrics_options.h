#pragma once

#include <string_view>

#include "collectors/core/collector_type.h"
#include "collectors/core/config_decoder.h"
#include "collectors/logs/log_metrics_collector.h"

namespace sidecar {

// Decodes the options of a `log_metrics` collector (metrics defined over any log lines) into a
// factory of LogMetricsCollector. The format, every metric definition (name, type, labels, value,
// buckets, match, where) and the multiline options are checked here, so that `--config.check`
// reports each at its field.
CollectorFactory DecodeLogMetrics(FieldDecoder& fields, const CollectorDefaults& defaults);

// Fills the format and the metrics of a preset ("nginx_error", "apache_error") into `options`.
// False for an unknown name.
bool ApplyLogMetricsPreset(std::string_view preset, LogMetricsCollectorOptions& options);

}  // namespace sidecar
