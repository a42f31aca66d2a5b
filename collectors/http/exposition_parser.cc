#include "collectors/http/exposition_parser.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <utility>

#include "collectors/core/name_index.h"

namespace sidecar {
namespace {

using prometheus::MetricType;

// The TYPE a source can declare; OpenMetrics has more than the text format 0.0.4.
enum class Kind {
  kUntyped,
  kCounter,
  kGauge,
  kHistogram,
  kSummary,
  kInfo,
  kStateset,
  kGaugeHistogram
};

std::optional<Kind> KindOf(std::string_view word, ExpositionFormat format) {
  if (word == "counter") return Kind::kCounter;
  if (word == "gauge") return Kind::kGauge;
  if (word == "histogram") return Kind::kHistogram;
  if (word == "summary") return Kind::kSummary;
  if (word == "untyped" || word == "unknown") return Kind::kUntyped;
  if (format == ExpositionFormat::kOpenMetrics) {
    if (word == "info") return Kind::kInfo;
    if (word == "stateset") return Kind::kStateset;
    if (word == "gaugehistogram") return Kind::kGaugeHistogram;
  }
  return std::nullopt;
}

MetricType ExposedType(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return MetricType::Counter;
    case Kind::kGauge:
    case Kind::kInfo:
    case Kind::kStateset:
      return MetricType::Gauge;
    case Kind::kHistogram:
      return MetricType::Histogram;
    case Kind::kSummary:
      return MetricType::Summary;
    default:
      return MetricType::Untyped;
  }
}

// The suffixes by which a sample name can belong to a family of another name.
constexpr std::string_view kSuffixes[] = {"_bucket",  "_sum",  "_count", "_total",
                                          "_created", "_info", "_gsum",  "_gcount"};

// What a sample is to its family.
enum class Role { kNone, kKeep, kDrop, kBucket, kQuantile };

// How a sample called <family><suffix> belongs to a family of `kind`.
Role RoleOf(Kind kind, std::string_view suffix, ExpositionFormat format) {
  const bool open_metrics = format == ExpositionFormat::kOpenMetrics;
  const bool created = open_metrics && suffix == "_created";
  switch (kind) {
    case Kind::kCounter:
      if (open_metrics)
        return suffix == "_total" ? Role::kKeep : created ? Role::kDrop : Role::kNone;
      return suffix.empty() ? Role::kKeep : Role::kNone;
    case Kind::kHistogram:
      if (suffix == "_bucket") return Role::kBucket;
      if (suffix == "_sum" || suffix == "_count") return Role::kKeep;
      return created ? Role::kDrop : Role::kNone;
    case Kind::kGaugeHistogram:
      if (suffix == "_bucket") return Role::kBucket;
      return suffix == "_gsum" || suffix == "_gcount" ? Role::kKeep : Role::kNone;
    case Kind::kSummary:
      if (suffix.empty()) return Role::kQuantile;
      if (suffix == "_sum" || suffix == "_count") return Role::kKeep;
      return created ? Role::kDrop : Role::kNone;
    case Kind::kInfo:
      return suffix == "_info" ? Role::kKeep : Role::kNone;
    default:
      return suffix.empty() ? Role::kKeep : Role::kNone;
  }
}

// Characters of metric names: bit 1 may start one, bit 2 may follow, bit 4 is ':' (not in label
// names). A table, because names are most of an exposition's bytes.
constexpr std::array<std::uint8_t, 256> kNameChars = [] {
  std::array<std::uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (letter || c == ':') table[c] = 1 | 2;
    if (c >= '0' && c <= '9') table[c] = 2;
    if (c == ':') table[c] |= 4;
  }
  return table;
}();

// Length of the metric (or, without colons, label) name at the start of `text`; 0 if none.
std::size_t NameLength(std::string_view text, bool allow_colon) {
  const std::uint8_t refused = allow_colon ? 0 : 4;
  if (text.empty()) return 0;
  const std::uint8_t first = kNameChars[static_cast<unsigned char>(text[0])];
  if ((first & 1) == 0 || (first & refused) != 0) return 0;
  // The rest: one table look-up and test per byte.
  const std::uint8_t wanted = 2 | refused;
  std::size_t n = 1;
  while (n < text.size() && (kNameChars[static_cast<unsigned char>(text[n])] & wanted) == 2) ++n;
  return n;
}

// Byte offset of the first invalid UTF-8 sequence, or npos.
std::size_t InvalidUtf8Offset(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    // Expositions are almost all ASCII: skip 32, then eight such bytes at a time.
    if (i + 32 <= size) {
      std::uint64_t words[4];
      std::memcpy(words, bytes + i, sizeof words);
      if (((words[0] | words[1] | words[2] | words[3]) & 0x8080808080808080ULL) == 0) {
        i += 32;
        continue;
      }
    }
    if (i + 8 <= size) {
      std::uint64_t word;
      std::memcpy(&word, bytes + i, sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = bytes[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t min = 0;
    std::uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2, min = 0x80, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, min = 0x800, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, min = 0x10000, code = c & 0x07;
    } else {
      return i;
    }
    if (i + length > size) return i;
    for (std::size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (bytes[i + k] & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += length;
  }
  return std::string_view::npos;
}

std::string_view SkipBlanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  return text;
}

std::string_view NextToken(std::string_view& text) {
  text = SkipBlanks(text);
  std::size_t n = 0;
  while (n < text.size() && text[n] != ' ' && text[n] != '\t') ++n;
  const std::string_view token = text.substr(0, n);
  text.remove_prefix(n);
  return token;
}

// A sample value as Prometheus reads it (Go's ParseFloat): decimal, exponent, Inf, NaN.
bool ParseValue(std::string_view token, double& value) {
  if (token.empty()) return false;
  bool negative = false;
  if (token.front() == '+' || token.front() == '-') {
    negative = token.front() == '-';
    token.remove_prefix(1);
  }
  if (token.empty() || token.front() == '+' || token.front() == '-') return false;
  // Most values are counts: up to 15 digits, an integer is exactly the double it spells.
  if (token.size() <= 15) {
    std::uint64_t integer = 0;
    std::size_t i = 0;
    while (i < token.size() && token[i] >= '0' && token[i] <= '9') {
      integer = integer * 10 + static_cast<std::uint64_t>(token[i] - '0');
      ++i;
    }
    if (i == token.size()) {
      value = static_cast<double>(integer);
      if (negative) value = -value;
      return true;
    }
  }
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc() || end != token.data() + token.size()) return false;
  if (negative) value = -value;
  return true;
}

// The value token after the blanks at the start of `rest`, which it consumes. The common case,
// one space and digits, is read without looking at each byte twice.
std::string_view ValueToken(std::string_view& rest) {
  if (rest.size() > 1 && rest[0] == ' ' && rest[1] != ' ' && rest[1] != '\t') {
    std::size_t n = 1;
    while (n < rest.size() && rest[n] != ' ' && rest[n] != '\t') ++n;
    const std::string_view token = rest.substr(1, n - 1);
    rest.remove_prefix(n);
    return token;
  }
  return NextToken(rest);
}

// How a value token is written back.
enum class ValueForm { kInvalid, kAsWritten, kNormalised };

// How many of the bytes of `token` to copy when it is a number written the way every parser reads
// as one double and as its shortest form would read, or 0 when it must go through a double
// (one pass over the token):
// - an integer of up to 15 digits, without a leading zero or a plus sign, not ending in 0 (whose
//   shortest form may be 1e+06), or 0: its own shortest form;
// - `-?(0|[1-9][0-9]*)(\.[0-9]+)?(e[+-][0-9]{1,3})?` with a point or an exponent, at most 17
//   significant digits (enough for any double; Go and Python write at most 17), and a magnitude
//   between 1e-300 and 1e300 (neither overflow nor underflow), such as Go's 2.6198016e+07.
//   Without an exponent, zeros ending the fraction are left out, and the point too when nothing
//   is left after it (Python's client writes every value so: 3.0 is written 3, by the first
//   rule).
// Copying these rather than converting them to a double and back took a fifth of the time of a
// merge of random fractions.
std::size_t CopiedLength(std::string_view token) {
  const std::size_t size = token.size();
  std::size_t i = size != 0 && token[0] == '-' ? 1 : 0;
  const std::size_t integer_start = i;
  while (i < size && token[i] >= '0' && token[i] <= '9') ++i;
  const std::size_t integer_digits = i - integer_start;
  if (integer_digits == 0 || (integer_digits > 1 && token[integer_start] == '0')) return 0;
  const bool leading_zero = token[integer_start] == '0';
  // An integer (and a fraction of zeros after one) is copied when it is its own shortest form.
  const auto integer_copied = [&](std::size_t end) -> std::size_t {
    if (leading_zero) return end == 1 ? 1 : 0;  // "0", not "-0"
    return integer_digits <= 15 && token[end - 1] != '0' ? end : 0;
  };
  if (i == size) return integer_copied(i);
  // Digits from the first that is not 0, and the power of ten of that first one.
  std::size_t significant = leading_zero ? 0 : integer_digits;
  int magnitude = static_cast<int>(integer_digits) - 1;
  std::size_t end = i;  // of what is copied: after the last digit that is not a zero ending it
  if (token[i] == '.') {
    const std::size_t fraction_start = ++i;
    std::size_t significant_at_end = significant;
    for (; i < size && token[i] >= '0' && token[i] <= '9'; ++i) {
      if (significant != 0 || token[i] != '0') {
        ++significant;
      } else {
        --magnitude;  // a zero before the first significant digit
      }
      if (token[i] != '0') {
        end = i + 1;
        significant_at_end = significant;
      }
    }
    if (i == fraction_start) return 0;
    if (leading_zero) --magnitude;
    if (i == size) {
      // No exponent: the zeros ending the fraction are left out.
      if (end == fraction_start - 1) return integer_copied(end);
      significant = significant_at_end;
    } else {
      end = i;
    }
  }
  if (i < size) {
    if (token[i] != 'e' || ++i == size || (token[i] != '+' && token[i] != '-')) return 0;
    const bool negative_exponent = token[i++] == '-';
    const std::size_t exponent_start = i;
    int exponent = 0;
    while (i < size && token[i] >= '0' && token[i] <= '9' && i - exponent_start < 3) {
      exponent = exponent * 10 + (token[i] - '0');
      ++i;
    }
    if (i == exponent_start || i != size) return 0;
    magnitude += negative_exponent ? -exponent : exponent;
    end = size;
  }
  if (significant > 17) return 0;
  if (significant != 0 && (magnitude < -300 || magnitude > 300)) return 0;
  return end;
}

// Values are written back as Prometheus reads them, most of them copied (CopiedLength): `written`
// is set to what is copied. The others (+42, 007, 1e3, .5, Inf, long or huge ones) are read as
// Prometheus reads them (Go's ParseFloat) into `value`, to be written in their shortest
// round-trip form by AppendValue.
ValueForm CheckValue(std::string_view token, double& value, std::string_view& written) {
  if (const std::size_t copied = CopiedLength(token); copied != 0) {
    written = token.substr(0, copied);
    return ValueForm::kAsWritten;
  }
  written = token;
  return ParseValue(token, value) ? ValueForm::kNormalised : ValueForm::kInvalid;
}

struct FamilyState {
  Kind kind = Kind::kUntyped;
  bool typed = false;
  bool has_samples = false;
  // Its name (as exposed) and HELP, in MergedLines::names.
  std::uint32_t name_offset = 0;
  std::uint32_t name_size = 0;
  std::uint32_t help_offset = 0;
  std::uint32_t help_size = 0;
  // Its samples in MergedLines::samples, while they are one stretch (see scattered_).
  std::uint32_t first_sample = 0;
  std::uint32_t sample_count = 0;
};

// One label pair of a sample: its name and its value with the quotes, as written.
struct LabelPair {
  std::string_view name;
  std::string_view quoted_value;
};

constexpr std::uint32_t kNoFamily = std::numeric_limits<std::uint32_t>::max();

class Parser {
 public:
  Parser(const ExpositionParseOptions& options, std::shared_ptr<MergedLines> lines)
      : options_(options), lines_(lines ? std::move(lines) : std::make_shared<MergedLines>()) {
    lines_->text.clear();
    lines_->samples.clear();
    lines_->names.clear();
    for (const auto& [label, value] : options_.extra_labels) {
      std::string& pair = extra_pairs_.emplace_back(label + "=\"");
      AppendEscapedLabelValue(value, pair);
      pair += '"';
      all_extra_pairs_ += ',';
      all_extra_pairs_ += pair;
    }
  }

  std::optional<ParsedExposition> Run(std::string_view body, std::string& error) {
    if (const std::size_t bad = InvalidUtf8Offset(body); bad != std::string_view::npos) {
      std::size_t line = 1;
      for (std::size_t i = 0; i < bad; ++i) line += body[i] == '\n';
      error = "line " + std::to_string(line) + ": invalid UTF-8 at byte " + std::to_string(bad);
      return std::nullopt;
    }
    // Room for the families of a typical exposition (a few hundred bytes each), not more: the
    // vector grows by doubling if there are more.
    lines_->names.reserve(body.size() / 8);
    // The lines written are about as long as those read, plus the labels added: room for that
    // at once, instead of copies as the buffer grows.
    lines_->text.reserve(body.size() + body.size() / 64 * (all_extra_pairs_.size() + 2) + 64);
    lines_->samples.reserve(body.size() / 64 + 16);
    sample_family_.reserve(body.size() / 64 + 16);
    states_.reserve(body.size() / 1024 + 16);
    index_.Reserve(body.size() / 512 + 16);
    bool seen_eof = false;
    while (!body.empty()) {
      ++line_;
      const std::size_t newline = body.find('\n');
      std::string_view line = body.substr(0, newline);
      body.remove_prefix(newline == std::string_view::npos ? body.size() : newline + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (seen_eof) {
        if (line.empty() && body.empty()) break;
        return Fail(error, "text after \"# EOF\"");
      }
      if (line.empty()) continue;
      if (line.front() == '#') {
        if (line == "# EOF" && open_metrics()) {
          seen_eof = true;
          continue;
        }
        // Metadata changes how sample names resolve.
        last_sample_name_ = {};
        if (!ParseComment(line)) return Fail(error, message_);
      } else if (!ParseSample(line)) {
        return Fail(error, message_);
      }
    }
    if (open_metrics() && !seen_eof) {
      error = "OpenMetrics exposition without \"# EOF\" (cut off?)";
      return std::nullopt;
    }
    if (scattered_) Regroup();
    // Each family gets its stretch of the lines, its offsets made relative to it (all stretches
    // are found before any offset changes: a family's stretch ends where the next sample starts).
    std::vector<MergedSample>& samples = lines_->samples;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> stretches(states_.size());
    for (std::size_t i = 0; i < states_.size(); ++i) {
      const FamilyState& state = states_[i];
      if (state.sample_count == 0) continue;
      const std::size_t end = state.first_sample + state.sample_count;
      stretches[i] = {samples[state.first_sample].line_offset,
                      end < samples.size() ? samples[end].line_offset
                                           : static_cast<std::uint32_t>(lines_->text.size())};
    }
    ParsedExposition parsed;
    parsed.samples = samples_;
    parsed.families.reserve(states_.size());
    for (std::size_t i = 0; i < states_.size(); ++i) {
      const FamilyState& state = states_[i];
      if (state.sample_count == 0) continue;
      const auto [begin, end] = stretches[i];
      for (std::size_t k = state.first_sample; k < state.first_sample + state.sample_count; ++k) {
        samples[k].line_offset -= begin;
        samples[k].labels_offset -= begin;
      }
      MergedFamily& family = parsed.families.emplace_back();
      family.name = std::string_view(lines_->names).substr(state.name_offset, state.name_size);
      family.type = ExposedType(state.kind);
      family.help = std::string_view(lines_->names).substr(state.help_offset, state.help_size);
      family.text = std::string_view(lines_->text).substr(begin, end - begin);
      family.samples =
          std::span<const MergedSample>(samples).subspan(state.first_sample, state.sample_count);
      family.lines = lines_;
    }
    return parsed;
  }

 private:
  // Writes the lines again, grouped by family, when some family's samples were not one stretch
  // (the text format lets a family's samples come apart; sources hardly do it).
  void Regroup() {
    const MergedLines& scattered = *lines_;
    const std::size_t count = scattered.samples.size();
    // Where each family's samples start in the new order (a counting sort, stable).
    std::vector<std::uint32_t> next(states_.size() + 1, 0);
    for (const std::uint32_t family : sample_family_) ++next[family + 1];
    for (std::size_t i = 1; i < next.size(); ++i) next[i] += next[i - 1];
    for (std::size_t i = 0; i < states_.size(); ++i) {
      states_[i].first_sample = next[i];
      states_[i].sample_count = next[i + 1] - next[i];
    }
    std::vector<std::uint32_t> order(count);
    for (std::size_t i = 0; i < count; ++i)
      order[next[sample_family_[i]]++] = static_cast<std::uint32_t>(i);
    auto grouped = std::make_shared<MergedLines>();
    grouped->text.reserve(scattered.text.size());
    grouped->samples.reserve(count);
    for (const std::uint32_t i : order) {
      const MergedSample& sample = scattered.samples[i];
      const std::size_t line_end =
          i + 1 < count ? scattered.samples[i + 1].line_offset : scattered.text.size();
      MergedSample& moved = grouped->samples.emplace_back();
      moved.line_offset = static_cast<std::uint32_t>(grouped->text.size());
      moved.labels_offset = moved.line_offset + (sample.labels_offset - sample.line_offset);
      moved.labels_size = sample.labels_size;
      grouped->text.append(scattered.text, sample.line_offset, line_end - sample.line_offset);
    }
    grouped->names = std::move(lines_->names);
    lines_ = std::move(grouped);
  }

  bool open_metrics() const { return options_.format == ExpositionFormat::kOpenMetrics; }

  std::nullopt_t Fail(std::string& error, const std::string& message) const {
    error = "line " + std::to_string(line_) + ": " + message;
    return std::nullopt;
  }

  bool Error(std::string message) {
    message_ = std::move(message);
    return false;
  }

  // `# HELP name text`, `# TYPE name type`; other comments are ignored.
  bool ParseComment(std::string_view line) {
    std::string_view rest = line.substr(1);
    const std::string_view keyword = NextToken(rest);
    if (keyword != "HELP" && keyword != "TYPE") {
      if (keyword == "UNIT" || !open_metrics()) return true;
      return Error("unknown comment \"# " + std::string(keyword) + "\"");
    }
    rest = SkipBlanks(rest);
    const std::size_t name_length = NameLength(rest, true);
    if (name_length == 0) return Error("# " + std::string(keyword) + " without a metric name");
    const std::string_view name = rest.substr(0, name_length);
    rest.remove_prefix(name_length);
    if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t') {
      return Error("invalid metric name in # " + std::string(keyword));
    }
    if (!rest.empty()) rest.remove_prefix(1);
    // HELP and TYPE of one family come one after the other: the second needs no look-up.
    if (current_ == kNoFamily || name != current_name_) {
      current_ = Declare(name);
      current_name_ = name;
    }
    FamilyState& state = states_[current_];
    if (keyword == "HELP") {
      // The text format escapes backslash and newline in HELP; OpenMetrics also the double quote,
      // which the text format writes as is.
      std::string& names = lines_->names;
      state.help_offset = static_cast<std::uint32_t>(names.size());
      if (!open_metrics()) {
        names += rest;
      } else {
        for (std::size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' && i + 1 < rest.size() && rest[i + 1] == '"') continue;
          names += rest[i];
        }
      }
      state.help_size = static_cast<std::uint32_t>(names.size() - state.help_offset);
      return true;
    }
    const std::string_view word = NextToken(rest);
    const std::optional<Kind> kind = KindOf(word, options_.format);
    if (!kind) return Error("unknown TYPE \"" + std::string(word) + "\" for " + std::string(name));
    if (!NextToken(rest).empty()) return Error("text after the TYPE of " + std::string(name));
    if (suffixed_untyped_) {
      // Samples read before as a family of their own (`h_bucket`, no metadata) that this TYPE
      // makes part of this family would be served twice, in two families.
      for (const std::string_view suffix : kSuffixes) {
        if (RoleOf(*kind, suffix, options_.format) == Role::kNone) continue;
        const std::string derived = std::string(name) + std::string(suffix);
        const std::uint32_t held = Find(derived);
        if (held != kNoFamily && held != current_ && states_[held].has_samples) {
          return Error("TYPE of " + std::string(name) + " after samples of " + derived);
        }
      }
    }
    if (state.typed && state.kind != *kind) return Error("second TYPE for " + std::string(name));
    if (state.has_samples && !state.typed)
      return Error("TYPE of " + std::string(name) + " after its samples");
    state.kind = *kind;
    state.typed = true;
    const bool total = open_metrics() && *kind == Kind::kCounter;
    if (total || *kind == Kind::kInfo) {
      std::string& names = lines_->names;
      state.name_offset = static_cast<std::uint32_t>(names.size());
      names += name;
      names += total ? "_total" : "_info";
      state.name_size = static_cast<std::uint32_t>(names.size() - state.name_offset);
    }
    return true;
  }

  // The family declared under `name`, or kNoFamily. Names are views into the body, which
  // outlives the parser: no string is built for a look-up.
  std::uint32_t Find(std::string_view name) {
    const std::uint32_t* family = index_.Find(name);
    return family == nullptr ? kNoFamily : *family;
  }

  std::uint32_t Declare(std::string_view name) {
    const auto [family, inserted] = index_.FindOrAdd(name);
    if (inserted) {
      *family = static_cast<std::uint32_t>(states_.size());
      FamilyState& state = states_.emplace_back();
      std::string& names = lines_->names;
      state.name_offset = static_cast<std::uint32_t>(names.size());
      state.name_size = static_cast<std::uint32_t>(name.size());
      names += name;
    }
    return *family;
  }

  Role RoleIn(std::uint32_t family, std::string_view suffix) const {
    return family == kNoFamily ? Role::kNone
                               : RoleOf(states_[family].kind, suffix, options_.format);
  }

  // The family a sample belongs to and its role there: the family of the last metadata, else
  // one declared earlier under the name or the name without a suffix, else a new untyped one.
  std::pair<std::uint32_t, Role> Resolve(std::string_view sample_name) {
    if (current_ != kNoFamily && sample_name.starts_with(current_name_)) {
      const Role role = RoleIn(current_, sample_name.substr(current_name_.size()));
      if (role != Role::kNone) return {current_, role};
    }
    const std::uint32_t named = Find(sample_name);
    if (const Role role = RoleIn(named, ""); role != Role::kNone) return {named, role};
    for (const std::string_view suffix : kSuffixes) {
      if (!sample_name.ends_with(suffix)) continue;
      const std::uint32_t base = Find(sample_name.substr(0, sample_name.size() - suffix.size()));
      if (const Role role = RoleIn(base, suffix); role != Role::kNone) return {base, role};
    }
    if (named != kNoFamily) return {kNoFamily, Role::kNone};
    for (const std::string_view suffix : kSuffixes) {
      if (sample_name.ends_with(suffix)) suffixed_untyped_ = true;
    }
    return {Declare(sample_name), Role::kKeep};
  }

  // The metric name at the start of `line`: most lines repeat the last one's name, which a
  // comparison finds faster than a scan (and it was checked then). `repeated` says so.
  std::string_view SampleName(std::string_view line, bool& repeated) const {
    const std::size_t last = last_sample_name_.size();
    repeated =
        last != 0 && line.starts_with(last_sample_name_) &&
        (line.size() == last || (kNameChars[static_cast<unsigned char>(line[last])] & 2) == 0);
    return line.substr(0, repeated ? last : NameLength(line, true));
  }

  // Reads a sample line, checks it as Prometheus would, and writes it, relabelled, to the end
  // of its family's text. A line already in the form written is copied in at most two pieces
  // (around the labels added); others are put together part by part.
  bool ParseSample(std::string_view line) {
    bool repeated = false;
    const std::string_view name = SampleName(line, repeated);
    if (name.empty()) return Error("expected a metric name");
    std::string_view rest = line.substr(name.size());
    if (!repeated) {
      const auto [family, role] = Resolve(name);
      if (family == kNoFamily) {
        last_sample_name_ = {};
        return Error("sample " + std::string(name) + " does not fit the TYPE of its family");
      }
      last_family_ = family;
      last_role_ = role;
      last_sample_name_ = name;
    }
    const Role role = last_role_;
    states_[last_family_].has_samples = true;

    labels_.clear();
    bool canonical = true;  // labels written as the output writes them
    std::string_view label_pairs;
    if (!rest.empty() && rest.front() == '{') {
      const std::size_t before = rest.size();
      rest.remove_prefix(1);
      if (!ParseLabels(rest, canonical)) return false;
      label_pairs = line.substr(name.size() + 1, before - rest.size() - 2);
      // `x{} 1` is written `x 1`.
      canonical = canonical && !labels_.empty();
    }
    // Where the labels end in the source line: before `}`, or after the name without any.
    const std::size_t tail_start = line.size() - rest.size();
    const std::size_t labels_end = tail_start - (labels_.empty() ? 0 : 1);
    if (role == Role::kBucket && !HasLabelName("le")) {
      return Error(std::string(name) + " without an \"le\" label");
    }
    if (role == Role::kQuantile && !HasLabelName("quantile")) {
      return Error(std::string(name) + " without a \"quantile\" label");
    }

    if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) {
      return Error("expected a space and a value after " + std::string(name));
    }
    const std::string_view value = ValueToken(rest);
    double parsed_value = 0;
    std::string_view written_value;
    const ValueForm form = CheckValue(value, parsed_value, written_value);
    if (form == ValueForm::kInvalid) {
      return Error("invalid value \"" + std::string(value.substr(0, 40)) + "\" of " +
                   std::string(name));
    }
    std::string_view timestamp;
    std::int64_t timestamp_ms = 0;
    std::string_view token = NextToken(rest);
    if (!token.empty() && token != "#") {
      if (!ParseTimestamp(token, timestamp_ms)) {
        return Error("invalid timestamp \"" + std::string(token.substr(0, 40)) + "\" of " +
                     std::string(name));
      }
      timestamp = token;
      token = NextToken(rest);
    }
    // Whatever follows " # " in OpenMetrics is an exemplar, which the text format cannot carry.
    if (!token.empty() && !(open_metrics() && token == "#")) {
      return Error("unexpected \"" + std::string(token.substr(0, 40)) + "\" after the value of " +
                   std::string(name));
    }
    if (role == Role::kDrop) return true;
    if (options_.sample_limit != 0 && samples_ >= options_.sample_limit) {
      return Error("more than sample_limit " + std::to_string(options_.sample_limit) + " samples");
    }
    ++samples_;

    // The source's line is the output's (labels aside) when its labels are in the output's form
    // and it ends in exactly " value" or " value timestamp", the value plain and the timestamp
    // the text format's milliseconds without a sign.
    const std::string_view tail = line.substr(tail_start);
    const bool as_written =
        canonical && form == ValueForm::kAsWritten && written_value.size() == value.size() &&
        tail.front() == ' ' &&
        (timestamp.empty() ? tail.size() == 1 + value.size()
                           : !open_metrics() && timestamp.front() != '+' &&
                                 tail.size() == 2 + value.size() + timestamp.size() &&
                                 tail[1 + value.size()] == ' ');

    FamilyState& state = states_[last_family_];
    std::vector<MergedSample>& samples = lines_->samples;
    if (state.sample_count == 0) {
      state.first_sample = static_cast<std::uint32_t>(samples.size());
    } else if (state.first_sample + state.sample_count != samples.size()) {
      scattered_ = true;
    }
    ++state.sample_count;
    sample_family_.push_back(last_family_);
    std::string& out = lines_->text;
    MergedSample& sample = samples.emplace_back();
    sample.line_offset = static_cast<std::uint32_t>(out.size());
    if (as_written) {
      out.append(line.data(), labels_end);
    } else {
      out += name;
      if (!labels_.empty()) {
        out += '{';
        if (canonical) {
          out += label_pairs;
        } else {
          for (std::size_t i = 0; i < labels_.size(); ++i) {
            if (i != 0) out += ',';
            out += labels_[i].name;
            out += '=';
            out += labels_[i].quoted_value;
          }
        }
      }
    }
    const std::size_t own_labels_end = out.size();
    AppendExtraLabels(out);
    const bool braces = !labels_.empty() || out.size() != own_labels_end;
    if (!labels_.empty()) {
      sample.labels_offset = static_cast<std::uint32_t>(sample.line_offset + name.size() + 1);
    } else {
      sample.labels_offset = static_cast<std::uint32_t>(own_labels_end + (braces ? 1 : 0));
    }
    sample.labels_size = static_cast<std::uint32_t>(braces ? out.size() - sample.labels_offset : 0);
    if (as_written) {
      if (labels_.empty() && braces) out += '}';
      out += line.substr(labels_end);
    } else {
      if (braces) out += '}';
      out += ' ';
      if (form == ValueForm::kAsWritten) {
        out += written_value;
      } else {
        AppendValue(parsed_value, out);
      }
      if (!timestamp.empty()) {
        char buffer[24];
        const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, timestamp_ms);
        out += ' ';
        out.append(buffer, static_cast<std::size_t>(end - buffer));
      }
    }
    out += '\n';
    return true;
  }

  // Appends those of the collector's labels that the sample lacks, each after a comma, or after
  // a brace for the first one of a sample without labels.
  void AppendExtraLabels(std::string& out) const {
    if (extra_pairs_.empty()) return;
    bool missing_all = true;
    for (const auto& [label, value] : options_.extra_labels) {
      if (HasLabelName(label)) missing_all = false;
    }
    if (missing_all) {
      out += labels_.empty() ? '{' : ',';
      out.append(all_extra_pairs_.data() + 1, all_extra_pairs_.size() - 1);
      return;
    }
    bool open = !labels_.empty();
    for (std::size_t i = 0; i < extra_pairs_.size(); ++i) {
      if (HasLabelName(options_.extra_labels[i].first)) continue;
      out += open ? ',' : '{';
      open = true;
      out += extra_pairs_[i];
    }
  }

  bool ParseTimestamp(std::string_view token, std::int64_t& timestamp_ms) {
    if (open_metrics()) {
      double seconds = 0;
      if (!ParseValue(token, seconds) || !std::isfinite(seconds) || std::abs(seconds) > 9.2e15) {
        return false;
      }
      timestamp_ms = std::llround(seconds * 1000);
    } else {
      const char* begin = token.data() + (token.front() == '+' ? 1 : 0);
      const auto [end, ec] = std::from_chars(begin, token.data() + token.size(), timestamp_ms);
      if (ec != std::errc() || end != token.data() + token.size()) return false;
    }
    return true;
  }

  // Reads `name="value",...}` (the opening brace consumed) into labels_. `canonical` stays true
  // when the pairs are written as the output writes them: no blanks, no comma before the brace.
  bool ParseLabels(std::string_view& rest, bool& canonical) {
    bool after_comma = false;
    while (true) {
      if (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) {
        canonical = false;
        rest = SkipBlanks(rest);
      }
      if (rest.empty()) return Error("unterminated label set");
      if (rest.front() == '}') {
        if (after_comma) canonical = false;
        rest.remove_prefix(1);
        return true;
      }
      const std::size_t length = NameLength(rest, false);
      if (length == 0) return Error("invalid label name");
      const std::string_view label = rest.substr(0, length);
      if (HasLabelName(label))
        return Error("label \"" + std::string(label) + "\" twice in a series");
      rest.remove_prefix(length);
      if (!rest.empty() && rest.front() != '=') {
        canonical = false;
        rest = SkipBlanks(rest);
      }
      if (rest.size() < 2 || rest[0] != '=')
        return Error("expected = after label " + std::string(label));
      rest.remove_prefix(1);
      if (!rest.empty() && rest.front() != '"') {
        canonical = false;
        rest = SkipBlanks(rest);
      }
      if (rest.empty() || rest.front() != '"')
        return Error("expected \" after " + std::string(label) + "=");
      std::size_t end = 1;
      while (end < rest.size() && rest[end] != '"') {
        if (rest[end] == '\\') {
          if (end + 1 >= rest.size() ||
              (rest[end + 1] != '\\' && rest[end + 1] != '"' && rest[end + 1] != 'n')) {
            return Error("invalid escape in the value of label " + std::string(label));
          }
          ++end;
        }
        ++end;
      }
      if (end >= rest.size()) return Error("unterminated value of label " + std::string(label));
      labels_.push_back({label, rest.substr(0, end + 1)});
      rest.remove_prefix(end + 1);
      if (!rest.empty() && rest.front() != ',' && rest.front() != '}') {
        canonical = false;
        rest = SkipBlanks(rest);
      }
      after_comma = false;
      if (!rest.empty() && rest.front() == ',') {
        rest.remove_prefix(1);
        after_comma = true;
      } else if (rest.empty() || rest.front() != '}') {
        return Error("expected , or } after the value of label " + std::string(label));
      }
    }
  }

  bool HasLabelName(std::string_view name) const {
    for (const LabelPair& held : labels_) {
      if (held.name == name) return true;
    }
    return false;
  }

  const ExpositionParseOptions& options_;
  // The lines written so far (see sample_family_).
  std::shared_ptr<MergedLines> lines_;
  std::size_t line_ = 0;
  std::size_t samples_ = 0;
  std::string message_;
  // Families by index, in the order first seen; states_ holds how each was declared.
  std::vector<FamilyState> states_;
  // By the name a family was declared under (before `_total` or `_info` was added).
  NameIndex<std::uint32_t> index_;
  // `name="value"` of each extra label, escaped once, and all of them, each after a comma.
  std::vector<std::string> extra_pairs_;
  std::string all_extra_pairs_;
  // The family of the last metadata line and the name it was declared under.
  std::uint32_t current_ = kNoFamily;
  std::string_view current_name_;
  // The last sample's name and how it resolved; empty after a metadata line.
  std::string_view last_sample_name_;
  std::uint32_t last_family_ = kNoFamily;
  Role last_role_ = Role::kNone;
  std::vector<LabelPair> labels_;
  // The family of each sample written.
  std::vector<std::uint32_t> sample_family_;
  // Set when a family's samples are not one stretch of the lines.
  bool scattered_ = false;
  // Set when a sample without metadata made a family of a name with a suffix (`h_bucket`).
  bool suffixed_untyped_ = false;
};

}  // namespace

ExpositionFormat FormatOfContentType(std::string_view content_type) {
  return content_type.starts_with("application/openmetrics-text") ? ExpositionFormat::kOpenMetrics
                                                                  : ExpositionFormat::kText;
}

std::optional<ParsedExposition> ParseExposition(std::string_view body,
                                                const ExpositionParseOptions& options,
                                                std::string& error,
                                                std::shared_ptr<MergedLines> lines) {
  return Parser(options, std::move(lines)).Run(body, error);
}

}  // namespace sidecar
