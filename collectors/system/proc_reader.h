#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sidecar::procfs {

// Why a file under /proc could not be read. A process that exits between listing and reading
// is kGone (not an error worth counting); another container's files that need the same user or
// CAP_SYS_PTRACE are kPermissionDenied.
enum class ReadStatus { kOk, kGone, kPermissionDenied, kOtherError };

// Reads a whole file of any size into `contents`. Files in /proc report a size of 0 and may be
// far larger than a page (/proc/stat on a node with many CPUs and interrupts), so this reads
// until end of file, growing the buffer, instead of trusting one read into a fixed buffer.
// `max_bytes` bounds memory against a file that never ends.
ReadStatus ReadWholeFile(const std::filesystem::path& path, std::string& contents,
                         size_t max_bytes = 64 << 20);

// Counts the entries of a directory other than "." and "..", such as /proc/<pid>/fd.
ReadStatus CountEntries(const std::filesystem::path& directory, std::uint64_t& count);

// Reads a symlink's target, such as /proc/<pid>/exe.
ReadStatus ReadLink(const std::filesystem::path& path, std::string& target);

// The fields of /proc/<pid>/stat that the collectors use (proc(5) numbers them from 1). Times
// are in clock ticks, rss in pages, vsize in bytes.
struct ProcStat {
  std::string comm;
  char state = '?';
  std::int64_t ppid = 0;
  std::uint64_t minflt = 0;      // 10
  std::uint64_t majflt = 0;      // 12
  std::uint64_t utime = 0;       // 14
  std::uint64_t stime = 0;       // 15
  std::int64_t num_threads = 0;  // 20
  std::uint64_t starttime = 0;   // 22, ticks after boot
  std::uint64_t vsize = 0;       // 23
  std::int64_t rss = 0;          // 24
};

// Parses /proc/<pid>/stat. The command name may hold spaces and parentheses, so the fields are
// counted after its last ')'. nullopt for anything malformed.
std::optional<ProcStat> ParseProcStat(std::string_view text);

// The boot time in unix seconds from the "btime" line of /proc/stat.
std::optional<double> ParseBootTime(std::string_view proc_stat);

// The number after "<key>" at the start of a line, as in /proc/<pid>/status ("VmSwap:  12 kB"),
// /proc/<pid>/io ("read_bytes: 4096") and smaps_rollup ("Pss:  100 kB"). The unit is the
// caller's business. nullopt when the key is absent or not followed by a number.
std::optional<std::uint64_t> FindKeyedNumber(std::string_view text, std::string_view key);

// The soft limit of "Max open files" in /proc/<pid>/limits; nullopt when absent or "unlimited".
std::optional<std::uint64_t> ParseOpenFilesLimit(std::string_view limits);

}  // namespace sidecar::procfs
