#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "collectors/core/collector.h"
#include "collectors/core/collector_type.h"
#include "collectors/system/process_sample.h"

namespace re2 {
class RE2;
}

namespace sidecar {

// Which processes form the group. Every given criterion must hold.
struct ProcessMatch {
  std::optional<std::string> comm;     // exact command name, as in /proc/<pid>/comm
  std::optional<std::string> cmdline;  // RE2, partial match on the arguments joined by spaces
  std::optional<std::string> exe;      // exact path of /proc/<pid>/exe, or its file name
};

struct ProcessOptions {
  std::string group_name;  // the "groupname" label
  ProcessMatch match;
  // Also count the descendants of matching processes (as prometheus-process-exporter does).
  bool children = true;
  std::filesystem::path proc_root = "/proc";
};

// The main container's processes, seen through a shared PID namespace, exported under the names
// and meanings of prometheus-process-exporter (namedprocess_namegroup_*{groupname}), plus what it
// lacks: sidecar_process_up and sidecar_process_restarts_total (the group's oldest process was
// replaced, i.e. the main process restarted in place).
//
// Counters never decrease: each process counts from its start (its whole life, also when it was
// older than the exporter), and what exited processes had used is kept. A file that needs more
// privilege than the sidecar has (fd, io, smaps_rollup, exe) is counted in
// sidecar_process_permission_errors_total{file}, and the series it feeds are left out of that
// scrape rather than summed over part of the group.
//
// Thread-safety: Collect() must not run concurrently with itself (the exporter guarantees it);
// Summary() may run on any thread.
class ProcessCollector final : public Collector {
 public:
  explicit ProcessCollector(ProcessOptions options);
  ~ProcessCollector() override;

  CollectResult Collect(const CollectContext& context) override;
  std::string Summary() const override;

 private:
  bool Matches(const procfs::ProcessIdentity& id, const std::string& comm);

  const ProcessOptions options_;
  std::unique_ptr<re2::RE2> cmdline_;
  procfs::ProcessReader reader_;
  // The live processes of the group at the last scrape, by identity, with what they had used.
  std::map<procfs::ProcessIdentity, procfs::ProcessCounts> live_;
  // What processes that have exited had used when last seen.
  procfs::ProcessCounts exited_;
  std::optional<procfs::ProcessIdentity> oldest_;
  std::uint64_t restarts_ = 0;
  std::map<std::string, std::uint64_t> permission_errors_;  // by file
  mutable std::mutex summary_mutex_;
  std::string summary_;
};

// Decodes the options of a `process` collector into a factory of ProcessCollector.
CollectorFactory DecodeProcess(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
