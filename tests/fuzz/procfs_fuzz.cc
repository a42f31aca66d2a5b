// libFuzzer target: any bytes as the /proc files the process collectors parse.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/system/proc_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sidecar::procfs::ParseProcStat(text);
  sidecar::procfs::ParseBootTime(text);
  sidecar::procfs::FindKeyedNumber(text, "voluntary_ctxt_switches:");
  sidecar::procfs::FindKeyedNumber(text, "Pss:");
  sidecar::procfs::ParseOpenFilesLimit(text);
  return 0;
}
