#pragma once

#include <string>
#include <vector>

#include "collectors/core/metric_family_builder.h"
#include "collectors/core/series_family.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// Appends `families` to `out` in the text format 0.0.4, byte for byte as prometheus-cpp 1.0's
// TextSerializer writes them (values with 16 significant digits, "Nan", "+Inf", a histogram's
// `_count` and `_sum` before its buckets, timestamps only when not 0), as if every series also had
// those of `extra_labels` it lacks, appended after its own. Written for speed: no ostream, no
// locale, no allocation but the growth of `out`, so that a scrape of tens of thousands of series
// serialises in a few milliseconds into a buffer that is reused.
//
// The equality with TextSerializer is what tests/unit/text_writer_test.cc checks.
void AppendText(const std::vector<prometheus::MetricFamily>& families,
                const LabelPairs& extra_labels, std::string& out);

// As above, where the series of families[i] are followed by those of the compact families
// series[i] (of the same name and type; `series` may be shorter than `families`), written as
// TextSerializer writes their ToMetricFamily() series.
void AppendText(const std::vector<prometheus::MetricFamily>& families,
                const std::vector<std::vector<const SeriesFamily*>>& series,
                const LabelPairs& extra_labels, std::string& out);

}  // namespace sidecar
