#include "collectors/logs/regex_prefilter.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <utility>

#include "re2/filtered_re2.h"
#include "re2/re2.h"

namespace sidecar::logmetrics {
namespace {

// Strings shorter than this say little about a line (most lines hold "er"); a pattern that
// requires only such strings gets no test.
constexpr int kMinNeedleBytes = 3;
// A pattern with more candidate strings than this (a long alternation) gets no test: finding
// which of them are required costs one pass over the pattern's filter per string.
constexpr std::size_t kMaxAtoms = 256;

// ASCII punctuation that a backslash turns into itself in RE2 (and that is no operator once
// escaped).
constexpr std::string_view kEscapablePunctuation = R"(\.+*?()|[]{}^$/-#:"'=<>,!&%@~;)";
// Bytes that are operators when not escaped.
constexpr std::string_view kOperators = R"(\.+*?()|[]{}^$)";

// The string a pattern stands for when it is a plain string (no operator; punctuation escaped
// with a backslash); nothing otherwise.
std::optional<std::string> PlainString(std::string_view pattern) {
  std::string text;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 == pattern.size() ||
          kEscapablePunctuation.find(pattern[i + 1]) == std::string_view::npos) {
        return std::nullopt;  // \d, \b, \x41, \Q...: not plain
      }
      text.push_back(pattern[++i]);
    } else if (kOperators.find(c) != std::string_view::npos) {
      return std::nullopt;
    } else {
      text.push_back(c);
    }
  }
  if (text.empty()) return std::nullopt;
  return text;
}

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }
bool IsLowerAscii(char c) { return c >= 'a' && c <= 'z'; }

// How common a byte is in log lines (higher: more common), a rough ranking that only decides
// which byte of a needle memchr(3) looks for: spaces, then lower-case letters by their frequency
// in English, digits, the punctuation of timestamps and paths, upper case, the rest.
int Commonness(char c, bool folded) {
  constexpr std::string_view kLettersByFrequency = "etaoinsrhldcumfpgwybvkxjqz";
  if (c == ' ') return 100;
  if (IsLowerAscii(c)) {
    // A folded letter is looked for in both cases: two memchr(3) calls.
    return 90 - 3 * static_cast<int>(kLettersByFrequency.find(c)) + (folded ? 10 : 0);
  }
  if (c >= '0' && c <= '9') return 60;
  if (std::string_view("./:-,\"=_[]").find(c) != std::string_view::npos) return 50;
  if (c >= 'A' && c <= 'Z') return 20;
  return 5;
}

const char* FindByte(const char* from, const char* end, char byte) {
  return from < end ? static_cast<const char*>(std::memchr(from, byte, end - from)) : nullptr;
}

}  // namespace

RegexPrefilter::Needle RegexPrefilter::MakeNeedle(std::string text, bool folded) {
  Needle needle;
  needle.folded = folded;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (Commonness(text[i], folded) < Commonness(text[needle.rare_at], folded)) {
      needle.rare_at = i;
    }
  }
  needle.rare = text[needle.rare_at];
  needle.text = std::move(text);
  return needle;
}

RegexPrefilter::RegexPrefilter(std::string_view pattern) {
  if (std::optional<std::string> plain = PlainString(pattern)) {
    exact_ = true;
    needles_.push_back(MakeNeedle(std::move(*plain), /*folded=*/false));
    return;
  }
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  re2::FilteredRE2 filter(kMinNeedleBytes);
  int id = 0;
  if (filter.Add(re2::StringPiece(pattern.data(), pattern.size()), options, &id) != RE2::NoError) {
    return;
  }
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  if (atoms.empty() || atoms.size() > kMaxAtoms) return;
  std::vector<int> passing;
  filter.AllPotentials({}, &passing);
  if (!passing.empty()) return;  // matches without any of the strings
  // The filter is a monotone formula over the strings found in a line: a string is required when
  // the formula is false with every string present but that one.
  std::vector<int> others;
  for (std::size_t atom = 0; atom < atoms.size(); ++atom) {
    others.clear();
    for (std::size_t other = 0; other < atoms.size(); ++other) {
      if (other != atom) others.push_back(static_cast<int>(other));
    }
    filter.AllPotentials(others, &passing);
    if (passing.empty()) needles_.push_back(MakeNeedle(atoms[atom], /*folded=*/true));
  }
  // The rarest first: a line is usually refused by its first needle.
  std::sort(needles_.begin(), needles_.end(), [](const Needle& a, const Needle& b) {
    return Commonness(a.rare, a.folded) < Commonness(b.rare, b.folded);
  });
}

bool RegexPrefilter::MayMatch(std::string_view text) const {
  for (const Needle& needle : needles_) {
    if (!needle.In(text)) return false;
  }
  return true;
}

std::vector<std::string> RegexPrefilter::needles() const {
  std::vector<std::string> texts;
  for (const Needle& needle : needles_) texts.push_back(needle.text);
  return texts;
}

bool RegexPrefilter::Needle::EqualAt(const char* at) const {
  // The last byte first, inline: most hits of the rare byte end there.
  const std::size_t last = text.size() - 1;
  if ((folded ? LowerAscii(at[last]) : at[last]) != text[last]) return false;
  if (!folded) return std::memcmp(at, text.data(), last) == 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (LowerAscii(at[i]) != text[i]) return false;
  }
  return true;
}

bool RegexPrefilter::Needle::In(std::string_view haystack) const {
  if (haystack.size() < text.size()) return false;
  // The rare byte of a match sits between `first` and `end` (exclusive).
  const char* const first = haystack.data() + rare_at;
  const char* const end = haystack.data() + (haystack.size() - text.size()) + rare_at + 1;
  if (!folded || !IsLowerAscii(rare)) {
    for (const char* at = FindByte(first, end, rare); at != nullptr;
         at = FindByte(at + 1, end, rare)) {
      if (EqualAt(at - rare_at)) return true;
    }
    return false;
  }
  // A folded letter: the next hit of either case, in order.
  const char upper = static_cast<char>(rare - ('a' - 'A'));
  const char* lower_at = FindByte(first, end, rare);
  const char* upper_at = FindByte(first, end, upper);
  while (lower_at != nullptr || upper_at != nullptr) {
    const bool lower_next = upper_at == nullptr || (lower_at != nullptr && lower_at < upper_at);
    const char* const at = lower_next ? lower_at : upper_at;
    if (EqualAt(at - rare_at)) return true;
    if (lower_next) {
      lower_at = FindByte(at + 1, end, rare);
    } else {
      upper_at = FindByte(at + 1, end, upper);
    }
  }
  return false;
}

}  // namespace sidecar::logmetrics
