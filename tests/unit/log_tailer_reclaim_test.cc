// reclaim: punch_hole in the tailer: which blocks are freed when, and what reads the file after.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "collectors/logs/log_tailer.h"
#include "tests/support/mount.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

namespace fs = std::filesystem;
using testing::AppendFile;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr std::size_t kLineBytes = 100;

// Lines `first` .. `first + count - 1`, kLineBytes each with their '\n'.
std::string Numbered(int first, int count) {
  std::string text;
  for (int i = first; i < first + count; ++i) {
    char line[kLineBytes + 1];
    std::snprintf(line, sizeof line, "line %06d %s\n", i,
                  std::string(kLineBytes - 13, 'x').c_str());
    text += line;
  }
  return text;
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

std::vector<std::string> Poll(LogTailer& tailer) {
  std::vector<std::string> lines;
  tailer.Poll([&lines](std::string_view, std::string_view line) { lines.emplace_back(line); });
  return lines;
}

TailedFileStats Stats(const LogTailer& tailer) {
  const std::vector<TailedFileStats> stats = tailer.Stats();
  REQUIRE(stats.size() == 1);
  return stats[0];
}

LogTailerOptions ReclaimOptions(const fs::path& log) {
  LogTailerOptions options;
  options.paths = {log.string()};
  options.reclaim = LogReclaim::kPunchHole;
  return options;
}

struct stat Stat(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st;
}

// Whether the file system of `dir` can punch holes (ext4, xfs, btrfs and tmpfs can).
bool CanPunchHoles(const fs::path& dir) {
  const fs::path probe = dir / "punch-probe";
  WriteFile(probe, std::string(16384, 'p'));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CLOEXEC);
  const bool punched =
      fd >= 0 && ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8192) == 0;
  if (fd >= 0) ::close(fd);
  fs::remove(probe);
  return punched;
}

TEST_CASE("reclaim frees the whole blocks before a committed mark, and reading goes on",
          "[tailer][reclaim]") {
  TempDir dir;
  if (!CanPunchHoles(dir.path())) {
    WARN("SKIP: the temp dir's file system cannot punch holes");
    return;
  }
  const fs::path log = dir / "access.log";
  LogTailer tailer(ReclaimOptions(log));
  WriteFile(log, Numbered(0, 1000));
  CHECK(Poll(tailer).size() == 1000);
  const std::vector<ReclaimMark> marks = tailer.ReclaimMarks();
  REQUIRE(marks.size() == 1);
  CHECK(marks[0].path == log.string());
  CHECK(marks[0].offset == 1000 * kLineBytes);
  // Read further than the mark: only what is before the mark may go.
  AppendFile(log, Numbered(1000, 1000));
  CHECK(Poll(tailer).size() == 1000);
  const std::uint64_t allocated_before = Stat(log).st_blocks * 512ull;
  const auto block = static_cast<std::uint64_t>(Stat(log).st_blksize);
  const std::uint64_t punched = 1000 * kLineBytes / block * block;
  REQUIRE(punched > 0);

  tailer.Reclaim(marks);
  CHECK(Poll(tailer).empty());
  TailedFileStats stats = Stats(tailer);
  CHECK(stats.reclaimed_bytes == punched);
  CHECK(stats.reclaim_error.empty());
  CHECK(stats.reclaim_unsupported + stats.reclaim_permission + stats.reclaim_errors == 0);
  // Same size and offsets; the blocks are gone; what was before the mark reads as zeros.
  CHECK(fs::file_size(log) == 2000 * kLineBytes);
  CHECK(Stat(log).st_blocks * 512ull + punched <= allocated_before);
  const std::string content = ReadFile(log);
  CHECK(content.substr(0, punched) == std::string(punched, '\0'));
  CHECK(content.substr(punched) == Numbered(0, 2000).substr(punched));

  // The writer appends on; the zeros at the start are not taken for a truncation.
  AppendFile(log, Numbered(2000, 3));
  CHECK(Poll(tailer) == Split(Numbered(2000, 3)));
  stats = Stats(tailer);
  CHECK(stats.truncations == 0);
  CHECK(stats.lines == 2003);
  // A later mark frees only what was not freed yet.
  tailer.Reclaim(tailer.ReclaimMarks());
  CHECK(Poll(tailer).empty());
  CHECK(Stats(tailer).reclaimed_bytes == 2003 * kLineBytes / block * block);
  // Without kPunchHole there are no marks and nothing is punched.
  LogTailerOptions plain = ReclaimOptions(log);
  plain.reclaim = LogReclaim::kNone;
  LogTailer no_reclaim(plain);
  CHECK(no_reclaim.ReclaimMarks().empty());
}

TEST_CASE("reclaim never punches a file truncated since its mark", "[tailer][reclaim]") {
  TempDir dir;
  if (!CanPunchHoles(dir.path())) {
    WARN("SKIP: the temp dir's file system cannot punch holes");
    return;
  }
  const fs::path log = dir / "access.log";
  LogTailer tailer(ReclaimOptions(log));
  WriteFile(log, Numbered(0, 1000));
  CHECK(Poll(tailer).size() == 1000);
  const std::vector<ReclaimMark> marks = tailer.ReclaimMarks();
  // copytruncate (no copy kept) and new lines past the mark, before the tailer has seen it.
  fs::resize_file(log, 0);
  AppendFile(log, Numbered(5000, 1500));
  tailer.Reclaim(marks);
  CHECK(Poll(tailer) == Split(Numbered(5000, 1500)));
  CHECK(Stats(tailer).truncations == 1);
  CHECK(Stats(tailer).reclaimed_bytes == 0);
  CHECK(ReadFile(log) == Numbered(5000, 1500));
  // Once the truncation is seen, the old generation's marks are stale.
  tailer.Reclaim(marks);
  CHECK(Poll(tailer).empty());
  CHECK(Stats(tailer).reclaimed_bytes == 0);
  CHECK(ReadFile(log) == Numbered(5000, 1500));
}

TEST_CASE("a punched file after a restart, from its start, and through copytruncate's copy",
          "[tailer][reclaim]") {
  TempDir dir;
  if (!CanPunchHoles(dir.path())) {
    WARN("SKIP: the temp dir's file system cannot punch holes");
    return;
  }
  const fs::path log = dir / "access.log";
  LogTailerOptions options = ReclaimOptions(log);
  options.position_file = (dir / "positions").string();
  options.autosave_positions = false;  // committed by hand, as the collectors do
  const auto block = [&log] { return static_cast<std::uint64_t>(Stat(log).st_blksize); };
  std::uint64_t punched = 0;
  {
    LogTailer tailer(options);
    WriteFile(log, Numbered(0, 1000));
    CHECK(Poll(tailer).size() == 1000);
    const std::vector<FilePosition> positions = tailer.Positions();
    std::vector<ReclaimMark> marks = tailer.ReclaimMarks();
    REQUIRE(tailer.CommitPositions(positions));
    tailer.Reclaim(std::move(marks));
    AppendFile(log, Numbered(1000, 5));
    CHECK(Poll(tailer) == Split(Numbered(1000, 5)));  // read, never committed: then a crash
    punched = Stats(tailer).reclaimed_bytes;
    CHECK(punched == 1000 * kLineBytes / block() * block());
  }
  {
    // The position file's fingerprint holds the first bytes as they were; the file now starts
    // with zeros, and is still the same file: resumed at the committed offset.
    LogTailer tailer(options);
    CHECK(Poll(tailer) == Split(Numbered(1000, 5)));
    CHECK(Stats(tailer).truncations == 0);
    // Found punched at open: not counted as reclaimed again.
    tailer.Reclaim(tailer.ReclaimMarks());
    Poll(tailer);
    CHECK(Stats(tailer).reclaimed_bytes == 1005 * kLineBytes / block() * block() - punched);
  }
  punched = 1005 * kLineBytes / block() * block();
  {
    // Read from the start without positions: the hole and the line it cuts are skipped, no
    // zeros come out as a line.
    LogTailerOptions from_start = ReclaimOptions(log);
    from_start.from_beginning = true;
    LogTailer tailer(from_start);
    const int first = static_cast<int>(punched / kLineBytes) + 1;
    CHECK(Poll(tailer) == Split(Numbered(first, 1005 - first)));
    CHECK(Stats(tailer).lines_too_long == 0);
  }
  {
    // copytruncate of a punched file: logrotate's copy holds zeros where the blocks were freed
    // (as data or as holes); the tailer still knows it by its start and reads the unread rest
    // from it, past the punched part.
    LogTailer tailer(options);
    CHECK(Poll(tailer) == Split(Numbered(1000, 5)));
    REQUIRE(tailer.CommitPositions(tailer.Positions()));
    AppendFile(log, Numbered(1005, 5));
    fs::copy_file(log, dir / "access.log.1");
    fs::resize_file(log, 0);
    AppendFile(log, Numbered(2000, 3));
    std::vector<std::string> expected = Split(Numbered(1005, 5));
    for (const std::string& line : Split(Numbered(2000, 3))) expected.push_back(line);
    CHECK(Poll(tailer) == expected);
    CHECK(Stats(tailer).truncations == 1);
    CHECK(Stats(tailer).truncations_without_copy == 0);
    // The copy's first bytes are zeros: nothing else can read the freed lines there either.
    CHECK(ReadFile(dir / "access.log.1").substr(0, punched) == std::string(punched, '\0'));
  }
}

TEST_CASE("reclaim on a file system without hole punching: one error, counted once per file",
          "[tailer][reclaim]") {
  TempDir dir;
  if (::geteuid() != 0) {
    WARN("SKIP: mounting ramfs (which cannot punch holes) needs root");
    return;
  }
  testing::ScopedMount ramfs(dir / "ramfs", "ramfs");
  if (!ramfs.mounted()) {
    WARN("SKIP: " << ramfs.error());
    return;
  }
  const fs::path log = dir / "ramfs" / "access.log";
  LogTailer tailer(ReclaimOptions(log));
  for (int round = 0; round < 3; ++round) {
    AppendFile(log, Numbered(round * 100, 100));
    CHECK(Poll(tailer) == Split(Numbered(round * 100, 100)));
    tailer.Reclaim(tailer.ReclaimMarks());
  }
  CHECK(Poll(tailer).empty());
  const TailedFileStats stats = Stats(tailer);
  CHECK(stats.reclaim_unsupported == 1);
  CHECK(stats.reclaim_permission + stats.reclaim_errors == 0);
  CHECK(stats.reclaimed_bytes == 0);
  CHECK(stats.reclaim_error ==
        "reclaim: the filesystem cannot punch holes (fallocate: Operation not supported); the "
        "file's blocks are not freed");
  CHECK(stats.lines == 300);
  CHECK(ReadFile(log) == Numbered(0, 300));
}

TEST_CASE("reclaim of a file the sidecar may not write: one error, counted once",
          "[tailer][reclaim]") {
  TempDir dir;
  if (::geteuid() != 0) {
    WARN("SKIP: needs root to make a file another user cannot write");
    return;
  }
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  const fs::path log = dir / "access.log";
  WriteFile(log, Numbered(0, 1000));  // root's, 0644: nobody may read it, not write it
  fs::permissions(log, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read);
  // As nobody, in a child process; the result says which step failed.
  const std::optional<int> failed_step = testing::RunAsNobody([&] {
    LogTailerOptions options = ReclaimOptions(log);
    options.from_beginning = true;
    LogTailer tailer(options);
    if (Poll(tailer).size() != 1000) return 10;
    for (int round = 0; round < 3; ++round) {
      tailer.Reclaim(tailer.ReclaimMarks());
      Poll(tailer);
    }
    const TailedFileStats stats = tailer.Stats().at(0);
    if (stats.reclaim_permission != 1 || stats.reclaim_unsupported + stats.reclaim_errors != 0) {
      return 11;
    }
    if (stats.reclaim_error !=
        "reclaim: the sidecar may not open the file for writing (open: Permission denied); its "
        "blocks are not freed: mount the volume read-write and run the sidecar as the "
        "writer's user") {
      return 12;
    }
    return 0;
  });
  if (!failed_step) {
    WARN("SKIP: running as root without CAP_SETUID, a denied open cannot be exercised");
    return;
  }
  CHECK(*failed_step == 0);
  CHECK(ReadFile(log) == Numbered(0, 1000));
}

}  // namespace
}  // namespace sidecar
