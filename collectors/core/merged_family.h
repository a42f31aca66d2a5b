#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/metric_family_builder.h"
#include "prometheus/metric_type.h"

namespace sidecar {

// One sample of a MergedFamily: where its line and its label pairs are in the family's `text`.
struct MergedSample {
  std::uint32_t line_offset = 0;
  // The label pairs between the braces (`a="x",le="0.5"`, values escaped), extra labels included;
  // when there are none, 0 bytes where the braces would open (after the name) and no braces.
  std::uint32_t labels_offset = 0;
  std::uint32_t labels_size = 0;
};

// The sample lines of all the families of one exposition, in one buffer: a family's lines are
// one stretch of `text`, its samples one stretch of `samples`, its name and HELP parts of `names`.
struct MergedLines {
  std::string text;
  std::vector<MergedSample> samples;
  std::string names;
};

// A family taken from another exposition (the main container's own /metrics) and passed through
// as the source wrote it: sample names, label sets, values and timestamps exactly as scraped, so
// that Prometheus stores the same series as if it scraped the source itself. Kept apart from
// prometheus::MetricFamily because that model cannot hold what a source may write (label values
// of `le` as written, timestamps in the exposition, a histogram's parts as given), and because
// lines written once, at parse time, into one buffer for the whole exposition cost one copy per
// family and scrape instead of a model built, serialised and freed sample by sample.
//
// Immutable once built; safe to read from any thread.
struct MergedFamily {
  // The family name of the text format 0.0.4 (an OpenMetrics counter "x" becomes "x_total").
  // A part of `lines` (or of storage the builder keeps alive), as the views below.
  std::string_view name;
  prometheus::MetricType type = prometheus::MetricType::Untyped;
  // Escaped for a `# HELP` line of the text format 0.0.4; empty when the source gave none.
  std::string_view help;
  // The samples' lines, ready to serve: text format 0.0.4, the collector's labels added, each
  // line ending in a newline. HELP and TYPE lines are not in it. A part of `lines`.
  std::string_view text;
  // Offsets relative to `text`. A part of `lines`.
  std::span<const MergedSample> samples;
  // Owner of `text` and `samples`, shared by the families of one exposition.
  std::shared_ptr<const MergedLines> lines;

  std::string_view SampleLabels(const MergedSample& sample) const {
    return text.substr(sample.labels_offset, sample.labels_size);
  }
};

// What a family of `type` appends to its name for the metric names it writes in the text format
// 0.0.4 ("" for its name itself; `_sum`, `_count` for a summary, and `_bucket` too for a
// histogram), so that clashes with other families are found.
std::span<const std::string_view> ExposedSuffixes(prometheus::MetricType type);

// True when `labels` (label pairs as in MergedSample) has a label called `name`.
bool HasLabel(std::string_view labels, std::string_view name);

// Appends `family`'s samples to `out` in the text format 0.0.4, each with those of `extra_labels`
// that it does not already have (without any, the family's text as it is). HELP and TYPE lines
// are the caller's.
void AppendSamples(const MergedFamily& family, const LabelPairs& extra_labels, std::string& out);

// Appends `value` the way Prometheus reads it back exactly (shortest round-trip, NaN, +Inf, -Inf).
void AppendValue(double value, std::string& out);

// Appends `value` escaped for a label value (backslash, double quote, newline).
void AppendEscapedLabelValue(std::string_view value, std::string& out);

}  // namespace sidecar
