// The logfmt kind: `key=value key="quoted value" flag`, one record per line.

#include <cstdint>
#include <string>
#include <utility>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_format_internal.h"

namespace sidecar::accesslog::internal {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// A byte that may appear in a key or a bare value: anything above space but `"` (bytes above 0x7F
// included: keys and values are bytes, as in the other formats).
bool IsBareByte(char c) { return static_cast<unsigned char>(c) > ' ' && c != '"'; }

// Four hex digits at text[at], or -1.
std::int32_t Hex4(std::string_view text, std::size_t at) {
  if (at + 4 > text.size()) return -1;
  std::int32_t value = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    const int digit = HexDigit(text[i]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

void AppendUtf8(std::uint32_t code, std::string& out) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// Decodes the escapes of a quoted value (JSON's, as go-logfmt writes them) onto `scratch`;
// false on a bad escape. The decoded text is never longer than `raw`, so views into a scratch
// reserved to the line length stay valid.
bool UnescapeQuoted(std::string_view raw, std::string& scratch, std::string_view& out) {
  const std::size_t start = scratch.size();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c != '\\') {
      scratch.push_back(c);
      continue;
    }
    if (++i >= raw.size()) return false;
    if (char decoded = 0; DecodeSimpleEscape(raw[i], decoded)) {
      scratch.push_back(decoded);
      continue;
    }
    switch (raw[i]) {
      case '/':
        scratch.push_back('/');
        break;
      case 'b':
        scratch.push_back('\b');
        break;
      case 'f':
        scratch.push_back('\f');
        break;
      case 'u': {
        std::int32_t code = Hex4(raw, i + 1);
        if (code < 0) return false;
        i += 4;
        if (code >= 0xD800 && code <= 0xDBFF) {
          // A high surrogate must be followed by \u and a low one.
          const std::int32_t low =
              i + 2 < raw.size() && raw[i + 1] == '\\' && raw[i + 2] == 'u' ? Hex4(raw, i + 3) : -1;
          if (low < 0xDC00 || low > 0xDFFF) return false;
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          return false;
        }
        AppendUtf8(static_cast<std::uint32_t>(code), scratch);
        break;
      }
      default:
        return false;
    }
  }
  out = std::string_view(scratch).substr(start);
  return true;
}

class LogfmtLogFormat final : public LogFormat {
 public:
  explicit LogfmtLogFormat(bool keys_as_named) : keys_as_named_(keys_as_named) {
    if (!keys_as_named_) {
      for (int i = 0; i < kFieldCount; ++i) {
        fields_.Add(static_cast<Field>(i));
      }
    }
  }

  bool Parse(std::string_view line, LogRecord& out) override {
    out.Clear();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    out.scratch.reserve(line.size());
    const std::size_t n = line.size();
    std::size_t i = 0;
    bool any = false;
    while (true) {
      while (i < n && IsSpace(line[i])) ++i;
      if (i >= n) break;
      const std::size_t key_start = i;
      while (i < n && IsBareByte(line[i]) && line[i] != '=') ++i;
      if (i == key_start) return false;  // `=`, `"` or a control byte where a key starts
      const std::string_view key = line.substr(key_start, i - key_start);
      std::string_view value;
      if (i < n && line[i] == '=') {
        ++i;
        if (i < n && line[i] == '"') {
          const std::size_t value_start = ++i;
          bool escaped = false;
          while (i < n && line[i] != '"') {
            if (line[i] == '\\') {
              escaped = true;
              ++i;
            }
            ++i;
          }
          if (i >= n) return false;  // unterminated quote
          value = line.substr(value_start, i - value_start);
          ++i;
          if (escaped && !UnescapeQuoted(value, out.scratch, value)) return false;
        } else {
          const std::size_t value_start = i;
          while (i < n && IsBareByte(line[i])) ++i;
          value = line.substr(value_start, i - value_start);
        }
      }
      if (i < n && !IsSpace(line[i])) return false;  // `"` or a control byte after a pair
      if (!StoreValue(key, value, out)) return false;
      any = true;
    }
    return any;
  }

 private:
  bool StoreValue(std::string_view key, std::string_view value, LogRecord& out) const {
    if (!keys_as_named_) {
      if (key == "request") {
        return Store(Target::ForRequest(), value, /*unescape=*/false, out);
      }
      if (const std::optional<Field> field = FieldFromName(key)) {
        return Store(Target::ForField(*field), value, /*unescape=*/false, out);
      }
    }
    out.named.push_back({key, value});
    return true;
  }

  const bool keys_as_named_;
};

}  // namespace

std::unique_ptr<LogFormat> CompileLogfmt(const LogFormatOptions& options, FormatError& error) {
  if (!options.json_keys.empty()) {
    error.message = "a JSON key map is not used with logfmt";
    return nullptr;
  }
  return std::make_unique<LogfmtLogFormat>(options.keys_as_named);
}

}  // namespace sidecar::accesslog::internal
