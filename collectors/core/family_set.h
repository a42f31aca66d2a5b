#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "collectors/core/metric_family_builder.h"
#include "collectors/core/series_family.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// The families of one exposition, each name once: families of the same name from several
// collectors (one type, different "collector" labels) are joined, in time linear in the number
// of families. A family whose type differs from the one already held under its name cannot be
// exposed next to it and is refused.
//
// Not thread-safe; belongs to one gather.
class FamilySet {
 public:
  // Adds `family`, joining it to the held family of that name. False, leaving `family` out,
  // when that family has another type.
  bool Add(prometheus::MetricFamily family);

  // Adds every family; returns the number of series refused for a type clash.
  std::size_t AddAll(std::vector<prometheus::MetricFamily> families);

  // As Add and AddAll, for families in the compact form: they are not copied but held by
  // pointer (they must outlive the set's use), joined to the family of their name, which they
  // create (with no series of its own) when it is new.
  bool Add(const SeriesFamily& family);
  std::size_t AddAll(const std::vector<SeriesFamily>& families);

  bool Contains(std::string_view name) const { return index_.contains(std::string(name)); }
  std::size_t size() const { return families_.size(); }
  const std::vector<prometheus::MetricFamily>& families() const { return families_; }
  // The compact families joined to each family, by the family's index.
  const std::vector<std::vector<const SeriesFamily*>>& series() const { return series_; }

  // Adds `labels` to every series that does not already have a label of that name.
  void AddConstLabels(const LabelPairs& labels);

  // Hands the families over, in the order their names were first added (series() stays).
  std::vector<prometheus::MetricFamily> Take() &&;

 private:
  std::vector<prometheus::MetricFamily> families_;
  std::vector<std::vector<const SeriesFamily*>> series_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace sidecar
