#pragma once

#include <map>
#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace sidecar::testing {

// Family name -> value of its first series (counter or gauge), for collectors whose families
// hold one series each.
std::map<std::string, double> FirstValues(const std::vector<prometheus::MetricFamily>& families);

}  // namespace sidecar::testing
