#include "collectors/core/metric_family_builder.h"

#include <limits>

namespace sidecar {

MetricFamilyBuilder& MetricFamilyBuilder::AddHistogram(const std::vector<double>& upper_bounds,
                                                       const std::vector<std::uint64_t>& counts,
                                                       double sum, Labels labels) {
  FillHistogram(NewMetric(labels), upper_bounds, counts, sum);
  return *this;
}

void MetricFamilyBuilder::SetValue(prometheus::ClientMetric& metric, double value) const {
  switch (family_.type) {
    case prometheus::MetricType::Counter:
      metric.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
}

void FillHistogram(prometheus::ClientMetric& metric, const std::vector<double>& upper_bounds,
                   const std::vector<std::uint64_t>& counts, double sum) {
  std::uint64_t cumulative = 0;
  metric.histogram.bucket.clear();
  metric.histogram.bucket.reserve(counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    metric.histogram.bucket.push_back({cumulative, i < upper_bounds.size()
                                                       ? upper_bounds[i]
                                                       : std::numeric_limits<double>::infinity()});
  }
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum = sum;
}

}  // namespace sidecar
