#include "collectors/core/series_family.h"

namespace sidecar {
namespace {

// Calls `visit(name, value)` for each label pair of `escaped` (see SeriesLabels), values
// unescaped.
template <typename Visit>
void ForEachLabel(std::string_view escaped, const Visit& visit) {
  std::size_t pos = 0;
  std::string value;
  while (pos < escaped.size()) {
    const std::size_t equals = escaped.find('=', pos);
    if (equals == std::string_view::npos) return;
    const std::string_view name = escaped.substr(pos, equals - pos);
    value.clear();
    pos = equals + 2;  // past ="
    while (pos < escaped.size() && escaped[pos] != '"') {
      if (escaped[pos] == '\\' && pos + 1 < escaped.size()) {
        ++pos;
        value += escaped[pos] == 'n' ? '\n' : escaped[pos];
      } else {
        value += escaped[pos];
      }
      ++pos;
    }
    visit(name, value);
    pos += 2;  // past ",
  }
}

}  // namespace

std::optional<std::string> LabelValueOf(std::string_view escaped, std::string_view name) {
  std::optional<std::string> found;
  ForEachLabel(escaped, [&](std::string_view label, const std::string& value) {
    if (!found && label == name) found = value;
  });
  return found;
}

void SeriesLabels::Add(std::string_view escaped) {
  text_ += escaped;
  ends_.push_back(text_.size());
}

prometheus::MetricFamily ToMetricFamily(const SeriesFamily& family) {
  prometheus::MetricFamily out;
  out.name = family.name;
  out.help = family.help;
  out.type = family.type;
  out.metric.resize(family.size());
  for (std::size_t i = 0; i < family.size(); ++i) {
    prometheus::ClientMetric& metric = out.metric[i];
    ForEachLabel((*family.labels)[i], [&metric](std::string_view name, const std::string& value) {
      metric.label.push_back({std::string(name), value});
    });
    switch (family.type) {
      case prometheus::MetricType::Counter:
        metric.counter.value = family.values[i];
        break;
      case prometheus::MetricType::Gauge:
        metric.gauge.value = family.values[i];
        break;
      case prometheus::MetricType::Histogram: {
        const std::uint64_t* counts = family.SeriesCounts(i);
        for (std::size_t b = 0; b < family.bounds.size(); ++b) {
          metric.histogram.bucket.push_back({counts[b], family.bounds[b]});
        }
        metric.histogram.sample_count =
            family.bounds.empty() ? 0 : counts[family.bounds.size() - 1];
        metric.histogram.sample_sum = family.values[i];
        break;
      }
      default:
        metric.untyped.value = family.values[i];
        break;
    }
  }
  return out;
}

}  // namespace sidecar
