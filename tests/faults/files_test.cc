// Log files and the position file going wrong under a running exporter: each time it keeps
// serving, says what is wrong on the status page and in sidecar_exporter_collector_success,
// recovers by itself once the fault is gone, and counts every line written exactly once.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/faults/faults.h"
#include "tests/support/mount.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLines = "sidecar_exporter_log_lines_read_total";
constexpr const char* kSuccess = "sidecar_exporter_collector_success{collector=\"web\"}";

std::string StatusPage(ExporterProcess& exporter) {
  const HttpResult page = HttpGet(exporter.url("/"));
  REQUIRE(page.status == 200);
  return page.body;
}

// Waits until the collector reports `error_part` (success 0 and the text on the status page).
void ExpectError(ExporterProcess& exporter, const std::string& error_part) {
  const auto metrics = ScrapeUntil(exporter, [&](const auto& m) {
    return m.contains(kSuccess) && m.at(kSuccess) == 0 &&
           StatusPage(exporter).find(error_part) != std::string::npos;
  });
  CHECK(metrics.at(kSuccess) == 0);
  CHECK_THAT(StatusPage(exporter), Catch::Contains(error_part));
  CHECK(HttpGet(exporter.url("/healthz")).status == 200);  // not a reason to restart us
}

// Waits until every written line is counted and the collector is fine again.
void ExpectRecoveredAndExact(ExporterProcess& exporter, std::uint64_t written) {
  const auto metrics = ScrapeUntil(exporter, [&](const auto& m) {
    return SumOf(m, kLines) >= static_cast<double>(written) && m.contains(kSuccess) &&
           m.at(kSuccess) == 1;
  });
  CHECK(SumOf(metrics, kLines) == static_cast<double>(written));
  CHECK(metrics.at(kSuccess) == 1);
}

TEST_CASE("the log directory is missing, then appears", "[faults][files]") {
  TempDir dir;
  const fs::path log = dir / "logs" / "access.log";
  ExporterProcess exporter("collectors:\n" + AccessLogConfig("web", log.string()));
  CHECK_THAT(StatusPage(exporter), Catch::Contains("waiting for the file"));
  CHECK(SumOf(exporter.Metrics(), kLines) == 0);
  fs::create_directory(dir / "logs");
  LineWriter writer(log, 20'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ExpectRecoveredAndExact(exporter, writer.Stop());
}

// The exporter's command prefix for permission faults. Root reads a mode-000 file anyway
// (CAP_DAC_OVERRIDE), so as root the exporter runs through setpriv without the two capabilities
// that bypass file permissions (dropped from its bounding and inheritable sets, so its exec does
// not get them back): still uid 0 and the owner of the test's files, but refused a file whose mode
// denies the owner, as a container's non-root user is. Not root: nothing to drop.
std::vector<std::string> WithoutPermissionOverride() {
  if (::geteuid() != 0) return {};
  return {"setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search", "--"};
}

TEST_CASE("a log file unreadable, then readable, and after a rotation unreadable again",
          "[faults][files]") {
  REQUIRE_FALSE(FindExecutable("setpriv").empty());
  TempDir dir;
  const fs::path log = dir / "access.log";
  const fs::path rotated = dir / "access.log.1";
  constexpr auto kReadable = fs::perms::owner_read | fs::perms::owner_write |
                             fs::perms::group_read | fs::perms::others_read;
  WriteFile(log, "");
  fs::permissions(log, fs::perms::none);
  ExporterProcess exporter(CountingConfig(log.string(), (dir / "positions").string()), {},
                           WithoutPermissionOverride());
  LineWriter writer(log, 20'000);  // the test itself keeps its rights: the writer writes
  ExpectError(exporter, "open: Permission denied");
  CHECK_THAT(StatusPage(exporter), Catch::Contains(log.string()));
  CHECK(SumOf(exporter.Metrics(), kLines) == 0);
  fs::permissions(log, kReadable);
  ScrapeUntil(exporter, [](const auto& m) {
    return SumOf(m, kLines) > 0 && m.contains(kSuccess) && m.at(kSuccess) == 1;
  });

  // A rotation (rename, atomically swapped with the new file) to a generation created unreadable:
  // the old one is read to its end, the new one waits for its mode to be fixed.
  WriteFile(rotated, "");
  fs::permissions(rotated, fs::perms::none);
  REQUIRE(::renameat2(AT_FDCWD, log.c_str(), AT_FDCWD, rotated.c_str(), RENAME_EXCHANGE) == 0);
  ExpectError(exporter, "open: Permission denied");
  fs::permissions(log, kReadable);
  ExpectRecoveredAndExact(exporter, writer.Stop());
  CHECK(fs::file_size(log) > 0);  // lines went to the new generation too
}

TEST_CASE("the log path is replaced by a directory, then by a file again", "[faults][files]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  WriteFile(log, "");
  ExporterProcess exporter("collectors:\n" + AccessLogConfig("web", log.string()));
  std::uint64_t written = 0;
  {
    LineWriter writer(log, 20'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    written += writer.Stop();
  }
  ExpectRecoveredAndExact(exporter, written);
  fs::remove(log);
  fs::create_directory(log);
  ExpectError(exporter, "not a regular file");
  fs::remove(log);
  LineWriter writer(log, 20'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  written += writer.Stop();
  ExpectRecoveredAndExact(exporter, written);
}

TEST_CASE("the log path is a symlink loop, then a file", "[faults][files]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  fs::create_symlink(dir / "loop.log", log);
  fs::create_symlink(log, dir / "loop.log");
  ExporterProcess exporter("collectors:\n" + AccessLogConfig("web", log.string()));
  ExpectError(exporter, "Too many levels of symbolic links");
  fs::remove(log);
  LineWriter writer(log, 20'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ExpectRecoveredAndExact(exporter, writer.Stop());
}

TEST_CASE("the position file's directory is read-only, then full, then fine", "[faults][files]") {
  if (::geteuid() != 0) {
    WARN("SKIP: mounting a tiny tmpfs needs root");
    return;
  }
  TempDir dir;
  const fs::path state = dir / "state";
  ScopedMount mount(state, "tmpfs", "size=64k");
  if (!mount.mounted()) {
    WARN("SKIP: cannot mount tmpfs here (no CAP_SYS_ADMIN)");
    return;
  }
  const fs::path log = dir / "access.log";
  const fs::path positions = state / "positions";
  const std::string config = CountingConfig(log.string(), positions.string());
  LineWriter writer(log, 20'000);
  auto exporter = std::make_unique<ExporterProcess>(config);
  ScrapeUntil(*exporter, [](const auto& m) { return SumOf(m, kLines) > 0; });

  REQUIRE(mount.Remount(/*read_only=*/true));
  ExpectError(*exporter, "Read-only file system");
  REQUIRE(mount.Remount(/*read_only=*/false));
  ScrapeUntil(*exporter, [](const auto& m) { return m.contains(kSuccess) && m.at(kSuccess) == 1; });

  {
    // Fill it up: a file as large as the tmpfs allows.
    std::ofstream filler(state / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), block.size())) {
    }
  }
  // Positions must change for a commit to be tried, which the writer sees to.
  ExpectError(*exporter, "No space left on device");
  fs::remove(state / "filler");
  ScrapeUntil(*exporter, [](const auto& m) { return m.contains(kSuccess) && m.at(kSuccess) == 1; });

  // Then killed and restarted: the committed positions are sound, nothing is counted twice.
  double seen = SumOf(exporter->Metrics(), kLines);  // this scrape commits
  exporter->process().Signal(SIGKILL);
  exporter->process().Wait(std::chrono::seconds(5));
  const std::uint64_t written = writer.Stop();
  exporter = std::make_unique<ExporterProcess>(config);
  const auto metrics = ScrapeUntil(*exporter, [&](const auto& m) {
    return seen + SumOf(m, kLines) >= static_cast<double>(written);
  });
  seen += SumOf(metrics, kLines);
  CHECK(seen == static_cast<double>(written));
  CHECK(metrics.at(kSuccess) == 1);
}

}  // namespace
}  // namespace sidecar::testing
