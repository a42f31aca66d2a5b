#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sidecar {

// Command-line flags, named as Prometheus exporters name them.
struct Flags {
  std::string config_file;
  std::string listen_address = ":10113";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  int web_max_threads = 8;
  // Hidden (not in Usage()): the status sampler's interval in ms, 0 for no sampler. Only the
  // access-log benchmark sets it, to compare throughput with and without snapshots in one run.
  int status_sample_interval_ms = 5000;
  bool config_check = false;
  bool version = false;
  bool help = false;
};

// Parses `--name=value` and `--name value`. Returns nullopt and sets `error` on unknown flags,
// missing values or invalid values.
std::optional<Flags> ParseFlags(const std::vector<std::string>& args, std::string& error);

std::string Usage();

}  // namespace sidecar
