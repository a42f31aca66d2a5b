#include "collectors/system/process_sample.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <string_view>

namespace sidecar::procfs {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};

std::optional<std::int64_t> ParsePid(std::string_view name) {
  std::int64_t pid = 0;
  const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), pid);
  if (error != std::errc() || end != name.data() + name.size() || pid <= 0) return std::nullopt;
  return pid;
}

double ReadBootTime(const std::filesystem::path& root) {
  std::string stat;
  if (ReadWholeFile(root / "stat", stat) != ReadStatus::kOk) return 0;
  return ParseBootTime(stat).value_or(0);
}

std::optional<std::uint64_t> Kilobytes(std::string_view text, std::string_view key) {
  const std::optional<std::uint64_t> value = FindKeyedNumber(text, key);
  if (!value) return std::nullopt;
  return *value * 1024;
}

}  // namespace

void ProcessCounts::Add(const ProcessCounts& other) {
  user_ticks += other.user_ticks;
  system_ticks += other.system_ticks;
  minor_faults += other.minor_faults;
  major_faults += other.major_faults;
  voluntary_switches += other.voluntary_switches;
  nonvoluntary_switches += other.nonvoluntary_switches;
  if (read_bytes && other.read_bytes) {
    *read_bytes += *other.read_bytes;
  } else {
    read_bytes.reset();
  }
  if (write_bytes && other.write_bytes) {
    *write_bytes += *other.write_bytes;
  } else {
    write_bytes.reset();
  }
}

ProcessReader::ProcessReader(std::filesystem::path proc_root)
    : root_(std::move(proc_root)),
      boot_time_(ReadBootTime(root_)),
      ticks_per_second_(static_cast<double>(sysconf(_SC_CLK_TCK))),
      page_size_(static_cast<double>(sysconf(_SC_PAGESIZE))) {}

std::filesystem::path ProcessReader::PidPath(std::int64_t pid) const {
  return root_ / std::to_string(pid);
}

std::vector<std::int64_t> ProcessReader::ListPids() const {
  std::vector<std::int64_t> pids;
  const std::unique_ptr<DIR, DirCloser> dir(opendir(root_.c_str()));
  if (!dir) return pids;
  while (const dirent* entry = readdir(dir.get())) {
    if (const std::optional<std::int64_t> pid = ParsePid(entry->d_name)) pids.push_back(*pid);
  }
  return pids;
}

std::optional<ProcStat> ProcessReader::ReadStat(std::int64_t pid) {
  if (ReadWholeFile(PidPath(pid) / "stat", buffer_) != ReadStatus::kOk) return std::nullopt;
  return ParseProcStat(buffer_);
}

std::optional<std::string> ProcessReader::ReadCmdline(std::int64_t pid) {
  if (ReadWholeFile(PidPath(pid) / "cmdline", buffer_, 1 << 20) != ReadStatus::kOk) {
    return std::nullopt;
  }
  std::string cmdline = buffer_;
  while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  return cmdline;
}

std::optional<std::string> ProcessReader::ReadExe(std::int64_t pid,
                                                  const DeniedCallback& on_denied) {
  std::string target;
  const ReadStatus status = ReadLink(PidPath(pid) / "exe", target);
  if (status == ReadStatus::kPermissionDenied) on_denied("exe");
  if (status != ReadStatus::kOk) return std::nullopt;
  return target;
}

void ProcessReader::ReadThreadSwitches(std::int64_t pid, ProcessCounts& counts) {
  const std::filesystem::path tasks = PidPath(pid) / "task";
  const std::unique_ptr<DIR, DirCloser> dir(opendir(tasks.c_str()));
  if (!dir) return;  // keep the process's own status figures
  std::uint64_t voluntary = 0;
  std::uint64_t nonvoluntary = 0;
  while (const dirent* entry = readdir(dir.get())) {
    if (!ParsePid(entry->d_name)) continue;
    if (ReadWholeFile(tasks / entry->d_name / "status", buffer_) != ReadStatus::kOk) continue;
    voluntary += FindKeyedNumber(buffer_, "voluntary_ctxt_switches:").value_or(0);
    nonvoluntary += FindKeyedNumber(buffer_, "nonvoluntary_ctxt_switches:").value_or(0);
  }
  counts.voluntary_switches = voluntary;
  counts.nonvoluntary_switches = nonvoluntary;
}

std::optional<ProcessSample> ProcessReader::ReadSample(std::int64_t pid, const ProcStat& stat,
                                                       const DeniedCallback& on_denied) {
  ProcessSample sample;
  sample.id = {pid, stat.starttime};
  sample.stat = stat;
  sample.counts.user_ticks = stat.utime;
  sample.counts.system_ticks = stat.stime;
  sample.counts.minor_faults = stat.minflt;
  sample.counts.major_faults = stat.majflt;
  const std::filesystem::path dir = PidPath(pid);

  if (ReadWholeFile(dir / "status", buffer_) != ReadStatus::kOk) return std::nullopt;
  sample.swap_bytes = Kilobytes(buffer_, "VmSwap:");
  if (!sample.swap_bytes && FindKeyedNumber(buffer_, "VmSize:")) sample.swap_bytes = 0;
  sample.counts.voluntary_switches =
      FindKeyedNumber(buffer_, "voluntary_ctxt_switches:").value_or(0);
  sample.counts.nonvoluntary_switches =
      FindKeyedNumber(buffer_, "nonvoluntary_ctxt_switches:").value_or(0);
  if (stat.num_threads > 1) ReadThreadSwitches(pid, sample.counts);

  const auto read = [&](const char* file, size_t max_bytes = 64 << 20) {
    const ReadStatus status = ReadWholeFile(dir / file, buffer_, max_bytes);
    if (status == ReadStatus::kPermissionDenied) on_denied(file);
    return status == ReadStatus::kOk;
  };
  if (read("io")) {
    sample.counts.read_bytes = FindKeyedNumber(buffer_, "read_bytes:");
    sample.counts.write_bytes = FindKeyedNumber(buffer_, "write_bytes:");
  }
  if (read("smaps_rollup")) {
    sample.proportional_bytes = Kilobytes(buffer_, "Pss:");
    sample.proportional_swap_bytes = Kilobytes(buffer_, "SwapPss:");
  }
  if (read("limits")) sample.max_fds = ParseOpenFilesLimit(buffer_);
  std::uint64_t fds = 0;
  const ReadStatus fd_status = CountEntries(dir / "fd", fds);
  if (fd_status == ReadStatus::kPermissionDenied) on_denied("fd");
  if (fd_status == ReadStatus::kOk) sample.open_fds = fds;
  return sample;
}

}  // namespace sidecar::procfs
