#pragma once

#include <filesystem>

#include "collectors/collector.h"

namespace sidecar {

// The standard process_* metrics that Prometheus client libraries export (CPU, memory, file
// descriptors, start time), read from /proc for the exporter's own process.
//
// Thread-safety: stateless; safe to call from any thread.
class ProcessCollector final : public Collector {
 public:
  // `proc_dir` is the process's /proc entry; tests may point it elsewhere.
  explicit ProcessCollector(std::filesystem::path proc_dir = "/proc/self");

  CollectResult Collect(const CollectContext& context) override;

 private:
  const std::filesystem::path proc_dir_;
  // Boot time in unix seconds, read once: it does not change while we run.
  const double boot_time_;
};

}  // namespace sidecar
