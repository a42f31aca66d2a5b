#include "collectors/http/json_collector.h"

#include <catch2/catch.hpp>

#include "exporter/metric_families.h"

namespace sidecar {
namespace {

JsonPath Path(std::string_view text) {
  std::string error;
  std::size_t offset = 0;
  auto path = JsonPath::Parse(text, error, offset);
  INFO(error);
  REQUIRE(path);
  return *path;
}

std::string PathError(std::string_view text) {
  std::string error;
  std::size_t offset = 0;
  CHECK_FALSE(JsonPath::Parse(text, error, offset));
  return std::to_string(offset) + ": " + error;
}

// Maps `json` with `metric` and returns the exposition text and the conversion errors.
std::pair<std::string, std::uint64_t> Map(const std::string& json, const JsonMetric& metric) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(json).get(root) == simdjson::SUCCESS);
  std::vector<prometheus::MetricFamily> families;
  std::uint64_t errors = 0;
  MapJsonMetric(root, metric, {{"app", "shop"}}, families, errors);
  return {SerializeText(families), errors};
}

JsonMetric Metric(std::string name, std::string_view path, std::vector<JsonLabel> labels = {},
                  std::vector<std::pair<std::string, double>> value_map = {}) {
  JsonMetric metric;
  metric.name = std::move(name);
  metric.help = "H.";
  metric.path = Path(path);
  metric.labels = std::move(labels);
  metric.value_map = std::move(value_map);
  return metric;
}

JsonLabel KeyLabel(std::string name, std::size_t wildcard = 0) {
  JsonLabel label;
  label.name = std::move(name);
  label.source = JsonLabel::Source::kKey;
  label.wildcard = wildcard;
  return label;
}

JsonLabel PathLabel(std::string name, std::string_view path) {
  JsonLabel label;
  label.name = std::move(name);
  label.source = JsonLabel::Source::kPath;
  label.path = Path(path);
  return label;
}

const std::string kActuator = R"({"status":"UP","components":{
  "db":{"status":"UP","details":{"database":"PostgreSQL","active":3}},
  "diskSpace":{"status":"DOWN","details":{"free":123456789012,"threshold":10485760}},
  "ping":{"status":"OUT_OF_SERVICE"}}})";

TEST_CASE("path language: dotted keys, quoted keys, indices and wildcards", "[json]") {
  CHECK(Path("$").wildcards() == 0);
  CHECK(Path("$.a.b").wildcards() == 0);
  CHECK(Path("a.b").wildcards() == 0);
  CHECK(Path("$.a[*].b.*").wildcards() == 2);
  CHECK(Path("$['a.b'][\"c\\\"d\"][3]").wildcards() == 0);
  CHECK(Path("@.name").relative());
  CHECK(PathError("$.a b") ==
        "3: unexpected ' '; expected '.' or '[' (quote keys with other characters: [\"...\"])");
  CHECK(PathError("$. a") == "2: ' ' in a key; quote the key: [\"...\"]");
  CHECK(PathError("$.") == "2: expected a key after '.'");
  CHECK(PathError("$[x]") == "2: expected an index, * or a quoted key after '['");
  CHECK(PathError("$[1") == "3: expected ']'");
  CHECK(PathError("$['a") == "4: unterminated quoted key");
  CHECK(PathError("$['a\\x']") == "4: invalid escape in a quoted key (only \\\\ and \\')");
  CHECK(PathError("$x") ==
        "1: unexpected 'x'; expected '.' or '[' (quote keys with other characters: [\"...\"])");
}

TEST_CASE("Spring Boot actuator health: value_map, $key and numbers", "[json]") {
  const std::vector<std::pair<std::string, double>> up = {{"UP", 1}, {"DOWN", 0}};
  auto [text, errors] = Map(
      kActuator, Metric("app_component_up", "$.components.*.status", {KeyLabel("component")}, up));
  CHECK(text ==
        "# HELP app_component_up H.\n# TYPE app_component_up gauge\n"
        "app_component_up{app=\"shop\",component=\"db\"} 1\n"
        "app_component_up{app=\"shop\",component=\"diskSpace\"} 0\n");
  CHECK(errors == 1);  // OUT_OF_SERVICE is not mapped

  std::tie(text, errors) = Map(kActuator, Metric("free", "$.components.diskSpace.details.free"));
  CHECK(text == "# HELP free H.\n# TYPE free gauge\nfree{app=\"shop\"} 123456789012\n");
  CHECK(errors == 0);

  std::tie(text, errors) = Map(kActuator, Metric("missing", "$.components.nope.status"));
  CHECK(text.empty());
  CHECK(errors == 1);
}

TEST_CASE("arrays, booleans, numeric strings, labels from the matched item", "[json]") {
  const std::string targets = R"({"data":{"activeTargets":[
    {"labels":{"job":"a"},"health":"up","ok":true,"lastScrapeDuration":"0.25"},
    {"labels":{"job":"b"},"health":"down","ok":false,"lastScrapeDuration":"x"},
    {"labels":{"job":"c"},"health":"unknown","ok":null}]}})";
  auto [text, errors] = Map(targets, Metric("target_ok", "$.data.activeTargets[*].ok",
                                            {KeyLabel("index"), PathLabel("job", "@.labels.job")}));
  CHECK(text ==
        "# HELP target_ok H.\n# TYPE target_ok gauge\n"
        "target_ok{app=\"shop\",index=\"0\",job=\"a\"} 1\n"
        "target_ok{app=\"shop\",index=\"1\",job=\"b\"} 0\n");
  CHECK(errors == 1);  // null

  std::tie(text, errors) =
      Map(targets, Metric("duration", "$.data.activeTargets[0].lastScrapeDuration"));
  CHECK(text == "# HELP duration H.\n# TYPE duration gauge\nduration{app=\"shop\"} 0.25\n");
  std::tie(text, errors) =
      Map(targets, Metric("first_job", "$.data.activeTargets[1].labels", {}, {}));
  CHECK(errors == 1);  // an object is no value
}

TEST_CASE("two values with the same labels are one series and one conversion error", "[json]") {
  auto [text, errors] = Map(R"({"a":1,"b":2})", Metric("v", "$.*"));
  CHECK(text == "# HELP v H.\n# TYPE v gauge\nv{app=\"shop\"} 1\n");
  CHECK(errors == 1);
}

}  // namespace
}  // namespace sidecar
