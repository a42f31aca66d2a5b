#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"

namespace sidecar::accesslog {
namespace {

std::unique_ptr<LogFormat> Regex(std::string_view pattern) {
  FormatError error;
  auto parser = LogFormat::Compile(LogFormatKind::kRegex, pattern, {}, error);
  INFO(error.message);
  REQUIRE(parser != nullptr);
  return parser;
}

constexpr std::string_view kFiveGroups =
    R"re(^(?P<remote_addr>\S+) \S+ \S+ \[[^\]]*\] "(?P<method>\S+) (?P<uri>\S*)[^"]*" (?P<status>\d{3}) (?P<body_bytes_sent>\d+|-))re";

TEST_CASE("regex named groups fill standard fields", "[format]") {
  auto parser = Regex(kFiveGroups);
  LogRecord record;
  REQUIRE(parser->Parse(
      R"(::1 - - [17/May/2015:10:05:03 +0000] "GET /a?b=1 HTTP/1.1" 200 - "-" "ua")", record));
  CHECK(record.remote_addr == "::1");
  CHECK(record.method == "GET");
  CHECK(record.uri == "/a?b=1");
  CHECK(record.path == "/a");
  CHECK(record.status == 200u);
  CHECK_FALSE(record.body_bytes_sent.has_value());
  CHECK(parser->fields().Has(Field::kStatus));
  CHECK_FALSE(parser->fields().Has(Field::kRequestTime));
  CHECK_FALSE(parser->Parse("nothing like it", record));
}

TEST_CASE("regex request group, other groups, optional groups, time units", "[format]") {
  auto parser = Regex(
      R"re(^"(?P<request>[^"]*)" (?P<status>\d+) (?P<request_time_ms>\d+)ms(?: up=(?P<upstream_response_time>[\d., :-]+))? tenant=(?P<tenant>\w+))re");
  LogRecord record;
  REQUIRE(parser->Parse(R"("POST /x HTTP/2.0" 201 250ms up=0.1, 0.05 tenant=acme)", record));
  CHECK(record.method == "POST");
  CHECK(record.path == "/x");
  CHECK(record.protocol == "HTTP/2.0");
  CHECK(record.request_time == 0.25);
  CHECK(*record.upstream_response_time == Approx(0.15));
  CHECK(record.Named("tenant") == "acme");
  REQUIRE(parser->Parse(R"("GET / HTTP/1.1" 200 3ms tenant=b)", record));
  CHECK_FALSE(record.upstream_response_time.has_value());
  CHECK(record.request_time == 0.003);
}

TEST_CASE("regex matches invalid UTF-8 and decodes escapes", "[format]") {
  auto parser = Regex(R"re("(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d+))re");
  LogRecord record;
  REQUIRE(parser->Parse("\"GET /\xff\xfe\\x22 HTTP/1.1\" 400", record));
  CHECK(record.path == "/\xff\xfe\"");
  CHECK(record.status == 400u);
}

TEST_CASE("regex with a malformed number is a parse error", "[format]") {
  auto parser = Regex(R"re(^(?P<status>\S+))re");
  LogRecord record;
  CHECK_FALSE(parser->Parse("abc", record));
  CHECK(parser->Parse("204", record));
  CHECK_FALSE(parser->Parse("1000", record));  // Not a status.
}

TEST_CASE("regex compile errors carry RE2's reason and a position", "[format]") {
  FormatError error;
  CHECK(LogFormat::Compile(LogFormatKind::kRegex, R"re(^(?P<status>\d+ (?P<x>)re", {}, error) ==
        nullptr);
  CHECK_THAT(error.message, Catch::Contains("invalid regex"));
  CHECK_THAT(error.message, Catch::Contains("missing )"));

  CHECK(LogFormat::Compile(LogFormatKind::kRegex, R"re(ab(?P<s>x)[z-a])re", {}, error) == nullptr);
  CHECK(error.offset == 11);
  CHECK_THAT(error.message, Catch::Contains("z-a at position 12"));
}

}  // namespace
}  // namespace sidecar::accesslog
