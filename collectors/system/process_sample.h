#pragma once

#include <compare>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "collectors/system/proc_reader.h"

namespace sidecar::procfs {

// A process, told apart from a later one that reuses its pid by its start time.
struct ProcessIdentity {
  std::int64_t pid = 0;
  std::uint64_t start_ticks = 0;  // after boot
  auto operator<=>(const ProcessIdentity&) const = default;
};

// What a process has used since it started; these only grow while it lives.
struct ProcessCounts {
  std::uint64_t user_ticks = 0;
  std::uint64_t system_ticks = 0;
  std::uint64_t minor_faults = 0;
  std::uint64_t major_faults = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t nonvoluntary_switches = 0;
  // From /proc/<pid>/io, which needs the same user or CAP_SYS_PTRACE.
  std::optional<std::uint64_t> read_bytes;
  std::optional<std::uint64_t> write_bytes;

  // Adds `other`; the I/O fields stay known only when known on both sides.
  void Add(const ProcessCounts& other);
};

// One reading of one process's files. Fields that could not be read are nullopt.
struct ProcessSample {
  ProcessIdentity id;
  ProcStat stat;
  ProcessCounts counts;
  std::optional<std::uint64_t> swap_bytes;               // status VmSwap
  std::optional<std::uint64_t> proportional_bytes;       // smaps_rollup Pss
  std::optional<std::uint64_t> proportional_swap_bytes;  // smaps_rollup SwapPss
  std::optional<std::uint64_t> open_fds;                 // entries of fd/
  std::optional<std::uint64_t> max_fds;                  // limits "Max open files", soft
};

// Reads processes under a /proc root. Which file needs what (proc(5), ptrace access mode
// PTRACE_MODE_READ_FSCREDS = the same user and a dumpable process, or CAP_SYS_PTRACE):
//   stat, status, cmdline, limits, task/*/status   anyone
//   io, fd/, smaps_rollup, exe                     same user or CAP_SYS_PTRACE
// A file that exists but may not be read is reported to `on_denied` with its name.
//
// Thread-safety: none needed; holds only constants and a scratch buffer.
class ProcessReader {
 public:
  using DeniedCallback = std::function<void(const std::string& file)>;

  explicit ProcessReader(std::filesystem::path proc_root);

  // The numeric entries of the root (the pids), unsorted.
  std::vector<std::int64_t> ListPids() const;
  // The pid's stat, or nullopt when it is gone (or unreadable).
  std::optional<ProcStat> ReadStat(std::int64_t pid);
  // The NUL-separated arguments joined by spaces; empty for kernel threads and zombies.
  std::optional<std::string> ReadCmdline(std::int64_t pid);
  // The target of exe; nullopt when denied (reported) or gone.
  std::optional<std::string> ReadExe(std::int64_t pid, const DeniedCallback& on_denied);
  // Everything else about a process whose stat was just read; nullopt when it exited meanwhile.
  std::optional<ProcessSample> ReadSample(std::int64_t pid, const ProcStat& stat,
                                          const DeniedCallback& on_denied);

  // Unix seconds at boot, from /proc/stat; 0 when unreadable.
  double boot_time() const { return boot_time_; }
  double ticks_per_second() const { return ticks_per_second_; }
  double page_size() const { return page_size_; }

 private:
  std::filesystem::path PidPath(std::int64_t pid) const;
  // Sums the context switches of every thread (task/*/status), as prometheus-process-exporter
  // does for multi-threaded processes.
  void ReadThreadSwitches(std::int64_t pid, ProcessCounts& counts);

  const std::filesystem::path root_;
  const double boot_time_;
  const double ticks_per_second_;
  const double page_size_;
  std::string buffer_;
};

}  // namespace sidecar::procfs
