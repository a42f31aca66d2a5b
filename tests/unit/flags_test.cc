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

TEST_CASE("the status sampler's interval is a hidden flag for benchmarks", "[flags]") {
  std::string error;
  const auto defaults = ParseFlags({"--config.file=a"}, error);
  REQUIRE(defaults);
  CHECK(defaults->status_sample_interval_ms == 5000);
  CHECK_THAT(Usage(), !Catch::Contains("sample-interval"));
  const auto off = ParseFlags({"--config.file=a", "--status.sample-interval-ms=0"}, error);
  REQUIRE(off);
  CHECK(off->status_sample_interval_ms == 0);
  const auto fast = ParseFlags({"--config.file=a", "--status.sample-interval-ms", "50"}, error);
  REQUIRE(fast);
  CHECK(fast->status_sample_interval_ms == 50);
  CHECK_FALSE(ParseFlags({"--config.file=a", "--status.sample-interval-ms=-1"}, error));
  CHECK(error ==
        "--status.sample-interval-ms: want milliseconds from 0 (no sampler) to 3600000, got "
        "\"-1\"");
  CHECK_FALSE(ParseFlags({"--config.file=a", "--status.sample-interval-ms=5s"}, error));
  CHECK_THAT(error, Catch::Contains("got \"5s\""));
}

}  // namespace
}  // namespace sidecar
