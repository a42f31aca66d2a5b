#pragma once

#include "collectors/core/collector_type.h"
#include "collectors/core/config_decoder.h"

namespace sidecar {

// Decodes the options of an `access_log` collector (access logs on a shared volume) into a
// factory of AccessLogCollector. The log format, the regex, the path rewrites, the labels and
// the buckets are all checked here, so that `--config.check` reports them at their field.
CollectorFactory DecodeAccessLog(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
