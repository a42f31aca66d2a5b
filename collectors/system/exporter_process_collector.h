#pragma once

#include "collectors/core/collector.h"

namespace sidecar {

// The standard process_* metrics that Prometheus client libraries export (CPU, memory, file
// descriptors, start time), read from /proc/self for the exporter's own process.
//
// Runs on every scrape, so it reads /proc with plain syscalls into stack buffers.
// Thread-safety: no mutable state; safe to call from any thread.
class ExporterProcessCollector final : public Collector {
 public:
  ExporterProcessCollector();

  CollectResult Collect(const CollectContext& context) override;

 private:
  // Boot time in unix seconds, read once: it does not change while we run.
  const double boot_time_;
  const double ticks_per_second_;
  const double page_size_;
};

}  // namespace sidecar
