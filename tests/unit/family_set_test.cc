#include "collectors/core/family_set.h"

#include <catch2/catch.hpp>

#include "collectors/core/metric_family_builder.h"

namespace sidecar {
namespace {

using prometheus::MetricType;

TEST_CASE("a family of another type under a held name is refused, its series counted",
          "[family_set]") {
  FamilySet families;
  CHECK(families.AddAll({MetricFamilyBuilder("up", "Up.", MetricType::Gauge).Add(1).Build()}) == 0);
  const std::size_t refused = families.AddAll(
      {MetricFamilyBuilder("up", "Up.", MetricType::Counter).Add(2, {{"a", "1"}}).Add(3).Build(),
       MetricFamilyBuilder("other", "O.", MetricType::Gauge).Add(4).Build()});
  CHECK(refused == 2);
  CHECK(families.Contains("other"));
  const std::vector<prometheus::MetricFamily> taken = std::move(families).Take();
  REQUIRE(taken.size() == 2);
  CHECK(taken[0].name == "up");
  CHECK(taken[0].type == MetricType::Gauge);
  REQUIRE(taken[0].metric.size() == 1);
  CHECK(taken[0].metric[0].gauge.value == 1);
  CHECK(taken[1].name == "other");
}

TEST_CASE("joining many families keeps first-seen order and every series", "[family_set]") {
  FamilySet families;
  for (int collector = 0; collector < 3; ++collector) {
    std::vector<prometheus::MetricFamily> batch;
    for (int i = 0; i < 1000; ++i) {
      batch.push_back(MetricFamilyBuilder("m" + std::to_string(i), "M.", MetricType::Counter)
                          .Add(collector, {{"collector", std::to_string(collector)}})
                          .Build());
    }
    CHECK(families.AddAll(std::move(batch)) == 0);
  }
  const std::vector<prometheus::MetricFamily> taken = std::move(families).Take();
  REQUIRE(taken.size() == 1000);
  CHECK(taken[0].name == "m0");
  CHECK(taken[999].name == "m999");
  REQUIRE(taken[500].metric.size() == 3);
  CHECK(taken[500].metric[2].label[0].value == "2");
}

TEST_CASE("base labels come before a series' own labels", "[family_set]") {
  const prometheus::MetricFamily family =
      MetricFamilyBuilder("h", "H.", MetricType::Histogram, {{"collector", "c"}})
          .AddHistogram({0.1, 1}, {2, 3, 4}, 5.5, {{"path", "/"}})
          .Build();
  REQUIRE(family.metric.size() == 1);
  const auto& metric = family.metric[0];
  REQUIRE(metric.label.size() == 2);
  CHECK(metric.label[0].name == "collector");
  CHECK(metric.label[1].name == "path");
  REQUIRE(metric.histogram.bucket.size() == 3);
  CHECK(metric.histogram.bucket[0].cumulative_count == 2);
  CHECK(metric.histogram.bucket[2].cumulative_count == 9);
  CHECK(metric.histogram.sample_count == 9);
  CHECK(metric.histogram.sample_sum == 5.5);
}

}  // namespace
}  // namespace sidecar
