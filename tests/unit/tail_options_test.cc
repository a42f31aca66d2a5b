#include "collectors/logs/tail_options.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "exporter/config.h"
#include "yaml-cpp/yaml.h"

namespace sidecar {
namespace {

TEST_CASE("the tailing fields every log collector shares", "[config][tail_options]") {
  std::vector<ConfigError> errors;
  FieldDecoder fields(YAML::Load(R"(
paths: [/var/log/nginx/access.log, '/var/log/app/*.log']
from_beginning: true
position_file: /var/log/nginx/.positions
max_line_bytes: 4096
rotated_file_grace: 30s
poll_interval: 250ms
reclaim: punch_hole
)"),
                      "collectors[0]", "test.yaml", errors);
  const TailOptions options = DecodeTailOptions(fields);
  fields.RejectUnknownKeys();
  for (const ConfigError& error : errors) INFO(error.ToString());
  CHECK(errors.empty());
  CHECK(options.tailer.paths ==
        std::vector<std::string>{"/var/log/nginx/access.log", "/var/log/app/*.log"});
  CHECK(options.tailer.from_beginning);
  CHECK(options.tailer.position_file == "/var/log/nginx/.positions");
  CHECK(options.tailer.max_line_bytes == 4096);
  CHECK(options.tailer.rotated_file_grace == std::chrono::seconds(30));
  CHECK(options.poll_interval == std::chrono::milliseconds(250));
  CHECK(options.tailer.reclaim == LogReclaim::kPunchHole);

  // Defaults: reclaim is opt-in.
  std::vector<ConfigError> no_errors;
  FieldDecoder minimal(YAML::Load("paths: [/var/log/a.log]"), "collectors[0]", "test.yaml",
                       no_errors);
  const TailOptions defaults = DecodeTailOptions(minimal);
  CHECK(no_errors.empty());
  CHECK(defaults.tailer.reclaim == LogReclaim::kNone);
  CHECK_FALSE(defaults.tailer.from_beginning);
  CHECK(defaults.poll_interval == std::chrono::seconds(1));
}

TEST_CASE("examples/nginx-reclaim.yaml loads without errors", "[config][tail_options]") {
  const ConfigLoad load =
      LoadConfigFile(std::filesystem::path(SIDECAR_SOURCE_DIR) / "examples" / "nginx-reclaim.yaml");
  for (const ConfigError& error : load.errors) INFO(error.ToString());
  CHECK(load.errors.empty());
  REQUIRE(load.config);
  CHECK(load.config->collectors.size() == 2);
}

}  // namespace
}  // namespace sidecar
