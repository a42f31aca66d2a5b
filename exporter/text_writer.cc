#include "exporter/text_writer.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/merged_family.h"

namespace sidecar {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// TextSerializer writes doubles through an ostream in the classic locale with precision 16 and the
// default float field, which is printf's "%.16g"; std::to_chars with chars_format::general and a
// precision is specified as exactly that, without the stream and locale machinery.
void AppendDouble(double value, std::string& out) {
  // Most values are counts: "%.16g" writes an integral double below 1e16 as the integer itself
  // (it has at most 16 digits, so no exponent), which is much cheaper to write as one.
  if (value == std::trunc(value) && std::abs(value) < 1e16 &&
      !(value == 0 && std::signbit(value))) {
    char buffer[24];
    const auto [end, ec] =
        std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(value));
    out.append(buffer, static_cast<std::size_t>(
                           end - buffer));  // (pointer, size): (first, last) takes a slow path
  } else if (std::isnan(value)) {
    out += "Nan";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
  } else {
    char buffer[32];
    const auto [end, ec] =
        std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general,
                      std::numeric_limits<double>::max_digits10 - 1);
    out.append(buffer, static_cast<std::size_t>(end - buffer));
  }
}

template <typename Integer>
void AppendInteger(Integer value, std::string& out) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, static_cast<std::size_t>(end - buffer));
}

// Writes the start of one sample line of a family: name, suffix, labels and the space before the
// value. The labels of a series are the same on each of its lines (a histogram has many), so they
// are escaped once per series into `labels` and copied from there.
class SeriesWriter {
 public:
  SeriesWriter(const LabelPairs& extra_labels, std::string& out)
      : extra_labels_(extra_labels), out_(out) {}

  void Start(const ClientMetric& metric) {
    labels_.clear();
    bucket_head_.clear();
    for (const auto& label : metric.label) AppendLabel(label.name, label.value);
    // As FamilySet::AddConstLabels: an extra label is added unless the series already has one of
    // that name (its own, or an extra one added before it).
    for (std::size_t i = 0; i < extra_labels_.size(); ++i) {
      const std::string& name = extra_labels_[i].first;
      bool present = false;
      for (const auto& label : metric.label) present = present || label.name == name;
      for (std::size_t k = 0; k < i; ++k) present = present || extra_labels_[k].first == name;
      if (!present) AppendLabel(name, extra_labels_[i].second);
    }
    series_labels_ = labels_;
    timestamp_ms_ = metric.timestamp_ms;
  }

  // As Start, for a series whose label pairs are already escaped (see SeriesLabels).
  // Without extra labels to add, the series' labels are written from `escaped` itself.
  void StartEscaped(std::string_view escaped) {
    series_labels_ = escaped;
    bucket_head_.clear();
    for (std::size_t i = 0; i < extra_labels_.size(); ++i) {
      const std::string& name = extra_labels_[i].first;
      bool present = HasLabel(escaped, name);
      for (std::size_t k = 0; k < i; ++k) present = present || extra_labels_[k].first == name;
      if (present) continue;
      if (series_labels_.data() != labels_.data()) labels_.assign(escaped);
      AppendLabel(name, extra_labels_[i].second);
      series_labels_ = labels_;
    }
    timestamp_ms_ = 0;
  }

  // `name` `suffix`{labels} and the space before the value.
  void Head(std::string_view name, std::string_view suffix) {
    out_ += name;
    out_ += suffix;
    if (!series_labels_.empty()) {
      out_ += '{';
      out_ += series_labels_;
      out_ += '}';
    }
    out_ += ' ';
  }

  // As Head, with one more label whose value is a number (a bucket's `le`, a `quantile`).
  void HeadWith(std::string_view name, std::string_view suffix, std::string_view label,
                double value) {
    HeadWithStart(name, suffix, label);
    AppendDouble(value, out_);
    out_ += "\"} ";
  }

  // As HeadWith for a bucket's `le`. A series' bucket lines differ only in the bound, and the
  // buckets of a family's series mostly have the same bounds: the line's start is put together
  // once per series, each bound formatted once, and both copied from then on.
  void HeadWithBound(std::string_view name, std::size_t index, double bound) {
    if (index >= bounds_.size()) bounds_.resize(index + 1);
    Bound& cached = bounds_[index];
    if (cached.text.empty() || !(cached.value == bound) ||
        std::signbit(cached.value) != std::signbit(bound)) {
      cached.value = bound;
      cached.text.clear();
      AppendDouble(bound, cached.text);
      cached.text += "\"} ";
    }
    AppendBucketHead(name);
    out_ += cached.text;
  }

  // As HeadWithBound, for the +Inf bucket TextSerializer adds when the buckets lack one.
  void HeadWithInfBound(std::string_view name) {
    AppendBucketHead(name);
    out_ += "+Inf\"} ";
  }

  // The optional timestamp and the end of the line.
  void Tail() {
    if (timestamp_ms_ != 0) {
      out_ += ' ';
      AppendInteger(timestamp_ms_, out_);
    }
    out_ += '\n';
  }

 private:
  void AppendLabel(std::string_view name, std::string_view value) {
    if (!labels_.empty()) labels_ += ',';
    labels_ += name;
    labels_ += "=\"";
    AppendEscapedLabelValue(value, labels_);
    labels_ += '"';
  }

  // `name`_bucket{labels,le=" (of the current series, whose family is `name`).
  void AppendBucketHead(std::string_view name) {
    if (bucket_head_.empty()) {
      bucket_head_ += name;
      bucket_head_ += "_bucket{";
      if (!series_labels_.empty()) {
        bucket_head_ += series_labels_;
        bucket_head_ += ',';
      }
      bucket_head_ += "le=\"";
    }
    out_ += bucket_head_;
  }

  void HeadWithStart(std::string_view name, std::string_view suffix, std::string_view label) {
    out_ += name;
    out_ += suffix;
    out_ += '{';
    if (!series_labels_.empty()) {
      out_ += series_labels_;
      out_ += ',';
    }
    out_ += label;
    out_ += "=\"";
  }

  struct Bound {
    double value = 0;
    std::string text;
  };

  const LabelPairs& extra_labels_;
  std::string& out_;
  std::vector<Bound> bounds_;
  // The current series' labels: labels_, or the escaped labels it was started with.
  std::string_view series_labels_;
  std::string labels_;
  std::string bucket_head_;
  std::int64_t timestamp_ms_ = 0;
};

void AppendSingleValue(std::string_view name, SeriesWriter& series, double value,
                       std::string& out) {
  series.Head(name, "");
  AppendDouble(value, out);
  series.Tail();
}

// The `_count` and `_sum` lines that a summary's and a histogram's series start with.
void AppendCountAndSum(std::string_view name, std::uint64_t count, double sum, SeriesWriter& series,
                       std::string& out) {
  series.Head(name, "_count");
  AppendInteger(count, out);
  series.Tail();
  series.Head(name, "_sum");
  AppendDouble(sum, out);
  series.Tail();
}

void AppendSummary(const MetricFamily& family, const ClientMetric::Summary& summary,
                   SeriesWriter& series, std::string& out) {
  AppendCountAndSum(family.name, summary.sample_count, summary.sample_sum, series, out);
  for (const auto& quantile : summary.quantile) {
    series.HeadWith(family.name, "", "quantile", quantile.quantile);
    AppendDouble(quantile.value, out);
    series.Tail();
  }
}

void AppendHistogram(const MetricFamily& family, const ClientMetric::Histogram& histogram,
                     SeriesWriter& series, std::string& out) {
  AppendCountAndSum(family.name, histogram.sample_count, histogram.sample_sum, series, out);
  double last = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < histogram.bucket.size(); ++i) {
    const auto& bucket = histogram.bucket[i];
    series.HeadWithBound(family.name, i, bucket.upper_bound);
    last = bucket.upper_bound;
    AppendInteger(bucket.cumulative_count, out);
    series.Tail();
  }
  if (last != std::numeric_limits<double>::infinity()) {
    series.HeadWithInfBound(family.name);
    AppendInteger(histogram.sample_count, out);
    series.Tail();
  }
}

// The series of a compact family, as AppendHistogram and AppendSingleValue write the series of
// its ToMetricFamily().
void AppendSeriesFamily(std::string_view name, const SeriesFamily& family, SeriesWriter& series,
                        std::string& out) {
  const SeriesLabels& labels = *family.labels;
  const std::size_t buckets = family.bounds.size();
  for (std::size_t i = 0; i < family.size(); ++i) {
    series.StartEscaped(labels[i]);
    if (family.type != MetricType::Histogram) {
      AppendSingleValue(name, series, family.values[i], out);
      continue;
    }
    const std::uint64_t* counts = family.SeriesCounts(i);
    AppendCountAndSum(name, buckets == 0 ? 0 : counts[buckets - 1], family.values[i], series, out);
    for (std::size_t b = 0; b < buckets; ++b) {
      series.HeadWithBound(name, b, family.bounds[b]);
      AppendInteger(counts[b], out);
      series.Tail();
    }
    if (buckets == 0 || family.bounds.back() != std::numeric_limits<double>::infinity()) {
      series.HeadWithInfBound(name);
      AppendInteger(buckets == 0 ? 0 : counts[buckets - 1], out);
      series.Tail();
    }
  }
}

const char* TypeLine(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return " counter\n";
    case MetricType::Gauge:
      return " gauge\n";
    case MetricType::Summary:
      return " summary\n";
    case MetricType::Untyped:
      return " untyped\n";
    case MetricType::Histogram:
      return " histogram\n";
  }
  return nullptr;
}

}  // namespace

void AppendText(const std::vector<MetricFamily>& families, const LabelPairs& extra_labels,
                std::string& out) {
  AppendText(families, {}, extra_labels, out);
}

void AppendText(const std::vector<MetricFamily>& families,
                const std::vector<std::vector<const SeriesFamily*>>& compact,
                const LabelPairs& extra_labels, std::string& out) {
  SeriesWriter series(extra_labels, out);
  for (std::size_t f = 0; f < families.size(); ++f) {
    const MetricFamily& family = families[f];
    if (!family.help.empty()) {
      out += "# HELP ";
      out += family.name;
      out += ' ';
      out += family.help;
      out += '\n';
    }
    const char* type_line = TypeLine(family.type);
    // TextSerializer writes nothing but the HELP of a family of a type it does not know.
    if (type_line == nullptr) continue;
    out += "# TYPE ";
    out += family.name;
    out += type_line;
    for (const ClientMetric& metric : family.metric) {
      series.Start(metric);
      switch (family.type) {
        case MetricType::Counter:
          AppendSingleValue(family.name, series, metric.counter.value, out);
          break;
        case MetricType::Gauge:
          AppendSingleValue(family.name, series, metric.gauge.value, out);
          break;
        case MetricType::Untyped:
          AppendSingleValue(family.name, series, metric.untyped.value, out);
          break;
        case MetricType::Summary:
          AppendSummary(family, metric.summary, series, out);
          break;
        case MetricType::Histogram:
          AppendHistogram(family, metric.histogram, series, out);
          break;
      }
    }
    if (f < compact.size()) {
      for (const SeriesFamily* joined : compact[f]) {
        AppendSeriesFamily(family.name, *joined, series, out);
      }
    }
  }
}

}  // namespace sidecar
