#pragma once

#include <filesystem>

#include "collectors/core/collector.h"

namespace sidecar {

// The standard process_* metrics that Prometheus client libraries export (CPU, memory, file
// descriptors, start time), read from /proc/self for the exporter's own process.
//
// Reads whole files of any size (procfs::ReadWholeFile): /proc/stat outgrows any fixed buffer on
// nodes with many CPUs and interrupts, and its btime line comes after them.
// Thread-safety: no mutable state; safe to call from any thread.
class ExporterProcessCollector final : public Collector {
 public:
  // `proc_root` is /proc except in tests.
  explicit ExporterProcessCollector(std::filesystem::path proc_root = "/proc");

  CollectResult Collect(const CollectContext& context) override;

 private:
  const std::filesystem::path proc_root_;
  // Boot time in unix seconds, read once: it does not change while we run.
  const double boot_time_;
  const double ticks_per_second_;
  const double page_size_;
};

}  // namespace sidecar
