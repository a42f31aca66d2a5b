// The process collector against a real nginx (master and workers), side by side with Debian's
// prometheus-process-exporter watching the same processes.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <thread>
#include <vector>

#include "re2/re2.h"
#include "tests/support/peers.h"

namespace sidecar::testing {
namespace {

// Matches the test's own nginx master by its config path (other nginx may run on the machine);
// its workers join as children, in both exporters.
std::string MasterPattern(const NginxServer& nginx) {
  return RE2::QuoteMeta((nginx.dir() / "nginx.conf").string());
}

std::string SidecarConfig(const NginxServer& nginx) {
  return "collectors:\n  - type: process\n    name: nginx\n    match: {cmdline: '" +
         MasterPattern(nginx) + "'}\n";
}

std::string ProcessExporterConfig(const NginxServer& nginx) {
  return "process_names:\n  - name: nginx\n    cmdline:\n      - '" + MasterPattern(nginx) + "'\n";
}

constexpr const char* kGroup = "{groupname=\"nginx\"}";

std::string Series(const std::string& name, const std::string& labels = "") {
  if (labels.empty()) return name + kGroup;
  // Both exporters write labels in name order.
  return name + "{" +
         (labels < "groupname" ? labels + ",groupname=\"nginx\"}"
                               : "groupname=\"nginx\"," + labels + "}");
}

TEST_CASE("process metrics equal prometheus-process-exporter's on a real nginx", "[e2e][process]") {
  REQUIRE_FALSE(FindExecutable("prometheus-process-exporter").empty());
  NginxServer nginx(/*worker_processes=*/3);
  // Both exporters start before nginx, so both count its processes from their start
  // (process-exporter counts processes it found at its own start only from then on).
  ExporterProcess exporter(SidecarConfig(nginx));
  ProcessExporterServer peer(ProcessExporterConfig(nginx));
  CHECK(exporter.Metrics()[Series("sidecar_process_up")] == 0);
  peer.Metrics();
  // process-exporter tells processes that started after it by their start time, which /proc
  // gives against the boot time in whole seconds (btime), off by up to a second and drifting
  // with uptime: nginx must start clearly later than the peer for the peer to see it so.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  nginx.Start();
  for (int i = 0; i < 200; ++i) REQUIRE(HttpGet(nginx.url("/")).status == 200);

  auto ours = exporter.Metrics();
  auto theirs = peer.Metrics();
  const double procs = ours[Series("namedprocess_namegroup_num_procs")];
  CHECK(procs == 4);
  CHECK(ours[Series("sidecar_process_up")] == 1);
  // Both readers look at live processes a moment apart: the proportional share of nginx's library
  // pages changes whenever any process on the machine maps or unmaps the same libraries (a busy CI
  // machine starts compilers all the time), a worker still finishing a request is Running for one
  // reader and Sleeping for the other, idle processes fault and switch a little. Every comparison
  // below must hold for one pair read back to back, so a pair that a change fell between is read
  // again, up to five times, and the last pair is checked.
  const auto state_series = [](const std::string& state) {
    return Series("namedprocess_namegroup_states", "state=\"" + state + "\"");
  };
  const std::vector<std::string> states = {"Running", "Sleeping", "Waiting", "Zombie", "Other"};
  const auto memory = [](auto& metrics, const std::string& memtype) {
    return metrics[Series("namedprocess_namegroup_memory_bytes", "memtype=\"" + memtype + "\"")];
  };
  const std::vector<std::string> memtypes = {"resident", "virtual", "proportionalResident"};
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  const auto cpu_series = [](const std::string& mode) {
    return Series("namedprocess_namegroup_cpu_seconds_total", "mode=\"" + mode + "\"");
  };
  const std::vector<std::string> exact = {Series("namedprocess_namegroup_num_procs"),
                                          Series("namedprocess_namegroup_num_threads"),
                                          Series("namedprocess_namegroup_open_filedesc"),
                                          Series("namedprocess_namegroup_read_bytes_total"),
                                          Series("namedprocess_namegroup_write_bytes_total"),
                                          Series("namedprocess_namegroup_major_page_faults_total")};
  const std::string minor_faults = Series("namedprocess_namegroup_minor_page_faults_total");
  const auto switches_series = [](const std::string& type) {
    return Series("namedprocess_namegroup_context_switches_total",
                  "ctxswitchtype=\"" + type + "\"");
  };
  // What the checks below assert, as one predicate for the re-read.
  const auto pair_agrees = [&] {
    for (const std::string& series : exact) {
      if (ours[series] != theirs[series]) return false;
    }
    for (const std::string& state : states) {
      if (ours[state_series(state)] != theirs[state_series(state)]) return false;
    }
    for (const std::string& memtype : memtypes) {
      if (memory(ours, memtype) != Approx(memory(theirs, memtype)).epsilon(0.03)) return false;
    }
    for (const std::string mode : {"user", "system"}) {
      if (std::abs(ours[cpu_series(mode)] - theirs[cpu_series(mode)]) > procs * tick + 1e-9)
        return false;
    }
    if (ours[minor_faults] != Approx(theirs[minor_faults]).margin(procs * 8)) return false;
    for (const std::string type : {"voluntary", "nonvoluntary"}) {
      if (ours[switches_series(type)] != Approx(theirs[switches_series(type)]).margin(procs * 4))
        return false;
    }
    return ours[Series("namedprocess_namegroup_worst_fd_ratio")] ==
           Approx(theirs[Series("namedprocess_namegroup_worst_fd_ratio")]);
  };
  int attempts = 1;
  for (; attempts < 5 && !pair_agrees(); ++attempts) {
    ours = exporter.Metrics();
    theirs = peer.Metrics();
  }
  INFO("pairs read: " << attempts);
  for (const std::string& series : exact) {
    INFO(series);
    CHECK(ours[series] == theirs[series]);
  }
  CHECK(ours[Series("namedprocess_namegroup_worst_fd_ratio")] ==
        Approx(theirs[Series("namedprocess_namegroup_worst_fd_ratio")]));
  CHECK(std::abs(ours[Series("namedprocess_namegroup_oldest_start_time_seconds")] -
                 theirs[Series("namedprocess_namegroup_oldest_start_time_seconds")]) < 1);
  for (const std::string& state : states) {
    INFO(state);
    CHECK(ours[state_series(state)] == theirs[state_series(state)]);
  }
  for (const std::string& memtype : memtypes) {
    INFO(memtype);
    CHECK(memory(ours, memtype) > 0);
    CHECK(memory(ours, memtype) == Approx(memory(theirs, memtype)).epsilon(0.03));
  }
  // CPU: within one clock tick per process (the two read /proc a moment apart).
  for (const std::string mode : {"user", "system"}) {
    INFO(cpu_series(mode) << " ours " << ours[cpu_series(mode)] << " theirs "
                          << theirs[cpu_series(mode)]);
    CHECK(std::abs(ours[cpu_series(mode)] - theirs[cpu_series(mode)]) <= procs * tick + 1e-9);
  }
  CHECK(ours[cpu_series("user")] + ours[cpu_series("system")] > 0);
  // Idle processes fault and switch a little between the two reads; a few per process.
  CHECK(ours[minor_faults] == Approx(theirs[minor_faults]).margin(procs * 8));
  for (const std::string type : {"voluntary", "nonvoluntary"}) {
    INFO(type);
    CHECK(ours[switches_series(type)] == Approx(theirs[switches_series(type)]).margin(procs * 4));
  }
  // Running as the same user as nginx, nothing is refused.
  CHECK(ours[Series("sidecar_process_permission_errors_total", "file=\"io\"")] == 0);
  CHECK(ours[Series("sidecar_process_permission_errors_total", "file=\"fd\"")] == 0);

  const HttpResult text = HttpGet(exporter.url("/metrics"));
  const PromtoolCheck check = CheckWithPromtool(text.body);
  INFO(check.output);
  CHECK(check.ok());
}

TEST_CASE("killing nginx's master and starting it again counts one restart", "[e2e][process]") {
  NginxServer nginx(/*worker_processes=*/2);
  nginx.Start();
  ExporterProcess exporter(SidecarConfig(nginx));
  auto before = exporter.Metrics();
  REQUIRE(before[Series("sidecar_process_up")] == 1);
  CHECK(before[Series("namedprocess_namegroup_num_procs")] == 3);
  CHECK(before[Series("sidecar_process_restarts_total")] == 0);

  // A reload replaces the workers, not the master: no restart.
  const std::vector<int> old_workers = nginx.worker_pids();
  kill(nginx.master_pid(), SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (nginx.worker_pids() == old_workers && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(nginx.worker_pids() != old_workers);
  CHECK(exporter.Metrics()[Series("sidecar_process_restarts_total")] == 0);

  nginx.Crash();
  auto down = exporter.Metrics();
  CHECK(down[Series("sidecar_process_up")] == 0);
  // Killed workers may linger as zombies until init reaps them: counted, but not up.
  CHECK(down[Series("namedprocess_namegroup_num_procs")] ==
        down[Series("namedprocess_namegroup_states", "state=\"Zombie\"")]);
  CHECK(down[Series("sidecar_process_restarts_total")] == 0);
  // Counters keep what the dead processes used.
  const std::string cpu = Series("namedprocess_namegroup_cpu_seconds_total", "mode=\"system\"");
  CHECK(down[cpu] >= before[cpu]);

  nginx.Start();
  auto after = exporter.Metrics();
  CHECK(after[Series("sidecar_process_up")] == 1);
  CHECK(after[Series("namedprocess_namegroup_num_procs")] -
            after[Series("namedprocess_namegroup_states", "state=\"Zombie\"")] ==
        3);
  CHECK(after[Series("sidecar_process_restarts_total")] == 1);
  CHECK(after[cpu] >= down[cpu]);
  CHECK(after[Series("namedprocess_namegroup_oldest_start_time_seconds")] >
        before[Series("namedprocess_namegroup_oldest_start_time_seconds")]);
  CHECK(exporter.Metrics()[Series("sidecar_process_restarts_total")] == 1);
}

TEST_CASE("without ptrace rights, refused reads are counted per file and their series left out",
          "[e2e][process]") {
  if (geteuid() != 0) {
    WARN("SKIP: needs root to run nginx and the exporter as different users");
    return;
  }
  NginxServer nginx(/*worker_processes=*/2);  // runs as root
  nginx.Start();
  ExporterProcess exporter(SidecarConfig(nginx), {},
                           {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  auto first = exporter.Metrics();
  CHECK(first[Series("sidecar_process_up")] == 1);
  CHECK(first[Series("namedprocess_namegroup_num_procs")] == 3);
  // stat and status are world-readable: CPU, memory and threads are there.
  CHECK(first[Series("namedprocess_namegroup_memory_bytes", "memtype=\"resident\"")] > 0);
  CHECK(first.count(Series("namedprocess_namegroup_cpu_seconds_total", "mode=\"user\"")) == 1);
  CHECK(first[Series("namedprocess_namegroup_num_threads")] == 3);
  // io, fd/ and smaps_rollup are not: no partial sums.
  CHECK(first.count(Series("namedprocess_namegroup_read_bytes_total")) == 0);
  CHECK(first.count(Series("namedprocess_namegroup_open_filedesc")) == 0);
  CHECK(first.count(Series("namedprocess_namegroup_memory_bytes",
                           "memtype=\"proportionalResident\"")) == 0);
  auto second = exporter.Metrics();
  for (const std::string file : {"io", "fd", "smaps_rollup"}) {
    const std::string series =
        Series("sidecar_process_permission_errors_total", "file=\"" + file + "\"");
    INFO(series);
    CHECK(first[series] == 3);  // once per process and scrape
    CHECK(second[series] == 6);
  }
  CHECK(second[Series("sidecar_process_permission_errors_total", "file=\"exe\"")] == 0);
}

}  // namespace
}  // namespace sidecar::testing
