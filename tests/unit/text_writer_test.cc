#include "exporter/text_writer.h"

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>

#include "collectors/core/family_set.h"
#include "collectors/core/merged_family.h"
#include "collectors/core/series_family.h"
#include "prometheus/text_serializer.h"

namespace sidecar {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// What the design's serialiser, prometheus-cpp's TextSerializer, writes for `families` with
// `extra_labels` added the way the exporter adds its constant labels.
std::string Reference(std::vector<MetricFamily> families, const LabelPairs& extra_labels) {
  FamilySet set;
  set.AddAll(std::move(families));
  set.AddConstLabels(extra_labels);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, std::move(set).Take());
  return out.str();
}

std::string Written(const std::vector<MetricFamily>& families, const LabelPairs& extra_labels) {
  std::string text = "kept ";  // AppendText appends
  AppendText(families, extra_labels, text);
  REQUIRE(text.starts_with("kept "));
  return text.substr(5);
}

const double kDoubles[] = {0.0,
                           -0.0,
                           1.0,
                           -1.0,
                           0.1,
                           0.005,
                           2.5,
                           1e-7,
                           123456789.0,
                           9007199254740993.0,
                           1e15,
                           9999999999999998.0,
                           1e16,
                           12345678901234567890.0,
                           1e300,
                           -1e-300,
                           4.9e-324,
                           std::numeric_limits<double>::min(),
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN(),
                           1.0 / 3,
                           2.0 / 3,
                           0.30000000000000004,
                           1234.5678,
                           -98765.4321e10};

ClientMetric Series(std::vector<ClientMetric::Label> labels, std::int64_t timestamp_ms = 0) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.timestamp_ms = timestamp_ms;
  return metric;
}

std::vector<MetricFamily> EveryKindOfFamily() {
  std::vector<MetricFamily> families;
  MetricFamily counter{"requests_total", "Requests, from the log.", MetricType::Counter, {}};
  MetricFamily gauge{"temperature_celsius", "", MetricType::Gauge, {}};
  MetricFamily untyped{"things", "Help with \\ backslash and \"quotes\".", MetricType::Untyped, {}};
  for (std::size_t i = 0; i < std::size(kDoubles); ++i) {
    ClientMetric metric = Series({{"i", std::to_string(i)}, {"path", "/a\"b\\c\nd"}});
    metric.counter.value = kDoubles[i];
    counter.metric.push_back(metric);
    ClientMetric plain = Series({}, i % 3 == 0 ? 0 : -1700000000000 + static_cast<long>(i));
    plain.gauge.value = kDoubles[i];
    gauge.metric.push_back(plain);
    ClientMetric one = Series({{"collector", i % 2 ? "x" : "y"}});
    one.untyped.value = kDoubles[i];
    untyped.metric.push_back(one);
  }
  families.push_back(counter);
  families.push_back(gauge);
  families.push_back(untyped);

  MetricFamily histogram{"duration_seconds", "Durations.", MetricType::Histogram, {}};
  for (int series = 0; series < 4; ++series) {
    ClientMetric metric = Series({{"method", series % 2 ? "GET" : "POST"}}, series == 3 ? 42 : 0);
    metric.histogram.sample_count = series == 2 ? std::numeric_limits<std::uint64_t>::max() : 7;
    metric.histogram.sample_sum = kDoubles[series * 5];
    std::uint64_t cumulative = 0;
    // Series 1 has its own +Inf bucket; series 2 other bounds than the rest; series 3 none.
    std::vector<double> bounds = {0.005, 0.01, 0.1, 1, 2.5, 10};
    if (series == 1) bounds.push_back(std::numeric_limits<double>::infinity());
    if (series == 2) bounds = {-0.0, 1e-9, 1e20, 0.3};
    if (series == 3) bounds.clear();
    for (const double bound : bounds) {
      cumulative += 3;
      metric.histogram.bucket.push_back({cumulative, bound});
    }
    histogram.metric.push_back(metric);
  }
  histogram.metric.push_back(Series({}));  // no labels, no buckets at all
  families.push_back(histogram);

  MetricFamily summary{"rpc_seconds", "RPCs.", MetricType::Summary, {}};
  ClientMetric quantiles = Series({{"service", "a"}});
  quantiles.summary.sample_count = 12;
  quantiles.summary.sample_sum = 3.25;
  for (const double q : {0.5, 0.9, 0.99, 1.0 / 3}) quantiles.summary.quantile.push_back({q, q * 2});
  quantiles.summary.quantile.push_back({std::numeric_limits<double>::quiet_NaN(), 1});
  summary.metric.push_back(quantiles);
  summary.metric.push_back(Series({}, 5));
  families.push_back(summary);

  families.push_back(MetricFamily{"empty_family", "No series.", MetricType::Gauge, {}});
  return families;
}

TEST_CASE("the text writer writes what TextSerializer writes, byte for byte", "[text_writer]") {
  const std::vector<MetricFamily> families = EveryKindOfFamily();
  CHECK(Written(families, {}) == Reference(families, {}));
}

TEST_CASE("the text writer adds extra labels as AddConstLabels would", "[text_writer]") {
  const std::vector<MetricFamily> families = EveryKindOfFamily();
  const LabelPairs extra = {{"cluster", "eu \"west\""}, {"collector", "ignored"}, {"cluster", "b"}};
  const std::string written = Written(families, extra);
  CHECK(written == Reference(families, extra));
  CHECK(written.find("duration_seconds_bucket{method=\"GET\",cluster=\"eu \\\"west\\\"\","
                     "collector=\"ignored\",le=\"0.005\"} 3\n") != std::string::npos);
}

TEST_CASE("the text writer formats random doubles as TextSerializer does", "[text_writer]") {
  std::mt19937_64 random(12);
  MetricFamily gauge{"g", "", MetricType::Gauge, {}};
  MetricFamily histogram{"h", "", MetricType::Histogram, {}};
  ClientMetric buckets;
  for (int i = 0; i < 20000; ++i) {
    // Any bit pattern (every exponent, NaNs, denormals), values near powers of ten, integers.
    double value = std::bit_cast<double>(random());
    if (i % 3 == 1) value = std::ldexp(static_cast<double>(random() % 100000), (i % 120) - 60);
    if (i % 3 == 2) value = static_cast<double>(random() >> (i % 64)) * (i % 2 ? -1 : 1);
    ClientMetric metric;
    metric.gauge.value = value;
    gauge.metric.push_back(metric);
    if (i % 10 == 0) buckets.histogram.bucket.push_back({static_cast<std::uint64_t>(i), value});
  }
  histogram.metric.push_back(buckets);
  const std::vector<MetricFamily> families = {gauge, histogram};
  CHECK(Written(families, {}) == Reference(families, {}));
}

// Compact families: a counter whose label values need escaping, a gauge without labels, and
// histograms whose bounds end at +Inf, end before it, or are none.
std::vector<SeriesFamily> EveryKindOfSeriesFamily() {
  auto labels = std::make_shared<SeriesLabels>();
  const std::string raw_values[] = {"/a\"b\\c\nd", "plain", "", "\\n"};
  for (const std::string& raw : raw_values) {
    std::string escaped = "collector=\"web\",path=\"";
    AppendEscapedLabelValue(raw, escaped);
    escaped += '"';
    labels->Add(escaped);
  }
  auto no_labels = std::make_shared<SeriesLabels>();
  no_labels->Add("");
  std::vector<SeriesFamily> families;
  SeriesFamily counter{"requests_total", MetricType::Counter, "Requests.", labels, {}, {}, {}};
  for (std::size_t i = 0; i < labels->size(); ++i) counter.values.push_back(kDoubles[i * 7]);
  families.push_back(counter);
  families.push_back({"temperature_celsius", MetricType::Gauge, "", no_labels, {}, {0.1}, {}});
  const double inf = std::numeric_limits<double>::infinity();
  for (const std::vector<double>& bounds :
       {std::vector<double>{0.005, 0.5, 1, 2.5, inf}, std::vector<double>{-0.0, 1e-9, 1e20},
        std::vector<double>{}}) {
    SeriesFamily histogram{
        "duration_seconds", MetricType::Histogram, "Durations.", labels, bounds, {}, {}};
    for (std::size_t i = 0; i < labels->size(); ++i) {
      histogram.values.push_back(kDoubles[i * 5]);
      for (std::size_t b = 0; b < bounds.size(); ++b) {
        histogram.counts.push_back(i == 2 ? std::numeric_limits<std::uint64_t>::max() : b * 3 + i);
      }
    }
    families.push_back(histogram);
  }
  return families;
}

// What AppendText writes for `families` joined with the compact `series` (each to the family of
// its name, created when missing) and `extra_labels`, checked against TextSerializer on the
// equivalent prometheus-cpp families.
void CheckCompactAgainstReference(std::vector<MetricFamily> families,
                                  const std::vector<SeriesFamily>& series,
                                  const LabelPairs& extra_labels) {
  FamilySet set;
  set.AddAll(series);
  set.AddAll(families);
  std::string written = "kept ";
  AppendText(set.families(), set.series(), extra_labels, written);
  REQUIRE(written.starts_with("kept "));

  // Each family's own series, then those of the compact families joined to it.
  std::vector<MetricFamily> reference = set.families();
  for (std::size_t i = 0; i < reference.size(); ++i) {
    for (const SeriesFamily* joined : set.series()[i]) {
      for (auto& metric : ToMetricFamily(*joined).metric) reference[i].metric.push_back(metric);
    }
  }
  CHECK(written.substr(5) == Reference(std::move(reference), extra_labels));
}

TEST_CASE("compact families are written as TextSerializer writes their ToMetricFamily()",
          "[text_writer]") {
  const std::vector<SeriesFamily> series = EveryKindOfSeriesFamily();
  // Joined with prometheus-cpp families of the same names, and with others.
  std::vector<MetricFamily> families = EveryKindOfFamily();
  CheckCompactAgainstReference(families, series, {});
  CheckCompactAgainstReference(families, series,
                               {{"cluster", "eu \"west\""}, {"path", "ignored"}, {"cluster", "b"}});
  CheckCompactAgainstReference({}, series, {{"zone", "a"}});
}

TEST_CASE("ToMetricFamily gives the label values unescaped and every bucket", "[text_writer]") {
  const std::vector<SeriesFamily> series = EveryKindOfSeriesFamily();
  const MetricFamily counter = ToMetricFamily(series[0]);
  REQUIRE(counter.metric.size() == 4);
  REQUIRE(counter.metric[0].label.size() == 2);
  CHECK(counter.metric[0].label[0].name == "collector");
  CHECK(counter.metric[0].label[0].value == "web");
  CHECK(counter.metric[0].label[1].name == "path");
  CHECK(counter.metric[0].label[1].value == "/a\"b\\c\nd");
  CHECK(counter.metric[2].label[1].value.empty());
  CHECK(counter.metric[3].label[1].value == "\\n");
  CHECK(counter.metric[1].counter.value == kDoubles[7]);
  const MetricFamily histogram = ToMetricFamily(series[2]);
  REQUIRE(histogram.metric.size() == 4);
  REQUIRE(histogram.metric[1].histogram.bucket.size() == 5);
  CHECK(histogram.metric[1].histogram.bucket[3].upper_bound == 2.5);
  CHECK(histogram.metric[1].histogram.bucket[3].cumulative_count == 10);
  CHECK(histogram.metric[1].histogram.sample_count == 13);
  CHECK(histogram.metric[1].histogram.sample_sum == kDoubles[5]);
}

TEST_CASE("a compact family of another type than the held one is refused, its series counted",
          "[text_writer]") {
  const std::vector<SeriesFamily> series = EveryKindOfSeriesFamily();
  FamilySet set;
  set.Add(MetricFamily{"requests_total", "", MetricType::Gauge, {}});
  CHECK(set.AddAll(series) == 4);
  CHECK(set.series()[0].empty());
}

}  // namespace
}  // namespace sidecar
