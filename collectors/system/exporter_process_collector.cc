#include "collectors/system/exporter_process_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <string_view>

#include "collectors/core/metric_family_builder.h"

namespace sidecar {
namespace {

// Reads up to `size` bytes of a /proc file; the view is empty on failure.
std::string_view ReadProcFile(const char* path, char* buffer, size_t size) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  const ssize_t count = read(fd, buffer, size);
  close(fd);
  return count > 0 ? std::string_view(buffer, static_cast<size_t>(count)) : std::string_view();
}

double BootTime() {
  char buffer[16384];
  const std::string_view stat = ReadProcFile("/proc/stat", buffer, sizeof buffer);
  const size_t at = stat.find("\nbtime ");
  if (at == std::string_view::npos) return 0;
  double value = 0;
  const char* start = stat.data() + at + 7;
  std::from_chars(start, stat.data() + stat.size(), value);
  return value;
}

}  // namespace

ExporterProcessCollector::ExporterProcessCollector()
    : boot_time_(BootTime()),
      ticks_per_second_(static_cast<double>(sysconf(_SC_CLK_TCK))),
      page_size_(static_cast<double>(sysconf(_SC_PAGESIZE))) {}

CollectResult ExporterProcessCollector::Collect(const CollectContext& /*context*/) {
  CollectResult result;
  using prometheus::MetricType;
  const auto add = [&result](const char* name, const char* help, MetricType type, double value) {
    result.families.push_back(MetricFamilyBuilder(name, help, type).Add(value).Build());
  };

  // /proc/self/stat: the command name may hold spaces, so fields are counted after its ')'.
  char buffer[1024];
  const std::string_view stat = ReadProcFile("/proc/self/stat", buffer, sizeof buffer);
  const size_t close_paren = stat.rfind(')');
  if (close_paren == std::string_view::npos) {
    result.error = "cannot read /proc/self/stat";
    return result;
  }
  // fields[i] is field number i + 3 of proc(5) (1 pid, 2 comm, 3 state, ...).
  double fields[22] = {};
  std::string_view rest = stat.substr(close_paren + 2);
  for (size_t index = 0; index < 22 && !rest.empty(); ++index) {
    const size_t space = rest.find(' ');
    const std::string_view token = rest.substr(0, space);
    std::from_chars(token.data(), token.data() + token.size(), fields[index]);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  const auto field = [&fields](size_t number) { return fields[number - 3]; };
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::Counter, (field(14) + field(15)) / ticks_per_second_);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
      field(23));
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
      field(24) * page_size_);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      MetricType::Gauge, boot_time_ + field(22) / ticks_per_second_);

  double open_fds = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++open_fds;
    }
    closedir(dir);
    --open_fds;  // the descriptor opendir itself holds
  }
  add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, open_fds);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
        static_cast<double>(limit.rlim_cur));
  }
  return result;
}

}  // namespace sidecar
