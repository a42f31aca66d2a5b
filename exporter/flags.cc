#include "exporter/flags.h"

#include <charconv>

#include "exporter/logger.h"

namespace sidecar {
namespace {

// True when all of `text` is a whole number from `min` to `max`, which it stores in `value`.
bool ParseBoundedInt(const std::string& text, int min, int max, int& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value >= min && value <= max;
}

}  // namespace

std::string Usage() {
  return R"(usage: sidecar-exporter --config.file=FILE [flags]

Prometheus exporter for the main container of a Kubernetes pod: status endpoints over
localhost and log files on a shared volume.

Flags:
  --config.file=FILE          YAML configuration (required; see examples/)
  --config.check              validate the configuration, print every error, exit 0 or 1
  --web.listen-address=ADDR   address to serve on, host:port or :port (default ":10113")
  --web.telemetry-path=PATH   path of the metrics endpoint (default "/metrics")
  --web.config.file=FILE      TLS, basic auth and headers, in the exporter-toolkit format
  --web.max-threads=N         requests handled at once, one worker thread each (default 8)
  --log.level=LEVEL           debug, info, warn or error (default "info")
  --log.format=FORMAT         logfmt or json (default "logfmt")
  --version                   print the version and exit
  -h, --help                  print this help and exit

Signals: SIGHUP reloads the configuration; SIGTERM and SIGINT stop gracefully.
)";
}

std::optional<Flags> ParseFlags(const std::vector<std::string>& args, std::string& error) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      error = "unexpected argument \"" + arg + "\"";
      return std::nullopt;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name.resize(equals);
    }
    if (name == "version" || name == "config.check") {
      if (value && *value != "true" && *value != "false") {
        error = "flag --" + name + " takes no value";
        return std::nullopt;
      }
      (name == "version" ? flags.version : flags.config_check) = !value || *value == "true";
      continue;
    }
    std::string* target = nullptr;
    if (name == "config.file") target = &flags.config_file;
    if (name == "web.listen-address") target = &flags.listen_address;
    if (name == "web.telemetry-path") target = &flags.telemetry_path;
    if (name == "web.config.file") target = &flags.web_config_file;
    if (name == "log.level") target = &flags.log_level;
    if (name == "log.format") target = &flags.log_format;
    std::string threads;
    if (name == "web.max-threads") target = &threads;
    std::string sample_interval;
    if (name == "status.sample-interval-ms") target = &sample_interval;
    if (target == nullptr) {
      error = "unknown flag --" + name;
      return std::nullopt;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        error = "flag --" + name + " needs a value";
        return std::nullopt;
      }
      value = args[++i];
    }
    *target = *value;
    if (target == &threads && !ParseBoundedInt(threads, 1, 16384, flags.web_max_threads)) {
      error = "--web.max-threads: want a number from 1 to 16384, got \"" + threads + "\"";
      return std::nullopt;
    }
    if (target == &sample_interval &&
        !ParseBoundedInt(sample_interval, 0, 3600000, flags.status_sample_interval_ms)) {
      error =
          "--status.sample-interval-ms: want milliseconds from 0 (no sampler) to 3600000, got \"" +
          sample_interval + "\"";
      return std::nullopt;
    }
  }
  if (flags.help || flags.version) return flags;
  LogLevel level{};
  if (!ParseLogLevel(flags.log_level, level)) {
    error =
        "--log.level: unknown level \"" + flags.log_level + "\"; allowed: debug, info, warn, error";
    return std::nullopt;
  }
  LogFormat format{};
  if (!ParseLogFormat(flags.log_format, format)) {
    error = "--log.format: unknown format \"" + flags.log_format + "\"; allowed: logfmt, json";
    return std::nullopt;
  }
  if (!flags.telemetry_path.starts_with("/") || flags.telemetry_path == "/healthz" ||
      flags.telemetry_path == "/readyz") {
    error = "--web.telemetry-path: want a path starting with '/' other than /healthz and /readyz";
    return std::nullopt;
  }
  if (flags.config_file.empty()) {
    error = "--config.file is required";
    return std::nullopt;
  }
  return flags;
}

}  // namespace sidecar
