#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/core/collector_type.h"

namespace sidecar {

struct CollectorConfig {
  std::string type;
  std::string name;
  // The collector's YAML as text: on reload, a collector whose fingerprint is unchanged is kept
  // with its state (log positions, counters) instead of being rebuilt.
  std::string fingerprint;
  CollectorFactory factory;
};

struct Config {
  // Upper bound for one collector's work during a scrape; collectors may set a lower one.
  std::chrono::milliseconds timeout{5000};
  // Labels added to every series the exporter serves.
  std::vector<std::pair<std::string, std::string>> const_labels;
  std::vector<CollectorConfig> collectors;
};

struct ConfigLoad {
  std::optional<Config> config;  // set only when there are no errors
  std::vector<ConfigError> errors;
};

// Decodes and validates a configuration. `file_name` is used in error messages only.
ConfigLoad ParseConfig(std::string_view yaml, const std::string& file_name);
ConfigLoad LoadConfigFile(const std::filesystem::path& path);

}  // namespace sidecar
