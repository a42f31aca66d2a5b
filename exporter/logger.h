#pragma once

#include <initializer_list>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace sidecar {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kLogfmt, kJson };

// Parses "debug", "info", "warn", "error"; false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel& level);
// Parses "logfmt" or "json"; false for anything else.
bool ParseLogFormat(std::string_view text, LogFormat& format);

// Structured logger writing one line per record, as logfmt or JSON, like the Go exporters'
// go-kit/slog loggers: `ts=... level=info msg="..." key=value`.
//
// Thread-safe: records from several threads never interleave.
class Logger {
 public:
  using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  Logger(std::ostream& out, LogLevel level, LogFormat format)
      : out_(out), level_(level), format_(format) {}
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void Debug(std::string_view msg, Fields fields = {}) { Log(LogLevel::kDebug, msg, fields); }
  void Info(std::string_view msg, Fields fields = {}) { Log(LogLevel::kInfo, msg, fields); }
  void Warn(std::string_view msg, Fields fields = {}) { Log(LogLevel::kWarn, msg, fields); }
  void Error(std::string_view msg, Fields fields = {}) { Log(LogLevel::kError, msg, fields); }

  void Log(LogLevel level, std::string_view msg, Fields fields);
  bool Enabled(LogLevel level) const { return level >= level_; }

 private:
  std::mutex mutex_;
  std::ostream& out_;
  const LogLevel level_;
  const LogFormat format_;
};

}  // namespace sidecar
