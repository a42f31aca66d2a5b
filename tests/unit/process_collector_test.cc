#include "collectors/system/process_collector.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>

#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

// A /proc tree in a temp dir, with processes written as tests need them.
class FakeProc {
 public:
  FakeProc() { testing::WriteFile(root_ / "stat", "cpu 1 2 3\nbtime 1700000000\n"); }
  const std::filesystem::path& root() const { return root_.path(); }

  // A process with `ticks` of user and of system time, started `start` ticks after boot.
  void Add(int pid, const std::string& comm, std::uint64_t start, std::uint64_t ticks, int ppid = 1,
           char state = 'S') {
    const std::filesystem::path dir = root_ / std::to_string(pid);
    std::filesystem::create_directories(dir / "fd");
    testing::WriteFile(dir / "stat", std::to_string(pid) + " (" + comm + ") " + state + " " +
                                         std::to_string(ppid) + " 1 1 0 -1 0 100 0 2 0 " +
                                         std::to_string(ticks) + " " + std::to_string(ticks) +
                                         " 0 0 20 0 1 0 " + std::to_string(start) +
                                         " 1000000 10 0\n");
    testing::WriteFile(dir / "status", "Name:\t" + comm +
                                           "\nVmSize:\t1000 kB\nVmSwap:\t0 kB\n"
                                           "voluntary_ctxt_switches:\t5\n"
                                           "nonvoluntary_ctxt_switches:\t1\n");
    testing::WriteFile(dir / "io", "read_bytes: 4096\nwrite_bytes: 1024\n");
    testing::WriteFile(dir / "limits", "Max open files            100     200     files\n");
    testing::WriteFile(dir / "cmdline", comm + std::string("\0--flag\0", 8));
    testing::WriteFile(dir / "fd" / "0", "");
    testing::WriteFile(dir / "fd" / "1", "");
  }
  void Remove(int pid) { std::filesystem::remove_all(root_ / std::to_string(pid)); }

 private:
  testing::TempDir root_;
};

std::map<std::string, double> Values(const CollectResult& result) {
  std::map<std::string, double> values;
  for (const auto& family : result.families) {
    for (const auto& metric : family.metric) {
      std::string key = family.name;
      for (const auto& label : metric.label) {
        if (label.name != "groupname") key += "/" + label.value;
      }
      values[key] = family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                   : metric.gauge.value;
    }
  }
  return values;
}

ProcessMatch ByComm(std::string comm) {
  ProcessMatch match;
  match.comm = std::move(comm);
  return match;
}

ProcessMatch ByCmdline(std::string regex) {
  ProcessMatch match;
  match.cmdline = std::move(regex);
  return match;
}

ProcessCollector Collector(const FakeProc& proc, ProcessMatch match) {
  ProcessOptions options;
  options.group_name = "web";
  options.match = std::move(match);
  options.proc_root = proc.root();
  return ProcessCollector(options);
}

TEST_CASE("a group sums its processes and their children", "[process]") {
  FakeProc proc;
  proc.Add(10, "nginx", 1000, 100);
  proc.Add(11, "nginx", 1001, 50, 10);
  proc.Add(12, "helper", 1002, 50, 11);  // a grandchild with another name
  proc.Add(20, "redis", 900, 7);
  ProcessCollector collector = Collector(proc, ByComm("nginx"));
  auto values = Values(collector.Collect({}));
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  CHECK(values["namedprocess_namegroup_num_procs"] == 3);
  CHECK(values["namedprocess_namegroup_cpu_seconds_total/user"] == Approx(200 * tick));
  CHECK(values["namedprocess_namegroup_read_bytes_total"] == 3 * 4096);
  CHECK(values["namedprocess_namegroup_open_filedesc"] == 6);
  CHECK(values["namedprocess_namegroup_worst_fd_ratio"] == Approx(0.02));
  CHECK(values["namedprocess_namegroup_context_switches_total/voluntary"] == 15);
  CHECK(values["namedprocess_namegroup_memory_bytes/virtual"] == 3e6);
  CHECK(values["namedprocess_namegroup_memory_bytes/resident"] == 30.0 * getpagesize());
  CHECK(values["namedprocess_namegroup_oldest_start_time_seconds"] ==
        Approx(1700000000 + 1000 * tick));
  CHECK(values["namedprocess_namegroup_states/Sleeping"] == 3);
  CHECK(values["sidecar_process_up"] == 1);

  ProcessCollector by_cmdline = Collector(proc, ByCmdline("^redis --flag$"));
  CHECK(Values(by_cmdline.Collect({}))["namedprocess_namegroup_num_procs"] == 1);
}

TEST_CASE("counters keep what exited processes used; restarts follow the oldest process",
          "[process]") {
  FakeProc proc;
  proc.Add(10, "app", 1000, 100);
  proc.Add(11, "app", 1001, 50, 10);
  ProcessCollector collector = Collector(proc, ByComm("app"));
  CHECK(Values(collector.Collect({}))["sidecar_process_restarts_total"] == 0);

  // A child exits and another is forked: no restart, nothing lost.
  proc.Remove(11);
  proc.Add(12, "app", 1500, 30, 10);
  auto values = Values(collector.Collect({}));
  CHECK(values["namedprocess_namegroup_minor_page_faults_total"] == 300);
  CHECK(values["namedprocess_namegroup_read_bytes_total"] == 3 * 4096);
  CHECK(values["sidecar_process_restarts_total"] == 0);

  // Everything goes: up 0, counters stay.
  proc.Remove(10);
  proc.Remove(12);
  values = Values(collector.Collect({}));
  CHECK(values["sidecar_process_up"] == 0);
  CHECK(values["namedprocess_namegroup_num_procs"] == 0);
  CHECK(values["namedprocess_namegroup_minor_page_faults_total"] == 300);
  CHECK(values.count("namedprocess_namegroup_oldest_start_time_seconds") == 0);

  // It comes back, with a pid reused from before: one restart.
  proc.Add(10, "app", 3000, 1);
  values = Values(collector.Collect({}));
  CHECK(values["sidecar_process_up"] == 1);
  CHECK(values["sidecar_process_restarts_total"] == 1);
  CHECK(values["namedprocess_namegroup_minor_page_faults_total"] == 400);
  CHECK(Values(collector.Collect({}))["sidecar_process_restarts_total"] == 1);

  // The main process dies, leaving a zombie: not up, and its replacement is a restart.
  proc.Add(10, "app", 3000, 1, 1, 'Z');
  values = Values(collector.Collect({}));
  CHECK(values["sidecar_process_up"] == 0);
  CHECK(values["namedprocess_namegroup_states/Zombie"] == 1);
  proc.Remove(10);
  proc.Add(13, "app", 4000, 1);
  CHECK(Values(collector.Collect({}))["sidecar_process_restarts_total"] == 2);
}

TEST_CASE("a process that vanishes half-read, or garbage in /proc, is skipped", "[process]") {
  FakeProc proc;
  proc.Add(10, "app", 1000, 100);
  proc.Add(11, "app", 1001, 100);
  std::filesystem::remove(proc.root() / "11" / "status");  // exited between stat and status
  proc.Add(12, "app", 1002, 100);
  testing::WriteFile(proc.root() / "12" / "stat", "12 (app) garbage\n");
  testing::WriteFile(proc.root() / "13", "not a directory");
  ProcessCollector collector = Collector(proc, ByComm("app"));
  const CollectResult result = collector.Collect({});
  CHECK_FALSE(result.error);
  CHECK(Values(result)["namedprocess_namegroup_num_procs"] == 1);
}

}  // namespace
}  // namespace sidecar
