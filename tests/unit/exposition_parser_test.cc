#include "collectors/http/exposition_parser.h"

#include <bit>
#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
  for (const auto& family : parsed->families) gathered.merged.emplace_back(&family);
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

// The samples `m<index> <value>` of RoundTrip's output: each index with the value as written.
std::vector<std::pair<std::size_t, std::string>> WrittenValues(std::string_view text) {
  std::vector<std::pair<std::size_t, std::string>> written;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.starts_with("#")) continue;
    const std::size_t blank = line.find(' ');
    written.emplace_back(std::stoul(std::string(line.substr(1, blank - 1))),
                         std::string(line.substr(blank + 1)));
  }
  return written;
}

// A written value as a double (from_chars takes a minus sign, not a plus).
double ReadValue(std::string_view token) {
  double value = 0;
  const char* begin = token.data() + (token.starts_with('+') ? 1 : 0);
  std::from_chars(begin, token.data() + token.size(), value);
  return value;
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

TEST_CASE("values are read as Prometheus reads them and written in their shortest form",
          "[exposition_parser]") {
  // Counts in their shortest form and plain numbers with a point or an exponent are copied as
  // written (the same double as their shortest form) but for zeros ending a fraction; the others
  // go through a double.
  const std::vector<std::pair<std::string, std::string>> written = {
      {"0", "0"},
      {"17", "17"},
      {"-17", "-17"},
      {"123456789012345", "123456789012345"},
      {"1.50", "1.5"},  // zeros at the end of a fraction left out
      {"3.0", "3"},
      {"1000000.0", "1e+06"},
      {"0.0", "0"},
      {"0.0001", "0.0001"},
      {"2.6198016e+07", "2.6198016e+07"},  // as Go writes it
      {"1.5e-07", "1.5e-07"},
      {"123456.78901234567", "123456.78901234567"},
      {"007", "7"},
      {"+42", "42"},
      {"-0", "-0"},
      {"1000000", "1e+06"},
      {"1230", "1230"},
      {"1e3", "1000"},
      {"1E-05", "1e-05"},
      {".5", "0.5"},
      {"1.000000000000000000001", "1"},  // more digits than a double has
      {"1.5e-310", "1.5e-310"},          // subnormal: through a double
      {"0.001e-299", "1e-302"},          // past 1e-300: through a double
      {"123.4e+299", "1.234e+301"},      // past 1e300: through a double
      {"nan", "NaN"},
      {"Inf", "+Inf"},
      {"-inf", "-Inf"},
      {"+Infinity", "+Inf"},
      {"9007199254740993", "9007199254740992"},
      {std::string(300, '9'), "1e+300"}};
  for (const auto& [token, expected] : written) {
    INFO(token);
    CHECK(RoundTrip("m " + token + "\n") == "# TYPE m untyped\nm " + expected + "\n");
  }
  // What Go's ParseFloat refuses, or reads as out of range, fails the parse as it fails
  // Prometheus' scrape.
  for (const std::string& token :
       std::vector<std::string>{"1e400", "-1e400", "1e+400", "-1.5e+309", "0x10", "1_000", "--1",
                                "+-1", "1.2.3", "12a", "e5", "1e", "1" + std::string(400, '0')}) {
    INFO(token);
    CHECK(ParseError("m " + token + "\n") ==
          "line 1: invalid value \"" + token.substr(0, 40) + "\" of m");
  }
  // Any double written by a source in its shortest or its 17-digit form is written as one that
  // reads back as the same double.
  std::mt19937_64 random(11);
  std::string body;
  std::vector<double> values;
  for (int i = 0; i < 2000; ++i) {
    const double value =
        i % 2 ? std::bit_cast<double>(random()) : static_cast<double>(random() >> (i % 64)) / 1000;
    if (!std::isfinite(value)) continue;
    char buffer[64];
    const int size = i % 3
                         ? std::snprintf(buffer, sizeof buffer, "%.17g", value)
                         : static_cast<int>(std::to_chars(buffer, buffer + 32, value).ptr - buffer);
    body += "m" + std::to_string(values.size()) + " " + std::string(buffer, size) + "\n";
    values.push_back(value);
  }
  const auto read_back = WrittenValues(RoundTrip(body));
  for (const auto& [index, token] : read_back) {
    INFO("m" << index << " " << token);
    CHECK(std::bit_cast<std::uint64_t>(ReadValue(token)) ==
          std::bit_cast<std::uint64_t>(values.at(index)));
  }
  CHECK(read_back.size() == values.size());
}

TEST_CASE("plain numbers copied as written read as the same double as their shortest form",
          "[exposition_parser]") {
  // Numbers with a point or an exponent are copied without a conversion (CheckValue): whatever
  // their shape (1 to 20 significant digits, leading zeros after the point, large integer parts,
  // signs, trailing zeros, exponents near the ends of the range), what is written must read back
  // as the double the token reads as, and be either the token itself (without the zeros ending a
  // fraction) or the shortest form.
  std::mt19937_64 random(13);
  std::string body;
  std::vector<std::pair<std::string, double>> tokens;
  for (int i = 0; i < 20000; ++i) {
    const int significant = 1 + static_cast<int>(random() % 20);
    std::string digits;
    for (int d = 0; d < significant; ++d) {
      digits += static_cast<char>('0' + (d == 0 ? 1 + random() % 9 : random() % 10));
    }
    // Where the point goes: after `point` digits (<= 0: that many zeros after "0.").
    const int point = static_cast<int>(random() % 40) - 20;
    std::string token = random() % 4 == 0 ? "-" : "";
    if (point <= 0) {
      token += "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    } else if (point >= significant) {
      token += digits + std::string(static_cast<std::size_t>(point - significant), '0') + ".5";
    } else {
      token += digits.substr(0, static_cast<std::size_t>(point)) + "." +
               digits.substr(static_cast<std::size_t>(point));
    }
    if (random() % 3 == 0) {
      const int exponent = static_cast<int>(random() % 620) - 310;
      token += (exponent < 0 ? "e-" : "e+") + std::to_string(std::abs(exponent));
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec != std::errc() || end != token.data() + token.size()) continue;  // out of range
    body += "m" + std::to_string(tokens.size()) + " " + token + "\n";
    tokens.emplace_back(token, value);
  }
  REQUIRE(tokens.size() > 15000);
  const auto written_values = WrittenValues(RoundTrip(body));
  std::size_t copied = 0;
  for (const auto& [index, written] : written_values) {
    const auto& [token, value] = tokens.at(index);
    const double read = ReadValue(written);
    INFO(token << " written " << written);
    CHECK(std::bit_cast<std::uint64_t>(read) == std::bit_cast<std::uint64_t>(value));
    // Zeros ending a fraction (and then its point) are left out of a copy.
    std::string_view trimmed = token;
    if (trimmed.find('.') != std::string_view::npos &&
        trimmed.find('e') == std::string_view::npos) {
      while (trimmed.back() == '0') trimmed.remove_suffix(1);
      if (trimmed.back() == '.') trimmed.remove_suffix(1);
    }
    if (written == token || written == trimmed) {
      ++copied;
    } else {
      char buffer[32];
      const auto [shortest_end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
      CHECK(written == std::string_view(buffer, shortest_end));  // else the shortest form
    }
  }
  CHECK(written_values.size() == tokens.size());
  CHECK(copied > tokens.size() / 2);
}

TEST_CASE("lines already in the written form and others give the same output",
          "[exposition_parser]") {
  ExpositionParseOptions options;
  options.extra_labels = {{"source", "a\"pp"}};
  // Each pair: a line as the output writes it, and the same sample written otherwise.
  const std::vector<std::pair<std::string, std::string>> lines = {
      {"m{a=\"1\"} 2", "m{ a=\"1\" } 2"},
      {"m{a=\"1\"} 2", "m{a=\"1\",} 2"},
      {"m{a=\"1\"} 2", "m{a = \"1\"}\t2"},
      {"m{a=\"1\"} 2 17", "m{a=\"1\"}  2 17"},
      {"m{a=\"1\"} 2 17", "m{a=\"1\"} 2 +17"},
      {"m{a=\"1\"} 2 17", "m{a=\"1\"} 2\t17"},
      {"m{a=\"1\"} 2 17", "m{a=\"1\"} 2 17 "},
      {"m 2", "m{} 2"},
      {"m 2", "m 2\t"},
      {"m{source=\"own\"} +Inf", "m{source=\"own\"} inf"},
  };
  for (const auto& [plain, other] : lines) {
    INFO(other);
    CHECK(RoundTrip(other + "\n", options) == RoundTrip(plain + "\n", options));
  }
  CHECK(RoundTrip("m{a=\"1\"} 2 17\nm 3\nm{source=\"own\"} 4\n", options) ==
        "# TYPE m untyped\n"
        "m{a=\"1\",source=\"a\\\"pp\"} 2 17\n"
        "m{source=\"a\\\"pp\"} 3\n"
        "m{source=\"own\"} 4\n");
}

TEST_CASE("a family's samples that come apart in the source are served together",
          "[exposition_parser]") {
  ExpositionParseOptions options;
  options.extra_labels = {{"source", "app"}};
  const std::string text =
      "# TYPE b gauge\n"
      "# TYPE a counter\n"
      "a{x=\"1\"} 1\n"
      "c 7\n"
      "a{x=\"2\"} 2\n"
      "b 3\n"
      "c{source=\"own\"} 8 12\n"
      "a{x=\"3\"} 3\n";
  CHECK(RoundTrip(text, options) ==
        "# TYPE b gauge\n"
        "b{source=\"app\"} 3\n"
        "# TYPE a counter\n"
        "a{x=\"1\",source=\"app\"} 1\n"
        "a{x=\"2\",source=\"app\"} 2\n"
        "a{x=\"3\",source=\"app\"} 3\n"
        "# TYPE c untyped\n"
        "c{source=\"app\"} 7\n"
        "c{source=\"own\"} 8 12\n");
  std::string error;
  const auto parsed = ParseExposition(text, options, error);
  REQUIRE(parsed);
  std::string with_cluster;
  for (const auto& family : parsed->families) {
    AppendSamples(family, {{"cluster", "eu"}}, with_cluster);
  }
  CHECK(with_cluster ==
        "b{source=\"app\",cluster=\"eu\"} 3\n"
        "a{x=\"1\",source=\"app\",cluster=\"eu\"} 1\n"
        "a{x=\"2\",source=\"app\",cluster=\"eu\"} 2\n"
        "a{x=\"3\",source=\"app\",cluster=\"eu\"} 3\n"
        "c{source=\"app\",cluster=\"eu\"} 7\n"
        "c{source=\"own\",cluster=\"eu\"} 8 12\n");
}

TEST_CASE("the exporter's labels are put into the merged lines that lack them",
          "[exposition_parser]") {
  ExpositionParseOptions options;
  options.extra_labels = {{"source", "app"}};
  std::string error;
  const auto parsed = ParseExposition(
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1 5\nh_bucket{le=\"+Inf\",cluster=\"own\"} 2\n"
      "h_sum 3\nh_count 2\n",
      options, error);
  REQUIRE(parsed);
  std::string text;
  AppendSamples(parsed->families.at(0), {{"cluster", "eu"}, {"zone", "a\nb"}}, text);
  CHECK(text ==
        "h_bucket{le=\"1\",source=\"app\",cluster=\"eu\",zone=\"a\\nb\"} 1 5\n"
        "h_bucket{le=\"+Inf\",cluster=\"own\",source=\"app\",zone=\"a\\nb\"} 2\n"
        "h_sum{source=\"app\",cluster=\"eu\",zone=\"a\\nb\"} 3\n"
        "h_count{source=\"app\",cluster=\"eu\",zone=\"a\\nb\"} 2\n");
  text.clear();
  ExpositionParseOptions plain;
  const auto bare = ParseExposition("x 1\ny{a=\"b\"} 2 3\n", plain, error);
  REQUIRE(bare);
  for (const auto& family : bare->families) AppendSamples(family, {{"cluster", "eu"}}, text);
  CHECK(text == "x{cluster=\"eu\"} 1\ny{a=\"b\",cluster=\"eu\"} 2 3\n");
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
  CHECK(ParseError("h_bucket{le=\"1\"} 1\n# TYPE h histogram\n") ==
        "line 2: TYPE of h after samples of h_bucket");
  CHECK(ParseError("# HELP h x\nh_bucket{le=\"1\"} 1\n# TYPE h gaugehistogram\n# EOF\n",
                   ExpositionFormat::kOpenMetrics) ==
        "line 3: TYPE of h after samples of h_bucket");
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
