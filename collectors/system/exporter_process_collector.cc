#include "collectors/system/exporter_process_collector.h"

#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "collectors/core/metric_family_builder.h"
#include "collectors/system/proc_reader.h"

namespace sidecar {
namespace {

double BootTime(const std::filesystem::path& proc_root) {
  std::string stat;
  if (procfs::ReadWholeFile(proc_root / "stat", stat) != procfs::ReadStatus::kOk) return 0;
  return procfs::ParseBootTime(stat).value_or(0);
}

}  // namespace

ExporterProcessCollector::ExporterProcessCollector(std::filesystem::path proc_root)
    : proc_root_(std::move(proc_root)),
      boot_time_(BootTime(proc_root_)),
      ticks_per_second_(static_cast<double>(sysconf(_SC_CLK_TCK))),
      page_size_(static_cast<double>(sysconf(_SC_PAGESIZE))) {}

CollectResult ExporterProcessCollector::Collect(const CollectContext& /*context*/) {
  CollectResult result;
  using prometheus::MetricType;
  const auto add = [&result](const char* name, const char* help, MetricType type, double value) {
    result.families.push_back(MetricFamilyBuilder(name, help, type).Add(value).Build());
  };

  std::string text;
  std::optional<procfs::ProcStat> stat;
  if (procfs::ReadWholeFile(proc_root_ / "self" / "stat", text) == procfs::ReadStatus::kOk) {
    stat = procfs::ParseProcStat(text);
  }
  if (!stat) {
    result.error = "cannot read " + (proc_root_ / "self" / "stat").string();
    return result;
  }
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::Counter, static_cast<double>(stat->utime + stat->stime) / ticks_per_second_);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
      static_cast<double>(stat->vsize));
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
      static_cast<double>(stat->rss) * page_size_);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      MetricType::Gauge, boot_time_ + static_cast<double>(stat->starttime) / ticks_per_second_);

  std::uint64_t open_fds = 0;
  if (procfs::CountEntries(proc_root_ / "self" / "fd", open_fds) == procfs::ReadStatus::kOk) {
    // Less the descriptor that listing the directory holds.
    add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
        static_cast<double>(open_fds > 0 ? open_fds - 1 : 0));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
        static_cast<double>(limit.rlim_cur));
  }
  return result;
}

}  // namespace sidecar
