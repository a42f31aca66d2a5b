#include "collectors/logs/log_record.h"

#include <array>
#include <utility>

namespace sidecar::accesslog {
namespace {

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "remote_addr",
    "remote_user",
    "time",
    "method",
    "uri",
    "path",
    "query",
    "protocol",
    "host",
    "server_name",
    "scheme",
    "referer",
    "user_agent",
    "upstream_addr",
    "status",
    "upstream_status",
    "body_bytes_sent",
    "bytes_sent",
    "request_length",
    "request_time",
    "upstream_response_time",
    "upstream_connect_time",
    "upstream_header_time",
};

constexpr std::array<std::pair<std::string_view, Field>, 8> kAliases = {{
    {"request_method", Field::kMethod},
    {"request_uri", Field::kUri},
    {"http_referer", Field::kReferer},
    {"http_user_agent", Field::kUserAgent},
    {"time_local", Field::kTime},
    {"time_iso8601", Field::kTime},
    {"server_protocol", Field::kProtocol},
    {"http_host", Field::kHost},
}};

// Length of the well-formed UTF-8 sequence at text[i], or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    low = c == 0xE0 ? 0xA0 : 0x80;
    high = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    low = c == 0xF0 ? 0x90 : 0x80;
    high = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (text.size() - i < length || byte(i + 1) < low || byte(i + 1) > high) {
    return 0;
  }
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
      return 0;
    }
  }
  return length;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string_view SanitizeUtf8(std::string_view text, std::string& buffer) {
  if (IsValidUtf8(text)) {
    return text;
  }
  buffer.clear();
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      buffer.append("\xEF\xBF\xBD");
      ++i;
    } else {
      buffer.append(text.substr(i, length));
      i += length;
    }
  }
  return buffer;
}

std::string_view FieldName(Field field) { return kFieldNames[static_cast<int>(field)]; }

std::optional<Field> FieldFromName(std::string_view name) {
  for (int i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == name) {
      return static_cast<Field>(i);
    }
  }
  for (const auto& [alias, field] : kAliases) {
    if (alias == name) {
      return field;
    }
  }
  return std::nullopt;
}

namespace {

// One switch for both the const and the mutable accessor.
template <typename Record>
auto& StringMember(Record& record, Field field) {
  switch (field) {
    case Field::kRemoteAddr:
      return record.remote_addr;
    case Field::kRemoteUser:
      return record.remote_user;
    case Field::kTime:
      return record.time;
    case Field::kMethod:
      return record.method;
    case Field::kUri:
      return record.uri;
    case Field::kPath:
      return record.path;
    case Field::kQuery:
      return record.query;
    case Field::kProtocol:
      return record.protocol;
    case Field::kHost:
      return record.host;
    case Field::kServerName:
      return record.server_name;
    case Field::kScheme:
      return record.scheme;
    case Field::kReferer:
      return record.referer;
    case Field::kUserAgent:
      return record.user_agent;
    default:
      return record.upstream_addr;
  }
}

}  // namespace

std::string_view LogRecord::String(Field field) const {
  return IsStringField(field) ? StringMember(*this, field) : std::string_view();
}

std::string_view& LogRecord::MutableString(Field field) { return StringMember(*this, field); }

std::string_view LogRecord::Named(std::string_view name) const {
  for (const NamedValue& value : named) {
    if (value.name == name) {
      return value.value;
    }
  }
  return {};
}

void LogRecord::Clear() {
  remote_addr = remote_user = time = method = uri = path = query = protocol = {};
  host = server_name = scheme = referer = user_agent = upstream_addr = {};
  status.reset();
  upstream_status.reset();
  body_bytes_sent.reset();
  bytes_sent.reset();
  request_length.reset();
  request_time.reset();
  upstream_response_time.reset();
  upstream_connect_time.reset();
  upstream_header_time.reset();
  named.clear();
  scratch.clear();
}

}  // namespace sidecar::accesslog
