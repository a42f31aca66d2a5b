#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::logmetrics {

// A test of a line that is much cheaper than an RE2 search and that every line the RE2 matches
// passes, so that the RE2 runs only on the lines that may match (most lines of a log match few of
// the `match` patterns defined over it). It is one of:
// - the pattern itself, when the pattern is a plain string (letters, digits, spaces, punctuation
//   escaped with `\`, no operator): the test is then exact, and the RE2 need not run at all;
// - the strings every match must contain, as RE2's FilteredRE2 derives them from the pattern
//   (a string is kept when the pattern cannot match without it), compared without ASCII case;
// - nothing (every line may match), when the pattern requires no string of 3 bytes or more.
// A required string is found by memchr(3) on its rarest byte (libc's is vectorised) and a compare
// at each hit.
//
// The pattern is taken as the log_metrics `match` compiles it: RE2, Latin-1 (bytes), otherwise
// default options, unanchored. An invalid pattern gives no test (every line may match).
//
// Thread-safety: immutable after construction; MayMatch() from any thread.
class RegexPrefilter {
 public:
  explicit RegexPrefilter(std::string_view pattern);

  // False only when the pattern cannot match `text`.
  bool MayMatch(std::string_view text) const;
  // True when MayMatch() is the pattern's match itself (a plain string).
  bool exact() const { return exact_; }
  // The strings searched for (for tests and diagnostics): as written when exact(), else
  // lower-cased.
  std::vector<std::string> needles() const;

 private:
  struct Needle {
    std::string text;
    // Compared without ASCII case: `text` is lower case.
    bool folded = false;
    // The byte memchr(3) looks for, and where it sits in `text`.
    std::size_t rare_at = 0;
    char rare = 0;
    bool In(std::string_view haystack) const;
    bool EqualAt(const char* at) const;
  };
  static Needle MakeNeedle(std::string text, bool folded);

  std::vector<Needle> needles_;  // all of them must be present
  bool exact_ = false;
};

}  // namespace sidecar::logmetrics
