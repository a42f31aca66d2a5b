// libFuzzer target: any bytes as a --web.config.file. A broken file must give located errors,
// never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporter/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sidecar::WebConfigLoad load = sidecar::ParseWebConfig(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yml", "/fuzz");
  if (load.config.has_value() == !load.errors.empty()) __builtin_trap();
  return 0;
}
