#include "collectors/system/exporter_process_collector.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>

#include "tests/support/families.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

std::map<std::string, double> Values(const CollectResult& result) {
  return testing::FirstValues(result.families);
}

TEST_CASE("process metrics describe this process", "[process]") {
  // A known, finite soft limit on open files (lowering it needs no privilege), restored after.
  // Linux never has an infinite RLIMIT_NOFILE (it is capped by fs.nr_open), so the collector's
  // branch that leaves process_max_fds out cannot be reached here.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit lowered = saved;
  lowered.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 1000);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  struct RestoreLimit {
    rlimit limit;
    ~RestoreLimit() { setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{saved};

  ExporterProcessCollector collector;
  auto before = Values(collector.Collect({}));
  REQUIRE(before.size() == 6);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(before["process_start_time_seconds"] > now - 3600);
  CHECK(before["process_start_time_seconds"] <= now + 1);
  CHECK(before["process_resident_memory_bytes"] > 1 << 20);
  CHECK(before["process_virtual_memory_bytes"] >= before["process_resident_memory_bytes"]);
  CHECK(before["process_max_fds"] == static_cast<double>(lowered.rlim_cur));

  // Opening descriptors shows up exactly.
  int fds[5];
  for (int& fd : fds) fd = open("/dev/null", O_RDONLY);
  auto after = Values(collector.Collect({}));
  for (int fd : fds) close(fd);
  CHECK(after["process_open_fds"] - before["process_open_fds"] == 5);

  // Burning CPU moves the CPU counter.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile unsigned spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  CHECK(Values(collector.Collect({}))["process_cpu_seconds_total"] >
        before["process_cpu_seconds_total"]);
}

TEST_CASE("the boot time is found beyond 16 KiB of /proc/stat", "[process]") {
  // Nodes with many CPUs and interrupts have a /proc/stat far larger than a page; btime comes
  // after the per-CPU and interrupt lines.
  testing::TempDir root;
  std::string stat = "cpu  1 2 3 4 5 6 7 8 9 10\n";
  for (int cpu = 0; cpu < 512; ++cpu) {
    stat += "cpu" + std::to_string(cpu) + " 11111 22222 33333 44444 55555 66 77 88 99 0\n";
  }
  stat += "intr " + std::string(20000, '0') + "\nctxt 1\nbtime 1700000000\nprocesses 5\n";
  REQUIRE(stat.size() > 32 * 1024);
  testing::WriteFile(root / "stat", stat);
  std::filesystem::create_directory_symlink("/proc/self", root / "self");
  ExporterProcessCollector collector(root.path());
  const double start = Values(collector.Collect({}))["process_start_time_seconds"];
  CHECK(start > 1700000000);
  CHECK(start < 1700000000 + 10 * 365 * 86400.0);
}

}  // namespace
}  // namespace sidecar
