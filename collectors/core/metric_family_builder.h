#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// Builds one prometheus::MetricFamily with less ceremony than filling the structs by hand.
class MetricFamilyBuilder {
 public:
  using Labels = std::initializer_list<std::pair<std::string, std::string>>;

  MetricFamilyBuilder(std::string name, std::string help, prometheus::MetricType type) {
    family_.name = std::move(name);
    family_.help = std::move(help);
    family_.type = type;
  }

  MetricFamilyBuilder& Add(double value, Labels labels = {}) {
    prometheus::ClientMetric& metric = NewMetric(labels);
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
    return *this;
  }

  // Appends a metric and returns it, for histograms and for labels built at run time.
  prometheus::ClientMetric& NewMetric(Labels labels = {}) {
    prometheus::ClientMetric& metric = family_.metric.emplace_back();
    for (const auto& [name, value] : labels) {
      metric.label.push_back({name, value});
    }
    return metric;
  }

  // Hands the family over; the builder is empty afterwards.
  prometheus::MetricFamily Build() { return std::move(family_); }

 private:
  prometheus::MetricFamily family_;
};

}  // namespace sidecar
