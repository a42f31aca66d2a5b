#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "yaml-cpp/yaml.h"

namespace sidecar {

// One problem in a configuration file, located precisely enough for a person to fix it.
struct ConfigError {
  std::string file;
  int line = 0;       // 1-based; 0 when unknown
  int column = 0;     // 1-based; 0 when unknown
  std::string field;  // dotted path such as "collectors[0].timeout"; empty for the whole file
  std::string message;

  // "file:line:column: field: message"
  std::string ToString() const;
};

// Parses a Prometheus-style duration ("250ms", "5s", "1m30s", "2h"). False for anything else.
bool ParseDuration(std::string_view text, std::chrono::milliseconds& duration);

// Reads the fields of one YAML mapping into typed values, collecting every error (with its
// file, line, column and field path) instead of stopping at the first, so that
// `--config.check` can list them all. Each getter marks its key as known; RejectUnknownKeys()
// then reports every key nobody asked for, naming the allowed ones.
//
// Not thread-safe; lives for the duration of one config load.
class FieldDecoder {
 public:
  FieldDecoder(YAML::Node node, std::string path, std::string file,
               std::vector<ConfigError>& errors);

  // True when the key is present (and marks it known).
  bool Has(const std::string& key);

  std::string String(const std::string& key, std::string fallback);
  std::optional<std::string> OptionalString(const std::string& key);
  // Records "missing required field" when absent.
  std::string RequiredString(const std::string& key);
  // One of `allowed`; records an error listing them otherwise.
  std::string Enum(const std::string& key, std::string fallback,
                   const std::vector<std::string>& allowed);
  bool Bool(const std::string& key, bool fallback);
  std::uint64_t Unsigned(const std::string& key, std::uint64_t fallback, std::uint64_t min,
                         std::uint64_t max);
  double Double(const std::string& key, double fallback);
  std::chrono::milliseconds Duration(const std::string& key, std::chrono::milliseconds fallback);
  // An absolute http:// or https:// URL with a host.
  std::string Url(const std::string& key, std::string fallback);
  std::vector<std::string> StringList(const std::string& key);
  std::vector<double> DoubleList(const std::string& key);
  // A mapping of string to string, in file order. With `label_names`, keys must be valid
  // Prometheus label names.
  std::vector<std::pair<std::string, std::string>> StringMap(const std::string& key,
                                                             bool label_names);
  // A nested mapping; absent yields a decoder over an empty map.
  FieldDecoder Child(const std::string& key);
  // A list of mappings.
  std::vector<FieldDecoder> ChildList(const std::string& key);
  // The keys of this mapping, in file order (for mappings whose keys are data, such as
  // label -> allowed values).
  std::vector<std::string> Keys() const;

  // Records an error at `key` (or at this mapping when the key is absent).
  void Error(const std::string& key, const std::string& message);
  // Records an error at byte `offset` inside the string value of `key` (a bad variable inside a
  // log format), so that the column points at it. Exact for single-line values without escapes.
  void ErrorInValue(const std::string& key, size_t offset, const std::string& message);
  // Records an error for every key that no getter asked for.
  void RejectUnknownKeys();

  const std::string& path() const { return path_; }
  // The YAML text of this mapping, used to tell whether a collector's options changed on reload.
  std::string Fingerprint() const;
  // The YAML text of one field, empty when absent; records no error.
  std::string FieldFingerprint(const std::string& key) const;
  int errors_count() const { return static_cast<int>(errors_.size()); }

 private:
  YAML::Node Get(const std::string& key);
  // The node if it is a scalar; records a type error otherwise.
  std::optional<std::string> Scalar(const std::string& key, std::string_view expected);
  std::string FieldPath(const std::string& key) const;
  void ErrorAt(const YAML::Mark& mark, const std::string& field, const std::string& message);

  YAML::Node node_;
  std::string path_;
  std::string file_;
  std::vector<ConfigError>& errors_;
  std::set<std::string> known_;
};

// True for a valid Prometheus label name that is not reserved (does not start with "__").
bool IsValidLabelName(std::string_view name);

}  // namespace sidecar
