// libFuzzer target: any bytes as a stub_status page.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collectors/http/nginx_status_collector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string error;
  sidecar::ParseStubStatus(std::string_view(reinterpret_cast<const char*>(data), size), error);
  return 0;
}
