#include "collectors/http/exposition_parser.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <unordered_map>

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
    // Expositions are almost all ASCII: skip eight such bytes at a time.
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

struct FamilyState {
  Kind kind = Kind::kUntyped;
  bool typed = false;
  bool has_samples = false;
  std::size_t output = 0;  // index in the parsed families
};

class Parser {
 public:
  Parser(const ExpositionParseOptions& options) : options_(options) {
    for (const auto& [label, value] : options_.extra_labels) {
      std::string& pair = extra_pairs_.emplace_back(label + "=\"");
      AppendEscapedLabelValue(value, pair);
      pair += '"';
    }
  }

  std::optional<ParsedExposition> Run(std::string_view body, std::string& error) {
    if (const std::size_t bad = InvalidUtf8Offset(body); bad != std::string_view::npos) {
      std::size_t line = 1;
      for (std::size_t i = 0; i < bad; ++i) line += body[i] == '\n';
      error = "line " + std::to_string(line) + ": invalid UTF-8 at byte " + std::to_string(bad);
      return std::nullopt;
    }
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
        if (!ParseComment(line)) return Fail(error, message_);
      } else if (!ParseSample(line)) {
        return Fail(error, message_);
      }
    }
    if (open_metrics() && !seen_eof) {
      error = "OpenMetrics exposition without \"# EOF\" (cut off?)";
      return std::nullopt;
    }
    ParsedExposition parsed;
    parsed.samples = samples_;
    parsed.families.reserve(families_.size());
    for (auto& family : families_) {
      if (!family.samples.empty()) parsed.families.push_back(std::move(family));
    }
    return parsed;
  }

 private:
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
    FamilyState& state = Declare(name);
    current_ = &state;
    MergedFamily& family = families_[state.output];
    if (keyword == "HELP") {
      // The text format escapes backslash and newline in HELP; OpenMetrics also the double quote,
      // which the text format writes as is.
      if (!open_metrics()) {
        family.help.assign(rest);
        return true;
      }
      family.help.clear();
      for (std::size_t i = 0; i < rest.size(); ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size() && rest[i + 1] == '"') continue;
        family.help += rest[i];
      }
      return true;
    }
    const std::string_view word = NextToken(rest);
    const std::optional<Kind> kind = KindOf(word, options_.format);
    if (!kind) return Error("unknown TYPE \"" + std::string(word) + "\" for " + std::string(name));
    if (!NextToken(rest).empty()) return Error("text after the TYPE of " + std::string(name));
    if (state.typed && state.kind != *kind) return Error("second TYPE for " + std::string(name));
    if (state.has_samples && !state.typed)
      return Error("TYPE of " + std::string(name) + " after its samples");
    state.kind = *kind;
    state.typed = true;
    family.type = ExposedType(*kind);
    if (open_metrics() && *kind == Kind::kCounter) family.name = std::string(name) + "_total";
    if (*kind == Kind::kInfo) family.name = std::string(name) + "_info";
    return true;
  }

  // The state of `name`, or null; looked up through a reused string, not a new one each time.
  FamilyState* Find(std::string_view name) {
    lookup_.assign(name);
    const auto it = states_.find(lookup_);
    return it == states_.end() ? nullptr : &it->second;
  }

  FamilyState& Declare(std::string_view name) {
    if (FamilyState* held = Find(name)) return *held;
    auto [it, inserted] = states_.try_emplace(lookup_);
    if (inserted) {
      it->second.output = families_.size();
      MergedFamily& family = families_.emplace_back();
      family.name = std::string(name);
    }
    return it->second;
  }

  // The family a sample belongs to and its role there: the family of the last metadata, else
  // one declared earlier under the name or the name without a suffix, else a new untyped one.
  std::pair<FamilyState*, Role> Resolve(std::string_view sample_name) {
    static constexpr std::string_view kSuffixes[] = {"_bucket",  "_sum",  "_count", "_total",
                                                     "_created", "_info", "_gsum",  "_gcount"};
    const auto try_family = [&](FamilyState* state, std::string_view suffix) {
      return state == nullptr ? Role::kNone : RoleOf(state->kind, suffix, options_.format);
    };
    if (current_ != nullptr) {
      const std::string& name = families_[current_->output].name;
      // The output name of an OpenMetrics counter or info carries the suffix already.
      const std::string_view declared =
          std::string_view(name).substr(0, name.size() - DeclaredSuffix(*current_).size());
      if (sample_name.starts_with(declared)) {
        const Role role = try_family(current_, sample_name.substr(declared.size()));
        if (role != Role::kNone) return {current_, role};
      }
    }
    FamilyState* const named = Find(sample_name);
    if (const Role role = try_family(named, ""); role != Role::kNone) return {named, role};
    for (const std::string_view suffix : kSuffixes) {
      if (!sample_name.ends_with(suffix)) continue;
      FamilyState* const base = Find(sample_name.substr(0, sample_name.size() - suffix.size()));
      if (const Role role = try_family(base, suffix); role != Role::kNone) return {base, role};
    }
    if (named != nullptr) return {nullptr, Role::kNone};
    FamilyState& state = Declare(sample_name);
    return {&state, Role::kKeep};
  }

  std::string_view DeclaredSuffix(const FamilyState& state) const {
    if (state.kind == Kind::kInfo || (open_metrics() && state.kind == Kind::kCounter)) {
      return state.kind == Kind::kInfo ? "_info" : "_total";
    }
    return "";
  }

  bool ParseSample(std::string_view line) {
    const std::size_t name_length = NameLength(line, true);
    if (name_length == 0) return Error("expected a metric name");
    const std::string_view name = line.substr(0, name_length);
    std::string_view rest = line.substr(name_length);
    const auto [state, role] = Resolve(name);
    if (state == nullptr) {
      return Error("sample " + std::string(name) + " does not fit the TYPE of its family");
    }
    state->has_samples = true;
    MergedFamily& family = families_[state->output];
    if (family.samples.empty() && family.text.empty()) {
      // Families mostly hold a few to a dozen samples of similar lines: room for eight at once
      // instead of growing by doubling from one.
      family.samples.reserve(8);
      family.text.reserve(8 * line.size());
    }
    MergedSample sample;
    const std::size_t text_before = family.text.size();
    sample.name_offset = static_cast<std::uint32_t>(text_before);
    sample.name_size = static_cast<std::uint32_t>(name.size());
    family.text += name;
    sample.labels_offset = static_cast<std::uint32_t>(family.text.size());
    label_names_.clear();
    if (!rest.empty() && rest.front() == '{') {
      rest.remove_prefix(1);
      if (!ParseLabels(rest, family.text)) {
        family.text.resize(text_before);
        return false;
      }
    }
    if (role == Role::kBucket && !HasLabelName("le")) {
      return Error(std::string(name) + " without an \"le\" label");
    }
    if (role == Role::kQuantile && !HasLabelName("quantile")) {
      return Error(std::string(name) + " without a \"quantile\" label");
    }
    for (std::size_t i = 0; i < options_.extra_labels.size(); ++i) {
      if (HasLabelName(options_.extra_labels[i].first)) continue;
      if (family.text.size() > sample.labels_offset) family.text += ',';
      family.text += extra_pairs_[i];
    }
    sample.labels_size = static_cast<std::uint32_t>(family.text.size() - sample.labels_offset);

    if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) {
      return Error("expected a space and a value after " + std::string(name));
    }
    const std::string_view value = NextToken(rest);
    if (!ParseValue(value, sample.value)) {
      return Error("invalid value \"" + std::string(value.substr(0, 40)) + "\" of " +
                   std::string(name));
    }
    std::string_view token = NextToken(rest);
    if (!token.empty() && token != "#") {
      if (!ParseTimestamp(token, sample)) {
        return Error("invalid timestamp \"" + std::string(token.substr(0, 40)) + "\" of " +
                     std::string(name));
      }
      token = NextToken(rest);
    }
    // Whatever follows " # " in OpenMetrics is an exemplar, which the text format cannot carry.
    if (!token.empty() && !(open_metrics() && token == "#")) {
      return Error("unexpected \"" + std::string(token.substr(0, 40)) + "\" after the value of " +
                   std::string(name));
    }
    if (role == Role::kDrop) {
      family.text.resize(text_before);
      return true;
    }
    if (options_.sample_limit != 0 && samples_ >= options_.sample_limit) {
      return Error("more than sample_limit " + std::to_string(options_.sample_limit) + " samples");
    }
    ++samples_;
    family.samples.push_back(sample);
    return true;
  }

  bool ParseTimestamp(std::string_view token, MergedSample& sample) {
    if (open_metrics()) {
      double seconds = 0;
      if (!ParseValue(token, seconds) || !std::isfinite(seconds) || std::abs(seconds) > 9.2e15) {
        return false;
      }
      sample.timestamp_ms = std::llround(seconds * 1000);
    } else {
      const char* begin = token.data() + (token.front() == '+' ? 1 : 0);
      const auto [end, ec] =
          std::from_chars(begin, token.data() + token.size(), sample.timestamp_ms);
      if (ec != std::errc() || end != token.data() + token.size()) return false;
    }
    sample.has_timestamp = true;
    return true;
  }

  // Reads `name="value",...}` (the opening brace consumed) into `out` as `name="value",...`.
  bool ParseLabels(std::string_view& rest, std::string& out) {
    const std::size_t start = out.size();
    while (true) {
      rest = SkipBlanks(rest);
      if (rest.empty()) return Error("unterminated label set");
      if (rest.front() == '}') {
        rest.remove_prefix(1);
        return true;
      }
      const std::size_t length = NameLength(rest, false);
      if (length == 0) return Error("invalid label name");
      const std::string_view label = rest.substr(0, length);
      if (HasLabelName(label))
        return Error("label \"" + std::string(label) + "\" twice in a series");
      rest.remove_prefix(length);
      rest = SkipBlanks(rest);
      if (rest.size() < 2 || rest[0] != '=')
        return Error("expected = after label " + std::string(label));
      rest.remove_prefix(1);
      rest = SkipBlanks(rest);
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
      if (out.size() > start) out += ',';
      out += label;
      out += '=';
      out += rest.substr(0, end + 1);
      label_names_.push_back(label);
      rest.remove_prefix(end + 1);
      rest = SkipBlanks(rest);
      if (!rest.empty() && rest.front() == ',') {
        rest.remove_prefix(1);
      } else if (rest.empty() || rest.front() != '}') {
        return Error("expected , or } after the value of label " + std::string(label));
      }
    }
  }

  bool HasLabelName(std::string_view name) const {
    for (const std::string_view held : label_names_) {
      if (held == name) return true;
    }
    return false;
  }

  const ExpositionParseOptions& options_;
  std::size_t line_ = 0;
  std::size_t samples_ = 0;
  std::string message_;
  std::vector<MergedFamily> families_;
  std::unordered_map<std::string, FamilyState> states_;
  std::string lookup_;
  // `name="value"` of each extra label, escaped once.
  std::vector<std::string> extra_pairs_;
  FamilyState* current_ = nullptr;
  std::vector<std::string_view> label_names_;
};

}  // namespace

ExpositionFormat FormatOfContentType(std::string_view content_type) {
  return content_type.starts_with("application/openmetrics-text") ? ExpositionFormat::kOpenMetrics
                                                                  : ExpositionFormat::kText;
}

std::optional<ParsedExposition> ParseExposition(std::string_view body,
                                                const ExpositionParseOptions& options,
                                                std::string& error) {
  return Parser(options).Run(body, error);
}

}  // namespace sidecar
