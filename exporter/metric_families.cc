#include "exporter/metric_families.h"

#include <span>

#include "exporter/text_writer.h"

namespace sidecar {
namespace {

const char* TypeName(prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Histogram:
      return "histogram";
    case prometheus::MetricType::Summary:
      return "summary";
    default:
      return "untyped";
  }
}

}  // namespace

MergedFamilySet::MergedFamilySet(const std::vector<prometheus::MetricFamily>& own) {
  for (const auto& family : own) {
    for (const std::string_view suffix : ExposedSuffixes(family.type)) {
      reserved_names_.push_back(family.name + std::string(suffix));
    }
  }
  // A merged family `base` of a type whose i-th suffix makes it expose `name` clashes with it:
  // each reserved name marks every base it can be made of.
  const std::span<const std::string_view> suffixes =
      ExposedSuffixes(prometheus::MetricType::Histogram);  // all of them
  for (const std::string& name : reserved_names_) {
    for (std::size_t i = 0; i < suffixes.size(); ++i) {
      if (!name.ends_with(suffixes[i])) continue;
      const std::string_view base =
          std::string_view(name).substr(0, name.size() - suffixes[i].size());
      index_.FindOrAdd(base).first->reserved |= static_cast<std::uint8_t>(1U << i);
    }
  }
}

void MergedFamilySet::Reserve(std::size_t families) {
  index_.Reserve(index_.size() + families);
  groups_.reserve(groups_.size() + families);
}

MergedFamilySet::Outcome MergedFamilySet::Add(const MergedFamily& family) {
  if (family.name.starts_with("sidecar_exporter_")) return Outcome::kNameClash;
  Entry& entry = *index_.FindOrAdd(family.name).first;
  const std::size_t exposed = ExposedSuffixes(family.type).size();
  if ((entry.reserved & ((1U << exposed) - 1)) != 0) return Outcome::kNameClash;
  if (entry.group == kNoGroup) {
    entry.group = groups_.size();
    groups_.emplace_back(&family);
    return Outcome::kAdded;
  }
  MergedGroup& group = groups_[entry.group];
  if (group.front().type != family.type) return Outcome::kTypeClash;
  group.Add(&family);
  return Outcome::kAdded;
}

std::string SerializeText(const std::vector<prometheus::MetricFamily>& families) {
  std::string text;
  AppendText(families, {}, text);
  return text;
}

std::string SerializeText(const Gathered& gathered) {
  std::string text;
  AppendText(gathered, text);
  return text;
}

void AppendText(const Gathered& gathered, std::string& text) {
  AppendText(gathered.families, gathered.series, gathered.const_labels, text);
  for (const MergedGroup& group : gathered.merged) {
    const MergedFamily& first = group.front();
    std::string_view help = first.help;
    group.ForEach([&help](const MergedFamily& family) {
      if (help.empty()) help = family.help;
    });
    if (!help.empty()) {
      text += "# HELP ";
      text += first.name;
      text += ' ';
      text += help;
      text += '\n';
    }
    text += "# TYPE ";
    text += first.name;
    text += ' ';
    text += TypeName(first.type);
    text += '\n';
    group.ForEach(
        [&](const MergedFamily& family) { AppendSamples(family, gathered.const_labels, text); });
  }
}

}  // namespace sidecar
