#include "exporter/logger.h"

#include <catch2/catch.hpp>
#include <sstream>

namespace sidecar {
namespace {

TEST_CASE("logfmt quotes only values that need it", "[logger]") {
  std::ostringstream out;
  Logger logger(out, LogLevel::kInfo, LogFormat::kLogfmt);
  logger.Info("listening", {{"address", "127.0.0.1:9000"}, {"reason", "a b=\"c\""}});
  const std::string line = out.str();
  CHECK(line.find(" level=info msg=listening address=127.0.0.1:9000 reason=\"a b=\\\"c\\\"\"\n") !=
        std::string::npos);
}

TEST_CASE("json records are one object per line", "[logger]") {
  std::ostringstream out;
  Logger logger(out, LogLevel::kDebug, LogFormat::kJson);
  logger.Error("fetch failed", {{"collector", "nginx"}, {"error", "tab\there"}});
  const std::string line = out.str();
  CHECK(line.find("\"level\":\"error\",\"msg\":\"fetch failed\",\"collector\":\"nginx\","
                  "\"error\":\"tab\\there\"}\n") != std::string::npos);
}

TEST_CASE("records below the level are dropped", "[logger]") {
  std::ostringstream out;
  Logger logger(out, LogLevel::kWarn, LogFormat::kLogfmt);
  logger.Info("hidden");
  logger.Debug("hidden");
  CHECK(out.str().empty());
  logger.Warn("shown");
  CHECK_FALSE(out.str().empty());
}

TEST_CASE("level and format names parse", "[logger]") {
  LogLevel level{};
  CHECK(ParseLogLevel("debug", level));
  CHECK(level == LogLevel::kDebug);
  CHECK_FALSE(ParseLogLevel("verbose", level));
  LogFormat format{};
  CHECK(ParseLogFormat("json", format));
  CHECK(format == LogFormat::kJson);
  CHECK_FALSE(ParseLogFormat("xml", format));
}

}  // namespace
}  // namespace sidecar
