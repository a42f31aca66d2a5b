#include "exporter/metric_families.h"

#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "prometheus/text_serializer.h"

namespace sidecar {

void MergeFamilies(std::vector<prometheus::MetricFamily>& into,
                   std::vector<prometheus::MetricFamily> from) {
  for (auto& family : from) {
    auto existing = std::find_if(into.begin(), into.end(),
                                 [&](const auto& other) { return other.name == family.name; });
    if (existing == into.end()) {
      into.push_back(std::move(family));
    } else {
      std::move(family.metric.begin(), family.metric.end(), std::back_inserter(existing->metric));
    }
  }
}

void AddConstLabels(std::vector<prometheus::MetricFamily>& families,
                    const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return;
  for (auto& family : families) {
    for (auto& metric : family.metric) {
      for (const auto& label : labels) {
        const bool present =
            std::any_of(metric.label.begin(), metric.label.end(),
                        [&label](const auto& existing) { return existing.name == label.first; });
        if (!present) metric.label.push_back({label.first, label.second});
      }
    }
  }
}

std::string SerializeText(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace sidecar
