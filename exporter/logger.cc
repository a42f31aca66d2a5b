#include "exporter/logger.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace sidecar {
namespace {

constexpr std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return buffer;
}

void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// logfmt quotes a value only when it has to, as go-logfmt does.
void AppendLogfmtValue(std::string& out, std::string_view value) {
  const bool needs_quotes =
      value.empty() || value.find_first_of(" =\"\\\n\t\r") != std::string_view::npos;
  if (needs_quotes) {
    AppendJsonString(out, value);
  } else {
    out += value;
  }
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel& level) {
  for (const LogLevel candidate :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == LevelName(candidate)) {
      level = candidate;
      return true;
    }
  }
  return false;
}

bool ParseLogFormat(std::string_view text, LogFormat& format) {
  if (text == "logfmt") {
    format = LogFormat::kLogfmt;
    return true;
  }
  if (text == "json") {
    format = LogFormat::kJson;
    return true;
  }
  return false;
}

void Logger::Log(LogLevel level, std::string_view msg, Fields fields) {
  if (!Enabled(level)) return;
  std::string line;
  line.reserve(128);
  if (format_ == LogFormat::kJson) {
    line += "{\"ts\":";
    AppendJsonString(line, Timestamp());
    line += ",\"level\":";
    AppendJsonString(line, LevelName(level));
    line += ",\"msg\":";
    AppendJsonString(line, msg);
    for (const auto& [key, value] : fields) {
      line += ',';
      AppendJsonString(line, key);
      line += ':';
      AppendJsonString(line, value);
    }
    line += "}\n";
  } else {
    line += "ts=" + Timestamp() + " level=";
    line += LevelName(level);
    line += " msg=";
    AppendLogfmtValue(line, msg);
    for (const auto& [key, value] : fields) {
      line += ' ';
      line += key;
      line += '=';
      AppendLogfmtValue(line, value);
    }
    line += '\n';
  }
  std::lock_guard lock(mutex_);
  out_ << line << std::flush;
}

}  // namespace sidecar
