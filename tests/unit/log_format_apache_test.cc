#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"
#include "collectors/logs/request_metrics.h"

namespace sidecar::accesslog {
namespace {

std::unique_ptr<LogFormat> Apache(std::string_view format) {
  FormatError error;
  auto parser = LogFormat::Compile(LogFormatKind::kApache, format, {}, error);
  INFO(error.message);
  REQUIRE(parser != nullptr);
  return parser;
}

FormatError ApacheError(std::string_view format) {
  FormatError error;
  CHECK(LogFormat::Compile(LogFormatKind::kApache, format, {}, error) == nullptr);
  return error;
}

TEST_CASE("apache combined by name and as written in httpd.conf agree", "[format]") {
  const std::string line =
      R"x(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)")x";
  for (std::string_view format :
       {std::string_view("combined"),
        std::string_view(R"(%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\")")}) {
    auto parser = Apache(format);
    LogRecord record;
    REQUIRE(parser->Parse(line, record));
    CHECK(record.remote_addr == "127.0.0.1");
    CHECK(record.remote_user == "frank");
    CHECK(record.Named("remote_logname").empty());  // "-"
    CHECK(record.time == "10/Oct/2000:13:55:36 -0700");
    CHECK(record.method == "GET");
    CHECK(record.path == "/apache_pb.gif");
    CHECK(record.protocol == "HTTP/1.0");
    CHECK(record.status == 200u);
    CHECK(record.body_bytes_sent == 2326u);
    CHECK(record.referer == "http://www.example.com/start.html");
    CHECK(record.user_agent == "Mozilla/4.08 [en] (Win98; I ;Nav)");
  }
}

TEST_CASE("apache common, '-' bytes and escaped quotes", "[format]") {
  auto parser = Apache("common");
  LogRecord record;
  REQUIRE(parser->Parse(
      R"(::ffff:10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /say?q=\"hi\" HTTP/1.1" 304 -)",
      record));
  CHECK(record.remote_addr == "::ffff:10.0.0.1");
  CHECK(record.uri == R"(/say?q="hi")");
  CHECK(record.status == 304u);
  CHECK_FALSE(record.body_bytes_sent.has_value());
  CHECK_FALSE(parser->fields().Has(Field::kReferer));
}

TEST_CASE("apache time and size directives", "[format]") {
  auto parser = Apache(
      R"(%v %a %m %U%q %H %>s %B %I %O %D %T %{ms}T %{us}T \"%{X-Request-Id}i\" %{Content-Type}o %p)");
  LogRecord record;
  REQUIRE(parser->Parse(
      R"(www.example.com 10.0.0.1 POST /upload?x=1 HTTP/2.0 201 15 4096 230 1234 2 1500 1500000 "abc-123" text/html 443)",
      record));
  CHECK(record.server_name == "www.example.com");
  CHECK(record.method == "POST");
  CHECK(record.path == "/upload");
  CHECK(record.query == "x=1");
  CHECK(record.protocol == "HTTP/2.0");
  CHECK(record.status == 201u);
  CHECK(record.body_bytes_sent == 15u);
  CHECK(record.request_length == 4096u);
  CHECK(record.bytes_sent == 230u);
  // The last time directive wins; each is converted to seconds on its own.
  CHECK(record.request_time == 1.5);
  CHECK(record.Named("http_x_request_id") == "abc-123");
  CHECK(record.Named("sent_http_content_type") == "text/html");
  CHECK(record.Named("server_port") == "443");

  auto micros = Apache("%>s %D");
  REQUIRE(micros->Parse("200 1234", record));
  CHECK(record.request_time == 0.001234);
  auto millis = Apache("%>s %{ms}T");
  REQUIRE(millis->Parse("200 25", record));
  CHECK(record.request_time == 0.025);
  auto seconds = Apache("%s %T");
  REQUIRE(seconds->Parse("200 3", record));
  CHECK(record.request_time == 3.0);
}

TEST_CASE("apache %% and status conditions", "[format]") {
  auto parser = Apache(R"(%h 100%% %400,501{User-agent}i %<s)");
  LogRecord record;
  REQUIRE(parser->Parse("1.2.3.4 100% - 200", record));
  CHECK(record.user_agent.empty());
  CHECK(record.status == 200u);
}

TEST_CASE("apache format errors name the directive and its position", "[format]") {
  FormatError error = ApacheError("%h %Z %s");
  CHECK(error.offset == 3);
  CHECK_THAT(error.message, Catch::Contains("unknown Apache directive %Z at position 4"));

  error = ApacheError(R"(%h \"%{Referer\")");
  CHECK_THAT(error.message, Catch::Contains("unterminated %{"));
  CHECK(error.offset == 5);

  error = ApacheError("%h %");
  CHECK_THAT(error.message, Catch::Contains("incomplete Apache directive"));
  CHECK(error.offset == 3);

  error = ApacheError("%h %{fortnights}T");
  CHECK_THAT(error.message, Catch::Contains("%{fortnights}T"));

  error = ApacheError("%h%u");
  CHECK_THAT(error.message, Catch::Contains("%u at position 3 directly follows %h"));

  error = ApacheError("%h %{}i");
  CHECK_THAT(error.message, Catch::Contains("%{}i"));
}

// The independent count: split on quotes, as the combined format puts the request, referer and
// user agent in quotes and status and size between the first two quoted parts.
struct Totals {
  std::map<std::uint32_t, std::uint64_t> by_status;
  std::map<std::string, std::uint64_t> by_method;
  std::uint64_t bytes = 0;
  std::uint64_t lines = 0;
};

Totals CountBySplitting(const std::string& path) {
  Totals totals;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t q1 = line.find('"');
    const std::size_t q2 = line.find('"', q1 + 1);
    const std::string request = line.substr(q1 + 1, q2 - q1 - 1);
    std::istringstream rest(line.substr(q2 + 1));
    std::uint32_t status = 0;
    std::string bytes;
    rest >> status >> bytes;
    ++totals.lines;
    ++totals.by_status[status];
    ++totals.by_method[request.substr(0, request.find(' '))];
    if (bytes != "-") {
      totals.bytes += std::stoull(bytes);
    }
  }
  return totals;
}

TEST_CASE("apache combined parses every line of the real 10k log", "[format]") {
  const std::string path = SIDECAR_TEST_DATA_DIR "/apache_combined_10k.log";
  const Totals expected = CountBySplitting(path);
  // Fixed numbers, so that both counts being wrong the same way would still show.
  REQUIRE(expected.lines == 10000);
  CHECK(expected.bytes == 2747282740u);
  CHECK(expected.by_status.at(200) == 9126);
  CHECK(expected.by_status.at(304) == 445);
  CHECK(expected.by_status.at(404) == 213);
  CHECK(expected.by_status.at(301) == 164);
  CHECK(expected.by_status.at(206) == 45);
  CHECK(expected.by_status.at(500) == 3);
  CHECK(expected.by_status.at(403) == 2);
  CHECK(expected.by_status.at(416) == 2);
  CHECK(expected.by_method.at("GET") == 9952);
  CHECK(expected.by_method.at("HEAD") == 42);
  CHECK(expected.by_method.at("POST") == 5);
  CHECK(expected.by_method.at("OPTIONS") == 1);

  auto parser = Apache("combined");
  RequestMetricsOptions options;
  options.collector = "apache";
  options.fields = parser->fields();
  OptionsError error;
  auto metrics = RequestMetrics::Create(options, error);
  REQUIRE(metrics != nullptr);

  Totals parsed;
  std::ifstream in(path);
  std::string line;
  LogRecord record;
  std::uint64_t failures = 0;
  while (std::getline(in, line)) {
    if (!parser->Parse(line, record)) {
      ++failures;
      UNSCOPED_INFO("unparsed: " << line);
      continue;
    }
    ++parsed.lines;
    ++parsed.by_status[record.status.value_or(0)];
    ++parsed.by_method[std::string(record.method)];
    parsed.bytes += record.body_bytes_sent.value_or(0);
    metrics->Observe(record);
  }
  CHECK(failures == 0);
  CHECK(parsed.lines == expected.lines);
  CHECK(parsed.bytes == expected.bytes);
  CHECK(parsed.by_status == expected.by_status);
  CHECK(parsed.by_method == expected.by_method);

  // The same totals come out of the metrics.
  std::map<std::uint32_t, double> requests_by_status;
  double requests = 0;
  double bytes = 0;
  for (const auto& family : metrics->Collect()) {
    for (const auto& metric : family.metric) {
      if (family.name == "accesslog_http_requests_total") {
        requests += metric.counter.value;
        for (const auto& label : metric.label) {
          if (label.name == "status") {
            requests_by_status[static_cast<std::uint32_t>(std::stoul(label.value))] +=
                metric.counter.value;
          }
        }
      } else if (family.name == "accesslog_http_response_size_bytes_total") {
        bytes += metric.counter.value;
      }
    }
  }
  CHECK(requests == 10000);
  CHECK(bytes == 2747282740.0);
  CHECK(requests_by_status[200] == 9126);
  CHECK(requests_by_status[500] == 3);
  // 8 statuses with GET, 3 with HEAD, 2 with POST, 1 with OPTIONS.
  CHECK(metrics->SeriesCount() == 14);
}

}  // namespace
}  // namespace sidecar::accesslog
