#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prometheus/metric_family.h"

namespace sidecar {

// The label sets of a collector's series, each kept as the text format writes it inside braces
// (`collector="web",method="GET",path="/a\"b"`: values escaped), one after the other. Built by
// the collector when its series change and shared, immutable, by the families and scrapes that
// use it.
class SeriesLabels {
 public:
  // Appends a series whose label pairs are `escaped` (as above; empty for none).
  void Add(std::string_view escaped);
  std::size_t size() const { return ends_.size(); }
  std::string_view operator[](std::size_t series) const {
    const std::size_t begin = series == 0 ? 0 : ends_[series - 1];
    return std::string_view(text_).substr(begin, ends_[series] - begin);
  }

 private:
  std::string text_;
  std::vector<std::size_t> ends_;
};

// A family of the exporter's own with many series (an access log's method × status × path),
// held in a compact form instead of a prometheus::MetricFamily: label sets already escaped and
// shared with the collector, values in flat arrays. A scrape writes it straight into the text
// exposition, the same bytes as TextSerializer writes for the equivalent MetricFamily (see
// ToMetricFamily), without building a string per label of each series and scrape.
//
// Immutable once built; safe to read from any thread.
struct SeriesFamily {
  std::string name;
  // Counter, Gauge, Untyped or Histogram.
  prometheus::MetricType type = prometheus::MetricType::Untyped;
  std::string help;
  // Series i has the labels (*labels)[i]; there are values.size() series.
  std::shared_ptr<const SeriesLabels> labels;
  // Histogram only: the buckets' upper bounds, increasing, the last one +Inf.
  std::vector<double> bounds;
  // Per series: the value (counter, gauge, untyped) or the sum of the observations (histogram).
  std::vector<double> values;
  // Histogram only, per series: the cumulative count of each bucket of `bounds` (the last, +Inf,
  // is the series' count).
  std::vector<std::uint64_t> counts;

  std::size_t size() const { return values.size(); }
  // The bucket counts of histogram series `series`.
  const std::uint64_t* SeriesCounts(std::size_t series) const {
    return counts.data() + series * bounds.size();
  }
};

// The value of label `name` in `escaped` label pairs (see SeriesLabels), unescaped; nullopt when
// the series has no such label.
std::optional<std::string> LabelValueOf(std::string_view escaped, std::string_view name);

// The same family in prometheus-cpp's model (label values unescaped), for readers that work on
// that model: the status page, tests.
prometheus::MetricFamily ToMetricFamily(const SeriesFamily& family);

}  // namespace sidecar
