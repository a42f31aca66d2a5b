#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::accesslog {

// The standard fields of an access-log line. Every format (nginx, Apache, JSON, regex) fills the
// same fields with the same meaning, so that metrics do not depend on where a line came from.
// String fields come first; `FieldName()` gives the canonical name used by regex group names,
// JSON key overrides and metric labels.
enum class Field : std::uint8_t {
  // Strings.
  kRemoteAddr,    // remote_addr: client address ($remote_addr, %h, %a); IPv6 as written.
  kRemoteUser,    // remote_user: authenticated user ($remote_user, %u).
  kTime,          // time: the timestamp as written ($time_local without brackets, %t).
  kMethod,        // method: request method ($request_method, %m, or from $request / %r).
  kUri,           // uri: request target with query ($request_uri, or from $request / %r).
  kPath,          // path: target without query ($uri, %U, or derived from uri).
  kQuery,         // query: query string without '?' ($args, %q, or derived from uri).
  kProtocol,      // protocol: "HTTP/1.1" ($server_protocol, %H, or from $request / %r).
  kHost,          // host: $host, $http_host, %V, %{Host}i.
  kServerName,    // server_name: $server_name, %v.
  kScheme,        // scheme: $scheme.
  kReferer,       // referer: $http_referer, %{Referer}i.
  kUserAgent,     // user_agent: $http_user_agent, %{User-agent}i.
  kUpstreamAddr,  // upstream_addr: $upstream_addr, verbatim (all attempts).
  // Numbers.
  kStatus,                // status: final response status.
  kUpstreamStatus,        // upstream_status: status of the last upstream attempt.
  kBodyBytesSent,         // body_bytes_sent: response body bytes ($body_bytes_sent, %b, %B).
  kBytesSent,             // bytes_sent: response bytes with headers ($bytes_sent, %O).
  kRequestLength,         // request_length: request bytes with headers ($request_length, %I).
  kRequestTime,           // request_time: seconds ($request_time, %D, %T, %{ms}T, %{us}T).
  kUpstreamResponseTime,  // upstream_response_time: seconds, sum of all attempts.
  kUpstreamConnectTime,   // upstream_connect_time: seconds, sum of all attempts.
  kUpstreamHeaderTime,    // upstream_header_time: seconds, sum of all attempts.
};

inline constexpr int kFieldCount = 23;
inline constexpr int kStringFieldCount = 14;

constexpr bool IsStringField(Field field) { return static_cast<int>(field) < kStringFieldCount; }

// Canonical name of a field ("remote_addr", "method", "request_time"...).
std::string_view FieldName(Field field);

// The field with that canonical name. Also accepts the nginx spellings of the same thing
// ("request_method", "request_uri", "http_referer", "http_user_agent", "time_local",
// "time_iso8601", "server_protocol", "http_host"), so a regex group may use either.
std::optional<Field> FieldFromName(std::string_view name);

// A small set of fields: what a compiled format can produce.
class FieldSet {
 public:
  constexpr FieldSet() = default;
  constexpr void Add(Field field) { bits_ |= Bit(field); }
  constexpr bool Has(Field field) const { return (bits_ & Bit(field)) != 0; }
  constexpr bool Empty() const { return bits_ == 0; }
  friend constexpr bool operator==(FieldSet, FieldSet) = default;

 private:
  static constexpr std::uint32_t Bit(Field field) { return 1u << static_cast<int>(field); }
  std::uint32_t bits_ = 0;
};

// A field that is not one of the standard ones (`$http_x_forwarded_for`, `%{X-Id}i`, a JSON key,
// a regex group), kept as a string.
struct NamedValue {
  // Owned by the parser that filled the record (lives as long as the LogFormat).
  std::string_view name;
  std::string_view value;
};

// One parsed access-log line.
//
// Ownership: string views point into the line passed to LogFormat::Parse(), into `scratch` (values
// that had to be unescaped) or into the parser (names; JSON values). A record is valid until the
// line is destroyed or the same record or parser is used for the next line. Copying a record does
// not make its views independent.
//
// Performance: Clear() keeps the capacity of `named` and `scratch`, so a record reused across lines
// does not allocate once it has seen the longest line.
//
// Thread-safety: none; a record belongs to one thread.
struct LogRecord {
  std::string_view remote_addr;
  std::string_view remote_user;
  std::string_view time;
  std::string_view method;
  std::string_view uri;
  std::string_view path;
  std::string_view query;
  std::string_view protocol;
  std::string_view host;
  std::string_view server_name;
  std::string_view scheme;
  std::string_view referer;
  std::string_view user_agent;
  std::string_view upstream_addr;

  // Numbers are empty when the format lacks them or the line has `-` (or nothing) there.
  std::optional<std::uint32_t> status;
  std::optional<std::uint32_t> upstream_status;
  std::optional<std::uint64_t> body_bytes_sent;
  std::optional<std::uint64_t> bytes_sent;
  std::optional<std::uint64_t> request_length;
  std::optional<double> request_time;
  std::optional<double> upstream_response_time;
  std::optional<double> upstream_connect_time;
  std::optional<double> upstream_header_time;

  // Non-standard fields in the order of the format.
  std::vector<NamedValue> named;

  // Backing store for unescaped values. Parsers reserve it before a line so that views into it
  // stay valid while the line is parsed.
  std::string scratch;

  // The value of a string field; empty for numeric fields and missing values.
  std::string_view String(Field field) const;
  // Where a string field lives, for parsers. `field` must be a string field.
  std::string_view& MutableString(Field field);
  // The first named field with that name, or empty.
  std::string_view Named(std::string_view name) const;
  // Resets every field; keeps the capacity of `named` and `scratch`.
  void Clear();
};

// True when `text` is well-formed UTF-8 (what Prometheus requires of label values).
bool IsValidUtf8(std::string_view text);

// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD
// (not by '?', which would change the meaning of a URI): `text` itself when it is valid, else a
// view of `buffer` (overwritten).
std::string_view SanitizeUtf8(std::string_view text, std::string& buffer);

}  // namespace sidecar::accesslog
