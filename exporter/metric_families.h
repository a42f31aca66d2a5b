#pragma once

#include <string>
#include <utility>
#include <vector>

#include "prometheus/metric_family.h"

namespace sidecar {

// Moves the families of `from` into `into`, joining families of the same name (several
// collectors of one type export the same family with different "collector" labels; the text
// format wants each family once).
void MergeFamilies(std::vector<prometheus::MetricFamily>& into,
                   std::vector<prometheus::MetricFamily> from);

// Adds `labels` to every series that does not already have a label of that name.
void AddConstLabels(std::vector<prometheus::MetricFamily>& families,
                    const std::vector<std::pair<std::string, std::string>>& labels);

// The text exposition format 0.0.4, without timestamps.
std::string SerializeText(const std::vector<prometheus::MetricFamily>& families);

inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace sidecar
