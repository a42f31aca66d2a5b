#include "collectors/core/config_decoder.h"

#include <charconv>
#include <cmath>

#include "re2/re2.h"

namespace sidecar {
namespace {

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string Join(const std::vector<std::string>& items) {
  std::string joined;
  for (const auto& item : items) {
    if (!joined.empty()) joined += ", ";
    joined += item;
  }
  return joined;
}

}  // namespace

std::string ConfigError::ToString() const {
  std::string text = file;
  if (line > 0) text += ":" + std::to_string(line) + ":" + std::to_string(column);
  text += ": ";
  if (!field.empty()) text += field + ": ";
  return text + message;
}

bool ParseDuration(std::string_view text, std::chrono::milliseconds& duration) {
  // Units must appear largest first and at most once, as in Prometheus' model.ParseDuration.
  struct Unit {
    std::string_view suffix;
    std::int64_t millis;
  };
  static constexpr Unit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                                    {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},
                                    {"h", 3600LL * 1000},
                                    {"ms", 1},
                                    {"m", 60LL * 1000},
                                    {"s", 1000}};
  static constexpr int kOrder[] = {0, 1, 2, 3, 5, 6, 4};  // y w d h m s ms
  if (text == "0") {
    duration = std::chrono::milliseconds(0);
    return true;
  }
  std::int64_t total = 0;
  int next_rank = 0;
  bool any = false;
  while (!text.empty()) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data() || value < 0) return false;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    int matched = -1;
    for (int i = 0; i < 7; ++i) {
      if (text.starts_with(kUnits[i].suffix)) {
        matched = i;
        break;
      }
    }
    if (matched < 0) return false;
    int rank = 0;
    while (kOrder[rank] != matched) ++rank;
    if (rank < next_rank) return false;
    next_rank = rank + 1;
    text.remove_prefix(kUnits[matched].suffix.size());
    if (value > (INT64_MAX - total) / kUnits[matched].millis) return false;
    total += value * kUnits[matched].millis;
    any = true;
  }
  if (!any) return false;
  duration = std::chrono::milliseconds(total);
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

FieldDecoder::FieldDecoder(YAML::Node node, std::string path, std::string file,
                           std::vector<ConfigError>& errors)
    : node_(std::move(node)), path_(std::move(path)), file_(std::move(file)), errors_(errors) {}

std::string FieldDecoder::FieldPath(const std::string& key) const {
  if (path_.empty()) return key;
  if (key.empty()) return path_;
  return path_ + "." + key;
}

void FieldDecoder::ErrorAt(const YAML::Mark& mark, const std::string& field,
                           const std::string& message) {
  ConfigError error;
  error.file = file_;
  if (!mark.is_null()) {
    error.line = mark.line + 1;
    error.column = mark.column + 1;
  }
  error.field = field;
  error.message = message;
  errors_.push_back(std::move(error));
}

void FieldDecoder::Error(const std::string& key, const std::string& message) {
  YAML::Node value = node_.IsMap() ? node_[key] : YAML::Node();
  const YAML::Mark mark = value.IsDefined() ? value.Mark() : node_.Mark();
  ErrorAt(mark, FieldPath(key), message);
}

void FieldDecoder::ErrorInValue(const std::string& key, size_t offset, const std::string& message) {
  YAML::Node value = node_.IsMap() ? node_[key] : YAML::Node();
  if (!value.IsDefined() || !value.IsScalar()) {
    Error(key, message);
    return;
  }
  YAML::Mark mark = value.Mark();
  // yaml-cpp tags quoted scalars "!" and plain ones "?"; the mark is at the opening quote.
  const int quote = value.Tag() == "!" ? 1 : 0;
  if (value.Scalar().find('\n') == std::string::npos) {
    mark.column += quote + static_cast<int>(offset);
  }
  ErrorAt(mark, FieldPath(key), message);
}

YAML::Node FieldDecoder::Get(const std::string& key) {
  known_.insert(key);
  if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  // operator[] on a const node never inserts.
  const YAML::Node& const_node = node_;
  YAML::Node value = const_node[key];
  if (!value.IsDefined() || value.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  return value;
}

bool FieldDecoder::Has(const std::string& key) { return Get(key).IsDefined(); }

std::optional<std::string> FieldDecoder::Scalar(const std::string& key, std::string_view expected) {
  YAML::Node value = Get(key);
  if (!value.IsDefined()) return std::nullopt;
  if (!value.IsScalar()) {
    Error(key,
          "expected " + std::string(expected) + ", got a " + (value.IsMap() ? "mapping" : "list"));
    return std::nullopt;
  }
  return value.Scalar();
}

std::string FieldDecoder::String(const std::string& key, std::string fallback) {
  return Scalar(key, "a string").value_or(std::move(fallback));
}

std::optional<std::string> FieldDecoder::OptionalString(const std::string& key) {
  return Scalar(key, "a string");
}

std::string FieldDecoder::RequiredString(const std::string& key) {
  if (!Get(key).IsDefined()) {
    Error(key, "missing required field \"" + key + "\"");
    return {};
  }
  std::string value = String(key, {});
  if (value.empty()) Error(key, "must not be empty");
  return value;
}

std::string FieldDecoder::Enum(const std::string& key, std::string fallback,
                               const std::vector<std::string>& allowed) {
  std::optional<std::string> value = Scalar(key, "one of " + Join(allowed));
  if (!value) return fallback;
  for (const auto& candidate : allowed) {
    if (*value == candidate) return *value;
  }
  Error(key, "unknown value " + Quote(*value) + "; allowed: " + Join(allowed));
  return fallback;
}

bool FieldDecoder::Bool(const std::string& key, bool fallback) {
  std::optional<std::string> value = Scalar(key, "true or false");
  if (!value) return fallback;
  if (*value == "true") return true;
  if (*value == "false") return false;
  Error(key, "expected true or false, got " + Quote(*value));
  return fallback;
}

std::uint64_t FieldDecoder::Unsigned(const std::string& key, std::uint64_t fallback,
                                     std::uint64_t min, std::uint64_t max) {
  std::optional<std::string> value = Scalar(key, "a whole number");
  if (!value) return fallback;
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), number);
  if (ec != std::errc() || end != value->data() + value->size()) {
    Error(key, "expected a whole number, got " + Quote(*value));
    return fallback;
  }
  if (number < min || number > max) {
    Error(key, std::to_string(number) + " is out of range; allowed: " + std::to_string(min) +
                   " to " + std::to_string(max));
    return fallback;
  }
  return number;
}

double FieldDecoder::Double(const std::string& key, double fallback) {
  std::optional<std::string> value = Scalar(key, "a number");
  if (!value) return fallback;
  double number = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), number);
  if (ec != std::errc() || end != value->data() + value->size() || !std::isfinite(number)) {
    Error(key, "expected a number, got " + Quote(*value));
    return fallback;
  }
  return number;
}

std::chrono::milliseconds FieldDecoder::Duration(const std::string& key,
                                                 std::chrono::milliseconds fallback) {
  std::optional<std::string> value = Scalar(key, "a duration");
  if (!value) return fallback;
  std::chrono::milliseconds duration{};
  if (!ParseDuration(*value, duration)) {
    Error(key, "invalid duration " + Quote(*value) +
                   "; use a number with a unit, largest first: ms, s, m, h, d (e.g. 250ms, 5s, "
                   "1m30s)");
    return fallback;
  }
  return duration;
}

std::string FieldDecoder::Url(const std::string& key, std::string fallback) {
  std::optional<std::string> value = Scalar(key, "a URL");
  if (!value) return fallback;
  static const RE2 kUrl(R"(^https?://[^/\s?#@]+(?:[/?#]\S*)?$)");
  if (!RE2::FullMatch(*value, kUrl)) {
    Error(key, "invalid URL " + Quote(*value) +
                   "; want an absolute http:// or https:// URL with a host, such as "
                   "http://127.0.0.1:8080/stub_status");
    return fallback;
  }
  return *value;
}

std::vector<std::string> FieldDecoder::StringList(const std::string& key) {
  YAML::Node value = Get(key);
  std::vector<std::string> items;
  if (!value.IsDefined()) return items;
  if (value.IsScalar()) {
    items.push_back(value.Scalar());
    return items;
  }
  if (!value.IsSequence()) {
    Error(key, "expected a list of strings, got a mapping");
    return items;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].IsScalar()) {
      ErrorAt(value[i].Mark(), FieldPath(key) + "[" + std::to_string(i) + "]", "expected a string");
      continue;
    }
    items.push_back(value[i].Scalar());
  }
  return items;
}

std::vector<double> FieldDecoder::DoubleList(const std::string& key) {
  YAML::Node value = Get(key);
  std::vector<double> items;
  if (!value.IsDefined()) return items;
  if (!value.IsSequence()) {
    Error(key, "expected a list of numbers");
    return items;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    double number = 0;
    const std::string text = value[i].IsScalar() ? value[i].Scalar() : std::string();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(number)) {
      ErrorAt(value[i].Mark(), FieldPath(key) + "[" + std::to_string(i) + "]",
              "expected a number, got " + Quote(text));
      continue;
    }
    items.push_back(number);
  }
  return items;
}

std::vector<std::pair<std::string, std::string>> FieldDecoder::StringMap(const std::string& key,
                                                                         bool label_names) {
  YAML::Node value = Get(key);
  std::vector<std::pair<std::string, std::string>> items;
  if (!value.IsDefined()) return items;
  if (!value.IsMap()) {
    Error(key, "expected a mapping of names to strings");
    return items;
  }
  for (const auto& entry : value) {
    const std::string name = entry.first.Scalar();
    const std::string field = FieldPath(key) + "." + name;
    if (!entry.second.IsScalar()) {
      ErrorAt(entry.second.Mark(), field, "expected a string value");
      continue;
    }
    if (label_names && !IsValidLabelName(name)) {
      ErrorAt(entry.first.Mark(), field,
              "invalid label name " + Quote(name) +
                  "; use letters, digits and underscores, not starting with a digit or \"__\"");
      continue;
    }
    items.emplace_back(name, entry.second.Scalar());
  }
  return items;
}

FieldDecoder FieldDecoder::Child(const std::string& key) {
  YAML::Node value = Get(key);
  if (value.IsDefined() && !value.IsMap()) {
    Error(key, "expected a mapping");
    value = YAML::Node(YAML::NodeType::Map);
  }
  if (!value.IsDefined()) value = YAML::Node(YAML::NodeType::Map);
  return FieldDecoder(value, FieldPath(key), file_, errors_);
}

std::vector<FieldDecoder> FieldDecoder::ChildList(const std::string& key) {
  YAML::Node value = Get(key);
  std::vector<FieldDecoder> children;
  if (!value.IsDefined()) return children;
  if (!value.IsSequence()) {
    Error(key, "expected a list");
    return children;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string path = FieldPath(key) + "[" + std::to_string(i) + "]";
    if (!value[i].IsMap()) {
      ErrorAt(value[i].Mark(), path, "expected a mapping");
      continue;
    }
    children.emplace_back(value[i], path, file_, errors_);
  }
  return children;
}

std::vector<std::string> FieldDecoder::Keys() const {
  std::vector<std::string> keys;
  if (!node_.IsMap()) return keys;
  for (const auto& entry : node_) keys.push_back(entry.first.Scalar());
  return keys;
}

void FieldDecoder::RejectUnknownKeys() {
  if (!node_.IsMap()) return;
  std::vector<std::string> allowed(known_.begin(), known_.end());
  for (const auto& entry : node_) {
    const std::string name = entry.first.Scalar();
    if (known_.count(name) == 0) {
      ErrorAt(entry.first.Mark(), FieldPath(name),
              "unknown field " + Quote(name) + "; allowed here: " + Join(allowed));
    }
  }
}

std::string FieldDecoder::Fingerprint() const {
  YAML::Emitter out;
  out << YAML::Flow << node_;
  return out.c_str();
}

std::string FieldDecoder::FieldFingerprint(const std::string& key) const {
  if (!node_.IsMap()) return {};
  const YAML::Node& const_node = node_;
  const YAML::Node value = const_node[key];
  if (!value.IsDefined()) return {};
  YAML::Emitter out;
  out << YAML::Flow << value;
  return out.c_str();
}

}  // namespace sidecar
