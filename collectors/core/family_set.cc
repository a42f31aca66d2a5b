#include "collectors/core/family_set.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace sidecar {

bool FamilySet::Add(prometheus::MetricFamily family) {
  const auto [it, inserted] = index_.try_emplace(family.name, families_.size());
  if (inserted) {
    families_.push_back(std::move(family));
    series_.emplace_back();
    return true;
  }
  prometheus::MetricFamily& held = families_[it->second];
  if (held.type != family.type) return false;
  held.metric.reserve(held.metric.size() + family.metric.size());
  std::move(family.metric.begin(), family.metric.end(), std::back_inserter(held.metric));
  return true;
}

std::size_t FamilySet::AddAll(std::vector<prometheus::MetricFamily> families) {
  std::size_t refused = 0;
  for (auto& family : families) {
    const std::size_t series = family.metric.size();
    if (!Add(std::move(family))) refused += series;
  }
  return refused;
}

bool FamilySet::Add(const SeriesFamily& family) {
  const auto [it, inserted] = index_.try_emplace(family.name, families_.size());
  if (inserted) {
    prometheus::MetricFamily& held = families_.emplace_back();
    held.name = family.name;
    held.help = family.help;
    held.type = family.type;
    series_.push_back({&family});
    return true;
  }
  if (families_[it->second].type != family.type) return false;
  series_[it->second].push_back(&family);
  return true;
}

std::size_t FamilySet::AddAll(const std::vector<SeriesFamily>& families) {
  std::size_t refused = 0;
  for (const SeriesFamily& family : families) {
    if (!Add(family)) refused += family.size();
  }
  return refused;
}

void FamilySet::AddConstLabels(const LabelPairs& labels) {
  if (labels.empty()) return;
  for (auto& family : families_) {
    for (auto& metric : family.metric) {
      for (const auto& [name, value] : labels) {
        const bool present = std::any_of(
            metric.label.begin(), metric.label.end(),
            [&label_name = name](const auto& existing) { return existing.name == label_name; });
        if (!present) metric.label.push_back({name, value});
      }
    }
  }
}

std::vector<prometheus::MetricFamily> FamilySet::Take() && {
  index_.clear();
  return std::move(families_);
}

}  // namespace sidecar
