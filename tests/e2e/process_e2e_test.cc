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
  CHECK(theirs[Series("namedprocess_namegroup_num_procs")] == procs);
  CHECK(ours[Series("namedprocess_namegroup_num_threads")] ==
        theirs[Series("namedprocess_namegroup_num_threads")]);
  CHECK(ours[Series("namedprocess_namegroup_open_filedesc")] ==
        theirs[Series("namedprocess_namegroup_open_filedesc")]);
  CHECK(ours[Series("namedprocess_namegroup_worst_fd_ratio")] ==
        Approx(theirs[Series("namedprocess_namegroup_worst_fd_ratio")]));
  CHECK(std::abs(ours[Series("namedprocess_namegroup_oldest_start_time_seconds")] -
                 theirs[Series("namedprocess_namegroup_oldest_start_time_seconds")]) < 1);
  // Memory and states move under both readers: the proportional share of nginx's library pages
  // changes whenever any process on the machine maps or unmaps the same libraries (a busy CI
  // machine starts compilers all the time), and a worker still finishing a request is Running for
  // one reader and Sleeping for the other. The two must agree when read back to back, so a pair
  // that a change fell between is read again, up to five times.
  const auto state_series = [](const std::string& state) {
    return Series("namedprocess_namegroup_states", "state=\"" + state + "\"");
  };
  const std::vector<std::string> states = {"Running", "Sleeping", "Waiting", "Zombie", "Other"};
  const auto states_agree = [&] {
    for (const std::string& state : states) {
      if (ours[state_series(state)] != theirs[state_series(state)]) return false;
    }
    return true;
  };
  const auto memory = [](auto& metrics, const std::string& memtype) {
    return metrics[Series("namedprocess_namegroup_memory_bytes", "memtype=\"" + memtype + "\"")];
  };
  const auto memory_agrees = [&] {
    for (const std::string memtype : {"resident", "virtual", "proportionalResident"}) {
      if (memory(ours, memtype) != Approx(memory(theirs, memtype)).epsilon(0.03)) return false;
    }
    return true;
  };
  for (int attempt = 1; attempt < 5 && !(memory_agrees() && states_agree()); ++attempt) {
    ours = exporter.Metrics();
    theirs = peer.Metrics();
  }
  for (const std::string& state : states) {
    CHECK(ours[state_series(state)] == theirs[state_series(state)]);
  }
  for (const std::string memtype : {"resident", "virtual", "proportionalResident"}) {
    INFO(memtype);
    CHECK(memory(ours, memtype) > 0);
    CHECK(memory(ours, memtype) == Approx(memory(theirs, memtype)).epsilon(0.03));
  }
  // CPU: within one clock tick per process (the two read /proc a moment apart).
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const std::string mode : {"user", "system"}) {
    const std::string series =
        Series("namedprocess_namegroup_cpu_seconds_total", "mode=\"" + mode + "\"");
    INFO(series << " ours " << ours[series] << " theirs " << theirs[series]);
    CHECK(std::abs(ours[series] - theirs[series]) <= procs * tick + 1e-9);
  }
  CHECK(ours[Series("namedprocess_namegroup_cpu_seconds_total", "mode=\"user\"")] +
            ours[Series("namedprocess_namegroup_cpu_seconds_total", "mode=\"system\"")] >
        0);
  for (const std::string name :
       {"namedprocess_namegroup_read_bytes_total", "namedprocess_namegroup_write_bytes_total",
        "namedprocess_namegroup_major_page_faults_total"}) {
    CHECK(ours[Series(name)] == theirs[Series(name)]);
  }
  // Idle processes fault and switch a little between the two reads; a few per process.
  CHECK(ours[Series("namedprocess_namegroup_minor_page_faults_total")] ==
        Approx(theirs[Series("namedprocess_namegroup_minor_page_faults_total")]).margin(procs * 8));
  for (const std::string type : {"voluntary", "nonvoluntary"}) {
    const std::string series =
        Series("namedprocess_namegroup_context_switches_total", "ctxswitchtype=\"" + type + "\"");
    CHECK(ours[series] == Approx(theirs[series]).margin(procs * 4));
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
