#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"

namespace sidecar::accesslog {
namespace {

std::unique_ptr<LogFormat> Nginx(std::string_view format = "") {
  FormatError error;
  auto parser = LogFormat::Compile(LogFormatKind::kNginx, format, {}, error);
  INFO(error.message);
  REQUIRE(parser != nullptr);
  return parser;
}

FormatError NginxError(std::string_view format) {
  FormatError error;
  CHECK(LogFormat::Compile(LogFormatKind::kNginx, format, {}, error) == nullptr);
  return error;
}

TEST_CASE("nginx combined fills the standard fields", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  REQUIRE(parser->Parse(
      R"(10.1.2.3 - alice [17/May/2015:10:05:03 +0000] "GET /a/b?x=1&y=2 HTTP/1.1" 200 203023 "http://example.com/" "curl/8.0")",
      record));
  CHECK(record.remote_addr == "10.1.2.3");
  CHECK(record.remote_user == "alice");
  CHECK(record.time == "17/May/2015:10:05:03 +0000");
  CHECK(record.method == "GET");
  CHECK(record.uri == "/a/b?x=1&y=2");
  CHECK(record.path == "/a/b");
  CHECK(record.query == "x=1&y=2");
  CHECK(record.protocol == "HTTP/1.1");
  CHECK(record.status == 200u);
  CHECK(record.body_bytes_sent == 203023u);
  CHECK(record.referer == "http://example.com/");
  CHECK(record.user_agent == "curl/8.0");
  CHECK_FALSE(record.request_time.has_value());
  CHECK(record.named.empty());

  const FieldSet fields = parser->fields();
  CHECK(fields.Has(Field::kMethod));
  CHECK(fields.Has(Field::kPath));
  CHECK(fields.Has(Field::kBodyBytesSent));
  CHECK_FALSE(fields.Has(Field::kRequestTime));
  CHECK_FALSE(fields.Has(Field::kRequestLength));
  CHECK_FALSE(fields.Has(Field::kBytesSent));
}

TEST_CASE("nginx \\x22 escapes are decoded and do not end a quoted field", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  REQUIRE(parser->Parse(
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /q?a=\x22b\x22 HTTP/1.1" 404 0 "-" "Bot \x22quoted\x22 \x5Cslash")",
      record));
  CHECK(record.uri == "/q?a=\"b\"");
  CHECK(record.query == "a=\"b\"");
  CHECK(record.user_agent == "Bot \"quoted\" \\slash");
  CHECK(record.referer.empty());
  CHECK(record.status == 404u);
}

TEST_CASE("backslash-escaped quotes stay inside a quoted field", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  REQUIRE(parser->Parse(R"(1.2.3.4 - - [t] "GET /x HTTP/1.1" 200 5 "-" "agent \" with \" quotes")",
                        record));
  CHECK(record.user_agent == R"(agent " with " quotes)");
}

TEST_CASE("nginx '-' numbers are missing, not zero", "[format]") {
  auto parser = Nginx(
      "$remote_addr [$time_local] \"$request\" $status $body_bytes_sent $request_time "
      "$upstream_response_time \"$upstream_status\"");
  LogRecord record;
  REQUIRE(parser->Parse(R"(1.2.3.4 [t] "GET / HTTP/1.1" 499 - - - "-")", record));
  CHECK(record.status == 499u);
  CHECK_FALSE(record.body_bytes_sent.has_value());
  CHECK_FALSE(record.request_time.has_value());
  CHECK_FALSE(record.upstream_response_time.has_value());
  CHECK_FALSE(record.upstream_status.has_value());
  CHECK(parser->fields().Has(Field::kRequestTime));
  CHECK(parser->fields().Has(Field::kUpstreamResponseTime));
}

TEST_CASE("nginx IPv6 client and empty user agent", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  REQUIRE(parser->Parse(
      R"(2001:db8::8a2e:370:7334 - - [17/May/2015:10:05:03 +0000] "HEAD / HTTP/2.0" 301 0 "" "")",
      record));
  CHECK(record.remote_addr == "2001:db8::8a2e:370:7334");
  CHECK(record.method == "HEAD");
  CHECK(record.user_agent.empty());
  CHECK(record.referer.empty());
  CHECK(record.body_bytes_sent == 0u);
}

TEST_CASE("nginx 8 KiB URL", "[format]") {
  auto parser = Nginx();
  const std::string path = "/" + std::string(8192, 'a');
  const std::string line = "1.2.3.4 - - [t] \"GET " + path + "?q HTTP/1.1\" 414 10 \"-\" \"ua\"";
  LogRecord record;
  REQUIRE(parser->Parse(line, record));
  CHECK(record.path == path);
  CHECK(record.query == "q");
  CHECK(record.status == 414u);
}

TEST_CASE("nginx invalid UTF-8 passes through as bytes", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  // Raw bytes (a client that sent them, nginx with escape=none) and nginx's \xHH escapes.
  REQUIRE(parser->Parse(
      "1.2.3.4 - - [t] \"GET /\xff\xfe HTTP/1.1\" 400 1 \"http://\\xE4\\xFF/\" \"\xc3\x28\"",
      record));
  CHECK(record.path == "/\xff\xfe");
  CHECK(record.referer == "http://\xe4\xff/");
  CHECK(record.user_agent == "\xc3\x28");
  CHECK_FALSE(IsValidUtf8(record.path));
  std::string buffer;
  CHECK(SanitizeUtf8(record.path, buffer) == "/\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(SanitizeUtf8("caf\xc3\xa9", buffer) == "caf\xc3\xa9");
}

TEST_CASE("nginx truncated lines are parse errors", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  CHECK_FALSE(parser->Parse(R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a HT)", record));
  CHECK_FALSE(
      parser->Parse(R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200)", record));
  CHECK_FALSE(parser->Parse(R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 5 "-")", record));
  CHECK_FALSE(parser->Parse("", record));
  CHECK_FALSE(parser->Parse("garbage", record));
  // Not a number where one is expected.
  CHECK_FALSE(parser->Parse(R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 2OO 5 "-" "ua")", record));
  CHECK_FALSE(parser->Parse(R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 5 "-" "ua" extra)", record));
}

TEST_CASE("nginx user agent cut before its closing quote is accepted", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  REQUIRE(parser->Parse(R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compat)",
                        record));
  CHECK(record.user_agent == "Mozilla/5.0 (compat");
  CHECK(record.status == 200u);
}

TEST_CASE("nginx multi-value upstream fields", "[format]") {
  auto parser = Nginx(
      "$remote_addr \"$request\" $status $request_time \"$upstream_addr\" "
      "\"$upstream_status\" \"$upstream_response_time\" \"$upstream_connect_time\" "
      "\"$upstream_header_time\"");
  LogRecord record;
  REQUIRE(parser->Parse(
      R"(::1 "POST /api HTTP/1.1" 200 0.020 "10.0.0.1:80, 10.0.0.2:80 : 10.0.1.1:80" "502, 504 : 200" "0.004, 0.012 : 0.001" "0.001, - : 0.000" "-, - : -")",
      record));
  CHECK(record.upstream_addr == "10.0.0.1:80, 10.0.0.2:80 : 10.0.1.1:80");
  CHECK(record.upstream_status == 200u);
  REQUIRE(record.upstream_response_time.has_value());
  CHECK(*record.upstream_response_time == Approx(0.017));
  CHECK(*record.upstream_connect_time == Approx(0.001));
  CHECK_FALSE(record.upstream_header_time.has_value());
  CHECK(record.request_time == 0.020);
}

TEST_CASE("nginx custom format with ${var}, $http_* and other variables", "[format]") {
  auto parser = Nginx(
      "${remote_addr}|$host|$server_name|$scheme|$request_method|$request_uri|$uri|"
      "$request_length|$bytes_sent|$status|$http_x_forwarded_for|${ssl_protocol}|"
      "$time_iso8601|$request_time");
  LogRecord record;
  REQUIRE(
      parser->Parse("10.0.0.9|example.com|_|https|PUT|/v1/items/7?force=1|/v1/items/7|512|1024|201|"
                    "203.0.113.7, 10.0.0.1|TLSv1.3|2024-05-01T10:00:00+00:00|0.125",
                    record));
  CHECK(record.remote_addr == "10.0.0.9");
  CHECK(record.host == "example.com");
  CHECK(record.server_name == "_");
  CHECK(record.scheme == "https");
  CHECK(record.method == "PUT");
  CHECK(record.uri == "/v1/items/7?force=1");
  CHECK(record.path == "/v1/items/7");
  CHECK(record.request_length == 512u);
  CHECK(record.bytes_sent == 1024u);
  CHECK(record.status == 201u);
  CHECK(record.Named("http_x_forwarded_for") == "203.0.113.7, 10.0.0.1");
  CHECK(record.Named("ssl_protocol") == "TLSv1.3");
  CHECK(record.Named("missing").empty());
  CHECK(record.time == "2024-05-01T10:00:00+00:00");
  CHECK(record.request_time == 0.125);
  CHECK(parser->fields().Has(Field::kRequestLength));
  CHECK(parser->fields().Has(Field::kBytesSent));
}

TEST_CASE("nginx $uri$is_args$args reads as one uri", "[format]") {
  auto parser = Nginx("$request_method $uri$is_args$args $status");
  LogRecord record;
  REQUIRE(parser->Parse("GET /a/b?c=d 200", record));
  CHECK(record.uri == "/a/b?c=d");
  CHECK(record.path == "/a/b");
  CHECK(record.query == "c=d");
  REQUIRE(parser->Parse("GET /a/b 200", record));
  CHECK(record.path == "/a/b");
  CHECK(record.query.empty());
}

TEST_CASE("nginx odd request lines keep the line", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  // A TLS handshake sent to a plain-HTTP port.
  REQUIRE(parser->Parse(R"(1.2.3.4 - - [t] "\x16\x03\x01\x00\xA5\x01\x00\x00" 400 157 "-" "-")",
                        record));
  CHECK(record.method.empty());
  CHECK(record.path.empty());
  CHECK(record.status == 400u);
  CHECK(record.user_agent.empty());
  REQUIRE(parser->Parse(R"(1.2.3.4 - - [t] "GET /old" 200 1 "-" "-")", record));
  CHECK(record.method == "GET");
  CHECK(record.path == "/old");
  CHECK(record.protocol.empty());
  REQUIRE(parser->Parse(R"(1.2.3.4 - - [t] "" 400 0 "-" "-")", record));
  CHECK(record.method.empty());
}

TEST_CASE("nginx lines keep parsing after a trailing newline", "[format]") {
  auto parser = Nginx();
  LogRecord record;
  REQUIRE(parser->Parse("1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\"\r\n", record));
  CHECK(record.user_agent == "ua");
}

TEST_CASE("nginx format errors name the variable and its position", "[format]") {
  FormatError error = NginxError("$remote_addr $ $status");
  CHECK(error.offset == 13);
  CHECK_THAT(error.message, Catch::Contains("position 14"));
  CHECK_THAT(error.message, Catch::Contains("'$'"));

  error = NginxError("$remote_addr ${status");
  CHECK(error.offset == 13);
  CHECK_THAT(error.message, Catch::Contains("unterminated ${"));

  error = NginxError("$remote_addr$status");
  CHECK(error.offset == 12);
  CHECK_THAT(error.message,
             Catch::Contains("$status at position 13 directly follows $remote_addr"));

  error = NginxError("${bad-name} x");
  CHECK_THAT(error.message, Catch::Contains("${bad-name}"));

  error = NginxError("no variables at all");
  CHECK_THAT(error.message, Catch::Contains("no field"));
}

TEST_CASE("log format kind names", "[format]") {
  LogFormatKind kind{};
  CHECK(ParseLogFormatKind("apache", kind));
  CHECK(kind == LogFormatKind::kApache);
  CHECK(ParseLogFormatKind("json", kind));
  CHECK(kind == LogFormatKind::kJson);
  CHECK_FALSE(ParseLogFormatKind("csv", kind));
  CHECK(LogFormatKindName(LogFormatKind::kRegex) == "regex");
  CHECK(FieldFromName("request_method") == Field::kMethod);
  CHECK(FieldName(Field::kUpstreamResponseTime) == "upstream_response_time");
  CHECK_FALSE(FieldFromName("nope").has_value());
}

}  // namespace
}  // namespace sidecar::accesslog
