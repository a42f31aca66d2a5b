// The nginx and Apache kinds: a format string compiled into literal and field matchers.

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_format_internal.h"

namespace sidecar::accesslog::internal {
namespace {

constexpr std::string_view kNginxCombined =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\"";
constexpr std::string_view kApacheCommon = R"(%h %l %u %t \"%r\" %>s %b)";
constexpr std::string_view kApacheCombined =
    R"(%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\")";
constexpr std::string_view kApacheVhostCombined =
    R"(%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\")";

std::string Position(std::size_t offset) { return "at position " + std::to_string(offset + 1); }

struct Item {
  bool is_literal = false;
  // A field between two quotes: a backslash escapes the next byte, so `\"` does not end it.
  bool quoted = false;
  std::string literal;
  Target target;
};

class TextLogFormat final : public LogFormat {
 public:
  TextLogFormat(std::vector<Item> items, FieldSet fields) : items_(std::move(items)) {
    fields_ = fields;
  }

  bool Parse(std::string_view line, LogRecord& out) override {
    out.Clear();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    // Unescaped values are never longer than the line, so views into scratch stay valid.
    out.scratch.reserve(line.size());
    const std::size_t count = items_.size();
    std::size_t pos = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const Item& item = items_[i];
      if (item.is_literal) {
        const std::string& literal = item.literal;
        if (line.size() - pos >= literal.size() &&
            std::memcmp(line.data() + pos, literal.data(), literal.size()) == 0) {
          pos += literal.size();
          continue;
        }
        // Real logs cut an over-long user agent before its closing quote; accept the final
        // literal missing at the very end of the line rather than lose the request.
        if (i + 1 == count && pos == line.size()) {
          continue;
        }
        return false;
      }
      std::size_t end = line.size();
      if (i + 1 < count) {
        end = Find(line, pos, items_[i + 1].literal, item.quoted);
        if (end == std::string_view::npos) {
          if (i + 2 != count) {
            return false;
          }
          end = line.size();
        }
      }
      if (!Store(item.target, line.substr(pos, end - pos), /*unescape=*/true, out)) {
        return false;
      }
      pos = end;
    }
    return pos == line.size();
  }

 private:
  // The first occurrence of `literal` at or after `pos`; in a quoted field, not one whose first
  // byte is escaped by an odd number of backslashes.
  static std::size_t Find(std::string_view line, std::size_t pos, const std::string& literal,
                          bool quoted) {
    const char first = literal[0];
    std::size_t from = pos;
    while (from < line.size()) {
      const void* hit = std::memchr(line.data() + from, first, line.size() - from);
      if (hit == nullptr) {
        return std::string_view::npos;
      }
      const std::size_t at = static_cast<const char*>(hit) - line.data();
      if (line.size() - at >= literal.size() &&
          std::memcmp(line.data() + at, literal.data(), literal.size()) == 0) {
        if (!quoted || !Escaped(line, pos, at)) {
          return at;
        }
      }
      from = at + 1;
    }
    return std::string_view::npos;
  }

  static bool Escaped(std::string_view line, std::size_t start, std::size_t at) {
    std::size_t backslashes = 0;
    while (at > start && line[at - 1] == '\\') {
      ++backslashes;
      --at;
    }
    return backslashes % 2 == 1;
  }

  const std::vector<Item> items_;
};

// Collects literals and fields while a format string is read.
class ItemsBuilder {
 public:
  void AddLiteral(char c) {
    if (items_.empty() || !items_.back().is_literal) {
      items_.emplace_back().is_literal = true;
    }
    items_.back().literal.push_back(c);
  }

  bool AddField(Target target, std::string_view directive, std::size_t offset, FormatError& error) {
    if (!items_.empty() && !items_.back().is_literal) {
      // Apache's "%U%q" and nginx's "$uri$is_args$args" write the request target in pieces with
      // nothing between them; they are read as one uri, split at '?'.
      Target& previous = items_.back().target;
      const bool is_query = target.kind == Target::Kind::kField && target.field == Field::kQuery;
      const bool is_args_flag = target.kind == Target::Kind::kNamed && target.name == "is_args";
      if (previous.kind == Target::Kind::kField && previous.field == Field::kPath &&
          (is_query || is_args_flag)) {
        previous = Target::ForField(Field::kUri);
        AddTargetFields(previous, fields_);
        absorb_query_ = is_args_flag;
        previous_directive_ = directive;
        return true;
      }
      if (absorb_query_ && is_query) {
        absorb_query_ = false;
        previous_directive_ = directive;
        return true;
      }
      error.message = std::string(directive) + " " + Position(offset) + " directly follows " +
                      previous_directive_ +
                      ": fields need some literal text between them to be told apart";
      error.offset = offset;
      return false;
    }
    previous_directive_ = directive;
    AddTargetFields(target, fields_);
    Item& item = items_.emplace_back();
    item.target = std::move(target);
    return true;
  }

  std::unique_ptr<LogFormat> Finish(std::string_view kind, FormatError& error) {
    if (std::all_of(items_.begin(), items_.end(),
                    [](const Item& item) { return item.is_literal; })) {
      error.message = std::string(kind) + " format has no field";
      error.offset = 0;
      return nullptr;
    }
    for (std::size_t i = 0; i < items_.size(); ++i) {
      Item& item = items_[i];
      item.quoted = !item.is_literal && i > 0 && i + 1 < items_.size() &&
                    items_[i - 1].literal.back() == '"' && items_[i + 1].literal.front() == '"';
    }
    return std::make_unique<TextLogFormat>(std::move(items_), fields_);
  }

 private:
  std::vector<Item> items_;
  FieldSet fields_;
  std::string previous_directive_;
  bool absorb_query_ = false;
};

bool IsNginxNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

Target NginxTarget(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, Field>, 27> kVariables = {{
      {"remote_addr", Field::kRemoteAddr},
      {"remote_user", Field::kRemoteUser},
      {"time_local", Field::kTime},
      {"time_iso8601", Field::kTime},
      {"request_method", Field::kMethod},
      {"request_uri", Field::kUri},
      {"uri", Field::kPath},
      {"document_uri", Field::kPath},
      {"args", Field::kQuery},
      {"query_string", Field::kQuery},
      {"server_protocol", Field::kProtocol},
      {"host", Field::kHost},
      {"http_host", Field::kHost},
      {"server_name", Field::kServerName},
      {"scheme", Field::kScheme},
      {"http_referer", Field::kReferer},
      {"http_user_agent", Field::kUserAgent},
      {"upstream_addr", Field::kUpstreamAddr},
      {"status", Field::kStatus},
      {"upstream_status", Field::kUpstreamStatus},
      {"body_bytes_sent", Field::kBodyBytesSent},
      {"bytes_sent", Field::kBytesSent},
      {"request_length", Field::kRequestLength},
      {"request_time", Field::kRequestTime},
      {"upstream_response_time", Field::kUpstreamResponseTime},
      {"upstream_connect_time", Field::kUpstreamConnectTime},
      {"upstream_header_time", Field::kUpstreamHeaderTime},
  }};
  if (name == "request") {
    return Target::ForRequest();
  }
  for (const auto& [variable, field] : kVariables) {
    if (variable == name) {
      return Target::ForField(field);
    }
  }
  return Target::ForNamed(std::string(name));
}

// Apache header names in nginx's spelling: "X-Request-Id" -> "x_request_id".
std::string NormalizeName(std::string_view prefix, std::string_view name) {
  std::string result(prefix);
  for (char c : name) {
    result.push_back(c == '-' ? '_'
                              : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return result;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The target of Apache directive `letter` with `{param}`; false for unknown directives.
bool ApacheTarget(char letter, std::string_view param, Target& target) {
  switch (letter) {
    case 'h':
    case 'a':
      target = Target::ForField(Field::kRemoteAddr);
      return true;
    case 'A':
      target = Target::ForNamed("local_addr");
      return true;
    case 'l':
      target = Target::ForNamed("remote_logname");
      return true;
    case 'u':
      target = Target::ForField(Field::kRemoteUser);
      return true;
    case 't':
      target = Target::ForField(Field::kTime);
      target.strip_brackets = true;
      return true;
    case 'r':
      target = Target::ForRequest();
      return true;
    case 's':
      target = Target::ForField(Field::kStatus);
      return true;
    case 'b':
    case 'B':
      target = Target::ForField(Field::kBodyBytesSent);
      return true;
    case 'D':
      target = Target::ForField(Field::kRequestTime, 1e6);
      return true;
    case 'T':
      if (param.empty() || param == "s") {
        target = Target::ForField(Field::kRequestTime, 1);
      } else if (param == "ms") {
        target = Target::ForField(Field::kRequestTime, 1e3);
      } else if (param == "us") {
        target = Target::ForField(Field::kRequestTime, 1e6);
      } else {
        return false;
      }
      return true;
    case 'I':
      target = Target::ForField(Field::kRequestLength);
      return true;
    case 'O':
      target = Target::ForField(Field::kBytesSent);
      return true;
    case 'S':
      target = Target::ForNamed("bytes_transferred");
      return true;
    case 'v':
      target = Target::ForField(Field::kServerName);
      return true;
    case 'V':
      target = Target::ForField(Field::kHost);
      return true;
    case 'm':
      target = Target::ForField(Field::kMethod);
      return true;
    case 'U':
      target = Target::ForField(Field::kPath);
      return true;
    case 'q':
      target = Target::ForField(Field::kQuery);
      return true;
    case 'H':
      target = Target::ForField(Field::kProtocol);
      return true;
    case 'p':
      target = Target::ForNamed(param.empty() || param == "canonical"
                                    ? "server_port"
                                    : NormalizeName("", param) + "_port");
      return true;
    case 'P':
      target = Target::ForNamed("pid");
      return true;
    case 'k':
      target = Target::ForNamed("keepalive_requests");
      return true;
    case 'X':
      target = Target::ForNamed("connection_status");
      return true;
    case 'L':
      target = Target::ForNamed("log_id");
      return true;
    case 'f':
      target = Target::ForNamed("filename");
      return true;
    case 'R':
      target = Target::ForNamed("handler");
      return true;
    case 'i':
      if (param.empty()) {
        return false;
      }
      if (EqualsIgnoreCase(param, "referer")) {
        target = Target::ForField(Field::kReferer);
      } else if (EqualsIgnoreCase(param, "user-agent")) {
        target = Target::ForField(Field::kUserAgent);
      } else if (EqualsIgnoreCase(param, "host")) {
        target = Target::ForField(Field::kHost);
      } else {
        target = Target::ForNamed(NormalizeName("http_", param));
      }
      return true;
    case 'o':
    case 'e':
    case 'n':
    case 'C': {
      if (param.empty()) {
        return false;
      }
      const std::string_view prefix = letter == 'o'   ? "sent_http_"
                                      : letter == 'e' ? "env_"
                                      : letter == 'n' ? "note_"
                                                      : "cookie_";
      target = Target::ForNamed(NormalizeName(prefix, param));
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

std::unique_ptr<LogFormat> CompileNginx(std::string_view format, FormatError& error) {
  if (format.empty() || format == "combined") {
    format = kNginxCombined;
  }
  ItemsBuilder builder;
  std::size_t i = 0;
  while (i < format.size()) {
    if (format[i] != '$') {
      builder.AddLiteral(format[i]);
      ++i;
      continue;
    }
    const std::size_t start = i;
    std::string_view name;
    if (i + 1 < format.size() && format[i + 1] == '{') {
      const std::size_t close = format.find('}', i + 2);
      if (close == std::string_view::npos) {
        error.message = "unterminated ${ " + Position(start) + " (missing '}')";
        error.offset = start;
        return nullptr;
      }
      name = format.substr(i + 2, close - i - 2);
      i = close + 1;
      if (name.empty() || !std::all_of(name.begin(), name.end(), IsNginxNameChar)) {
        error.message = "invalid variable name ${" + std::string(name) + "} " + Position(start);
        error.offset = start;
        return nullptr;
      }
    } else {
      std::size_t end = i + 1;
      while (end < format.size() && IsNginxNameChar(format[end])) {
        ++end;
      }
      name = format.substr(i + 1, end - i - 1);
      i = end;
      if (name.empty()) {
        error.message = "'$' " + Position(start) + " is not followed by a variable name";
        error.offset = start;
        return nullptr;
      }
    }
    std::string directive = "$";
    directive.append(name);
    if (!builder.AddField(NginxTarget(name), directive, start, error)) {
      return nullptr;
    }
  }
  return builder.Finish("nginx", error);
}

std::unique_ptr<LogFormat> CompileApache(std::string_view format, FormatError& error) {
  if (format.empty() || format == "combined") {
    format = kApacheCombined;
  } else if (format == "common") {
    format = kApacheCommon;
  } else if (format == "vhost_combined") {
    format = kApacheVhostCombined;
  }
  ItemsBuilder builder;
  std::size_t i = 0;
  while (i < format.size()) {
    const char c = format[i];
    if (c == '\\' && i + 1 < format.size()) {
      // httpd.conf string escapes, as the user copies them from the LogFormat line.
      const char next = format[i + 1];
      builder.AddLiteral(next == 'n' ? '\n' : next == 't' ? '\t' : next);
      i += 2;
      continue;
    }
    if (c != '%') {
      builder.AddLiteral(c);
      ++i;
      continue;
    }
    const std::size_t start = i;
    ++i;
    if (i < format.size() && format[i] == '%') {
      builder.AddLiteral('%');
      ++i;
      continue;
    }
    // Status conditions (%400,501{User-agent}i, %!200i) and original/final (%<s, %>s) only
    // choose which value is logged; they do not change how the value is read.
    while (i < format.size() && std::strchr("!<>0123456789,", format[i]) != nullptr &&
           format[i] != '\0') {
      ++i;
    }
    std::string_view param;
    if (i < format.size() && format[i] == '{') {
      const std::size_t close = format.find('}', i + 1);
      if (close == std::string_view::npos) {
        error.message = "unterminated %{ " + Position(start) + " (missing '}')";
        error.offset = start;
        return nullptr;
      }
      param = format.substr(i + 1, close - i - 1);
      i = close + 1;
    }
    while (i < format.size() && (format[i] == '<' || format[i] == '>')) {
      ++i;
    }
    if (i >= format.size()) {
      error.message = "incomplete Apache directive '" + std::string(format.substr(start)) + "' " +
                      Position(start);
      error.offset = start;
      return nullptr;
    }
    const std::string directive(format.substr(start, i + 1 - start));
    Target target;
    if (!ApacheTarget(format[i], param, target)) {
      error.message = "unknown Apache directive " + directive + " " + Position(start);
      error.offset = start;
      return nullptr;
    }
    ++i;
    if (!builder.AddField(std::move(target), directive, start, error)) {
      return nullptr;
    }
  }
  return builder.Finish("Apache", error);
}

}  // namespace sidecar::accesslog::internal
