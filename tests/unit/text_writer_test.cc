#include "exporter/text_writer.h"

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>

#include "collectors/core/family_set.h"
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

}  // namespace
}  // namespace sidecar
