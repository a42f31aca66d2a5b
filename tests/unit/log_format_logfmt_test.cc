#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "collectors/logs/log_format.h"

namespace sidecar::accesslog {
namespace {

std::unique_ptr<LogFormat> Logfmt(bool keys_as_named) {
  LogFormatOptions options;
  options.keys_as_named = keys_as_named;
  FormatError error;
  std::unique_ptr<LogFormat> format =
      LogFormat::Compile(LogFormatKind::kLogfmt, "", options, error);
  REQUIRE(format != nullptr);
  return format;
}

TEST_CASE("logfmt: bare, quoted and empty values, flags, escapes", "[logfmt]") {
  const auto format = Logfmt(true);
  LogRecord record;
  REQUIRE(format->Parse(
      R"(ts=2026-11-29T21:53:37Z level=error msg="upstream \"api\" failed\n" duration=0.25 retry)"
      R"( token=abc== empty= path="/a b" unicode="caf\u00e9 \ud83d\ude00")",
      record));
  CHECK(record.Named("ts") == "2026-11-29T21:53:37Z");
  CHECK(record.Named("level") == "error");
  CHECK(record.Named("msg") == "upstream \"api\" failed\n");
  CHECK(record.Named("duration") == "0.25");
  CHECK(record.Named("token") == "abc==");
  CHECK(record.Named("path") == "/a b");
  CHECK(record.Named("unicode") == "caf\xC3\xA9 \xF0\x9F\x98\x80");
  REQUIRE(record.named.size() == 9);
  CHECK(record.named[4].name == "retry");
  CHECK(record.named[4].value.empty());
  CHECK(record.named[6].name == "empty");
  CHECK(record.named[6].value.empty());
  // Trailing CR/LF and spacing.
  REQUIRE(format->Parse("  a=1\tb=2  \r\n", record));
  CHECK(record.Named("a") == "1");
  CHECK(record.Named("b") == "2");
}

TEST_CASE("logfmt: malformed lines are refused", "[logfmt]") {
  const auto format = Logfmt(true);
  LogRecord record;
  CHECK_FALSE(format->Parse("", record));
  CHECK_FALSE(format->Parse("   ", record));
  CHECK_FALSE(format->Parse("=value", record));
  CHECK_FALSE(format->Parse("msg=\"unterminated", record));
  CHECK_FALSE(format->Parse("msg=\"bad escape \\q\"", record));
  CHECK_FALSE(format->Parse("msg=\"lone \\ud800\"", record));
  CHECK_FALSE(format->Parse("msg=\"short \\u12\"", record));
  CHECK_FALSE(format->Parse("a=b\"c", record));
  CHECK_FALSE(format->Parse("a=\"b\"c", record));
  CHECK_FALSE(format->Parse("a=\"b\\", record));
  CHECK_FALSE(format->Parse(std::string("a=b \x01", 5), record));
}

TEST_CASE("logfmt: field names fill the standard fields for access logs", "[logfmt]") {
  const auto format = Logfmt(false);
  LogRecord record;
  REQUIRE(format->Parse(R"(request="GET /api?x=1 HTTP/1.1" status=503 request_time=0.042 vhost=a)",
                        record));
  CHECK(record.method == "GET");
  CHECK(record.path == "/api");
  CHECK(record.query == "x=1");
  CHECK(record.status == 503u);
  CHECK(record.request_time == Approx(0.042));
  CHECK(record.Named("vhost") == "a");
  // A standard numeric field that is not a number does not parse.
  CHECK_FALSE(format->Parse("status=ok", record));
}

}  // namespace
}  // namespace sidecar::accesslog
