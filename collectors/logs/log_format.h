#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/logs/log_record.h"

namespace sidecar::accesslog {

// How the lines of an access log are written.
enum class LogFormatKind {
  // An nginx `log_format` string pasted verbatim ($remote_addr - $remote_user [$time_local] ...).
  // Empty or "combined" means nginx's built-in combined format.
  kNginx,
  // An Apache `LogFormat` string (%h %l %u %t \"%r\" %>s %b ...), `\"` as written in httpd.conf.
  // "common", "combined" and "vhost_combined" are built in by name; empty means "combined".
  kApache,
  // One JSON object per line (nginx `escape=json`). The format string is unused.
  kJson,
  // An RE2 pattern with named groups; group names that are field names (see FieldFromName())
  // fill those fields, a group named `request` is split like $request, `request_time_ms` and
  // `request_time_us` are converted to seconds, others become named fields. The pattern is not
  // anchored unless it says so (`^`), and matches bytes (Latin-1), so that `.` and `\S` match
  // invalid UTF-8 from clients; `\xHH` escapes in values are decoded as for nginx.
  kRegex,
  // logfmt, one record per line: `key=value key="quoted \"value\"" flag` (Go's go-logfmt, Heroku,
  // Grafana Loki). Keys that are field names (see FieldFromName(), "request" split like $request)
  // fill those fields, others become named fields. Quoted values may use \" \\ \/ \n \r \t \b
  // \f and \uXXXX; a key without `=` has an empty value. Bare values end at a space or tab and
  // may contain `=`; a `"` in a key or a bare value, an unterminated quote, a bad escape or a
  // line with no key at all does not parse. The format string is unused.
  kLogfmt,
};

// "nginx", "apache", "json", "regex", "logfmt".
bool ParseLogFormatKind(std::string_view text, LogFormatKind& kind);
std::string_view LogFormatKindName(LogFormatKind kind);

struct LogFormatOptions {
  // JSON only: the key of a standard field, replacing its defaults. `first` is a field name
  // (FieldFromName()), `second` the JSON key; an empty key ignores the field. Default keys are the
  // nginx variable names: remote_addr, remote_user, time_local/time_iso8601, request,
  // request_method, request_uri (uri), uri (path), args, server_protocol, status,
  // body_bytes_sent, bytes_sent, request_length, request_time, upstream_response_time,
  // upstream_connect_time, upstream_header_time, upstream_status, upstream_addr, host/http_host,
  // server_name, scheme, http_referer, http_user_agent. Other keys become named fields.
  std::vector<std::pair<std::string, std::string>> json_keys;
  // JSON, logfmt and regex: every key or named group becomes a named field, kept as text, none
  // fills a standard field (for logs that are not access logs, where a key `status` may say
  // "ok"). json_keys must then be empty.
  bool keys_as_named = false;
};

// Why a format did not compile.
struct FormatError {
  // Names the offending variable or directive and its 1-based position in the format string,
  // e.g. "unknown Apache directive %Z at position 12". The config layer prefixes file:line:column.
  std::string message;
  // 0-based byte offset of the offending part in the format string (0 for the JSON kind).
  std::size_t offset = 0;
};

// A compiled access-log format: turns lines into LogRecords.
//
// The nginx and Apache kinds are compiled into a sequence of literal and field matchers (no
// regular expression per line); a field ends where the next literal starts. Inside quotes a
// backslash escapes the next byte, and `\xHH`, `\"`, `\\` are decoded in string values. A line
// whose last literal is missing at the very end (a user agent cut before its closing quote) is
// accepted. String fields that are `-` are empty; numbers that are `-` or empty are missing.
//
// Multi-value upstream fields (`0.004, 0.012 : 0.001`, one value per attempt, `:` between
// upstream groups): times are the sum of all attempts that have a number (`-` counts as nothing;
// all `-` is missing); upstream_status is the last attempt's status (what the client got);
// upstream_addr is kept verbatim.
//
// Thread-safety: Parse() mutates parser scratch state; one thread per LogFormat. Compile() is
// thread-safe.
class LogFormat {
 public:
  // Null with `error` set when the format is invalid. `format` is not kept.
  static std::unique_ptr<LogFormat> Compile(LogFormatKind kind, std::string_view format,
                                            const LogFormatOptions& options, FormatError& error);

  virtual ~LogFormat() = default;
  LogFormat(const LogFormat&) = delete;
  LogFormat& operator=(const LogFormat&) = delete;

  // Fills `out` (cleared first) from one line without its newline (a trailing "\r" or "\n" is
  // ignored). Returns false when the line does not match the format; `out` is then unspecified.
  // Allocates nothing once `out` has seen a line as long (JSON: once the parser has).
  virtual bool Parse(std::string_view line, LogRecord& out) = 0;

  // The standard fields this format can fill (for JSON: every field that has a key).
  FieldSet fields() const { return fields_; }

 protected:
  LogFormat() = default;
  FieldSet fields_;
};

}  // namespace sidecar::accesslog
