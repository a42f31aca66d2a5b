#include "collectors/logs/access_log_options.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "exporter/config.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

std::vector<ConfigError> Errors(const std::string& collector_yaml) {
  return ParseConfig("collectors:\n  - type: access_log\n    name: web\n" + collector_yaml,
                     "test.yaml")
      .errors;
}

ConfigError OnlyError(const std::vector<ConfigError>& errors) {
  for (const ConfigError& error : errors) INFO(error.ToString());
  REQUIRE(errors.size() == 1);
  return errors.front();
}

TEST_CASE("access_log: a full config decodes and builds the collector", "[config][access_log]") {
  testing::TempDir dir;
  const ConfigLoad load = ParseConfig(R"(
collectors:
  - type: access_log
    name: web
    paths: [")" + (dir / "access.log").string() +
                                          R"("]
    format: nginx
    log_format: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time'
    from_beginning: true
    position_file: )" + (dir / "positions").string() +
                                          R"(
    max_line_bytes: 8192
    poll_interval: 500ms
    rotated_file_grace: 30s
    reclaim: punch_hole
    labels: [method, status, path]
    status_class: true
    methods: [GET, POST]
    path_rewrites:
      - {pattern: '/users/\d+', replacement: '/users/:id'}
    allowed_values:
      path: [/, /users/:id]
    extra_labels: {agent: user_agent}
    duration_buckets: [0.1, 0.5, 1]
    upstream_duration_buckets: [1, 2]
    series_limit: 100
)",
                                      "test.yaml");
  for (const ConfigError& error : load.errors) INFO(error.ToString());
  REQUIRE(load.errors.empty());
  REQUIRE(load.config);
  CHECK(load.config->collectors[0].factory() != nullptr);
}

TEST_CASE("access_log: errors land on their field", "[config][access_log]") {
  SECTION("paths missing") {
    const ConfigError error = OnlyError(Errors(""));
    CHECK(error.field == "collectors[0].paths");
  }
  SECTION("unknown nginx variable in log_format") {
    const ConfigError error =
        OnlyError(Errors("    paths: [/var/log/a.log]\n    log_format: '$remote_addr %h $'\n"));
    CHECK(error.field == "collectors[0].log_format");
    CHECK(error.line == 5);
    CHECK(error.column == 34);  // the lone '$' inside the quoted format
  }
  SECTION("unknown Apache directive") {
    const ConfigError error = OnlyError(
        Errors("    paths: [/var/log/a.log]\n    format: apache\n    log_format: '%h %Z'\n"));
    CHECK(error.field == "collectors[0].log_format");
    CHECK(error.column == 21);  // the %Z
    CHECK_THAT(error.message, Catch::Contains("%Z"));
  }
  SECTION("bad regex") {
    const ConfigError error = OnlyError(
        Errors("    paths: [/var/log/a.log]\n    format: regex\n    regex: '(?P<status>\\d+'\n"));
    CHECK(error.field == "collectors[0].regex");
  }
  SECTION("bad path rewrite") {
    const ConfigError error =
        OnlyError(Errors("    paths: [/var/log/a.log]\n    path_rewrites:\n      - {pattern: '(', "
                         "replacement: x}\n"));
    CHECK(error.field == "collectors[0].path_rewrites[0].pattern");
    CHECK(error.line == 6);
  }
  SECTION("label the format cannot fill") {
    const ConfigError error =
        OnlyError(Errors("    paths: [/var/log/a.log]\n    format: apache\n    log_format: common\n"
                         "    labels: [method, upstream_status]\n"));
    CHECK(error.field == "collectors[0].labels");
    CHECK_THAT(error.message, Catch::Contains("upstream_status"));
  }
  SECTION("unsorted buckets") {
    const ConfigError error =
        OnlyError(Errors("    paths: [/var/log/a.log]\n    duration_buckets: [1, 0.5]\n"));
    CHECK(error.field == "collectors[0].duration_buckets");
  }
  SECTION("unknown reclaim") {
    const ConfigError error =
        OnlyError(Errors("    paths: [/var/log/a.log]\n    reclaim: truncate\n"));
    CHECK(error.field == "collectors[0].reclaim");
    CHECK(error.line == 5);
    CHECK(error.message == "unknown value \"truncate\"; allowed: none, punch_hole");
  }
  SECTION("unknown field") {
    const ConfigError error = OnlyError(Errors("    paths: [/var/log/a.log]\n    colour: red\n"));
    CHECK(error.field == "collectors[0].colour");
  }
}

}  // namespace
}  // namespace sidecar
