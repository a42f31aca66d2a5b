#include "collectors/http/nginx_status_collector.h"

#include <catch2/catch.hpp>

namespace sidecar {
namespace {

constexpr const char* kNginxPage =
    "Active connections: 291 \n"
    "server accepts handled requests\n"
    " 16630948 16630946 31070465 \n"
    "Reading: 6 Writing: 179 Waiting: 106 \n";

TEST_CASE("stub_status page parses", "[stub_status]") {
  std::string error;
  const auto status = ParseStubStatus(kNginxPage, error);
  REQUIRE(status);
  CHECK(status->active == 291);
  CHECK(status->accepted == 16630948);
  CHECK(status->handled == 16630946);
  CHECK(status->requests == 31070465);
  CHECK(status->reading == 6);
  CHECK(status->writing == 179);
  CHECK(status->waiting == 106);
}

TEST_CASE("Tengine's extra request_time column is accepted", "[stub_status]") {
  std::string error;
  const auto status = ParseStubStatus(
      "Active connections: 1\r\nserver accepts handled requests request_time\r\n 7 7 9 1234\r\n"
      "Reading: 0 Writing: 1 Waiting: 0\r\n",
      error);
  REQUIRE(status);
  CHECK(status->requests == 9);
  CHECK(status->writing == 1);
}

TEST_CASE("garbage, empty and huge pages are rejected with a reason", "[stub_status]") {
  std::string error;
  CHECK_FALSE(ParseStubStatus("", error));
  CHECK_THAT(error, Catch::Contains("expected 4"));
  CHECK_FALSE(ParseStubStatus("<html><body>502 Bad Gateway</body></html>", error));
  CHECK_FALSE(ParseStubStatus(
      "Active connections: x\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1 "
      "Waiting: 0\n",
      error));
  CHECK_THAT(error, Catch::Contains("line 1"));
  CHECK_FALSE(ParseStubStatus(
      "Active connections: 1\nserver accepts handled requests\n 1 1\nReading: 0 Writing: 1 "
      "Waiting: 0\n",
      error));
  CHECK_THAT(error, Catch::Contains("line 3"));
  CHECK_FALSE(ParseStubStatus(
      "Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1\n",
      error));
  CHECK_THAT(error, Catch::Contains("line 4"));
  // A counter past 2^64 is garbage, not a wrapped value.
  CHECK_FALSE(ParseStubStatus(
      "Active connections: 1\nserver accepts handled requests\n 99999999999999999999999 1 1\n"
      "Reading: 0 Writing: 1 Waiting: 0\n",
      error));
  const std::string huge(1 << 20, 'x');
  CHECK_FALSE(ParseStubStatus(huge, error));
}

TEST_CASE("an unreachable nginx yields nginx_up 0 and no other series", "[stub_status]") {
  NginxStatusOptions options;
  options.url = "http://127.0.0.1:1/stub_status";  // port 1: nothing listens, refused at once
  NginxStatusCollector collector(options);
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  const CollectResult result = collector.Collect(context);
  REQUIRE(result.error);
  CHECK_THAT(*result.error, Catch::Contains("127.0.0.1:1"));
  REQUIRE(result.families.size() == 1);
  CHECK(result.families[0].name == "nginx_up");
  CHECK(result.families[0].metric[0].gauge.value == 0);
}

}  // namespace
}  // namespace sidecar
