#include "collectors/logs/log_format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "collectors/logs/log_format_internal.h"

namespace sidecar::accesslog {

bool ParseLogFormatKind(std::string_view text, LogFormatKind& kind) {
  for (LogFormatKind candidate :
       {LogFormatKind::kNginx, LogFormatKind::kApache, LogFormatKind::kJson, LogFormatKind::kRegex,
        LogFormatKind::kLogfmt}) {
    if (text == LogFormatKindName(candidate)) {
      kind = candidate;
      return true;
    }
  }
  return false;
}

std::string_view LogFormatKindName(LogFormatKind kind) {
  switch (kind) {
    case LogFormatKind::kNginx:
      return "nginx";
    case LogFormatKind::kApache:
      return "apache";
    case LogFormatKind::kJson:
      return "json";
    case LogFormatKind::kRegex:
      return "regex";
    case LogFormatKind::kLogfmt:
      return "logfmt";
  }
  return "unknown";
}

std::unique_ptr<LogFormat> LogFormat::Compile(LogFormatKind kind, std::string_view format,
                                              const LogFormatOptions& options, FormatError& error) {
  error = {};
  switch (kind) {
    case LogFormatKind::kNginx:
      return internal::CompileNginx(format, error);
    case LogFormatKind::kApache:
      return internal::CompileApache(format, error);
    case LogFormatKind::kJson:
      return internal::CompileJson(options, error);
    case LogFormatKind::kRegex:
      return internal::CompileRegex(format, options, error);
    case LogFormatKind::kLogfmt:
      return internal::CompileLogfmt(options, error);
  }
  error.message = "unknown log format kind";
  return nullptr;
}

namespace internal {
namespace {

constexpr std::array<double, 23> kPow10 = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                           1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                           1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

bool IsMissing(std::string_view text) { return text.empty() || text == "-"; }

// A plain decimal such as "0.004". Times are written with few digits, so the common case is an
// integer mantissa below 2^53 divided by an exact power of ten, which rounds correctly
// (Clinger's fast path). False for anything else (exponents, separators, long numbers).
bool ParsePlainDecimal(std::string_view text, double& out) {
  std::uint64_t mantissa = 0;
  int digits = 0;
  int fraction_digits = -1;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      mantissa = mantissa * 10 + static_cast<std::uint64_t>(c - '0');
      ++digits;
      if (fraction_digits >= 0) {
        ++fraction_digits;
      }
    } else if (c == '.' && fraction_digits < 0) {
      fraction_digits = 0;
    } else {
      return false;
    }
  }
  if (digits == 0 || digits > 15) {
    return false;
  }
  const double value = static_cast<double>(mantissa);
  out = fraction_digits > 0 ? value / kPow10[fraction_digits] : value;
  return true;
}

bool ParseDecimal(std::string_view text, double& out) {
  if (ParsePlainDecimal(text, out)) {
    return true;
  }
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && out >= 0 && std::isfinite(out);
}

bool IsValueSeparator(char c) { return c == ',' || c == ':' || c == ' '; }

// Calls `fn(token)` for each value of "a, b : c"; stops and returns false when fn does.
template <typename Fn>
bool ForEachValue(std::string_view text, Fn fn) {
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsValueSeparator(text[i])) {
      ++i;
    }
    std::size_t end = i;
    while (end < text.size() && !IsValueSeparator(text[end])) {
      ++end;
    }
    if (end > i && !fn(text.substr(i, end - i))) {
      return false;
    }
    i = end;
  }
  return true;
}

bool HasValueSeparator(std::string_view text) {
  for (char c : text) {
    if (IsValueSeparator(c)) {
      return true;
    }
  }
  return false;
}

void StoreUri(std::string_view uri, LogRecord& out) {
  out.uri = uri;
  // An explicit $uri / %U / $args seen earlier in the line wins over the derived parts.
  if (out.path.empty() && out.query.empty()) {
    const std::size_t question = uri.find('?');
    if (question == std::string_view::npos) {
      out.path = uri;
    } else {
      out.path = uri.substr(0, question);
      out.query = uri.substr(question + 1);
    }
  }
}

// "GET /a?b HTTP/1.1". The method is the first word, the protocol the last one when there are
// three or more (a raw space in the target stays in the target), the target what is between.
// A request of one word (garbage such as a TLS handshake sent to a plain port, or "-") fills
// nothing: the line still counts, with empty method and path.
void StoreRequest(std::string_view request, LogRecord& out) {
  const std::size_t first = request.find(' ');
  if (first == std::string_view::npos) {
    return;
  }
  out.method = request.substr(0, first);
  const std::size_t last = request.rfind(' ');
  if (last == first) {
    StoreUri(request.substr(first + 1), out);
    return;
  }
  out.protocol = request.substr(last + 1);
  StoreUri(request.substr(first + 1, last - first - 1), out);
}

}  // namespace

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool DecodeSimpleEscape(char next, char& out) {
  switch (next) {
    case '"':
    case '\\':
      out = next;
      return true;
    case 'n':
      out = '\n';
      return true;
    case 'r':
      out = '\r';
      return true;
    case 't':
      out = '\t';
      return true;
    default:
      return false;
  }
}

bool ParseUint64(std::string_view text, std::optional<std::uint64_t>& out) {
  if (IsMissing(text)) {
    return true;
  }
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

bool ParseSeconds(std::string_view text, double units_per_second, std::optional<double>& out) {
  double total = 0;
  bool any = false;
  auto add = [&](std::string_view token) {
    if (token == "-") {
      return true;
    }
    double value = 0;
    if (!ParseDecimal(token, value)) {
      return false;
    }
    total += value;
    any = true;
    return true;
  };
  double single = 0;
  if (ParsePlainDecimal(text, single)) {
    out = units_per_second == 1.0 ? single : single / units_per_second;
    return true;
  }
  if (!HasValueSeparator(text)) {
    if (IsMissing(text)) {
      return true;
    }
    if (!add(text)) {
      return false;
    }
  } else if (!ForEachValue(text, add)) {
    return false;
  }
  if (any) {
    out = units_per_second == 1.0 ? total : total / units_per_second;
  }
  return true;
}

bool ParseLastStatus(std::string_view text, std::optional<std::uint32_t>& out) {
  std::optional<std::uint64_t> last;
  const bool ok = ForEachValue(text, [&](std::string_view token) {
    std::optional<std::uint64_t> value;
    if (!ParseUint64(token, value) || (value && *value > 999)) {
      return false;
    }
    if (value) {
      last = value;
    }
    return true;
  });
  if (!ok) {
    return false;
  }
  if (last) {
    out = static_cast<std::uint32_t>(*last);
  }
  return true;
}

std::string_view Unescape(std::string_view value, std::string& scratch) {
  const std::size_t start = scratch.size();
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\' || i + 1 == value.size()) {
      scratch.push_back(c);
      continue;
    }
    const char next = value[i + 1];
    if (next == 'x' && i + 3 < value.size() && HexDigit(value[i + 2]) >= 0 &&
        HexDigit(value[i + 3]) >= 0) {
      scratch.push_back(static_cast<char>(HexDigit(value[i + 2]) * 16 + HexDigit(value[i + 3])));
      i += 3;
      continue;
    }
    if (char decoded = 0; DecodeSimpleEscape(next, decoded)) {
      scratch.push_back(decoded);
    } else {
      scratch.push_back('\\');
      scratch.push_back(next);
    }
    ++i;
  }
  return std::string_view(scratch).substr(start);
}

void AddTargetFields(const Target& target, FieldSet& fields) {
  switch (target.kind) {
    case Target::Kind::kRequest:
      fields.Add(Field::kMethod);
      fields.Add(Field::kUri);
      fields.Add(Field::kPath);
      fields.Add(Field::kQuery);
      fields.Add(Field::kProtocol);
      break;
    case Target::Kind::kField:
      fields.Add(target.field);
      if (target.field == Field::kUri) {
        fields.Add(Field::kPath);
        fields.Add(Field::kQuery);
      }
      break;
    default:
      break;
  }
}

bool Store(const Target& target, std::string_view value, bool unescape, LogRecord& out) {
  if (target.kind == Target::Kind::kIgnore) {
    return true;
  }
  const bool is_string = target.kind != Target::Kind::kField || IsStringField(target.field);
  if (is_string && unescape && std::memchr(value.data(), '\\', value.size()) != nullptr) {
    value = Unescape(value, out.scratch);
  }
  if (is_string && value == "-") {
    value = {};
  }
  switch (target.kind) {
    case Target::Kind::kNamed:
      out.named.push_back({target.name, value});
      return true;
    case Target::Kind::kRequest:
      StoreRequest(value, out);
      return true;
    default:
      break;
  }
  if (is_string) {
    switch (target.field) {
      case Field::kUri:
        StoreUri(value, out);
        break;
      case Field::kQuery:
        out.query = !value.empty() && value.front() == '?' ? value.substr(1) : value;
        break;
      case Field::kTime:
        if (target.strip_brackets && value.size() >= 2 && value.front() == '[' &&
            value.back() == ']') {
          value = value.substr(1, value.size() - 2);
        }
        out.time = value;
        break;
      default:
        out.MutableString(target.field) = value;
        break;
    }
    return true;
  }
  switch (target.field) {
    case Field::kStatus: {
      std::optional<std::uint64_t> status;
      if (!ParseUint64(value, status) || (status && *status > 999)) {
        return false;
      }
      if (status) {
        out.status = static_cast<std::uint32_t>(*status);
      }
      return true;
    }
    case Field::kUpstreamStatus:
      return ParseLastStatus(value, out.upstream_status);
    case Field::kBodyBytesSent:
      return ParseUint64(value, out.body_bytes_sent);
    case Field::kBytesSent:
      return ParseUint64(value, out.bytes_sent);
    case Field::kRequestLength:
      return ParseUint64(value, out.request_length);
    case Field::kRequestTime:
      return ParseSeconds(value, target.units_per_second, out.request_time);
    case Field::kUpstreamResponseTime:
      return ParseSeconds(value, target.units_per_second, out.upstream_response_time);
    case Field::kUpstreamConnectTime:
      return ParseSeconds(value, target.units_per_second, out.upstream_connect_time);
    case Field::kUpstreamHeaderTime:
      return ParseSeconds(value, target.units_per_second, out.upstream_header_time);
    default:
      return false;
  }
}

}  // namespace internal
}  // namespace sidecar::accesslog
