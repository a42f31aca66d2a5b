#include "exporter/flags.h"

#include <catch2/catch.hpp>

namespace sidecar {
namespace {

TEST_CASE("flags take = and space forms", "[flags]") {
  std::string error;
  const auto flags = ParseFlags({"--config.file=a.yaml", "--web.listen-address", "127.0.0.1:0",
                                 "--log.format=json", "--config.check"},
                                error);
  REQUIRE(flags);
  CHECK(flags->config_file == "a.yaml");
  CHECK(flags->listen_address == "127.0.0.1:0");
  CHECK(flags->log_format == "json");
  CHECK(flags->config_check);
  CHECK(flags->telemetry_path == "/metrics");
}

TEST_CASE("bad flags are refused with a reason", "[flags]") {
  std::string error;
  CHECK_FALSE(ParseFlags({"--config.file=a", "--nope"}, error));
  CHECK_THAT(error, Catch::Contains("unknown flag --nope"));
  CHECK_FALSE(ParseFlags({"--config.file=a", "--log.level=loud"}, error));
  CHECK_THAT(error, Catch::Contains("debug, info, warn, error"));
  CHECK_FALSE(ParseFlags({"--config.file"}, error));
  CHECK_THAT(error, Catch::Contains("needs a value"));
  CHECK_FALSE(ParseFlags({}, error));
  CHECK_THAT(error, Catch::Contains("--config.file is required"));
  CHECK_FALSE(ParseFlags({"--config.file=a", "--web.telemetry-path=/healthz"}, error));
  CHECK(ParseFlags({"--version"}, error));
}

}  // namespace
}  // namespace sidecar
