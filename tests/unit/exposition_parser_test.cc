#include "collectors/http/exposition_parser.h"

#include <bit>
#include <catch2/catch.hpp>
#include <charconv>
#include <random>

#include "exporter/metric_families.h"

namespace sidecar {
namespace {

// Parses `body` and writes it back in the text format 0.0.4, as the exporter serves it.
std::string RoundTrip(std::string_view body, ExpositionParseOptions options = {}) {
  std::string error;
  auto parsed = ParseExposition(body, options, error);
  INFO(error);
  REQUIRE(parsed);
  Gathered gathered;
  for (const auto& family : parsed->families) gathered.merged.push_back({&family});
  return SerializeText(gathered);
}

std::string ParseError(std::string_view body, ExpositionFormat format = ExpositionFormat::kText,
                       std::size_t sample_limit = 0) {
  ExpositionParseOptions options;
  options.format = format;
  options.sample_limit = sample_limit;
  std::string error;
  CHECK_FALSE(ParseExposition(body, options, error));
  return error;
}

TEST_CASE("text format: HELP, TYPE, labels, timestamps and histograms pass through",
          "[exposition_parser]") {
  const std::string text =
      "# HELP http_requests_total Requests\\nserved, \"all\" of them.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"GET\",path=\"/a\\\"b\\\\\"} 1027 1395066363000\n"
      "http_requests_total{ method = \"POST\" , } 3\n"
      "# a comment\n"
      "\n"
      "# TYPE rpc_duration_seconds histogram\n"
      "rpc_duration_seconds_bucket{le=\"0.05\"} 24054\n"
      "rpc_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
      "rpc_duration_seconds_sum 53423\n"
      "rpc_duration_seconds_count 144320\n"
      "# TYPE go_gc_duration_seconds summary\n"
      "go_gc_duration_seconds{quantile=\"0.5\"} 4.2021e-05\n"
      "go_gc_duration_seconds_sum 0.1\n"
      "go_gc_duration_seconds_count 7\n"
      "untyped_metric -Inf\n"
      "nan_metric NaN\n";
  CHECK(RoundTrip(text) ==
        "# HELP http_requests_total Requests\\nserved, \"all\" of them.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"GET\",path=\"/a\\\"b\\\\\"} 1027 1395066363000\n"
        "http_requests_total{method=\"POST\"} 3\n"
        "# TYPE rpc_duration_seconds histogram\n"
        "rpc_duration_seconds_bucket{le=\"0.05\"} 24054\n"
        "rpc_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
        "rpc_duration_seconds_sum 53423\n"
        "rpc_duration_seconds_count 144320\n"
        "# TYPE go_gc_duration_seconds summary\n"
        "go_gc_duration_seconds{quantile=\"0.5\"} 4.2021e-05\n"
        "go_gc_duration_seconds_sum 0.1\n"
        "go_gc_duration_seconds_count 7\n"
        "# TYPE untyped_metric untyped\n"
        "untyped_metric -Inf\n"
        "# TYPE nan_metric untyped\n"
        "nan_metric NaN\n");
}

TEST_CASE("labels are added to series that lack them, values written back exactly",
          "[exposition_parser]") {
  ExpositionParseOptions options;
  options.extra_labels = {{"source", "app"}, {"job", "sidecar"}};
  CHECK(RoundTrip("a 0.30000000000000004\nb{job=\"own\"} 123456789.12345679\n", options) ==
        "# TYPE a untyped\n"
        "a{source=\"app\",job=\"sidecar\"} 0.30000000000000004\n"
        "# TYPE b untyped\n"
        "b{job=\"own\",source=\"app\"} 123456789.12345679\n");
}

TEST_CASE("OpenMetrics: _total, _created, exemplars, info and # EOF", "[exposition_parser]") {
  ExpositionParseOptions options;
  options.format = ExpositionFormat::kOpenMetrics;
  const std::string text =
      "# TYPE requests counter\n"
      "# HELP requests Requests \\\"served\\\".\n"
      "# UNIT requests requests\n"
      "requests_total{code=\"200\"} 7 # {trace_id=\"abc\"} 1 1520879607.789\n"
      "requests_created{code=\"200\"} 1520430000.123\n"
      "# TYPE latency_seconds histogram\n"
      "latency_seconds_bucket{le=\"1.0\"} 3 1520879607.789\n"
      "latency_seconds_bucket{le=\"+Inf\"} 4\n"
      "latency_seconds_sum 2.5\n"
      "latency_seconds_count 4\n"
      "latency_seconds_created 1520430000\n"
      "# TYPE build info\n"
      "build_info{version=\"1.2\"} 1\n"
      "# EOF\n";
  CHECK(RoundTrip(text, options) ==
        "# HELP requests_total Requests \"served\".\n"
        "# TYPE requests_total counter\n"
        "requests_total{code=\"200\"} 7\n"
        "# TYPE latency_seconds histogram\n"
        "latency_seconds_bucket{le=\"1.0\"} 3 1520879607789\n"
        "latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "latency_seconds_sum 2.5\n"
        "latency_seconds_count 4\n"
        "# TYPE build_info gauge\n"
        "build_info{version=\"1.2\"} 1\n");
}

TEST_CASE("merged values are written in their shortest round-trip form", "[exposition_parser]") {
  // AppendValue writes integers without trailing zeros on a fast path: it must equal to_chars.
  std::mt19937_64 random(7);
  for (int i = 0; i < 100000; ++i) {
    double value = static_cast<double>(static_cast<std::int64_t>(random()) >> (i % 64));
    if (i % 4 == 1) value = std::bit_cast<double>(random());
    if (i % 4 == 2) value = static_cast<double>(random() % 100000) * (i % 3 ? 10 : 1);
    if (std::isnan(value) || std::isinf(value)) continue;
    char buffer[32];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    std::string written;
    AppendValue(value, written);
    REQUIRE(written == std::string(buffer, end));
  }
}

TEST_CASE("integer values read on the fast path equal what from_chars reads",
          "[exposition_parser]") {
  std::mt19937_64 random(11);
  std::vector<std::string> tokens = {"0",
                                     "-0",
                                     "+0",
                                     "007",
                                     "123456789012345",
                                     "999999999999999",
                                     "1234567890123456",
                                     "9007199254740993",
                                     "-42",
                                     "+42"};
  for (int i = 0; i < 2000; ++i) tokens.push_back(std::to_string(random() >> (i % 64)));
  std::string body;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    body += "m" + std::to_string(i) + " " + tokens[i] + "\n";
  }
  std::string error;
  const auto parsed = ParseExposition(body, {}, error);
  INFO(error);
  REQUIRE(parsed);
  REQUIRE(parsed->families.size() == tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string_view digits = tokens[i];
    const bool negative = digits.front() == '-';
    if (digits.front() == '-' || digits.front() == '+') digits.remove_prefix(1);
    double expected = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), expected);
    if (negative) expected = -expected;
    INFO(tokens[i]);
    REQUIRE(parsed->families[i].samples.size() == 1);
    CHECK(std::bit_cast<std::uint64_t>(parsed->families[i].samples[0].value) ==
          std::bit_cast<std::uint64_t>(expected));
  }
}

TEST_CASE("content type picks the format", "[exposition_parser]") {
  CHECK(FormatOfContentType("application/openmetrics-text; version=1.0.0; charset=utf-8") ==
        ExpositionFormat::kOpenMetrics);
  CHECK(FormatOfContentType("text/plain; version=0.0.4") == ExpositionFormat::kText);
  CHECK(FormatOfContentType("") == ExpositionFormat::kText);
}

TEST_CASE("malformed expositions are refused with the line and what is wrong",
          "[exposition_parser]") {
  CHECK(ParseError("ok 1\nbad{a=\"x\",a=\"y\"} 1\n") == "line 2: label \"a\" twice in a series");
  CHECK(ParseError("x 1\ny one\n") == "line 2: invalid value \"one\" of y");
  CHECK(ParseError("x{a=\"\xff\"} 1\n") == "line 1: invalid UTF-8 at byte 5");
  CHECK(ParseError("x{a=\"b} 1\n") == "line 1: unterminated value of label a");
  CHECK(ParseError("x{a=\"\\t\"} 1\n") == "line 1: invalid escape in the value of label a");
  CHECK(ParseError("x{9=\"a\"} 1\n") == "line 1: invalid label name");
  CHECK(ParseError("x 1 12.5\n") == "line 1: invalid timestamp \"12.5\" of x");
  CHECK(ParseError("x 1 2 3\n") == "line 1: unexpected \"3\" after the value of x");
  CHECK(ParseError("9x 1\n") == "line 1: expected a metric name");
  CHECK(ParseError("x\n") == "line 1: expected a space and a value after x");
  CHECK(ParseError("# TYPE h histogram\nh_bucket 1\n") ==
        "line 2: h_bucket without an \"le\" label");
  CHECK(ParseError("# TYPE s summary\ns 1\n") == "line 2: s without a \"quantile\" label");
  CHECK(ParseError("# TYPE h histogram\nh 1\n") ==
        "line 2: sample h does not fit the TYPE of its family");
  CHECK(ParseError("# TYPE x gauge\n# TYPE x counter\n") == "line 2: second TYPE for x");
  CHECK(ParseError("x 1\n# TYPE x gauge\n") == "line 2: TYPE of x after its samples");
  CHECK(ParseError("# TYPE x bogus\n") == "line 1: unknown TYPE \"bogus\" for x");
  CHECK(ParseError("a 1\nb 2\nc 3\n", ExpositionFormat::kText, 2) ==
        "line 3: more than sample_limit 2 samples");
  CHECK(ParseError("# TYPE x gauge\nx 1\n", ExpositionFormat::kOpenMetrics) ==
        "OpenMetrics exposition without \"# EOF\" (cut off?)");
  CHECK(ParseError("x 1\n# EOF\ny 2\n", ExpositionFormat::kOpenMetrics) ==
        "line 3: text after \"# EOF\"");
  CHECK(ParseError("# TYPE x counter\nx 1\n# EOF\n", ExpositionFormat::kOpenMetrics) ==
        "line 2: sample x does not fit the TYPE of its family");
}

TEST_CASE("a sample limit equal to the samples passes", "[exposition_parser]") {
  ExpositionParseOptions options;
  options.sample_limit = 3;
  std::string error;
  const auto parsed = ParseExposition("a 1\nb 2\nc 3\n", options, error);
  REQUIRE(parsed);
  CHECK(parsed->samples == 3);
}

}  // namespace
}  // namespace sidecar
