// libFuzzer target: any bytes as a configuration file. A broken file sent with SIGHUP must give
// errors, never take the running exporter down.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporter/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sidecar::ConfigLoad load = sidecar::ParseConfig(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  if (load.config.has_value() == !load.errors.empty()) __builtin_trap();
  return 0;
}
