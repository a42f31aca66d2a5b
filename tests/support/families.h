#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace sidecar::testing {

// Family name -> value of its first series (counter or gauge), for collectors whose families
// hold one series each.
std::map<std::string, double> FirstValues(const std::vector<prometheus::MetricFamily>& families);

using Labels = std::map<std::string, std::string>;

// The value of the first series of `name` whose labels include `labels` (a histogram's sample
// count); nullopt when absent.
std::optional<double> SeriesValue(const std::vector<prometheus::MetricFamily>& families,
                                  const std::string& name, const Labels& labels = {});

}  // namespace sidecar::testing
