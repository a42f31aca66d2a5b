#include "collectors/logs/log_metrics.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <optional>
#include <set>

#include "collectors/core/config_decoder.h"
#include "collectors/core/metric_family_builder.h"
#include "collectors/logs/regex_prefilter.h"
#include "re2/re2.h"

namespace sidecar::logmetrics {
namespace {

using accesslog::Field;
using accesslog::LogRecord;
using accesslog::SeriesLimiter;

constexpr std::size_t kMaxLabels = 16;

bool IsMetricName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// Where a field's text comes from: a named field of the record or, for field names of the
// access-log formats (nginx, apache), a standard field.
class FieldSource {
 public:
  explicit FieldSource(std::string name) : name_(std::move(name)) {
    standard_ = accesslog::FieldFromName(name_);
  }
  const std::string& name() const { return name_; }

  // The text of the field, "" when missing. May use `buffer`.
  std::string_view Text(const LogRecord& record, std::string& buffer) const {
    if (const std::string_view named = record.Named(name_); !named.empty() || !standard_) {
      return named;
    }
    const Field field = *standard_;
    if (accesslog::IsStringField(field)) return record.String(field);
    const std::optional<double> number = Number(record);
    if (!number) return {};
    buffer.resize(32);
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), *number);
    buffer.resize(ec == std::errc() ? static_cast<std::size_t>(end - buffer.data()) : 0);
    return buffer;
  }

  // The field as a finite number, or nothing.
  std::optional<double> Value(const LogRecord& record) const {
    // One scan of the named fields: a named field wins, else the standard field.
    std::string_view text = record.Named(name_);
    if (text.empty() && standard_) {
      if (!accesslog::IsStringField(*standard_)) return Number(record);
      text = record.String(*standard_);
    }
    while (!text.empty() && (text.front() == ' ' || text.front() == '+')) text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(value)) {
      return std::nullopt;
    }
    return value;
  }

 private:
  std::optional<double> Number(const LogRecord& record) const {
    switch (*standard_) {
      case Field::kStatus:
        return record.status ? std::optional<double>(*record.status) : std::nullopt;
      case Field::kUpstreamStatus:
        return record.upstream_status ? std::optional<double>(*record.upstream_status)
                                      : std::nullopt;
      case Field::kBodyBytesSent:
        return record.body_bytes_sent ? std::optional<double>(*record.body_bytes_sent)
                                      : std::nullopt;
      case Field::kBytesSent:
        return record.bytes_sent ? std::optional<double>(*record.bytes_sent) : std::nullopt;
      case Field::kRequestLength:
        return record.request_length ? std::optional<double>(*record.request_length) : std::nullopt;
      case Field::kRequestTime:
        return record.request_time;
      case Field::kUpstreamResponseTime:
        return record.upstream_response_time;
      case Field::kUpstreamConnectTime:
        return record.upstream_connect_time;
      case Field::kUpstreamHeaderTime:
        return record.upstream_header_time;
      default:
        return std::nullopt;
    }
  }

  std::string name_;
  std::optional<Field> standard_;
};

struct Series {
  std::vector<std::string> values;
  std::uint64_t hash = 0;             // HashLabelValues(values)
  double value = 0;                   // counter total or gauge value
  bool set = false;                   // a gauge has a value
  std::vector<std::uint64_t> counts;  // histogram, per bucket, the last one +Inf
  double sum = 0;
};

std::uint64_t Mix(std::uint64_t x) {
  x *= 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 31);
}

// A hash of a label set, 8 bytes at a time: cheaper than building a key string per line. Equal
// hashes are confirmed by comparing the values.
template <typename Values>
std::uint64_t HashLabelValues(const Values& values) {
  std::uint64_t hash = 0x9e3779b97f4a7c15ULL;
  for (const std::string_view value : values) {
    hash = Mix(hash ^ value.size());
    std::size_t i = 0;
    for (; i + 8 <= value.size(); i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, value.data() + i, 8);
      hash = Mix(hash ^ word);
    }
    if (i < value.size()) {
      std::uint64_t word = 0;
      std::memcpy(&word, value.data() + i, value.size() - i);
      hash = Mix(hash ^ word);
    }
  }
  return hash;
}

}  // namespace

MetricDefinition DefineMetric(std::string name, MetricKind kind, std::string help,
                              std::vector<std::string> labels, std::string value,
                              std::string match) {
  MetricDefinition metric;
  metric.name = std::move(name);
  metric.kind = kind;
  metric.help = std::move(help);
  metric.labels = std::move(labels);
  metric.value = std::move(value);
  metric.match = std::move(match);
  return metric;
}

struct LogMetrics::Metric {
  Metric(const MetricDefinition& definition, std::size_t series_limit)
      : definition(definition), limiter(series_limit) {}

  const MetricDefinition& definition;
  std::unique_ptr<RE2> match;
  // Runs before `match`, and instead of it when exact.
  std::optional<RegexPrefilter> prefilter;
  std::vector<FieldSource> labels;
  std::optional<FieldSource> value;
  std::vector<std::pair<FieldSource, std::string>> where;
  bool needs_record = false;

  // Observe() only.
  std::vector<std::string> buffers;  // one per label
  std::string where_buffer;
  std::vector<std::string_view> values;

  // Counts, read by Collect().
  std::deque<Series> series;
  // The series by the hash of their label values, open addressing with linear probing: index + 1,
  // 0 for a free slot; at most half full. Label sets beyond the limit are not in it (they go
  // through `limiter` on every line, which counts them).
  std::vector<std::uint32_t> slots;
  SeriesLimiter limiter;
  Series overflow;
  bool overflow_used = false;
  std::uint64_t invalid_values = 0;

  bool Matches(std::string_view text) const {
    if (!match) return true;
    if (!prefilter->MayMatch(text)) return false;
    return prefilter->exact() || match->Match(re2::StringPiece(text.data(), text.size()), 0,
                                              text.size(), RE2::UNANCHORED, nullptr, 0);
  }

  // The series of the label values of `record`, or the overflow series. `key` is scratch.
  Series& SeriesFor(const LogRecord& record, std::string& key) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      // Sanitizing writes `buffers[i]` only when the text is invalid UTF-8, which a number never
      // is.
      values[i] = accesslog::CleanLabelValue(labels[i].Text(record, buffers[i]), buffers[i]);
    }
    const std::uint64_t hash = HashLabelValues(values);
    if (!slots.empty()) {
      const std::size_t mask = slots.size() - 1;
      for (std::size_t slot = hash & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
        Series& candidate = series[slots[slot] - 1];
        if (candidate.hash == hash &&
            std::equal(values.begin(), values.end(), candidate.values.begin())) {
          return candidate;
        }
      }
    }
    // A label set not seen yet (or refused by the limit): the limiter decides.
    key.clear();
    for (const std::string_view value : values) accesslog::AppendLabelKey(key, value);
    bool created = false;
    const std::size_t index = limiter.Find(key, created);
    if (index == SeriesLimiter::kOverflow) {
      overflow_used = true;
      return overflow;
    }
    if (!created) return series[index];
    Series& added = NewSeries();
    added.hash = hash;
    AddSlot(series.size() - 1);
    return added;
  }

  Series& NewSeries() {
    Series& created = series.emplace_back();
    created.values.assign(values.begin(), values.end());
    if (definition.kind == MetricKind::kHistogram) {
      created.counts.resize(definition.buckets.size() + 1);
    }
    return created;
  }

  void AddSlot(std::size_t index) {
    if (2 * series.size() > slots.size()) {
      // Grow to keep at most half of the slots used, and place every series again.
      slots.assign(std::bit_ceil(std::max<std::size_t>(16, 4 * series.size())), 0);
      for (std::size_t i = 0; i < series.size(); ++i) Place(i);
    } else {
      Place(index);
    }
  }

  void Place(std::size_t index) {
    const std::size_t mask = slots.size() - 1;
    std::size_t slot = series[index].hash & mask;
    while (slots[slot] != 0) slot = (slot + 1) & mask;
    slots[slot] = static_cast<std::uint32_t>(index + 1);
  }

  static void Update(const MetricDefinition& definition, Series& target, double value) {
    switch (definition.kind) {
      case MetricKind::kCounter:
        target.value += value;
        break;
      case MetricKind::kGauge:
        target.value = value;
        target.set = true;
        break;
      case MetricKind::kHistogram: {
        std::size_t bucket = 0;
        while (bucket < definition.buckets.size() && value > definition.buckets[bucket]) {
          ++bucket;
        }
        ++target.counts[bucket];
        target.sum += value;
        break;
      }
    }
  }
};

std::unique_ptr<LogMetrics> LogMetrics::Create(LogMetricsOptions options, DefinitionError& error) {
  error = {};
  const auto fail = [&error](std::size_t metric, std::string key, std::string message) {
    error = {metric, std::move(key), std::move(message)};
    return nullptr;
  };
  if (options.series_limit == 0) {
    return fail(std::string::npos, "series_limit", "series_limit must be at least 1");
  }
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < options.metrics.size(); ++i) {
    MetricDefinition& metric = options.metrics[i];
    if (!IsMetricName(metric.name)) {
      return fail(i, "name",
                  "invalid metric name '" + metric.name +
                      "'; use letters, digits, underscores and colons, not starting with a digit");
    }
    if (!names.insert(metric.name).second) {
      return fail(i, "name", "metric '" + metric.name + "' is defined twice");
    }
    if (metric.name.starts_with("sidecar_exporter_")) {
      return fail(i, "name", "names starting with sidecar_exporter_ are the exporter's own");
    }
    const bool total = metric.name.ends_with("_total");
    if (metric.kind == MetricKind::kCounter && !total) {
      return fail(i, "name", "a counter's name ends in _total (" + metric.name + "_total)");
    }
    if (metric.kind != MetricKind::kCounter && total) {
      return fail(i, "name",
                  "only counters end in _total; name it without the suffix, or make it "
                  "type: counter");
    }
    if (metric.labels.size() > kMaxLabels) {
      return fail(i, "labels", "too many labels (at most " + std::to_string(kMaxLabels) + ")");
    }
    std::set<std::string, std::less<>> labels;
    for (const std::string& label : metric.labels) {
      if (label == "collector" || label == "le") {
        return fail(i, "labels",
                    "label '" + label + "' is reserved for " +
                        (label == "collector" ? "the collector's name" : "histogram buckets") +
                        "; use another name");
      }
      if (!IsValidLabelName(label)) {
        return fail(i, "labels",
                    "invalid label name '" + label +
                        "'; use letters, digits and underscores, not starting with a digit or "
                        "\"__\"");
      }
      if (!labels.insert(label).second) {
        return fail(i, "labels", "label '" + label + "' given twice");
      }
    }
    if (metric.kind != MetricKind::kCounter && metric.value.empty()) {
      return fail(i, "value",
                  std::string(metric.kind == MetricKind::kGauge ? "a gauge" : "a histogram") +
                      " needs a value (the field holding the number)");
    }
    if (metric.kind == MetricKind::kHistogram) {
      if (metric.buckets.empty()) {
        return fail(i, "buckets", "a histogram needs buckets");
      }
      for (std::size_t b = 0; b < metric.buckets.size(); ++b) {
        if (!std::isfinite(metric.buckets[b])) {
          return fail(i, "buckets", "bucket bounds must be finite (+Inf is added)");
        }
        if (b > 0 && !(metric.buckets[b] > metric.buckets[b - 1])) {
          return fail(i, "buckets",
                      "bucket bounds must be strictly increasing; " +
                          std::to_string(metric.buckets[b]) + " follows " +
                          std::to_string(metric.buckets[b - 1]));
        }
      }
    } else if (!metric.buckets.empty()) {
      return fail(i, "buckets", "buckets are only for histograms");
    }
    const bool uses_fields =
        !metric.labels.empty() || !metric.value.empty() || !metric.where.empty();
    if (uses_fields && !options.has_fields) {
      return fail(i, metric.labels.empty() ? (metric.value.empty() ? "where" : "value") : "labels",
                  "fields need a format (regex, json, logfmt, nginx, apache) or a preset");
    }
    for (const auto& [field, wanted] : metric.where) {
      if (field.empty()) {
        return fail(i, "where", "a condition needs a field name (field: value)");
      }
    }
  }
  auto metrics = std::make_unique<LogMetrics>(PassKey(), std::move(options));
  for (std::size_t i = 0; i < metrics->metrics_.size(); ++i) {
    Metric& metric = *metrics->metrics_[i];
    if (metric.definition.match.empty()) continue;
    RE2::Options re_options;
    // Bytes: a line of garbage must not stop matching (as the regex format).
    re_options.set_encoding(RE2::Options::EncodingLatin1);
    re_options.set_log_errors(false);
    metric.match = std::make_unique<RE2>(metric.definition.match, re_options);
    if (!metric.match->ok()) {
      return fail(i, "match", "invalid regular expression: " + metric.match->error());
    }
    metric.prefilter.emplace(metric.definition.match);
  }
  return metrics;
}

LogMetrics::LogMetrics(PassKey /*key*/, LogMetricsOptions options) : options_(std::move(options)) {
  for (const MetricDefinition& definition : options_.metrics) {
    auto metric = std::make_unique<Metric>(definition, options_.series_limit);
    for (const std::string& label : definition.labels) {
      metric->labels.emplace_back(label);
    }
    if (!definition.value.empty()) metric->value.emplace(definition.value);
    for (const auto& [field, wanted] : definition.where) {
      metric->where.emplace_back(FieldSource(field), wanted);
    }
    metric->needs_record = !metric->labels.empty() || metric->value || !metric->where.empty();
    metric->buffers.resize(metric->labels.size());
    metric->values.resize(metric->labels.size());
    metric->overflow.values.assign(metric->labels.size(), std::string(accesslog::kOverflowValue));
    if (definition.kind == MetricKind::kHistogram) {
      metric->overflow.counts.resize(definition.buckets.size() + 1);
    }
    if (metric->labels.empty()) {
      // The one series exists from the start, so that rate() sees the first line.
      bool created = false;
      metric->limiter.Find({}, created);
      metric->NewSeries();
    }
    metrics_.push_back(std::move(metric));
  }
}

LogMetrics::~LogMetrics() = default;

void LogMetrics::Observe(std::string_view text, const LogRecord* record) {
  for (const std::unique_ptr<Metric>& owned : metrics_) {
    Metric& metric = *owned;
    if (metric.needs_record && record == nullptr) continue;
    if (!metric.Matches(text)) continue;
    bool selected = true;
    for (const auto& [field, wanted] : metric.where) {
      if (field.Text(*record, metric.where_buffer) != wanted) {
        selected = false;
        break;
      }
    }
    if (!selected) continue;
    double value = 1;
    if (metric.value) {
      const std::optional<double> number = metric.value->Value(*record);
      if (!number || (metric.definition.kind == MetricKind::kCounter && *number < 0)) {
        ++metric.invalid_values;
        continue;
      }
      value = *number;
    }
    // Without labels, the one series made at construction.
    Series& series =
        metric.labels.empty() ? metric.series.front() : metric.SeriesFor(*record, key_);
    Metric::Update(metric.definition, series, value);
  }
}

std::vector<prometheus::MetricFamily> LogMetrics::Collect() const {
  const LabelPairs collector_label = {{"collector", options_.collector}};
  std::vector<prometheus::MetricFamily> families;
  MetricFamilyBuilder dropped("sidecar_exporter_log_series_dropped_total",
                              "Label sets of log metrics counted in the __overflow__ series "
                              "because the series limit was reached.",
                              prometheus::MetricType::Counter, collector_label);
  MetricFamilyBuilder invalid("sidecar_exporter_log_values_invalid_total",
                              "Log records that matched a metric whose value field was missing "
                              "or not a number; they were not counted.",
                              prometheus::MetricType::Counter, collector_label);
  for (std::size_t i = 0; i < metrics_.size(); ++i) {
    const Metric& metric = *metrics_[i];
    const MetricDefinition& definition = metric.definition;
    const prometheus::MetricType type =
        definition.kind == MetricKind::kCounter ? prometheus::MetricType::Counter
        : definition.kind == MetricKind::kGauge ? prometheus::MetricType::Gauge
                                                : prometheus::MetricType::Histogram;
    MetricFamilyBuilder family(definition.name,
                               definition.help.empty()
                                   ? "Defined in the log_metrics collector's configuration."
                                   : definition.help,
                               type, collector_label);
    const auto add = [&](const Series& series) {
      if (definition.kind == MetricKind::kGauge && !series.set) return;
      prometheus::ClientMetric& client = family.NewMetric();
      for (std::size_t l = 0; l < metric.labels.size(); ++l) {
        client.label.push_back({definition.labels[l], series.values[l]});
      }
      if (definition.kind == MetricKind::kHistogram) {
        FillHistogram(client, definition.buckets, series.counts, series.sum);
      } else {
        family.SetValue(client, series.value);
      }
    };
    for (const Series& series : metric.series) add(series);
    if (metric.overflow_used) add(metric.overflow);
    if (!family.empty()) families.push_back(family.Build());
    dropped.Add(static_cast<double>(metric.limiter.dropped()), {{"metric", definition.name}});
    if (metric.value) {
      invalid.Add(static_cast<double>(metric.invalid_values), {{"metric", definition.name}});
    }
  }
  if (!dropped.empty()) families.push_back(dropped.Build());
  if (!invalid.empty()) families.push_back(invalid.Build());
  return families;
}

}  // namespace sidecar::logmetrics
