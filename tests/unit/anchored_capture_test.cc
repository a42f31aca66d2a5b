#include "collectors/logs/anchored_capture.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "re2/re2.h"

namespace sidecar::accesslog {
namespace {

// The bench's and the nginx_error preset's patterns, and the issue's example.
constexpr const char* kBenchLevel =
    R"(^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(?P<level>[a-z]+)\] \d+#\d+: )";
constexpr const char* kPresetLevel =
    R"(^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>[a-z]+)\] (?P<pid>\d+)#\d+: )";
constexpr const char* kIssueLevel = R"(^\S+ \S+ \[(?P<level>\w+)\] )";

RE2::Options Latin1() {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  return options;
}

std::optional<AnchoredCapture> CompileLikeTheFormat(const std::string& pattern) {
  const RE2 re(pattern, Latin1());
  REQUIRE(re.ok());
  return AnchoredCapture::Compile(pattern, re.NumberOfCapturingGroups());
}

// Whether RE2 and `capture` agree on `text`: the same answer, and the same submatches, as
// positions in `text` (null for a group that did not take part). Returns a description of the
// first difference, empty when they agree.
std::string Difference(const RE2& re, const AnchoredCapture& capture, const std::string& text) {
  const int count = 1 + re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> expected(static_cast<std::size_t>(count));
  std::vector<std::string_view> actual(static_cast<std::size_t>(count));
  const bool re2_matches = re.Match(text, 0, text.size(), RE2::UNANCHORED, expected.data(), count);
  const bool matches = capture.Match(text, actual.data(), count);
  if (re2_matches != matches) {
    return "RE2 says " + std::string(re2_matches ? "match" : "no match") + " for '" + text + "'";
  }
  if (capture.Match(text, nullptr, 0) != matches) return "a different answer without submatches";
  for (int i = 0; matches && i < count; ++i) {
    const re2::StringPiece& want = expected[static_cast<std::size_t>(i)];
    const std::string_view got = actual[static_cast<std::size_t>(i)];
    if (want.data() != got.data() || want.size() != got.size()) {
      return "group " + std::to_string(i) + " of '" + text + "': RE2 '" + want.as_string() +
             "', ours '" + std::string(got) + "'";
    }
  }
  return "";
}

TEST_CASE("anchored capture: the level of real nginx error-log lines", "[format]") {
  std::ifstream file(SIDECAR_SOURCE_DIR "/tests/data/nginx_error.log");
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(line);
  REQUIRE(lines.size() == 8);
  for (const char* pattern : {kBenchLevel, kPresetLevel, kIssueLevel}) {
    INFO(pattern);
    const RE2 re(pattern, Latin1());
    const std::optional<AnchoredCapture> capture = CompileLikeTheFormat(pattern);
    REQUIRE(capture);
    for (const std::string& line : lines) CHECK(Difference(re, *capture, line).empty());
  }
  const std::optional<AnchoredCapture> preset = CompileLikeTheFormat(kPresetLevel);
  std::string_view groups[4];
  REQUIRE(preset->Match(lines.back(), groups, 4));
  CHECK(groups[0] == "2026/11/29 22:29:12 [alert] 5824#5824: ");
  CHECK(groups[1] == "2026/11/29 22:29:12");
  CHECK(groups[2] == "alert");
  CHECK(groups[3] == "5824");
  CHECK_FALSE(preset->Match("2026/11/29 22:29:12 [Alert] 5824#5824: ", groups, 4));
  CHECK_FALSE(preset->Match("2026/11/29 22:29:12 [alert] 5824#5824:", groups, 4));
  CHECK_FALSE(preset->Match("", groups, 4));
  // Atoms of fixed length are joined into one step up to a group or an atom of variable length:
  // `\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[`, `[a-z]+`, `\] `, `\d+`, `#`, `\d+`, `: `.
  CHECK(CompileLikeTheFormat(kBenchLevel)->steps() == 7);
}

TEST_CASE("anchored capture: patterns it leaves to RE2", "[format]") {
  for (const char* pattern : {
           R"(\S+ (?P<level>\w+))",             // not anchored
           R"(^(?P<a>GET|POST) )",              // alternation
           R"(^(?i)(?P<a>get) )",               // flags
           R"(^(?P<a>\d+)\w)",                  // \d+ could give back a digit to \w
           R"(^(?P<a>.*) x)",                   // . matches the space
           R"(^(?P<a>\S*)\S)",                  // ... and \S
           R"(^(?P<a>\w+)?_)",                  // _ is a word byte
           R"(^a?(?P<a>a))",                    // an optional a then an a
           R"(^(?:(?P<m>[^:]*):)?(?P<l>\w+))",  // a repeated group
           R"(^(?P<a>\d+?) )",                  // lazy
           R"(^\b(?P<a>\w+))",                  // \b
           R"(^(?P<a>[[:alpha:]]+) )",          // a POSIX class
           R"(^(?P<a>\pL+) )",                  // a Unicode class
           R"(^(?P<a>\x41) )",                  // a hex escape
           R"(^(?P<a>a)$b)",                    // $ before the end
       }) {
    INFO(pattern);
    CHECK_FALSE(CompileLikeTheFormat(pattern));
  }
  // Different group counts than RE2's are refused, whatever the pattern.
  CHECK_FALSE(AnchoredCapture::Compile(R"(^(\d+) )", 2));
  // What follows an atom of variable length may be optional: then what follows that counts too.
  CHECK_FALSE(CompileLikeTheFormat(R"(^\d+ ?\d)"));
  CHECK(CompileLikeTheFormat(R"(^\d+ ?x)"));
  // Atoms of fixed length need no such care.
  CHECK(CompileLikeTheFormat(R"(^\S{3}\S)"));
}

TEST_CASE("anchored capture: every atom matches the bytes RE2 says, newlines too", "[format]") {
  // One pattern per atom; each run against all 256 bytes, alone and between two bytes.
  for (const char* atom : {R"(\d)", R"(\D)",  R"(\w)",    R"(\W)",      R"(\s)",    R"(\S)", ".",
                           "[a-z]", "[^a-z]", R"([^\]])", R"([\]\-x])", R"(\t)",    R"(\])", "\xe9",
                           "]",     "}",      "[^ ]",     R"(\n)",      R"([\d.])", R"(\v)"}) {
    const std::string pattern = std::string("^(") + atom + ")";
    INFO(pattern);
    const RE2 re(pattern, Latin1());
    const std::optional<AnchoredCapture> capture = CompileLikeTheFormat(pattern);
    REQUIRE(capture);
    for (int b = 0; b < 256; ++b) {
      const std::string byte(1, static_cast<char>(b));
      CHECK(Difference(re, *capture, byte).empty());
      CHECK(Difference(re, *capture, byte + "\n").empty());
    }
  }
}

// Random patterns of the accepted forms, and random texts over the bytes they name: every pattern
// that compiles gives RE2's answer and submatches on every text.
TEST_CASE("anchored capture: random patterns and texts give RE2's submatches", "[format]") {
  std::mt19937 random(20261130);  // fixed: the same cases on every run
  const std::vector<std::string> atoms = {"a",     "b",      " ",     R"(\d)", R"(\w)", R"(\s)",
                                          R"(\S)", ".",      "[a-c]", "[^ ]",  R"(\])", "#",
                                          R"(\[)", "[^\\]]", R"(\D)", "\n"};
  const std::vector<std::string> repeats = {"", "", "", "+", "*", "?", "{2}", "{1,3}", "{0,}"};
  const std::string alphabet = "ab c1#[]\n\t9_\xe9";
  const auto pick = [&random](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  int taken = 0;
  int matched = 0;
  for (int p = 0; p < 4000; ++p) {
    std::string pattern = "^";
    int open = 0;
    const std::size_t length = 1 + pick(6);
    for (std::size_t i = 0; i < length; ++i) {
      if (pick(4) == 0) {
        pattern += pick(2) == 0 ? "(" : "(?:";
        ++open;
      }
      pattern += atoms[pick(atoms.size())] + repeats[pick(repeats.size())];
      if (open > 0 && pick(3) == 0) {
        pattern += ")";
        --open;
      }
    }
    pattern.append(static_cast<std::size_t>(open), ')');
    if (pick(4) == 0) pattern += "$";
    const RE2 re(pattern, Latin1());
    REQUIRE(re.ok());
    const std::optional<AnchoredCapture> capture =
        AnchoredCapture::Compile(pattern, re.NumberOfCapturingGroups());
    if (!capture) continue;
    ++taken;
    for (int t = 0; t < 30; ++t) {
      std::string text;
      const std::size_t size = pick(9);
      for (std::size_t i = 0; i < size; ++i) text += alphabet[pick(alphabet.size())];
      INFO(pattern);
      const std::string difference = Difference(re, *capture, text);
      REQUIRE(difference.empty());
      matched += RE2::PartialMatch(text, re) ? 1 : 0;
    }
  }
  // The generator must exercise the fast path, on matching texts and on others.
  CHECK(taken > 1000);
  CHECK(matched > 5000);
  CHECK(matched < taken * 30 - 5000);
}

}  // namespace
}  // namespace sidecar::accesslog
