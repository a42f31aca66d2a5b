#include "collectors/http/php_fpm_collector.h"

#include <catch2/catch.hpp>

#include "collectors/http/fastcgi_fetcher.h"
#include "exporter/config.h"
#include "exporter/metric_families.h"
#include "tests/support/peers.h"

namespace sidecar {
namespace {

// A record as a FastCGI server writes it.
std::string Record(std::uint8_t type, std::string_view content, std::uint8_t padding = 0,
                   std::uint16_t request_id = 1) {
  std::string record = {1,
                        static_cast<char>(type),
                        static_cast<char>(request_id >> 8),
                        static_cast<char>(request_id & 0xff),
                        static_cast<char>(content.size() >> 8),
                        static_cast<char>(content.size() & 0xff),
                        static_cast<char>(padding),
                        0};
  record += content;
  record.append(padding, '\0');
  return record;
}

std::string EndRequest(std::uint8_t protocol_status = 0) {
  return Record(3, std::string("\0\0\0\0", 4) + static_cast<char>(protocol_status) +
                       std::string("\0\0\0", 3));
}

constexpr std::string_view kStatusJson =
    R"({"pool":"www","process manager":"dynamic","start time":1764445000,"start since":73,)"
    R"("accepted conn":12,"listen queue":1,"max listen queue":4,"listen queue len":511,)"
    R"("idle processes":0,"active processes":2,"total processes":2,"max active processes":2,)"
    R"("max children reached":3,"slow requests":1,"processes":[)"
    R"({"pid":101,"state":"Running","start time":1764445000,"start since":73,"requests":7,)"
    R"("request duration":1503412,"request method":"GET","request uri":"/slow.php?ms=\"1\"",)"
    R"("content length":0,"user":"-","script":"/srv/slow.php","last request cpu":0.00,)"
    R"("last request memory":0},)"
    R"({"pid":102,"state":"Getting request information","start time":1764445001,)"
    R"("start since":72,"requests":5,"request duration":18446744073709551000,)"
    R"("request method":"GET","request uri":"/status?json&full","content length":0,"user":"-",)"
    R"("script":"-","last request cpu":12.5,"last request memory":2097152}]})";

TEST_CASE("FastCGI records in any split, with padding, STDERR and END_REQUEST", "[fastcgi]") {
  const std::string stream = Record(6, "Content-type: application/json\r\n", 3) +
                             Record(7, "a warning") + Record(6, "\r\n{}") + EndRequest() +
                             "ignored";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    FastCgiResponseReader reader(1024);
    auto state = reader.Feed(std::string_view(stream).substr(0, split));
    if (state != FastCgiResponseReader::State::kDone) {
      state = reader.Feed(std::string_view(stream).substr(split));
    }
    REQUIRE(state == FastCgiResponseReader::State::kDone);
    CHECK(reader.stdout_bytes() == "Content-type: application/json\r\n\r\n{}");
    CHECK(reader.stderr_bytes() == "a warning");
  }
}

TEST_CASE("lying and hostile FastCGI streams are errors, never overreads", "[fastcgi]") {
  using State = FastCgiResponseReader::State;
  FastCgiResponseReader truncated(1024);
  CHECK(truncated.Feed(Record(6, "hello").substr(0, 10)) == State::kNeedMore);
  CHECK(truncated.Truncated() ==
        "FastCGI: connection closed inside a record (10 of the 13 bytes its header announced)");

  FastCgiResponseReader no_end(1024);
  CHECK(no_end.Feed(Record(6, "Status: 200\r\n\r\n")) == State::kNeedMore);
  CHECK(no_end.Truncated() == "FastCGI: connection closed before END_REQUEST (15 bytes of output)");

  FastCgiResponseReader http(1024);
  CHECK(http.Feed("HTTP/1.1 400 Bad Request\r\n") == State::kError);
  CHECK(http.error() == "FastCGI: record version 72, want 1; not a FastCGI server");

  FastCgiResponseReader other_request(1024);
  CHECK(other_request.Feed(Record(6, "x", 0, 2)) == State::kError);
  CHECK(other_request.error() == "FastCGI: record for request 2, want 1");

  FastCgiResponseReader too_big(10);
  CHECK(too_big.Feed(Record(6, "0123456789A")) == State::kError);
  CHECK(too_big.error() == "FastCGI: response larger than 10 bytes");

  FastCgiResponseReader overloaded(1024);
  CHECK(overloaded.Feed(EndRequest(2)) == State::kError);
  CHECK(overloaded.error() == "FastCGI: request refused, protocol status 2 (overloaded)");

  FastCgiResponseReader short_end(1024);
  CHECK(short_end.Feed(Record(3, "ab")) == State::kError);
  CHECK(short_end.error() == "FastCGI: END_REQUEST record of 2 bytes, want 8");

  FastCgiResponseReader unknown(1024);
  CHECK(unknown.Feed(Record(42, "")) == State::kError);
  CHECK(unknown.error() == "FastCGI: unknown record type 42");
}

TEST_CASE("CGI responses: Status header, content type, body", "[fastcgi]") {
  std::string error;
  auto response = ParseCgiResponse(
      "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nFile "
      "not found.\n",
      error);
  REQUIRE(response);
  CHECK(response->status == 404);
  CHECK(response->content_type == "text/plain");
  CHECK(response->body == "File not found.\n");
  response = ParseCgiResponse("Content-type: application/json\n\n{}", error);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == "{}");
  CHECK_FALSE(ParseCgiResponse("{\"pool\":\"www\"}", error));
  CHECK(error == "FastCGI: the response has no end of headers");
  CHECK_FALSE(ParseCgiResponse("Status: abc\r\n\r\n", error));
  CHECK(error == "FastCGI: bad Status header \"abc\"");
}

TEST_CASE("the request: BEGIN_REQUEST as a responder, PARAMS with long values, empty STDIN",
          "[fastcgi]") {
  const std::string long_value(300, 'v');
  const std::string request = EncodeFastCgiRequest({{"A", "1"}, {"LONG", long_value}});
  CHECK(request.substr(0, 16) == Record(1, std::string("\0\1\0\0\0\0\0\0", 8)));
  // PARAMS: 1-byte lengths for short pairs, 4 bytes (high bit set) past 127.
  const std::string params =
      std::string("\1\1A1", 4) + "\4" + std::string("\x80\0\x01\x2c", 4) + "LONG" + long_value;
  CHECK(request.substr(16) == Record(4, params) + Record(4, "") + Record(5, ""));
}

TEST_CASE("addresses: unix:// and tcp:// only", "[fastcgi]") {
  std::string error;
  auto address = FastCgiAddress::Parse("unix:///run/php/fpm.sock", error);
  REQUIRE(address);
  CHECK(address->unix_path == "/run/php/fpm.sock");
  address = FastCgiAddress::Parse("tcp://127.0.0.1:9000", error);
  REQUIRE(address);
  CHECK(address->host == "127.0.0.1");
  CHECK(address->port == 9000);
  address = FastCgiAddress::Parse("tcp://[::1]:9000", error);
  REQUIRE(address);
  CHECK(address->host == "::1");
  CHECK_FALSE(FastCgiAddress::Parse("127.0.0.1:9000", error));
  CHECK(error == "want unix:///path/to/socket or tcp://host:port");
  CHECK_FALSE(FastCgiAddress::Parse("tcp://127.0.0.1:99999", error));
  CHECK(error == "want tcp://host:port, such as tcp://127.0.0.1:9000");
  CHECK_FALSE(FastCgiAddress::Parse("unix://run/php.sock", error));
  CHECK_FALSE(FastCgiAddress::Parse("unix:///" + std::string(200, 'x'), error));
  CHECK(error == "socket path longer than 107 bytes");
}

TEST_CASE("?json&full of PHP 8.2 under hipages/php-fpm_exporter's names", "[php_fpm]") {
  std::string error;
  const auto pool = ParsePhpFpmStatus(kStatusJson, error);
  INFO(error);
  REQUIRE(pool);
  std::vector<prometheus::MetricFamily> families;
  AppendPhpFpmFamilies(*pool, "tcp://127.0.0.1:9000/status", {{"app", "shop"}}, families);
  const auto series = testing::ParseMetrics(SerializeText(families));
  const std::string pool_labels =
      "{app=\"shop\",pool=\"www\",scrape_uri=\"tcp://127.0.0.1:9000/status\"}";
  CHECK(series.at("phpfpm_start_since" + pool_labels) == 73);
  CHECK(series.at("phpfpm_accepted_connections" + pool_labels) == 12);
  CHECK(series.at("phpfpm_listen_queue" + pool_labels) == 1);
  CHECK(series.at("phpfpm_max_listen_queue" + pool_labels) == 4);
  CHECK(series.at("phpfpm_listen_queue_length" + pool_labels) == 511);
  CHECK(series.at("phpfpm_idle_processes" + pool_labels) == 0);
  CHECK(series.at("phpfpm_active_processes" + pool_labels) == 2);
  CHECK(series.at("phpfpm_total_processes" + pool_labels) == 2);
  CHECK(series.at("phpfpm_max_active_processes" + pool_labels) == 2);
  CHECK(series.at("phpfpm_max_children_reached" + pool_labels) == 3);
  CHECK(series.at("phpfpm_slow_requests" + pool_labels) == 1);
  const auto child = [](int number) {
    return "{app=\"shop\",pool=\"www\",child=\"" + std::to_string(number) +
           "\",scrape_uri=\"tcp://127.0.0.1:9000/status\"}";
  };
  CHECK(series.at("phpfpm_process_requests" + child(0)) == 7);
  CHECK(series.at("phpfpm_process_request_duration" + child(0)) == 1503412);
  // Past 2^63 (PHP bug 62382): 0, as the exporter reads it.
  CHECK(series.at("phpfpm_process_request_duration" + child(1)) == 0);
  CHECK(series.at("phpfpm_process_last_request_cpu" + child(1)) == 12.5);
  CHECK(series.at("phpfpm_process_last_request_memory" + child(1)) == 2097152);
  const auto state = [](int number, const std::string& name) {
    return "phpfpm_process_state{app=\"shop\",pool=\"www\",child=\"" + std::to_string(number) +
           "\",state=\"" + name + "\",scrape_uri=\"tcp://127.0.0.1:9000/status\"}";
  };
  CHECK(series.at(state(0, "Running")) == 1);
  CHECK(series.at(state(0, "Idle")) == 0);
  CHECK(series.count(state(0, "Getting request information")) == 0);
  // PHP 7.4+ spells it without the "s"; the exporter's six states stay, this one is added.
  CHECK(series.at(state(1, "Getting request informations")) == 0);
  CHECK(series.at(state(1, "Getting request information")) == 1);
  CHECK(series.size() == 11 + 2 * 4 + 6 + 7);
}

TEST_CASE("status pages that are not FPM's are rejected with the field named", "[php_fpm]") {
  std::string error;
  CHECK_FALSE(
      ParsePhpFpmStatus("pool:                 www\nprocess manager:      static\n", error));
  CHECK_THAT(error, Catch::StartsWith("php-fpm status: not JSON ("));
  CHECK_FALSE(ParsePhpFpmStatus("[1,2]", error));
  CHECK(error == "php-fpm status: not a JSON object");
  CHECK_FALSE(ParsePhpFpmStatus(R"({"pool":"www","start since":1})", error));
  CHECK(error == "php-fpm status: no \"accepted conn\" field");
  std::string json(kStatusJson);
  json.replace(json.find("\"listen queue\":1"), 16, "\"listen queue\":\"1\"");
  CHECK_FALSE(ParsePhpFpmStatus(json, error));
  CHECK(error == "php-fpm status: \"listen queue\" is not a number");
  json = std::string(kStatusJson);
  json.replace(json.find("\"requests\":5"), 12, "\"requests\":null");
  CHECK_FALSE(ParsePhpFpmStatus(json, error));
  CHECK(error == "php-fpm status: processes[1]: \"requests\" is not a number");
  // ?json without full: the pool only.
  const auto pool = ParsePhpFpmStatus(
      std::string(kStatusJson.substr(0, kStatusJson.find(",\"processes\""))) + "}", error);
  REQUIRE(pool);
  CHECK(pool->processes.empty());
}

TEST_CASE("php_fpm options: address or url, errors named", "[php_fpm]") {
  const auto errors = [](const std::string& yaml) {
    std::string text;
    for (const ConfigError& error : ParseConfig(yaml, "t.yaml").errors) {
      text += error.ToString() + "\n";
    }
    return text;
  };
  CHECK(errors("collectors:\n  - {type: php_fpm, name: a, address: 'unix:///run/php.sock'}\n") ==
        "");
  CHECK(errors("collectors:\n  - {type: php_fpm, name: a, address: '127.0.0.1:9000'}\n") ==
        "t.yaml:2:39: collectors[0].address: invalid address \"127.0.0.1:9000\"; want "
        "unix:///path/to/socket or tcp://host:port\n");
  CHECK(errors("collectors:\n  - {type: php_fpm, name: a, address: 'tcp://h:1', url: "
               "'http://h/s'}\n") ==
        "t.yaml:2:57: collectors[0].url: give either address (FastCGI, straight to the pool) or "
        "url (HTTP through the web server), not both\n");
  CHECK(errors("collectors:\n  - {type: php_fpm, name: a, status_path: status}\n") ==
        "t.yaml:2:43: collectors[0].status_path: invalid status_path \"status\"; want the pool's "
        "pm.status_path, such as /status\n");
  CHECK(errors("collectors:\n  - {type: php_fpm, name: a, labels: {pool: x}}\n") ==
        "t.yaml:2:38: collectors[0].labels: label \"pool\" is set by the collector; choose "
        "another name\n");
}

TEST_CASE("recorded answers of the real php-fpm8.2 read end to end", "[php_fpm]") {
  const auto read = [](const std::string& name) {
    return testing::ReadFile(std::filesystem::path(SIDECAR_TEST_DATA_DIR) / "php_fpm" / name);
  };
  FastCgiResponseReader reader(1 << 20);
  REQUIRE(reader.Feed(read("status-json-full.fcgi")) == FastCgiResponseReader::State::kDone);
  std::string error;
  const auto response = ParseCgiResponse(reader.stdout_bytes(), error);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->content_type == "application/json");
  const auto pool = ParsePhpFpmStatus(response->body, error);
  INFO(error);
  REQUIRE(pool);
  CHECK(pool->name == "www");
  CHECK(pool->total_processes == 2);
  CHECK(pool->processes.size() == 2);

  FastCgiResponseReader not_found(1 << 20);
  REQUIRE(not_found.Feed(read("status-not-found.fcgi")) == FastCgiResponseReader::State::kDone);
  CHECK(not_found.stderr_bytes() == "Primary script unknown");
  CHECK(ParseCgiResponse(not_found.stdout_bytes(), error)->status == 404);

  // The plain-text page (no ?json) is refused by the JSON parser with a hint.
  FastCgiResponseReader text(1 << 20);
  REQUIRE(text.Feed(read("status-text.fcgi")) == FastCgiResponseReader::State::kDone);
  CHECK_FALSE(ParsePhpFpmStatus(ParseCgiResponse(text.stdout_bytes(), error)->body, error));
  CHECK_THAT(error, Catch::EndsWith("does status_path name the pool's pm.status_path?"));
}

TEST_CASE("examples/php-fpm.yaml loads without errors", "[php_fpm]") {
  const ConfigLoad load =
      LoadConfigFile(std::filesystem::path(SIDECAR_SOURCE_DIR) / "examples" / "php-fpm.yaml");
  std::string errors;
  for (const ConfigError& error : load.errors) errors += error.ToString() + "\n";
  CHECK(errors == "");
  REQUIRE(load.config);
  CHECK(load.config->collectors.size() == 3);
}

}  // namespace
}  // namespace sidecar
