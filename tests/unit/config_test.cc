#include "exporter/config.h"

#include <catch2/catch.hpp>

namespace sidecar {
namespace {

// Loads `yaml` and returns its errors as "line:column field: message" strings.
std::vector<ConfigError> Errors(const std::string& yaml) {
  return ParseConfig(yaml, "test.yaml").errors;
}

ConfigError OnlyError(const std::vector<ConfigError>& errors) {
  REQUIRE(errors.size() == 1);
  return errors.front();
}

TEST_CASE("a valid config decodes every field", "[config]") {
  const ConfigLoad load = ParseConfig(R"(
global:
  timeout: 3s
  labels:
    cluster: eu-1
collectors:
  - type: nginx_status
    name: nginx
    url: http://127.0.0.1:8080/stub_status
    timeout: 250ms
)",
                                      "test.yaml");
  REQUIRE(load.errors.empty());
  REQUIRE(load.config);
  CHECK(load.config->timeout == std::chrono::seconds(3));
  REQUIRE(load.config->const_labels.size() == 1);
  CHECK(load.config->const_labels[0].first == "cluster");
  REQUIRE(load.config->collectors.size() == 1);
  CHECK(load.config->collectors[0].name == "nginx");
  CHECK(load.config->collectors[0].type == "nginx_status");
  CHECK(load.config->collectors[0].factory() != nullptr);
}

TEST_CASE("unknown keys are reported with line, column and the allowed keys", "[config]") {
  const ConfigError error = OnlyError(Errors(R"(collectors:
  - type: nginx_status
    name: nginx
    ulr: http://127.0.0.1/stub_status
)"));
  CHECK(error.line == 4);
  CHECK(error.column == 5);
  CHECK(error.field == "collectors[0].ulr");
  CHECK_THAT(error.message, Catch::Contains("unknown field \"ulr\"") && Catch::Contains("url"));
  CHECK(error.ToString().starts_with("test.yaml:4:5: collectors[0].ulr: "));
}

TEST_CASE("wrong types are reported at the value", "[config]") {
  const ConfigError error = OnlyError(Errors(R"(collectors:
  - type: nginx_status
    name: nginx
    labels: [a, b]
)"));
  CHECK(error.line == 4);
  CHECK(error.field == "collectors[0].labels");
  CHECK_THAT(error.message, Catch::Contains("expected a mapping"));
}

TEST_CASE("bad durations name the accepted forms", "[config]") {
  const ConfigError error = OnlyError(Errors(R"(global:
  timeout: 5 seconds
collectors:
  - {type: nginx_status, name: nginx}
)"));
  CHECK(error.line == 2);
  CHECK(error.column == 12);
  CHECK(error.field == "global.timeout");
  CHECK_THAT(error.message,
             Catch::Contains("invalid duration \"5 seconds\"") && Catch::Contains("250ms"));
}

TEST_CASE("bad URLs are rejected", "[config]") {
  const ConfigError error = OnlyError(Errors(R"(collectors:
  - type: nginx_status
    name: nginx
    url: 127.0.0.1:8080/stub_status
)"));
  CHECK(error.line == 4);
  CHECK(error.field == "collectors[0].url");
  CHECK_THAT(error.message, Catch::Contains("http://"));
}

TEST_CASE("duplicate collector names point at the first use", "[config]") {
  const ConfigError error = OnlyError(Errors(R"(collectors:
  - {type: nginx_status, name: web, labels: {instance: a}}
  - {type: nginx_status, name: web, labels: {instance: b}}
)"));
  CHECK(error.line == 3);
  CHECK(error.field == "collectors[1].name");
  CHECK_THAT(error.message, Catch::Contains("duplicate") && Catch::Contains("collectors[0]"));
}

TEST_CASE("two nginx collectors with the same labels would export the same series", "[config]") {
  const ConfigError error = OnlyError(Errors(R"(collectors:
  - {type: nginx_status, name: a}
  - {type: nginx_status, name: b}
)"));
  CHECK(error.line == 3);
  CHECK_THAT(error.message, Catch::Contains("distinct \"labels\""));
}

TEST_CASE("unknown collector types list the known ones", "[config]") {
  const ConfigError error = OnlyError(Errors(R"(collectors:
  - type: apache_status_page
    name: a
)"));
  CHECK(error.line == 2);
  CHECK(error.field == "collectors[0].type");
  CHECK_THAT(error.message, Catch::Contains("nginx_status"));
}

TEST_CASE("missing required fields and invalid label names", "[config]") {
  const auto errors = Errors(R"(global:
  labels:
    9lives: x
collectors:
  - type: nginx_status
)");
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].line == 3);
  CHECK_THAT(errors[0].message, Catch::Contains("invalid label name \"9lives\""));
  CHECK(errors[1].field == "collectors[0].name");
  CHECK_THAT(errors[1].message, Catch::Contains("missing required field"));
}

TEST_CASE("every error is reported, not just the first", "[config]") {
  const auto errors = Errors(R"(global:
  timeout: soon
collectors:
  - type: nginx_status
    name: a
    url: ftp://x
    max_response_bytes: 3
)");
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].line == 2);
  CHECK(errors[0].field == "global.timeout");
  CHECK_THAT(errors[0].message, Catch::Contains("invalid duration \"soon\""));
  CHECK(errors[1].line == 6);
  CHECK(errors[1].field == "collectors[0].url");
  CHECK_THAT(errors[1].message, Catch::Contains("invalid URL \"ftp://x\""));
  CHECK(errors[2].line == 7);
  CHECK(errors[2].field == "collectors[0].max_response_bytes");
}

TEST_CASE("invalid YAML and empty files", "[config]") {
  const ConfigError syntax = OnlyError(Errors("collectors: [\n  - {type: x\n"));
  CHECK(syntax.line >= 2);
  CHECK_THAT(syntax.message, Catch::Contains("invalid YAML"));
  CHECK_THAT(OnlyError(Errors("")).message, Catch::Contains("empty"));
  CHECK_THAT(OnlyError(Errors("collectors: []\n")).message, Catch::Contains("no collectors"));
}

TEST_CASE("a missing file is an error naming the file", "[config]") {
  const ConfigLoad load = LoadConfigFile("/nonexistent/sidecar.yaml");
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].file == "/nonexistent/sidecar.yaml");
  CHECK_THAT(load.errors[0].message, Catch::Contains("cannot read"));
}

TEST_CASE("durations parse the Prometheus way", "[config]") {
  std::chrono::milliseconds d{};
  CHECK(ParseDuration("250ms", d));
  CHECK(d.count() == 250);
  CHECK(ParseDuration("1m30s", d));
  CHECK(d.count() == 90000);
  CHECK(ParseDuration("2h", d));
  CHECK(d.count() == 7200000);
  CHECK(ParseDuration("0", d));
  CHECK(d.count() == 0);
  CHECK_FALSE(ParseDuration("", d));
  CHECK_FALSE(ParseDuration("5", d));
  CHECK_FALSE(ParseDuration("30s1m", d));
  CHECK_FALSE(ParseDuration("-5s", d));
  CHECK_FALSE(ParseDuration("5 s", d));
  CHECK_FALSE(ParseDuration("1.5s", d));
}

TEST_CASE("the fingerprint changes with the options", "[config]") {
  const auto a =
      ParseConfig("collectors:\n  - {type: nginx_status, name: n, url: 'http://a/'}\n", "a");
  const auto b =
      ParseConfig("collectors:\n  - {type: nginx_status, name: n, url: 'http://b/'}\n", "b");
  REQUIRE(a.config);
  REQUIRE(b.config);
  CHECK(a.config->collectors[0].fingerprint != b.config->collectors[0].fingerprint);
}

}  // namespace
}  // namespace sidecar
