#include "collectors/logs/anchored_capture.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>

#include "re2/re2.h"

namespace sidecar::accesslog {
namespace {

constexpr std::uint32_t kUnbounded = std::numeric_limits<std::uint32_t>::max();
// Patterns of more atoms than this go to RE2; it bounds the work of Compile() (256 probes of RE2
// per distinct atom).
constexpr std::size_t kMaxAtoms = 256;

using ByteSet = std::array<bool, 256>;

// One atom with its repetition: the bytes it matches, each position taking one.
struct Atom {
  ByteSet set{};
  std::uint32_t min = 1;
  std::uint32_t max = 1;
  bool fixed() const { return min == max; }
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Reads a number of a `{n,m}` repetition at `at`; false when there is none.
bool ReadCount(std::string_view pattern, std::size_t& at, std::uint32_t& out) {
  const std::size_t begin = at;
  std::uint64_t value = 0;
  while (at < pattern.size() && IsDigit(pattern[at]) && value <= 100000) {
    value = value * 10 + static_cast<std::uint64_t>(pattern[at] - '0');
    ++at;
  }
  if (at == begin || value > 100000) return false;
  out = static_cast<std::uint32_t>(value);
  return true;
}

// Parses the pattern into atoms and groups. Each group's atoms are [first, last).
class Parser {
 public:
  explicit Parser(std::string_view pattern) : pattern_(pattern) {}

  bool Parse() {
    if (!pattern_.starts_with('^')) return false;
    std::size_t at = 1;
    std::vector<int> open;  // the group index of each open parenthesis, 0 for (?:...)
    while (at < pattern_.size()) {
      const char c = pattern_[at];
      if (c == '(') {
        int index = 0;
        if (pattern_.substr(at).starts_with("(?:")) {
          at += 3;
        } else if (pattern_.substr(at).starts_with("(?P<")) {
          const std::size_t close = pattern_.find('>', at);
          if (close == std::string_view::npos) return false;
          at = close + 1;
          index = NewGroup();
        } else if (pattern_.substr(at).starts_with("(?")) {
          return false;  // flags and other group kinds
        } else {
          ++at;
          index = NewGroup();
        }
        open.push_back(index);
        continue;
      }
      if (c == ')') {
        if (open.empty()) return false;
        if (open.back() > 0)
          groups[static_cast<std::size_t>(open.back() - 1)].second = atoms.size();
        open.pop_back();
        ++at;
        // A repeated group would need backtracking over more than one atom.
        if (at < pattern_.size() && IsQuantifier(pattern_[at])) return false;
        continue;
      }
      if (c == '$') {
        if (at + 1 != pattern_.size() || !open.empty()) return false;
        anchored_end = true;
        ++at;
        continue;
      }
      if (c == '|' || c == '^' || IsQuantifier(c)) return false;
      std::size_t end = at;
      if (!AtomEnd(end)) return false;
      Atom atom;
      if (!ByteSetOf(pattern_.substr(at, end - at), atom.set)) return false;
      at = end;
      if (!ReadRepetition(at, atom)) return false;
      if (atoms.size() == kMaxAtoms) return false;
      atoms.push_back(atom);
    }
    return open.empty();
  }

  std::vector<Atom> atoms;
  std::vector<std::pair<std::size_t, std::size_t>> groups;
  bool anchored_end = false;

 private:
  static bool IsQuantifier(char c) { return c == '*' || c == '+' || c == '?' || c == '{'; }

  int NewGroup() {
    groups.emplace_back(atoms.size(), atoms.size());
    return static_cast<int>(groups.size());
  }

  // Moves `end` from the start of an atom to just past it; false for syntax left to RE2.
  bool AtomEnd(std::size_t& end) const {
    const char c = pattern_[end];
    if (c == '\\') {
      if (end + 1 >= pattern_.size()) return false;
      const char next = pattern_[end + 1];
      const bool perl_class = std::string_view("dDwWsS").find(next) != std::string_view::npos;
      const bool control = std::string_view("tnrfv").find(next) != std::string_view::npos;
      const bool punctuation =
          !IsAlnum(next) && static_cast<unsigned char>(next) < 0x80 && next != '\n';
      if (!perl_class && !control && !punctuation) return false;
      end += 2;
      return true;
    }
    if (c == '[') {
      std::size_t at = end + 1;
      if (at < pattern_.size() && pattern_[at] == '^') ++at;
      if (at < pattern_.size() && pattern_[at] == ']') return false;  // `[]a]`: rare, left to RE2
      while (at < pattern_.size() && pattern_[at] != ']') {
        if (pattern_[at] == '[') return false;  // [[:alpha:]] and the like
        at += pattern_[at] == '\\' ? 2 : 1;
      }
      if (at >= pattern_.size()) return false;
      end = at + 1;
      return true;
    }
    if (c == '{') return false;  // RE2 reads a `{` that starts no repetition as a literal
    end += 1;
    return true;
  }

  // What RE2 says the atom matches, one byte at a time; a literal byte (or `\` and punctuation)
  // is itself, without asking.
  bool ByteSetOf(std::string_view atom, ByteSet& set) {
    const bool escaped_punctuation = atom.size() == 2 && atom[0] == '\\' && !IsAlnum(atom[1]);
    if ((atom.size() == 1 && atom[0] != '.' && atom[0] != '[') || escaped_punctuation) {
      set.fill(false);
      set[static_cast<unsigned char>(atom.back())] = true;
      return true;
    }
    const auto known = sets_.find(atom);
    if (known != sets_.end()) {
      set = known->second;
      return true;
    }
    RE2::Options options;
    options.set_encoding(RE2::Options::EncodingLatin1);
    options.set_log_errors(false);
    const RE2 re(re2::StringPiece(atom.data(), atom.size()), options);
    if (!re.ok() || re.NumberOfCapturingGroups() != 0) return false;
    for (int b = 0; b < 256; ++b) {
      const char byte = static_cast<char>(b);
      set[static_cast<std::size_t>(b)] = RE2::FullMatch(re2::StringPiece(&byte, 1), re);
    }
    sets_.emplace(std::string(atom), set);
    return true;
  }

  // Reads an optional greedy repetition after an atom.
  bool ReadRepetition(std::size_t& at, Atom& atom) const {
    if (at >= pattern_.size()) return true;
    const char c = pattern_[at];
    if (c == '*') {
      atom.min = 0;
      atom.max = kUnbounded;
      ++at;
    } else if (c == '+') {
      atom.min = 1;
      atom.max = kUnbounded;
      ++at;
    } else if (c == '?') {
      atom.min = 0;
      atom.max = 1;
      ++at;
    } else if (c == '{') {
      ++at;
      if (!ReadCount(pattern_, at, atom.min)) return false;
      atom.max = atom.min;
      if (at < pattern_.size() && pattern_[at] == ',') {
        ++at;
        atom.max = kUnbounded;
        if (at < pattern_.size() && pattern_[at] != '}' && !ReadCount(pattern_, at, atom.max)) {
          return false;
        }
      }
      if (at >= pattern_.size() || pattern_[at] != '}' || atom.max < atom.min) return false;
      ++at;
    } else {
      return true;
    }
    // Lazy (`+?`) or doubled repetitions are left to RE2.
    return at >= pattern_.size() || !IsQuantifier(pattern_[at]);
  }

  std::string_view pattern_;
  std::map<std::string, ByteSet, std::less<>> sets_;
};

// True when every atom of variable length is followed only by bytes it does not match itself,
// counting the atoms after it up to the first that must match at least once.
bool GreedyIsExact(const std::vector<Atom>& atoms) {
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    if (atoms[i].fixed()) continue;
    for (std::size_t j = i + 1; j < atoms.size(); ++j) {
      for (std::size_t b = 0; b < 256; ++b) {
        if (atoms[i].set[b] && atoms[j].set[b]) return false;
      }
      if (atoms[j].min > 0) break;
    }
  }
  return true;
}

}  // namespace

std::optional<AnchoredCapture> AnchoredCapture::Compile(std::string_view pattern, int groups) {
  Parser parser(pattern);
  if (!parser.Parse() || static_cast<int>(parser.groups.size()) != groups ||
      !GreedyIsExact(parser.atoms)) {
    return std::nullopt;
  }
  const std::vector<Atom>& atoms = parser.atoms;
  // Where a group starts or ends, a step must start.
  std::vector<bool> boundary(atoms.size() + 1, false);
  for (const auto& [first, last] : parser.groups) {
    boundary[first] = true;
    boundary[last] = true;
  }
  AnchoredCapture capture;
  capture.anchored_end_ = parser.anchored_end;
  std::vector<std::size_t> step_at(atoms.size() + 1, 0);  // the step that starts at atom i
  std::vector<ByteSet> sets;
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    const Atom& atom = atoms[i];
    auto set = std::find(sets.begin(), sets.end(), atom.set);
    if (set == sets.end()) {
      sets.push_back(atom.set);
      set = sets.end() - 1;
    }
    const auto table = static_cast<std::uint32_t>(256 * (set - sets.begin()));
    if (atom.fixed()) {
      // Consecutive atoms of fixed length (`\d{4}/\d\d`) are one step, one loop over the bytes.
      if (capture.steps_.empty() || boundary[i] || !capture.steps_.back().fixed) {
        Step step;
        step.first = static_cast<std::uint32_t>(capture.checks_.size());
        capture.steps_.push_back(step);
      }
      if (capture.checks_.size() + atom.min > kMaxChecks) return std::nullopt;
      capture.checks_.insert(capture.checks_.end(), atom.min, table);
      capture.steps_.back().length += atom.min;
    } else {
      Step step;
      step.fixed = false;
      step.table = table;
      step.min = atom.min;
      step.max = atom.max;
      capture.steps_.push_back(step);
    }
    step_at[i] = boundary[i] ? capture.steps_.size() - 1 : 0;
  }
  step_at[atoms.size()] = capture.steps_.size();
  if (capture.steps_.size() > kMaxSteps) return std::nullopt;
  for (const ByteSet& set : sets) {
    for (const bool member : set) capture.tables_.push_back(member ? 1 : 0);
  }
  for (const auto& [first, last] : parser.groups) {
    capture.groups_.push_back(Group{step_at[first], step_at[last]});
  }
  return capture;
}

bool AnchoredCapture::Match(std::string_view text, std::string_view* submatches, int count) const {
  // The position before each step, and after the last.
  std::array<std::size_t, kMaxSteps + 1> at;
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::uint8_t* tables = tables_.data();
  const std::uint32_t* checks = checks_.data();
  std::size_t pos = 0;
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    at[s] = pos;
    const Step& step = steps_[s];
    const std::size_t left = text.size() - pos;
    if (step.fixed) {
      if (left < step.length) return false;
      const std::uint32_t* check = checks + step.first;
      const unsigned char* from = bytes + pos;
      for (std::uint32_t i = 0; i < step.length; ++i) {
        if (tables[check[i] + from[i]] == 0) return false;
      }
      pos += step.length;
      continue;
    }
    // Greedy, and never giving back: the compile-time check made that exact.
    const std::uint8_t* table = tables + step.table;
    const std::size_t limit = std::min<std::size_t>(left, step.max);
    std::size_t run = 0;
    while (run < limit && table[bytes[pos + run]] != 0) ++run;
    if (run < step.min) return false;
    pos += run;
  }
  at[steps_.size()] = pos;
  if (anchored_end_ && pos != text.size()) return false;
  for (int i = 0; i < count; ++i) {
    std::size_t begin = 0;
    std::size_t end = pos;
    if (i > 0) {
      const auto g = static_cast<std::size_t>(i - 1);
      if (g >= groups_.size()) {
        submatches[i] = {};
        continue;
      }
      begin = at[groups_[g].first];
      end = at[groups_[g].last];
    }
    submatches[i] = std::string_view(text.data() + begin, end - begin);
  }
  return true;
}

}  // namespace sidecar::accesslog
