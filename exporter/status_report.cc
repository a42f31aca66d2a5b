#include "exporter/status_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

namespace sidecar {
namespace {

using Snapshots = std::span<const std::shared_ptr<const StatusSnapshot>>;

double Seconds(std::chrono::system_clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

// A counter's increase between two samples; a lower later value means the collector was rebuilt
// (a reload) and counts from 0 again, as PromQL's increase() assumes.
double Increase(double earlier, double later) { return later >= earlier ? later - earlier : later; }

const SourceSample* FindSource(const StatusSnapshot& snapshot, const SourceSample& like) {
  for (const SourceSample& source : snapshot.sources) {
    if (source.name == like.name && source.type == like.type) return &source;
  }
  return nullptr;
}

double Find(const NamedValues& values, std::string_view name, double fallback = 0) {
  for (const auto& [key, value] : values) {
    if (key == name) return value;
  }
  return fallback;
}

NamedValues IncreaseByName(const NamedValues* earlier, const NamedValues& later) {
  NamedValues increase;
  for (const auto& [name, value] : later) {
    const double delta = Increase(earlier ? Find(*earlier, name) : 0, value);
    if (delta > 0) increase.emplace_back(name, delta);
  }
  return increase;
}

// The class of a status label value: '2' for "200" and "2xx".
char StatusClass(std::string_view status) { return status.empty() ? '?' : status.front(); }

// The index of the newest snapshot at least `seconds` older than the last one, or 0.
std::size_t WindowStart(Snapshots history, int seconds) {
  const auto cutoff = history.back()->time - std::chrono::seconds(seconds);
  for (std::size_t i = history.size(); i-- > 0;) {
    if (history[i]->time <= cutoff) return i;
  }
  return 0;
}

std::optional<HistogramSample> IncreaseOf(const std::optional<HistogramSample>& earlier,
                                          const std::optional<HistogramSample>& later) {
  if (!later) return std::nullopt;
  if (!earlier || earlier->upper_bounds != later->upper_bounds) return later;
  HistogramSample increase = *later;
  for (std::size_t i = 0; i < increase.cumulative_counts.size(); ++i) {
    if (later->cumulative_counts[i] < earlier->cumulative_counts[i]) return later;  // reset
    increase.cumulative_counts[i] -= earlier->cumulative_counts[i];
  }
  return increase;
}

std::vector<QuantileEstimate> Quantiles(const std::optional<HistogramSample>& histogram) {
  std::vector<QuantileEstimate> quantiles;
  if (!histogram) return quantiles;
  for (const double q : {0.5, 0.9, 0.99}) {
    if (auto estimate =
            EstimateQuantile(histogram->upper_bounds, histogram->cumulative_counts, q)) {
      quantiles.push_back(*estimate);
    }
  }
  return quantiles;
}

// Sums the per-sample top lists of snapshots (first, last] and keeps the largest kTopListed.
std::optional<NamedValues> TopOver(Snapshots history, std::size_t first, std::size_t last,
                                   const SourceSample& like,
                                   std::optional<NamedValues> SourceSample::*member) {
  if (!(like.*member)) return std::nullopt;
  std::map<std::string, double, std::less<>> totals;
  for (std::size_t i = first + 1; i <= last; ++i) {
    const SourceSample* source = FindSource(*history[i], like);
    if (source == nullptr || !(source->*member)) continue;
    for (const auto& [name, value] : *(source->*member)) totals[name] += value;
  }
  double other = 0;
  NamedValues top;
  for (auto& [name, value] : totals) {
    // "(other)" goes last, whatever its size: it is not a path.
    if (name == kOtherValues) {
      other += value;
    } else {
      top.emplace_back(name, value);
    }
  }
  std::stable_sort(top.begin(), top.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  while (top.size() > kTopListed) {
    other += top.back().second;
    top.pop_back();
  }
  if (other > 0) top.emplace_back(kOtherValues, other);
  return top;
}

WindowFigures Figures(Snapshots history, int window_seconds, const SourceSample& latest) {
  WindowFigures figures;
  figures.window_seconds = window_seconds;
  const std::size_t last = history.size() - 1;
  const std::size_t first = WindowStart(history, window_seconds);
  const SourceSample* earlier = first < last ? FindSource(*history[first], latest) : nullptr;
  if (earlier == nullptr) return figures;
  const double span = Seconds(history[last]->time - history[first]->time);
  if (span <= 0) return figures;
  figures.span_seconds = span;

  if (latest.kind == "access_log") {
    figures.requests = Increase(earlier->requests, latest.requests);
    figures.requests_per_second = figures.requests / span;
    figures.has_status = latest.status_label;
    figures.status_mix = IncreaseByName(&earlier->requests_by_status, latest.requests_by_status);
    std::sort(figures.status_mix.begin(), figures.status_mix.end());
    if (figures.requests > 0 && figures.has_status) {
      double client_errors = 0;
      double server_errors = 0;
      for (const auto& [status, count] : figures.status_mix) {
        if (StatusClass(status) == '4') client_errors += count;
        if (StatusClass(status) == '5') server_errors += count;
      }
      figures.share_4xx = client_errors / figures.requests;
      figures.share_5xx = server_errors / figures.requests;
    }
    if (latest.response_bytes) {
      figures.response_bytes_per_second =
          Increase(earlier->response_bytes.value_or(0), *latest.response_bytes) / span;
    }
    figures.latency = Quantiles(IncreaseOf(earlier->duration, latest.duration));
    figures.top_paths = TopOver(history, first, last, latest, &SourceSample::new_requests_by_path);
    figures.top_clients =
        TopOver(history, first, last, latest, &SourceSample::new_requests_by_client);
    figures.parse_errors = Increase(earlier->parse_errors, latest.parse_errors);
  }
  if (latest.kind == "log") {
    figures.rates.emplace_back("lines read",
                               Increase(earlier->lines_read, latest.lines_read) / span);
    figures.rates.emplace_back("unparsed lines",
                               Increase(earlier->parse_errors, latest.parse_errors) / span);
  }
  for (const auto& [name, value] : latest.counters) {
    figures.rates.emplace_back(name, Increase(Find(earlier->counters, name, value), value) / span);
  }
  std::size_t samples = 0;
  std::size_t up = 0;
  for (std::size_t i = first + 1; i <= last; ++i) {
    const SourceSample* source = FindSource(*history[i], latest);
    if (source == nullptr) continue;
    ++samples;
    if (source->collected && source->source_up.value_or(1) >= 1) ++up;
  }
  if (samples > 0) figures.up_ratio = static_cast<double>(up) / static_cast<double>(samples);
  return figures;
}

// The points of a chart: the snapshots of the last kStatusChartSeconds, each compared with the
// one before it.
struct ChartRange {
  std::size_t first = 1;  // index of the first snapshot that ends an interval
  std::vector<double> seconds_ago;
};

ChartRange ChartPoints(Snapshots history) {
  ChartRange range;
  const auto newest = history.back()->time;
  for (std::size_t i = 1; i < history.size(); ++i) {
    const double ago = Seconds(newest - history[i]->time);
    if (ago > kStatusChartSeconds) {
      range.first = i + 1;
      continue;
    }
    range.seconds_ago.push_back(ago);
  }
  return range;
}

void AddAccessLogCharts(Snapshots history, const ChartRange& range, SourceReport& report,
                        const SourceSample& latest) {
  Chart requests{"Requests per second by status class",
                 "req/s",
                 Chart::Style::kStacked,
                 range.seconds_ago,
                 {}};
  const bool by_class = !latest.requests_by_status.empty();
  const std::vector<std::string> classes =
      by_class ? std::vector<std::string>{"2xx", "3xx", "4xx", "5xx", "other"}
               : std::vector<std::string>{"requests"};
  for (const auto& name : classes) requests.series.push_back({name, {}});
  Chart latency{"Latency (estimated from the histogram)",
                "s",
                Chart::Style::kLines,
                range.seconds_ago,
                {{"p50", {}}, {"p99", {}}}};
  for (std::size_t i = range.first; i < history.size(); ++i) {
    const SourceSample* now = FindSource(*history[i], latest);
    const SourceSample* before = FindSource(*history[i - 1], latest);
    const double span = Seconds(history[i]->time - history[i - 1]->time);
    if (now == nullptr || before == nullptr || span <= 0) {
      for (auto& series : requests.series) series.values.push_back(std::nullopt);
      for (auto& series : latency.series) series.values.push_back(std::nullopt);
      continue;
    }
    if (by_class) {
      std::array<double, 5> per_class{};
      for (const auto& [status, count] :
           IncreaseByName(&before->requests_by_status, now->requests_by_status)) {
        const char status_class = StatusClass(status);
        const std::size_t index =
            status_class >= '2' && status_class <= '5' ? status_class - '2' : 4;
        per_class[index] += count;
      }
      for (std::size_t c = 0; c < per_class.size(); ++c) {
        requests.series[c].values.push_back(per_class[c] / span);
      }
    } else {
      requests.series[0].values.push_back(Increase(before->requests, now->requests) / span);
    }
    const auto quantiles = Quantiles(IncreaseOf(before->duration, now->duration));
    latency.series[0].values.push_back(quantiles.size() == 3 ? std::optional(quantiles[0].estimate)
                                                             : std::nullopt);
    latency.series[1].values.push_back(quantiles.size() == 3 ? std::optional(quantiles[2].estimate)
                                                             : std::nullopt);
  }
  if (by_class) {
    // Drop the "other" class when it never had a request, so the legend stays short.
    const auto& other = requests.series.back().values;
    if (std::all_of(other.begin(), other.end(), [](auto v) { return v.value_or(0) == 0; })) {
      requests.series.pop_back();
    }
  }
  report.charts.push_back(std::move(requests));
  if (latest.duration) report.charts.push_back(std::move(latency));
}

void AddStatusCharts(Snapshots history, const ChartRange& range, SourceReport& report,
                     const SourceSample& latest) {
  Chart up{"Up / down", "", Chart::Style::kUpDown, range.seconds_ago, {{"up", {}}}};
  // The gauges the profile charts, in one unit, at most four, so that the chart stays legible.
  Chart gauges{"", "", Chart::Style::kLines, range.seconds_ago, {}};
  for (const auto& [name, value] : latest.gauges) {
    const FamilySpec* spec = FindGaugeSpec(latest.kind, name);
    if (spec == nullptr || !spec->charted || gauges.series.size() == 4) continue;
    if (gauges.series.empty()) {
      gauges.unit = spec->unit;
    } else if (gauges.unit != spec->unit) {
      continue;
    }
    gauges.title += (gauges.title.empty() ? "" : ", ") + name;
    gauges.series.push_back({name, {}});
  }
  if (!gauges.title.empty()) gauges.title[0] = static_cast<char>(std::toupper(gauges.title[0]));
  for (std::size_t i = range.first; i < history.size(); ++i) {
    const SourceSample* now = FindSource(*history[i], latest);
    if (now == nullptr) {
      up.series[0].values.push_back(std::nullopt);
      for (auto& series : gauges.series) series.values.push_back(std::nullopt);
      continue;
    }
    up.series[0].values.push_back(now->collected && now->source_up.value_or(1) >= 1 ? 1 : 0);
    for (auto& series : gauges.series) {
      const double missing = std::numeric_limits<double>::quiet_NaN();
      const double value = Find(now->gauges, series.name, missing);
      series.values.push_back(std::isnan(value) ? std::nullopt : std::optional(value));
    }
  }
  report.charts.push_back(std::move(up));
  if (!gauges.series.empty()) report.charts.push_back(std::move(gauges));
}

std::string TitleOf(const SourceSample& sample) {
  if (sample.kind == "access_log") return "access log";
  if (sample.kind == "log") return sample.type;
  if (const StatusProfile* profile = FindStatusProfile(sample.kind)) {
    return std::string(profile->title);
  }
  return sample.type;
}

ExporterReport BuildExporter(Snapshots history, const ChartRange& range) {
  ExporterReport exporter;
  const StatusSnapshot& latest = *history.back();
  exporter.resident_memory_bytes = latest.exporter.resident_memory_bytes;
  for (const int window : kStatusWindowsSeconds) {
    const std::size_t first = WindowStart(history, window);
    const double span = Seconds(latest.time - history[first]->time);
    std::optional<double> rate;
    if (span > 0) {
      rate = Increase(history[first]->exporter.scrapes_total, latest.exporter.scrapes_total) / span;
    }
    exporter.scrapes_per_second.emplace_back(window, rate);
  }
  const std::size_t first = WindowStart(history, 300);
  for (const auto& [name, seconds] : latest.exporter.collect_seconds) {
    double sum = 0;
    std::size_t count = 0;
    for (std::size_t i = std::min(first + 1, history.size() - 1); i < history.size(); ++i) {
      const double missing = std::numeric_limits<double>::quiet_NaN();
      const double value = Find(history[i]->exporter.collect_seconds, name, missing);
      if (std::isnan(value)) continue;
      sum += value;
      ++count;
    }
    exporter.average_collect_seconds.emplace_back(name, count ? sum / count : seconds);
  }
  Chart memory{
      "Resident memory", "bytes", Chart::Style::kLines, range.seconds_ago, {{"resident", {}}}};
  Chart scrapes{
      "Scrapes per second", "req/s", Chart::Style::kLines, range.seconds_ago, {{"scrapes", {}}}};
  for (std::size_t i = range.first; i < history.size(); ++i) {
    memory.series[0].values.push_back(history[i]->exporter.resident_memory_bytes);
    const double span = Seconds(history[i]->time - history[i - 1]->time);
    scrapes.series[0].values.push_back(
        span > 0 ? std::optional(Increase(history[i - 1]->exporter.scrapes_total,
                                          history[i]->exporter.scrapes_total) /
                                 span)
                 : std::nullopt);
  }
  exporter.charts.push_back(std::move(scrapes));
  exporter.charts.push_back(std::move(memory));
  return exporter;
}

}  // namespace

std::optional<QuantileEstimate> EstimateQuantile(const std::vector<double>& upper_bounds,
                                                 const std::vector<double>& cumulative_counts,
                                                 double quantile) {
  if (upper_bounds.empty() || upper_bounds.size() != cumulative_counts.size()) return std::nullopt;
  const double total = cumulative_counts.back();
  if (total <= 0) return std::nullopt;
  const double rank = quantile * total;
  std::size_t bucket = 0;
  while (bucket + 1 < cumulative_counts.size() && cumulative_counts[bucket] < rank) ++bucket;
  QuantileEstimate estimate;
  estimate.quantile = quantile;
  estimate.lower = bucket == 0 ? 0 : upper_bounds[bucket - 1];
  estimate.upper = upper_bounds[bucket];
  if (std::isinf(estimate.upper)) {
    // Beyond the last finite bound nothing is known but that lower bound.
    estimate.estimate = estimate.lower;
    return estimate;
  }
  const double below = bucket == 0 ? 0 : cumulative_counts[bucket - 1];
  const double in_bucket = cumulative_counts[bucket] - below;
  estimate.estimate = in_bucket > 0 ? estimate.lower + (estimate.upper - estimate.lower) *
                                                           (rank - below) / in_bucket
                                    : estimate.upper;
  return estimate;
}

StatusReport BuildStatusReport(StatusPageData page, Snapshots history,
                               std::chrono::milliseconds sample_interval, std::size_t capacity,
                               std::size_t history_bytes) {
  StatusReport report;
  report.page = std::move(page);
  report.sample_interval_seconds = std::chrono::duration<double>(sample_interval).count();
  report.snapshots = history.size();
  report.capacity = capacity;
  report.history_bytes = history_bytes;
  if (history.empty()) return report;
  report.history_span_seconds = Seconds(history.back()->time - history.front()->time);
  report.last_snapshot = history.back()->time;
  const ChartRange range = ChartPoints(history);
  for (const SourceSample& latest : history.back()->sources) {
    SourceReport source;
    source.name = latest.name;
    source.type = latest.type;
    source.kind = latest.kind;
    source.title = TitleOf(latest);
    source.collected = latest.collected;
    if (latest.source_up) source.source_up = *latest.source_up >= 1;
    source.gauges = latest.gauges;
    source.failure_reason = latest.failure_reason;
    source.lag_bytes_by_file = latest.lag_bytes_by_file;
    for (const int window : kStatusWindowsSeconds) {
      source.windows.push_back(Figures(history, window, latest));
    }
    if (latest.kind == "access_log") {
      AddAccessLogCharts(history, range, source, latest);
    } else if (!latest.kind.empty()) {
      AddStatusCharts(history, range, source, latest);
    }
    report.sources.push_back(std::move(source));
  }
  report.exporter = BuildExporter(history, range);
  return report;
}

}  // namespace sidecar
