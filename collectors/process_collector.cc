#include "collectors/process_collector.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "collectors/metric_family_builder.h"

namespace sidecar {
namespace {

std::string ReadWhole(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Seconds since the epoch at which the system booted, from /proc/stat's btime.
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double value = 0;
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

ProcessCollector::ProcessCollector(std::filesystem::path proc_dir)
    : proc_dir_(std::move(proc_dir)), boot_time_(BootTime()) {}

CollectResult ProcessCollector::Collect(const CollectContext& /*context*/) {
  CollectResult result;
  using prometheus::MetricType;
  const auto add = [&result](std::string name, std::string help, MetricType type, double value) {
    result.families.push_back(MetricFamilyBuilder(std::move(name), std::move(help), type)
                                  .Add(value)
                                  .Build());
  };

  // /proc/<pid>/stat: the command name may hold spaces, so fields are counted after its ')'.
  const std::string stat = ReadWhole(proc_dir_ / "stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    result.error = "cannot read " + (proc_dir_ / "stat").string();
    return result;
  }
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> values;
  for (std::string value; fields >> value;) values.push_back(value);
  // Field numbers as in proc(5), minus 3 for pid, comm and state's position.
  const auto field = [&values](size_t number) -> double {
    const size_t index = number - 3;
    return index < values.size() ? std::stod(values[index]) : 0.0;
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::Counter, (field(14) + field(15)) / ticks);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
      field(23));
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
      field(24) * page_size);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      MetricType::Gauge, boot_time_ + field(22) / ticks);

  std::error_code error;
  double open_fds = 0;
  for (auto it = std::filesystem::directory_iterator(proc_dir_ / "fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++open_fds;
  }
  add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, open_fds);

  std::ifstream limits(proc_dir_ / "limits");
  for (std::string line; std::getline(limits, line);) {
    if (line.starts_with("Max open files")) {
      std::istringstream words(line.substr(sizeof("Max open files") - 1));
      std::string soft;
      words >> soft;
      const double max_fds = soft == "unlimited" ? 0 : std::stod(soft);
      add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
          max_fds);
    }
  }
  return result;
}

}  // namespace sidecar
