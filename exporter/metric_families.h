#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/merged_family.h"
#include "collectors/core/metric_family_builder.h"
#include "collectors/core/name_index.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// The merged families of one name and type, in the order added. Most names come from one
// collector: the first family is held without an allocation.
class MergedGroup {
 public:
  explicit MergedGroup(const MergedFamily* first) : first_(first) {}
  void Add(const MergedFamily* family) { more_.push_back(family); }
  const MergedFamily& front() const { return *first_; }
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    visit(*first_);
    for (const MergedFamily* family : more_) visit(*family);
  }

 private:
  const MergedFamily* first_;
  std::vector<const MergedFamily*> more_;
};

// The families merged from main containers' own expositions in one scrape, grouped by name.
// The exporter's own names are reserved: a merged family that would expose one of them (or any
// name starting with "sidecar_exporter_") is refused, so the exporter's series never change
// meaning or turn into duplicates. Families of the same name and type from several collectors
// are joined (their `labels` tell them apart); one of another type is refused.
//
// Not thread-safe; belongs to one gather. Holds pointers into the CollectResults that own the
// families: they must outlive it.
class MergedFamilySet {
 public:
  enum class Outcome { kAdded, kNameClash, kTypeClash };

  // `own` are the exporter's families of this scrape.
  explicit MergedFamilySet(const std::vector<prometheus::MetricFamily>& own);
  MergedFamilySet(const MergedFamilySet&) = delete;
  MergedFamilySet& operator=(const MergedFamilySet&) = delete;

  // Room for `families` more without growing.
  void Reserve(std::size_t families);
  Outcome Add(const MergedFamily& family);

  // Each group holds families of one name and type, in the order first added.
  const std::vector<MergedGroup>& groups() const { return groups_; }
  // Hands the groups over (a copy would allocate each again).
  std::vector<MergedGroup> TakeGroups() && { return std::move(groups_); }

 private:
  // What is known under one name: which of the names a merged family of that name would expose
  // (bit i for ExposedSuffixes' i-th suffix) are the exporter's own, and the group, if any.
  struct Entry {
    std::uint8_t reserved = 0;
    std::size_t group = kNoGroup;
  };
  static constexpr std::size_t kNoGroup = static_cast<std::size_t>(-1);

  // The names the exporter's own families expose; the keys of their entries point into them.
  std::vector<std::string> reserved_names_;
  // One look-up per family answers both questions: clash and group.
  NameIndex<Entry> index_;
  std::vector<MergedGroup> groups_;
};

// Everything one scrape exposes.
struct Gathered {
  std::vector<prometheus::MetricFamily> families;
  // The compact families joined to each of `families`, by its index (FamilySet::series()).
  std::vector<std::vector<const SeriesFamily*>> series;
  // Owners of the merged and compact families.
  std::vector<std::shared_ptr<const CollectResult>> results;
  std::vector<MergedGroup> merged;
  // Added, when serialised, to every series that lacks a label of that name.
  LabelPairs const_labels;
};

// The text exposition format 0.0.4 (as prometheus::TextSerializer writes it, see AppendText in
// text_writer.h). The exporter's own series carry no timestamps; merged series keep the ones their
// source gave.
std::string SerializeText(const std::vector<prometheus::MetricFamily>& families);
std::string SerializeText(const Gathered& gathered);
// Appends what SerializeText(gathered) returns to `out`, so that a caller can reuse its buffer.
void AppendText(const Gathered& gathered, std::string& out);

inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace sidecar
