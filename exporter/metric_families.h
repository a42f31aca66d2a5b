#pragma once

#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace sidecar {

// The text exposition format 0.0.4, without timestamps.
std::string SerializeText(const std::vector<prometheus::MetricFamily>& families);

inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace sidecar
