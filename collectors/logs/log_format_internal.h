#pragma once

// Pieces shared by the LogFormat implementations; not for use outside collectors/log_format*.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"

namespace sidecar::accesslog::internal {

// Where a value found in a line goes.
struct Target {
  enum class Kind : std::uint8_t {
    kField,    // a standard field
    kRequest,  // "GET /path?q HTTP/1.1": method, uri, path, query, protocol
    kNamed,    // a named string field
    kIgnore,
  };
  Kind kind = Kind::kIgnore;
  Field field = Field::kRemoteAddr;
  // Units of a time field per second (1e6 for Apache %D).
  double units_per_second = 1.0;
  // Apache %t writes "[...]".
  bool strip_brackets = false;
  std::string name;  // kNamed

  static Target ForField(Field field, double units_per_second = 1.0) {
    Target target;
    target.kind = Kind::kField;
    target.field = field;
    target.units_per_second = units_per_second;
    return target;
  }
  static Target ForRequest() {
    Target target;
    target.kind = Kind::kRequest;
    return target;
  }
  static Target ForNamed(std::string name) {
    Target target;
    target.kind = Kind::kNamed;
    target.name = std::move(name);
    return target;
  }
};

// Adds to `fields` what `target` can fill.
void AddTargetFields(const Target& target, FieldSet& fields);

// Converts and stores one raw value. With `unescape`, string values containing a backslash are
// decoded (\xHH, \", \\, \n, \r, \t) into out.scratch, which the caller has reserved to at least
// the line length. False when a number is malformed.
bool Store(const Target& target, std::string_view value, bool unescape, LogRecord& out);

// Number parsing, exposed for tests. Missing (`-`, empty) leaves `out` empty and returns true.
bool ParseUint64(std::string_view text, std::optional<std::uint64_t>& out);
// Sums all attempts of a multi-value time ("0.004, 0.012 : 0.001").
bool ParseSeconds(std::string_view text, double units_per_second, std::optional<double>& out);
// The last attempt of a multi-value status ("502, 504 : 200").
bool ParseLastStatus(std::string_view text, std::optional<std::uint32_t>& out);
// The value of a hex digit, or -1.
int HexDigit(char c);
// The byte a backslash escape stands for, for the escapes every format shares: \" \\ \n \r \t.
bool DecodeSimpleEscape(char next, char& out);
// Decodes \xHH, \", \\, \n, \r, \t; appends to `scratch` and returns the decoded part.
std::string_view Unescape(std::string_view value, std::string& scratch);

std::unique_ptr<LogFormat> CompileNginx(std::string_view format, FormatError& error);
std::unique_ptr<LogFormat> CompileApache(std::string_view format, FormatError& error);
std::unique_ptr<LogFormat> CompileJson(const LogFormatOptions& options, FormatError& error);
std::unique_ptr<LogFormat> CompileRegex(std::string_view pattern, const LogFormatOptions& options,
                                        FormatError& error);
std::unique_ptr<LogFormat> CompileLogfmt(const LogFormatOptions& options, FormatError& error);

}  // namespace sidecar::accesslog::internal
