#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// Label name/value pairs in the order they are exported.
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// The one way collectors build a prometheus::MetricFamily: every series gets the builder's base
// labels (a collector's "collector" label, the labels a user configured) followed by its own.
//
// Not thread-safe; a builder belongs to one Collect() call.
class MetricFamilyBuilder {
 public:
  using Labels = std::initializer_list<std::pair<std::string, std::string>>;

  MetricFamilyBuilder(std::string name, std::string help, prometheus::MetricType type,
                      LabelPairs base_labels = {})
      : base_labels_(std::move(base_labels)) {
    family_.name = std::move(name);
    family_.help = std::move(help);
    family_.type = type;
  }

  // Adds a counter, gauge or untyped series, as the family's type says.
  MetricFamilyBuilder& Add(double value, Labels labels = {}) {
    SetValue(NewMetric(labels), value);
    return *this;
  }

  // Adds a histogram series from per-bucket (not cumulative) counts; `counts` has one more entry
  // than `upper_bounds`, for +Inf.
  MetricFamilyBuilder& AddHistogram(const std::vector<double>& upper_bounds,
                                    const std::vector<std::uint64_t>& counts, double sum,
                                    Labels labels = {});

  // Appends a series with the base labels and `labels`, for values or labels known only at run
  // time (append more labels to the result, then set its value).
  prometheus::ClientMetric& NewMetric(Labels labels = {}) {
    prometheus::ClientMetric& metric = family_.metric.emplace_back();
    metric.label.reserve(base_labels_.size() + labels.size());
    for (const auto& [name, value] : base_labels_) metric.label.push_back({name, value});
    for (const auto& [name, value] : labels) metric.label.push_back({name, value});
    return metric;
  }

  // Sets the value of a series made by NewMetric(), as the family's type says.
  void SetValue(prometheus::ClientMetric& metric, double value) const;

  bool empty() const { return family_.metric.empty(); }

  // Hands the family over; the builder is empty afterwards.
  prometheus::MetricFamily Build() { return std::move(family_); }

 private:
  prometheus::MetricFamily family_;
  LabelPairs base_labels_;
};

// Fills `metric`'s histogram from per-bucket counts (one more than `upper_bounds`, for +Inf).
void FillHistogram(prometheus::ClientMetric& metric, const std::vector<double>& upper_bounds,
                   const std::vector<std::uint64_t>& counts, double sum);

}  // namespace sidecar
