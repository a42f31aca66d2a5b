#include "exporter/metric_families.h"

#include <sstream>

#include "prometheus/text_serializer.h"

namespace sidecar {

std::string SerializeText(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace sidecar
