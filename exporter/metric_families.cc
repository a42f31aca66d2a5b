#include "exporter/metric_families.h"

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
      reserved_.insert(family.name + std::string(suffix));
    }
  }
}

MergedFamilySet::Outcome MergedFamilySet::Add(const MergedFamily& family) {
  if (family.name.starts_with("sidecar_exporter_")) return Outcome::kNameClash;
  // Each exposed name is put together in one reused string: thousands of families a scrape.
  for (const std::string_view suffix : ExposedSuffixes(family.type)) {
    scratch_.assign(family.name);
    scratch_ += suffix;
    if (reserved_.contains(scratch_)) return Outcome::kNameClash;
  }
  const auto [it, inserted] = index_.try_emplace(family.name, groups_.size());
  if (inserted) {
    groups_.push_back({&family});
    return Outcome::kAdded;
  }
  std::vector<const MergedFamily*>& group = groups_[it->second];
  if (group.front()->type != family.type) return Outcome::kTypeClash;
  group.push_back(&family);
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
  for (const auto& group : gathered.merged) {
    const MergedFamily& first = *group.front();
    std::string_view help = first.help;
    for (const MergedFamily* family : group) {
      if (help.empty()) help = family->help;
    }
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
    for (const MergedFamily* family : group) AppendSamples(*family, gathered.const_labels, text);
  }
}

}  // namespace sidecar
