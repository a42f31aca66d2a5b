#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::accesslog {

// The capture of a regex format in one pass over the line, for the anchored patterns log
// formats are mostly written in, such as `^\S+ \S+ \[(?P<level>\w+)\] ` or
// `^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(?P<level>[a-z]+)\] \d+#\d+: `. Its answers are RE2's
// (Latin-1, otherwise default options, unanchored search, leftmost-first submatches), at a tenth
// of the instructions of RE2's one-pass engine: no state machine, a table lookup per byte.
//
// A pattern is taken when it is:
// - `^`, then a sequence of atoms, each optionally repeated with `*`, `+`, `?`, `{n}`, `{n,}` or
//   `{n,m}` (greedy), then optionally `$`;
// - atoms: a byte that is not an operator, `.`, an escape (`\d \D \w \W \s \S \t \n \r \f \v` or
//   `\` before punctuation), or a bracket class `[...]` that holds no `[`;
// - grouped with `(...)`, `(?P<name>...)` or `(?:...)`, none of them repeated, and no `|`;
// - such that no atom of variable length (`a+`, `a{2,5}`, ...) can be followed by a byte it
//   matches itself (the atoms up to the next one that must match at least once): then each atom
//   takes the longest run it can, and giving any of it back could not make the rest match, so a
//   single pass without backtracking finds the match RE2 finds.
// Anything else (an unanchored pattern, alternation, flags, `\b`, a repeated group, lazy
// repeats, `\d+\w`, ...) gives no AnchoredCapture, and the caller uses RE2. Which bytes a class
// (`\d`, `.`, `[^\]]`, ...) matches is asked from RE2 itself (the class against each of the 256
// bytes), so that classes mean exactly what they mean to RE2.
//
// Thread-safety: immutable after construction; Match() from any thread.
class AnchoredCapture {
 public:
  // The pattern must be one RE2 accepts (Latin-1) with `groups` capturing groups; nothing when
  // it is outside the forms above.
  static std::optional<AnchoredCapture> Compile(std::string_view pattern, int groups);

  // As RE2::Match(text, 0, text.size(), RE2::UNANCHORED, submatches, count): false when the
  // pattern does not match; else submatches[0] is the whole match and submatches[i] group i, for
  // i < count (at most 1 + the pattern's groups).
  bool Match(std::string_view text, std::string_view* submatches, int count) const;

  // The number of steps the pattern compiled to (a run of fixed length, or one atom of variable
  // length), for tests.
  std::size_t steps() const { return steps_.size(); }

 private:
  struct Step {
    // A run of fixed length: `length` bytes, byte i checked against the table at offset
    // checks_[first + i] of tables_ (one atom or literal byte each).
    // Otherwise one atom of variable length: from `min` to `max` bytes of the table at `table`.
    bool fixed = true;
    std::uint32_t first = 0;
    std::uint32_t length = 0;
    std::uint32_t table = 0;
    std::uint32_t min = 0;
    std::uint32_t max = 0;
  };
  struct Group {
    // The group spans steps [first, last): the text between the positions before step `first`
    // and before step `last` (or the end of the match when `last` == steps).
    std::size_t first = 0;
    std::size_t last = 0;
  };
  // Longer patterns go to RE2: the positions of the steps live on the stack in Match().
  static constexpr std::size_t kMaxSteps = 64;
  // As many bytes of fixed runs at most (`\d{1000}` is 1000 of them).
  static constexpr std::size_t kMaxChecks = 4096;

  AnchoredCapture() = default;

  std::vector<Step> steps_;
  // 256 bytes per table: 1 for the bytes its atom matches.
  std::vector<std::uint8_t> tables_;
  std::vector<std::uint32_t> checks_;
  std::vector<Group> groups_;  // index i is group i + 1
  bool anchored_end_ = false;
};

}  // namespace sidecar::accesslog
