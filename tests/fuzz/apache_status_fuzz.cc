// libFuzzer target: any bytes as a mod_status ?auto page, parsed and turned into families.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collectors/http/apache_status_collector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string error;
  const auto status = sidecar::ParseApacheStatus(
      std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (status) {
    std::vector<prometheus::MetricFamily> families;
    sidecar::AppendApacheFamilies(*status, {}, families);
  }
  return 0;
}
