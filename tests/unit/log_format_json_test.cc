#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"

namespace sidecar::accesslog {
namespace {

std::unique_ptr<LogFormat> Json(const LogFormatOptions& options = {}) {
  FormatError error;
  auto parser = LogFormat::Compile(LogFormatKind::kJson, "", options, error);
  INFO(error.message);
  REQUIRE(parser != nullptr);
  return parser;
}

TEST_CASE("json lines from nginx escape=json fill the standard fields", "[format]") {
  auto parser = Json();
  LogRecord record;
  REQUIRE(parser->Parse(
      R"({"time_local":"01/May/2024:10:00:00 +0000","remote_addr":"2001:db8::1","request":"GET /caf\u00e9?q=\"x\" HTTP/1.1","status":"200","body_bytes_sent":"512","request_time":"0.004","upstream_response_time":"0.002, 0.001","upstream_status":"502, 200","http_user_agent":"","http_referer":"https:\/\/example.com\/","http_x_request_id":"r-1"})",
      record));
  CHECK(record.time == "01/May/2024:10:00:00 +0000");
  CHECK(record.remote_addr == "2001:db8::1");
  CHECK(record.method == "GET");
  CHECK(record.path == "/caf\xc3\xa9");
  CHECK(record.query == "q=\"x\"");
  CHECK(record.protocol == "HTTP/1.1");
  CHECK(record.status == 200u);
  CHECK(record.body_bytes_sent == 512u);
  CHECK(record.request_time == 0.004);
  CHECK(*record.upstream_response_time == Approx(0.003));
  CHECK(record.upstream_status == 200u);
  CHECK(record.user_agent.empty());
  CHECK(record.referer == "https://example.com/");
  CHECK(record.Named("http_x_request_id") == "r-1");
}

TEST_CASE("json missing fields, numbers, null and nested values", "[format]") {
  auto parser = Json();
  LogRecord record;
  REQUIRE(parser->Parse(
      R"({"status": 404, "request_time": 1.5e-3, "request_method": "DELETE", "bytes_sent": null, "tags": {"a": [1, 2]}, "cached": true, "request_length": "-"} )",
      record));
  CHECK(record.status == 404u);
  CHECK(record.request_time == Approx(0.0015));
  CHECK(record.method == "DELETE");
  CHECK_FALSE(record.bytes_sent.has_value());
  CHECK_FALSE(record.request_length.has_value());
  CHECK_FALSE(record.body_bytes_sent.has_value());
  CHECK(record.path.empty());
  CHECK(record.Named("cached") == "true");
  CHECK(record.Named("tags").empty());
}

TEST_CASE("json key map overrides and disables defaults", "[format]") {
  LogFormatOptions options;
  options.json_keys = {{"status", "code"}, {"method", "verb"}, {"request_time", ""}};
  auto parser = Json(options);
  CHECK_FALSE(parser->fields().Has(Field::kRequestTime));
  CHECK(parser->fields().Has(Field::kStatus));
  LogRecord record;
  REQUIRE(
      parser->Parse(R"({"code":"503","verb":"GET","status":"200","request_time":"9"})", record));
  CHECK(record.status == 503u);
  CHECK(record.method == "GET");
  CHECK_FALSE(record.request_time.has_value());
  CHECK(record.Named("status") == "200");

  FormatError error;
  options.json_keys = {{"colour", "c"}};
  CHECK(LogFormat::Compile(LogFormatKind::kJson, "", options, error) == nullptr);
  CHECK_THAT(error.message, Catch::Contains("'colour'"));
}

TEST_CASE("json malformed lines are parse errors", "[format]") {
  auto parser = Json();
  LogRecord record;
  CHECK_FALSE(parser->Parse(R"({"status":"200","request":"GET / HT)", record));
  CHECK_FALSE(parser->Parse(R"({"status":"200")", record));
  CHECK_FALSE(parser->Parse(R"(["status", 200])", record));
  CHECK_FALSE(parser->Parse(R"({"status":"200"} trailing)", record));
  CHECK_FALSE(parser->Parse(R"({"status":"two hundred"})", record));
  CHECK_FALSE(parser->Parse("", record));
  CHECK_FALSE(parser->Parse("not json", record));
  // Still usable afterwards.
  REQUIRE(parser->Parse(R"({"status":"200"})", record));
  CHECK(record.status == 200u);
}

TEST_CASE("json invalid UTF-8 from a client is replaced, not fatal", "[format]") {
  auto parser = Json();
  LogRecord record;
  REQUIRE(parser->Parse("{\"request\":\"GET /\xff\xfe HTTP/1.1\",\"status\":\"400\"}\n", record));
  CHECK(record.path == "/\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(record.status == 400u);
}

TEST_CASE("json long lines", "[format]") {
  auto parser = Json();
  const std::string path = "/" + std::string(8192, 'x');
  LogRecord record;
  REQUIRE(parser->Parse(R"({"request_uri":")" + path + R"(?a=1","status":"414"})", record));
  CHECK(record.path == path);
  CHECK(record.query == "a=1");
}

}  // namespace
}  // namespace sidecar::accesslog
