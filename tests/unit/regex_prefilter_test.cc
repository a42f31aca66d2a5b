#include "collectors/logs/regex_prefilter.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "re2/re2.h"

namespace sidecar::logmetrics {
namespace {

using Needles = std::vector<std::string>;

bool Re2Matches(const std::string& pattern, const std::string& text) {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  const RE2 re(pattern, options);
  REQUIRE(re.ok());
  return RE2::PartialMatch(text, re);
}

TEST_CASE("regex prefilter: a plain string is its own exact test", "[log_metrics]") {
  const RegexPrefilter timeouts("upstream timed out");
  CHECK(timeouts.exact());
  CHECK(timeouts.needles() == Needles{"upstream timed out"});
  CHECK(timeouts.MayMatch("*7 upstream timed out (110: Connection timed out)"));
  CHECK_FALSE(timeouts.MayMatch("*7 upstream timed ou"));
  CHECK_FALSE(timeouts.MayMatch("*7 Upstream timed out"));  // case matters, as for RE2
  CHECK_FALSE(timeouts.MayMatch(""));

  // Escaped punctuation is plain; the string is what it stands for.
  const RegexPrefilter escaped(R"(connect\(\) to \[::1\]:80)");
  CHECK(escaped.exact());
  CHECK(escaped.needles() == Needles{"connect() to [::1]:80"});
  CHECK(escaped.MayMatch("x connect() to [::1]:80 failed"));

  // One byte, at either end of the line.
  const RegexPrefilter one("#");
  CHECK(one.exact());
  CHECK(one.MayMatch("#"));
  CHECK(one.MayMatch("a#"));
  CHECK_FALSE(one.MayMatch("abc"));
}

TEST_CASE("regex prefilter: the strings every match contains, without case", "[log_metrics]") {
  const RegexPrefilter connect(R"(connect\(\) (?:to \S+ )?failed .*while connecting to upstream)");
  CHECK_FALSE(connect.exact());
  Needles needles = connect.needles();
  std::sort(needles.begin(), needles.end());
  CHECK(needles == Needles{"connect() ", "failed ", "while connecting to upstream"});
  CHECK(connect.MayMatch("connect() failed (111) while connecting to upstream"));
  CHECK_FALSE(connect.MayMatch("connect() failed (111) while reading from upstream"));
  CHECK_FALSE(connect.MayMatch("upstream timed out (110: Connection timed out)"));
  // Without case: the test may pass where the RE2 does not match, never the other way round.
  CHECK(connect.MayMatch("CONNECT() FAILED WHILE CONNECTING TO UPSTREAM"));

  const RegexPrefilter folded("(?i)OutOfMemory");
  CHECK(folded.needles() == Needles{"outofmemory"});
  CHECK(folded.MayMatch("java.lang.OUTOFMEMORYERROR"));

  // Nothing every match must contain: no test.
  for (const char* pattern : {"a|b", R"(\d+)", "foo(bar|baz)qux", "", ".*", "ab?"}) {
    INFO(pattern);
    const RegexPrefilter none(pattern);
    CHECK_FALSE(none.exact());
    CHECK(none.needles().empty());
    CHECK(none.MayMatch(""));
  }
}

TEST_CASE("regex prefilter: never refuses a line that RE2 matches", "[log_metrics]") {
  const std::vector<std::string> patterns = {
      "upstream timed out",
      R"(connect\(\) (?:to \S+ )?failed .*while connecting to upstream)",
      R"(worker process \d+ exited on signal)",
      "(?i)error: disk",
      "Error|Warning",
      R"(^\[\w+\] started)",
      R"(a\.b\+c)",
      "abc[dD]ef",
      "(?i:ABC)def",
      "x{2}yyy",
      "caf\xe9",
      "(?i)caf\xc9!",
  };
  const std::vector<std::string> texts = {
      "",
      "2026/11/29 22:29:07 [error] 5832#5832: *7 upstream timed out (110: Connection timed out)",
      "connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1",
      "connect() to [::1]:8080 failed (99) while connecting to upstream",
      "worker process 5832 exited on signal 9",
      "ERROR: DISK full",
      "Error",
      "warning",
      "Warning: x",
      "[main] started",
      "a.b+c",
      "abcDef abcdef",
      "abcdef ABCdef",
      "xxyyy",
      "caf\xe9 CAF\xc9!",
      "caf\xe9!",
  };
  int matched = 0;
  int refused = 0;
  for (const std::string& pattern : patterns) {
    const RegexPrefilter prefilter(pattern);
    for (const std::string& text : texts) {
      INFO(pattern << " on " << text);
      const bool matches = Re2Matches(pattern, text);
      const bool may_match = prefilter.MayMatch(text);
      CHECK((may_match || !matches));
      CHECK((!prefilter.exact() || may_match == matches));
      matched += matches ? 1 : 0;
      refused += may_match ? 0 : 1;
    }
  }
  // Both sides were exercised: lines that match, and lines the test refused without the RE2.
  CHECK(matched >= 16);
  CHECK(refused >= 100);
}

}  // namespace
}  // namespace sidecar::logmetrics
