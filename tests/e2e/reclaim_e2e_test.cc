// reclaim: punch_hole and type: volume against a real nginx writing its access log: the volume's
// used bytes while nginx writes hundreds of MB, exact counts, and our usage equal to du's.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "tests/support/mount.h"
#include "tests/support/peers.h"
#include "tests/support/process.h"

namespace sidecar::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTimedFormat =
    R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time)";
// Each request carries a User-Agent this long, so that each log line is about 7 KB and a few
// tens of thousands of requests write hundreds of MB (ab's requests are at most 8 KB).
constexpr std::size_t kAgentBytes = 7000;

double Value(const std::map<std::string, double>& metrics, const std::string& key) {
  const auto it = metrics.find(key);
  return it == metrics.end() ? -1 : it->second;
}

std::uint64_t FirstNumber(const std::vector<std::string>& argv) {
  const CommandResult result = RunCommand(argv);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  return std::stoull(result.output);
}

// What the kubelet sees of a volume that is its own file system: the blocks in use (statvfs).
std::uint64_t FilesystemUsedBytes(const fs::path& mount) {
  struct statvfs st {};
  REQUIRE(::statvfs(mount.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.f_blocks - st.f_bfree) * st.f_frsize;
}

std::uint64_t AllocatedBytes(const fs::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) * 512 : 0;
}

struct WriteRun {
  std::uint64_t requests = 0;             // sent by ab, each answered 200
  std::uint64_t log_bytes = 0;            // the access log's length at the end
  std::uint64_t max_log_allocated = 0;    // the log's allocated bytes, sampled while nginx wrote
  std::uint64_t max_volume_used = 0;      // the volume's used bytes (statvfs), sampled likewise
  double seconds = 0;                     // how long nginx took to write it
  std::map<std::string, double> metrics;  // once everything was counted and freed
  std::uint64_t du_bytes = 0;             // du -s -x -B1 of the volume, right before `metrics`
  std::uint64_t find_entries = 0;         // find | wc -l, likewise
};

// nginx writes `megabytes` of access log on `volume` (its logs directory, on its own file system
// when `volume_mounted`) while the exporter counts it with `reclaim` and measures the volume.
WriteRun NginxWrites(NginxServer& nginx, bool volume_mounted, const std::string& reclaim,
                     std::uint64_t megabytes) {
  const fs::path volume = nginx.dir() / "logs";
  const std::string log = nginx.access_log().string();
  ExporterProcess exporter(
      "collectors:\n"
      "  - type: access_log\n"
      "    name: web\n"
      "    paths: ['" +
      log + "']\n    log_format: '" + kTimedFormat +
      "'\n"
      "    position_file: " +
      (volume / ".positions").string() +
      "\n"
      "    poll_interval: 100ms\n"
      "    reclaim: " +
      reclaim +
      "\n"
      "  - type: volume\n"
      "    name: logs\n"
      "    path: " +
      volume.string() +
      "\n"
      "    limit: 512Mi\n"
      "    refresh: 0s\n");
  WriteRun run;
  const std::uint64_t line_bytes = kAgentBytes + 150;
  run.requests = megabytes * (1 << 20) / line_bytes;
  const auto start = std::chrono::steady_clock::now();
  ChildProcess ab({"ab", "-q", "-k", "-s", "10", "-c", "4", "-n", std::to_string(run.requests),
                   "-H", "User-Agent: " + std::string(kAgentBytes, 'a'), nginx.url("/status/200")},
                  nginx.dir() / "ab.log");
  // Scrapes commit positions, after which the tail thread frees what is behind them: scrape the
  // way a busy Prometheus would, and sample the volume meanwhile.
  const std::string counted_key =
      "accesslog_http_requests_total{collector=\"web\",method=\"GET\",status=\"200\"}";
  const auto sample = [&] {
    run.max_log_allocated = std::max(run.max_log_allocated, AllocatedBytes(log));
    if (volume_mounted) {
      run.max_volume_used = std::max(run.max_volume_used, FilesystemUsedBytes(volume));
    }
  };
  while (ab.Running() && std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
    exporter.Metrics();
    sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::optional<int> ab_exit = ab.Wait(std::chrono::seconds(1));
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(ab.Log());
  REQUIRE(ab_exit == 0);
  REQUIRE_THAT(ab.Log(), Catch::Contains("Failed requests:        0"));
  REQUIRE_THAT(ab.Log(),
               Catch::Contains("Complete requests:      " + std::to_string(run.requests)));
  run.log_bytes = fs::file_size(log);

  // Everything counted, then the last blocks freed: wait until two scrapes 300 ms apart agree.
  const std::string reclaimed_key =
      "sidecar_exporter_log_reclaimed_bytes_total{collector=\"web\",file=\"" + log + "\"}";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::map<std::string, double> previous;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::map<std::string, double> metrics = exporter.Metrics();
    sample();
    const bool settled = Value(metrics, counted_key) == static_cast<double>(run.requests) &&
                         Value(metrics, reclaimed_key) == Value(previous, reclaimed_key) &&
                         Value(metrics, "sidecar_volume_used_bytes{volume=\"logs\"}") ==
                             Value(previous, "sidecar_volume_used_bytes{volume=\"logs\"}");
    previous = std::move(metrics);
    if (settled || std::chrono::steady_clock::now() > deadline) break;
  }
  // du and find first, then the scrape whose walk they must equal (nothing writes in between).
  run.du_bytes = FirstNumber({"du", "-s", "-x", "-B1", volume.string()});
  run.find_entries = FirstNumber({"sh", "-c", "find \"$0\" | wc -l", volume.string()});
  run.metrics = exporter.Metrics();
  return run;
}

void Report(const std::string& what, const WriteRun& run) {
  WARN(what << ": nginx wrote " << run.log_bytes / (1 << 20) << " MB (" << run.requests
            << " requests) in " << run.seconds << " s; the log's allocated bytes at most "
            << run.max_log_allocated << ", the volume's used bytes at most " << run.max_volume_used
            << "; at the end du " << run.du_bytes << ", sidecar_volume_used_bytes "
            << Value(run.metrics, "sidecar_volume_used_bytes{volume=\"logs\"}"));
}

void CheckExactAndLikeDu(const WriteRun& run, const std::string& log) {
  CHECK(Value(run.metrics,
              "accesslog_http_requests_total{collector=\"web\",method=\"GET\",status=\"200\"}") ==
        static_cast<double>(run.requests));
  CHECK(Value(run.metrics, "sidecar_exporter_log_lines_read_total{collector=\"web\",file=\"" + log +
                               "\"}") == static_cast<double>(run.requests));
  CHECK(Value(run.metrics, "sidecar_exporter_log_parse_errors_total{collector=\"web\",file=\"" +
                               log + "\"}") == 0);
  CHECK(Value(run.metrics, "sidecar_volume_used_bytes{volume=\"logs\"}") ==
        static_cast<double>(run.du_bytes));
  CHECK(Value(run.metrics, "sidecar_volume_files{volume=\"logs\"}") ==
        static_cast<double>(run.find_entries));
  CHECK(Value(run.metrics, "sidecar_exporter_collector_success{collector=\"web\"}") == 1);
  CHECK(Value(run.metrics, "sidecar_exporter_collector_success{collector=\"logs\"}") == 1);
}

// The log volume: a tmpfs of its own (an emptyDir with medium: Memory) when this runs as root,
// else the temp dir's own file system.
struct LogVolume {
  explicit LogVolume(NginxServer& nginx)
      : mount(nginx.dir() / "logs", "tmpfs", "size=1g,mode=0755") {}
  ScopedMount mount;
};

// The log volume as an ext4 file system of its own, on a loop device over a sparse 512 MB image in
// nginx's directory, mounted with `discard` so that what ext4 frees is freed in the image too.
// Needs root, mkfs.ext4 and a free loop device; error() says what was missing.
class Ext4LogVolume {
 public:
  explicit Ext4LogVolume(NginxServer& nginx) : image_(nginx.dir() / "volume.ext4") {
    if (::geteuid() != 0) {
      error_ = "mounting an ext4 image on a loop device needs root";
      return;
    }
    if (FindExecutable("mkfs.ext4").empty()) {
      error_ = "mkfs.ext4 not installed";
      return;
    }
    { std::ofstream create(image_); }
    fs::resize_file(image_, 512u << 20);  // sparse
    const CommandResult mkfs = RunCommand(
        {"mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", image_.string()});
    if (mkfs.exit_code != 0) {
      error_ = "mkfs.ext4: " + mkfs.output;
      return;
    }
    mount_.emplace(nginx.dir() / "logs", "ext4", "discard", image_.string());
    if (!mount_->mounted()) error_ = mount_->error();
  }
  bool mounted() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const fs::path& image() const { return image_; }

 private:
  fs::path image_;
  std::string error_;
  std::optional<ScopedMount> mount_;
};

// The checks of a punch_hole run: the counts exact and the usage du's, the log and the volume
// (above `volume_used_before`, what the empty file system used) under `peak_bound` while nginx
// wrote, every byte read freed, no failure.
void CheckPunched(const WriteRun& run, const std::string& log, bool volume_mounted,
                  std::uint64_t volume_used_before, std::uint64_t peak_bound) {
  CHECK(run.log_bytes >= 250u << 20);
  CheckExactAndLikeDu(run, log);
  // The peak is how far the exporter falls behind nginx writing 50-80 MB/s: a throughput bound,
  // like the resident-memory bounds not checked when the exporter is sanitised (ThreadSanitizer
  // reads several times slower and peaked at 224 MB here; the ASan build kept up). Everything
  // else is checked there too.
  if (ExporterIsSanitized()) {
    WARN("peak bound not checked under a sanitizer (a throughput bound); peak "
         << run.max_log_allocated << " bytes");
  } else {
    CHECK(run.max_log_allocated < peak_bound);
    if (volume_mounted) CHECK(run.max_volume_used - volume_used_before < peak_bound);
  }
  CHECK(run.du_bytes < 1u << 20);
  const double reclaimed =
      Value(run.metrics,
            "sidecar_exporter_log_reclaimed_bytes_total{collector=\"web\",file=\"" + log + "\"}");
  CHECK(reclaimed > static_cast<double>(run.log_bytes - (1 << 20)));
  CHECK(reclaimed <= static_cast<double>(run.log_bytes));
  for (const char* reason : {"unsupported", "permission", "error"}) {
    CHECK(
        Value(run.metrics, "sidecar_exporter_log_reclaim_failures_total{collector=\"web\",file=\"" +
                               log + "\",reason=\"" + reason + "\"}") == 0);
  }
}

TEST_CASE("reclaim: punch_hole keeps nginx's log volume small while nginx writes 256 MB",
          "[e2e][reclaim]") {
  NginxServer nginx;
  // Lines with a 7 KB header: nginx's default header buffers (8 KB for the whole request line and
  // header) are tight.
  nginx.AddHttpConfig("large_client_header_buffers 4 32k;");
  const LogVolume volume(nginx);
  nginx.Start();
  if (!volume.mount.mounted()) {
    WARN("no tmpfs of its own (" << volume.mount.error() << "): the temp dir's file system");
  }
  const std::string log = nginx.access_log().string();
  const std::uint64_t used_before = FilesystemUsedBytes(nginx.dir() / "logs");
  const WriteRun run = NginxWrites(nginx, volume.mount.mounted(), "punch_hole", 256);
  Report("reclaim: punch_hole", run);
  if (Value(run.metrics, "sidecar_exporter_log_reclaim_failures_total{collector=\"web\",file=\"" +
                             log + "\",reason=\"unsupported\"}") == 1) {
    WARN("SKIP: the temp dir's file system cannot punch holes and no tmpfs could be mounted");
    nginx.Stop();
    return;
  }
  // The file keeps its length; what occupies the volume is what nginx wrote since the last
  // scrape's commit (a scrape every ~20 ms here, nginx writing 50-80 MB/s: 8-11 MB measured on
  // the 2-core CI machine; the bound leaves room for a slow scrape on a loaded machine).
  CheckPunched(run, log, volume.mount.mounted(), used_before, 32u << 20);
  nginx.Stop();
}

TEST_CASE("reclaim: punch_hole on an ext4 volume (loop device) while nginx writes 256 MB",
          "[e2e][reclaim]") {
  NginxServer nginx;
  nginx.AddHttpConfig("large_client_header_buffers 4 32k;");
  const Ext4LogVolume volume(nginx);
  if (!volume.mounted()) {
    WARN("SKIP: no ext4 volume: " << volume.error());
    return;
  }
  nginx.Start();
  const std::string log = nginx.access_log().string();
  // An empty ext4 already uses blocks (journal, inode tables, lost+found).
  const std::uint64_t used_before = FilesystemUsedBytes(nginx.dir() / "logs");
  const WriteRun run = NginxWrites(nginx, /*volume_mounted=*/true, "punch_hole", 256);
  Report("reclaim: punch_hole on ext4", run);
  WARN("ext4: " << used_before << " bytes used when empty; the image file allocates "
                << AllocatedBytes(volume.image()) << " bytes at the end");
  // ext4 writes a range's dirty pages back before it punches it (ext4_punch_hole), so each punch
  // waits for the loop device and the tail loop falls further behind nginx than on tmpfs: peaks
  // of 22-34 MB measured alone on the 2-core CI machine at load 7-12, 60-98 MB with the tmpfs
  // test running beside it. The bound is half of what nginx writes: without reclaim the log
  // occupies all of it.
  CheckPunched(run, log, /*volume_mounted=*/true, used_before, 128u << 20);
  nginx.Stop();
}

TEST_CASE("volume: usage of nginx's log volume equals du's and find's while nginx writes 256 MB",
          "[e2e][volume]") {
  NginxServer nginx;
  nginx.AddHttpConfig("large_client_header_buffers 4 32k;");
  const LogVolume volume(nginx);
  nginx.Start();
  const std::string log = nginx.access_log().string();
  const WriteRun run = NginxWrites(nginx, volume.mount.mounted(), "none", 256);
  Report("reclaim: none", run);
  CheckExactAndLikeDu(run, log);
  // Without reclaim the log occupies what it holds.
  CHECK(run.du_bytes >= run.log_bytes);
  CHECK(Value(run.metrics, "sidecar_volume_limit_bytes{volume=\"logs\"}") == 512.0 * (1 << 20));
  CHECK(run.metrics.count("sidecar_exporter_log_reclaimed_bytes_total{collector=\"web\",file=\"" +
                          log + "\"}") == 0);
  nginx.Stop();
}

// Peak resident memory of a process (VmHWM), in bytes.
std::uint64_t PeakRssBytes(int pid) { return ProcStatusKib(pid, "VmHWM") * 1024ull; }

// `levels` nested directories, each holding `files_per_level` empty files, made relative to
// open descriptors.
void MakeDeepTree(const fs::path& root, int levels, std::uint64_t files_per_level) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  for (int level = 0; level < levels; ++level) {
    std::uint64_t made = 0;
    for (std::uint64_t i = 0; i < files_per_level; ++i) {
      const int file =
          ::openat(fd, std::to_string(i).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      made += file >= 0 ? 1 : 0;
      ::close(file);
    }
    REQUIRE(made == files_per_level);
    REQUIRE(::mkdirat(fd, "level", 0755) == 0);
    const int child = ::openat(fd, "level", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    REQUIRE(child >= 0);
    fd = child;
  }
  ::close(fd);
}

TEST_CASE(
    "volume: a deep tree of 200k (or 1M) entries: every walk is bounded in time and memory, "
    "and says so",
    "[e2e][volume]") {
  // 200k entries by default, SIDECAR_VOLUME_TEST_ENTRIES=1000000 for the full million: on the
  // 2-core CI machine, busy, making a million files, walking them and running du and find on
  // them takes minutes (the full walk alone 14 s, du 30 s). The bounds checked do not depend on
  // the size: the time- and count-bound walks stop long before the end of any tree over 100k
  // entries, and the walker's memory grows with the depth (one descriptor per level) and the
  // hard-linked inodes, never with the number of entries, so a flat peak RSS over 200k entries
  // is the same proof as over a million.
  const char* configured = std::getenv("SIDECAR_VOLUME_TEST_ENTRIES");
  const std::uint64_t entries = configured != nullptr ? std::stoull(configured) : 200'000;
  REQUIRE(entries >= 200'000);
  TempDir dir;
  // A tmpfs of its own fills in seconds and is dropped at once; else the temp dir's file system.
  ScopedMount mount(dir / "tree", "tmpfs", "size=1g,nr_inodes=4m");
  const fs::path tree = dir / "tree";
  constexpr int kLevels = 100;
  const auto start = std::chrono::steady_clock::now();
  MakeDeepTree(tree, kLevels, entries / kLevels - 1);  // files and the level's directory
  const double made_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ExporterProcess exporter(
      "global: {timeout: 60s}\ncollectors:\n"
      "  - {type: volume, name: timed, path: " +
      tree.string() +
      ", max_walk_time: 300ms, max_entries: 100000000}\n"
      "  - {type: volume, name: counted, path: " +
      tree.string() +
      ", max_walk_time: 60s, max_entries: 100000}\n"
      "  - {type: volume, name: full, path: " +
      tree.string() + ", max_walk_time: 60s, max_entries: 2000000}\n");
  const std::uint64_t rss_before = PeakRssBytes(exporter.process().pid());
  const auto scraped = std::chrono::steady_clock::now();
  const HttpResult scrape = HttpGet(exporter.url("/metrics"), {}, "GET", std::chrono::seconds(120));
  REQUIRE(scrape.status == 200);
  const std::map<std::string, double> metrics = ParseMetrics(scrape.body);
  const double scrape_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - scraped).count();
  const std::uint64_t rss_after = PeakRssBytes(exporter.process().pid());
  const std::uint64_t du_bytes = FirstNumber({"du", "-s", "-x", "-B1", tree.string()});
  const std::uint64_t find_entries =
      FirstNumber({"sh", "-c", "find \"$0\" | wc -l", tree.string()});
  WARN(entries << " entries " << kLevels << " levels deep made in " << made_seconds
               << " s; one scrape of the three walks took " << scrape_seconds
               << " s; the exporter's peak RSS went from " << rss_before << " to " << rss_after
               << " bytes; the time-bound walk took "
               << Value(metrics, "sidecar_exporter_collector_duration_seconds{collector=\"timed\"}")
               << " s, the full walk "
               << Value(metrics, "sidecar_exporter_collector_duration_seconds{collector=\"full\"}")
               << " s");

  // Cut by time: a lower bound, counted, and the reason on the status page.
  CHECK(Value(metrics, "sidecar_exporter_collector_success{collector=\"timed\"}") == 0);
  CHECK(Value(metrics, "sidecar_volume_walks_truncated_total{volume=\"timed\"}") == 1);
  CHECK(Value(metrics, "sidecar_exporter_collector_duration_seconds{collector=\"timed\"}") < 1.5);
  CHECK(Value(metrics, "sidecar_volume_files{volume=\"timed\"}") <
        static_cast<double>(find_entries));
  // Cut by count.
  CHECK(Value(metrics, "sidecar_exporter_collector_success{collector=\"counted\"}") == 0);
  CHECK(Value(metrics, "sidecar_volume_walks_truncated_total{volume=\"counted\"}") == 1);
  CHECK(Value(metrics, "sidecar_volume_files{volume=\"counted\"}") <= 100'001);
  const std::string page = HttpGet(exporter.url("/")).body;
  CHECK_THAT(page, Catch::Contains("stopped after 100000 entries (max_entries); usage is a lower "
                                   "bound"));
  CHECK_THAT(page, Catch::Contains("entries at the time limit (max_walk_time); usage is a lower "
                                   "bound"));
  // Walked whole: what du and find say.
  CHECK(Value(metrics, "sidecar_exporter_collector_success{collector=\"full\"}") == 1);
  CHECK(Value(metrics, "sidecar_volume_used_bytes{volume=\"full\"}") ==
        static_cast<double>(du_bytes));
  CHECK(Value(metrics, "sidecar_volume_files{volume=\"full\"}") ==
        static_cast<double>(find_entries));
  CHECK(find_entries == entries + 1);
  // Three walks over a million entries cost the exporter less than 4 MB at their peak. Not under
  // a sanitizer: ThreadSanitizer's shadow memory grows with every byte the walks touch.
  if (ExporterIsSanitized()) {
    WARN("peak resident-memory bound not checked under a sanitizer (its shadow memory)");
  } else {
    CHECK(rss_after - rss_before < 4u << 20);
  }
}

}  // namespace
}  // namespace sidecar::testing
