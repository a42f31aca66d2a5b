#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/merged_family.h"
#include "collectors/core/metric_family_builder.h"

namespace sidecar {

enum class ExpositionFormat {
  kText,         // text format 0.0.4
  kOpenMetrics,  // OpenMetrics 1.0 text
};

// The format a response is in, from its Content-Type (`application/openmetrics-text` is
// OpenMetrics, anything else the text format 0.0.4, as Prometheus assumes).
ExpositionFormat FormatOfContentType(std::string_view content_type);

// What Prometheus sends: OpenMetrics 1.0 preferred, the text format 0.0.4 accepted.
inline constexpr const char* kExpositionAcceptHeader =
    "Accept: application/openmetrics-text;version=1.0.0,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

struct ExpositionParseOptions {
  ExpositionFormat format = ExpositionFormat::kText;
  // Added to every sample that does not already have a label of that name.
  LabelPairs extra_labels;
  // More samples than this fail the parse (0: no limit), as Prometheus' sample_limit.
  std::size_t sample_limit = 0;
};

struct ParsedExposition {
  // One per family name, in the order first seen.
  std::vector<MergedFamily> families;
  std::size_t samples = 0;
};

// Parses a whole exposition into families ready to merge. Kept: HELP and TYPE, every sample's
// name, labels, value and timestamp (OpenMetrics timestamps converted to milliseconds). Left out:
// OpenMetrics exemplars, `# UNIT`, and the `_created` samples of counters, histograms and
// summaries (the text format 0.0.4 has no place for them). An OpenMetrics counter `x` becomes
// the family `x_total`, an info `x` the gauge `x_info`, a stateset and a gaugehistogram... as
// documented in the README.
//
// Returns nullopt and sets `error` ("line 12: ...") on anything Prometheus would refuse: invalid
// UTF-8, a bad name, label or value, a label twice in one series, a sample that does not fit its
// family's TYPE, an OpenMetrics exposition without `# EOF` (cut off) or with text after it, more
// samples than the limit.
//
// The lines are written into `lines` when given (emptied first, its capacity kept: see
// Recycler), else into a new buffer.
std::optional<ParsedExposition> ParseExposition(std::string_view body,
                                                const ExpositionParseOptions& options,
                                                std::string& error,
                                                std::shared_ptr<MergedLines> lines = nullptr);

}  // namespace sidecar
