#include "tests/support/families.h"

namespace sidecar::testing {

std::map<std::string, double> FirstValues(const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::string, double> values;
  for (const auto& family : families) {
    const auto& metric = family.metric.at(0);
    values[family.name] =
        family.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
  }
  return values;
}

}  // namespace sidecar::testing
