#include "collectors/logs/log_tailer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "collectors/logs/waker.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

namespace fs = std::filesystem;
using testing::AppendFile;
using testing::TempDir;
using testing::WriteFile;

LogTailerOptions Options(std::vector<std::string> paths) {
  LogTailerOptions options;
  options.paths = std::move(paths);
  return options;
}

// Collects what the tailer delivers.
struct Recorder {
  std::vector<std::pair<std::string, std::string>> lines;

  LogTailer::LineSink Sink() {
    return [this](std::string_view path, std::string_view line) {
      lines.emplace_back(std::string(path), std::string(line));
    };
  }
};

// Polls once and returns the lines delivered by that poll.
std::vector<std::string> PollLines(LogTailer& tailer) {
  std::vector<std::string> lines;
  const std::size_t count =
      tailer.Poll([&lines](std::string_view, std::string_view line) { lines.emplace_back(line); });
  REQUIRE(count == lines.size());
  return lines;
}

using Lines = std::vector<std::string>;

TailedFileStats StatsFor(const LogTailer& tailer, const fs::path& path) {
  for (TailedFileStats& stats : tailer.Stats()) {
    if (stats.path == path.string()) return stats;
  }
  FAIL("no stats for " << path);
  return {};
}

// A log writer that keeps its file open across renames, like nginx between rotation and reopen.
class Writer {
 public:
  explicit Writer(const fs::path& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
  }
  ~Writer() { ::close(fd_); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void Write(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) throw std::system_error(errno, std::generic_category(), "write");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
};

void Rename(const fs::path& from, const fs::path& to) { fs::rename(from, to); }

TEST_CASE("starts_at_end_of_existing_file", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  WriteFile(log, "old 1\nold 2\nhalf-written");
  LogTailer tailer(Options({log.string()}));
  CHECK(PollLines(tailer).empty());
  AppendFile(log, " line\nnew 1\n");
  // The line that was being written at start is not cut in two: its tail is skipped too.
  CHECK(PollLines(tailer) == Lines{"new 1"});
  const TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.lines == 1);
  CHECK(stats.lines_too_long == 0);
  CHECK(stats.open);
  CHECK(stats.lag_bytes == 0);
  CHECK(stats.last_line_unix_seconds > 1.6e9);
}

TEST_CASE("from_beginning", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  WriteFile(log, "a\nb\n");
  LogTailerOptions options = Options({log.string()});
  options.from_beginning = true;
  LogTailer tailer(options);
  CHECK(PollLines(tailer) == Lines{"a", "b"});
  CHECK(PollLines(tailer).empty());
  CHECK(StatsFor(tailer, log).bytes_read == 4);
}

TEST_CASE("file_appears_later", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "later.log";
  LogTailer tailer(Options({log.string()}));
  CHECK(PollLines(tailer).empty());
  TailedFileStats stats = StatsFor(tailer, log);
  CHECK_FALSE(stats.open);
  CHECK(stats.error.empty());  // waiting for a file is not an error
  // A file that appears after start is new: all of it counts.
  WriteFile(log, "first\nsecond\n");
  CHECK(PollLines(tailer) == Lines{"first", "second"});
  stats = StatsFor(tailer, log);
  CHECK(stats.open);
  CHECK(stats.lines == 2);
}

TEST_CASE("partial_line_read", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  WriteFile(log, "hel");
  CHECK(PollLines(tailer).empty());
  CHECK(StatsFor(tailer, log).lines == 0);
  AppendFile(log, "lo\nwor");
  CHECK(PollLines(tailer) == Lines{"hello"});
  AppendFile(log, "ld\r");
  CHECK(PollLines(tailer).empty());
  AppendFile(log, "\n\n\r\n");
  // "\r\n" endings lose the '\r'; empty lines are lines.
  CHECK(PollLines(tailer) == Lines{"world", "", ""});
}

TEST_CASE("line_too_long", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailerOptions options = Options({log.string()});
  options.max_line_bytes = 10;
  LogTailer tailer(options);
  WriteFile(log,
            "short\n" + std::string(25, 'x') + "\n0123456789\n0123456789\r\n01234567890\nok\n");
  CHECK(PollLines(tailer) == Lines{"short", "0123456789", "0123456789", "ok"});
  CHECK(StatsFor(tailer, log).lines_too_long == 2);

  // A long line arriving in pieces is dropped as a whole, and the line after it is intact.
  AppendFile(log, std::string(8, 'y'));
  CHECK(PollLines(tailer).empty());
  AppendFile(log, std::string(8, 'y'));
  CHECK(PollLines(tailer).empty());
  // Counted (and its buffer dropped) as soon as it is too long, not when its '\n' arrives.
  CHECK(StatsFor(tailer, log).lines_too_long == 3);
  AppendFile(log, std::string(8, 'y') + "\nend\n");
  CHECK(PollLines(tailer) == Lines{"end"});
  CHECK(StatsFor(tailer, log).lines_too_long == 3);
}

TEST_CASE("line_too_long across read chunks with the default limit", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  // 1 MiB spans several 256 KiB reads; only max_line_bytes of it may be buffered.
  WriteFile(log, "before\n" + std::string(1 << 20, 'z') + "\nafter\n" +
                     std::string(64 * 1024, 'k') + "\n");
  CHECK(PollLines(tailer) == Lines{"before", "after", std::string(64 * 1024, 'k')});
  const TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.lines_too_long == 1);
  CHECK(stats.bytes_read == 7 + (1 << 20) + 1 + 6 + 64 * 1024 + 1);
}

TEST_CASE("invalid_utf8", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  const std::string nul_line("a\0b", 3);
  WriteFile(log, "\xff\xfe\xc3(\n" + nul_line + "\n\x80\r\n");
  const Lines lines = PollLines(tailer);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "\xff\xfe\xc3(");
  CHECK(lines[1] == nul_line);
  CHECK(lines[1].size() == 3);
  CHECK(lines[2] == "\x80");
}

TEST_CASE("log_rotation_by_rename", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  const fs::path rotated = dir / "access.log.1";
  LogTailerOptions options = Options({log.string()});
  options.rotated_file_grace = std::chrono::milliseconds(0);  // close at the first idle Poll
  LogTailer tailer(options);
  auto writer = std::make_unique<Writer>(log);
  writer->Write("1\n2\n");
  CHECK(PollLines(tailer) == Lines{"1", "2"});

  writer->Write("3\n");
  Rename(log, rotated);
  writer->Write("4\n");                         // the writer has not reopened yet
  CHECK(PollLines(tailer) == Lines{"3", "4"});  // path missing: keep reading the open file
  CHECK(StatsFor(tailer, log).open);

  Writer new_writer(log);
  new_writer.Write("5\n");
  writer->Write("4b\n");  // late write to the old file, before the tailer noticed
  CHECK(PollLines(tailer) == Lines{"4b", "5"});
  CHECK(StatsFor(tailer, log).rotations == 1);

  writer->Write("4c\n");  // still draining: the old file produced bytes last poll
  new_writer.Write("6\n");
  CHECK(PollLines(tailer) == Lines{"4c", "6"});
  CHECK(PollLines(tailer).empty());  // the old file is idle now and gets closed
  writer->Write("lost\n");           // documented bound: too late
  writer.reset();
  new_writer.Write("7\n");
  CHECK(PollLines(tailer) == Lines{"7"});

  const TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.lines == 9);
  CHECK(stats.rotations == 1);
  CHECK(stats.truncations == 0);
  CHECK(stats.lag_bytes == 0);
}

TEST_CASE("rotated_file_kept_open_for_a_late_reopen", "[tailer]") {
  // logrotate's `create`: rename, create the new file, then SIGUSR1, and nginx keeps writing to
  // the old file until it gets there. Idle polls in between must not close the old file.
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailerOptions options = Options({log.string()});
  options.rotated_file_grace = std::chrono::hours(1);
  LogTailer tailer(options);
  auto writer = std::make_unique<Writer>(log);
  writer->Write("1\n");
  CHECK(PollLines(tailer) == Lines{"1"});
  Rename(log, dir / "access.log.1");
  WriteFile(log, "");  // created by logrotate, not written yet
  CHECK(PollLines(tailer).empty());
  CHECK(PollLines(tailer).empty());
  CHECK(PollLines(tailer).empty());
  writer->Write("2 late\n");  // nginx, still on the old file
  Writer reopened(log);
  reopened.Write("3\n");
  CHECK(PollLines(tailer) == Lines{"2 late", "3"});
  CHECK(StatsFor(tailer, log).lines == 3);
}

TEST_CASE("log_truncation", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  WriteFile(log, "a\nb\n");
  CHECK(PollLines(tailer) == Lines{"a", "b"});

  // copytruncate: copy, then truncate in place (same inode), then the writer continues.
  AppendFile(log, "c\n");
  CHECK(PollLines(tailer) == Lines{"c"});
  fs::copy_file(log, dir / "access.log.1");
  fs::resize_file(log, 0);
  AppendFile(log, "d\n");
  CHECK(PollLines(tailer) == Lines{"d"});
  TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.truncations == 1);
  CHECK(stats.rotations == 0);

  CHECK(stats.truncations_without_copy == 0);

  // Documented bound: without a copy next to the file, what was written after the last poll
  // before the truncation is lost, and the truncation is counted as one without a copy.
  AppendFile(log, "written before truncation, after the last poll\n");
  fs::resize_file(log, 0);
  AppendFile(log, "e\n");
  CHECK(PollLines(tailer) == Lines{"e"});
  stats = StatsFor(tailer, log);
  CHECK(stats.truncations == 2);
  CHECK(stats.truncations_without_copy == 1);
  CHECK(stats.lines == 5);
}

TEST_CASE("copytruncate reads the lines it had not read yet from logrotate's copy", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  WriteFile(dir / "access.log.2", "an older copy\n");  // history: never read
  LogTailer tailer(Options({log.string()}));
  WriteFile(log, "a\nb\n");
  CHECK(PollLines(tailer) == Lines{"a", "b"});
  // Written after the last poll, the last one cut by the copy; copied, then truncated.
  AppendFile(log, "c\nd\ne-cut");
  fs::copy_file(log, dir / "access.log.1");
  AppendFile(log, "-off\n");  // logrotate's own window: after the copy, before the truncation
  fs::resize_file(log, 0);
  AppendFile(log, "f\n");
  CHECK(PollLines(tailer) == Lines{"c", "d", "f"});
  TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.truncations == 1);
  CHECK(stats.truncations_without_copy == 0);
  CHECK(stats.rotations == 0);

  // A partial line held from before the copy is finished from the copy.
  AppendFile(log, "g\nh-par");
  CHECK(PollLines(tailer) == Lines{"g"});
  AppendFile(log, "tial\ni\n");
  fs::remove(dir / "access.log.1");
  fs::copy_file(log, dir / "access.log.1");
  fs::resize_file(log, 0);
  CHECK(PollLines(tailer) == Lines{"h-partial", "i"});
  stats = StatsFor(tailer, log);
  CHECK(stats.truncations == 2);
  CHECK(stats.truncations_without_copy == 0);
  CHECK(stats.lines == 8);
  // The copies are never read as generations of their own, not even after a rename rotation.
  Rename(log, dir / "access.log.3");
  WriteFile(log, "j\n");
  CHECK(PollLines(tailer) == Lines{"j"});
  CHECK(StatsFor(tailer, log).missed_generations == 0);
}

TEST_CASE("generations rotated away between two polls are found next to the path", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  WriteFile(dir / "access.log-history", "old 1\nold 2\n");  // there before us: history
  WriteFile(dir / "access.log.9.gz", "not lines\n");        // compressed: never a generation
  LogTailer tailer(Options({log.string()}));
  auto writer = std::make_unique<Writer>(log);
  writer->Write("g1 a\n");
  CHECK(PollLines(tailer) == Lines{"g1 a"});
  // Three generations come and go between two polls (dateext names, no poll between).
  writer->Write("g1 b\n");
  for (int generation = 2; generation <= 4; ++generation) {
    Rename(log, dir / ("access.log-" + std::to_string(generation - 1)));
    writer->Write("g" + std::to_string(generation - 1) + " late\n");  // before the reopen
    writer = std::make_unique<Writer>(log);
    writer->Write("g" + std::to_string(generation) + " a\n");
  }
  WriteFile(dir / "access.log.10.gz", "compressed after start\n");
  Lines lines = PollLines(tailer);
  std::sort(lines.begin(), lines.end());
  CHECK(lines == Lines{"g1 b", "g1 late", "g2 a", "g2 late", "g3 a", "g3 late", "g4 a"});
  const TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.rotations == 3);
  CHECK(stats.missed_generations == 2);
  // Late writes to the missed generations are read while they drain; nothing is read twice.
  writer->Write("g4 b\n");
  CHECK(PollLines(tailer) == Lines{"g4 b"});
  Rename(log, dir / "access.log-4");
  writer = std::make_unique<Writer>(log);
  writer->Write("g5 a\n");
  CHECK(PollLines(tailer) == Lines{"g5 a"});
  CHECK(StatsFor(tailer, log).lines == 10);
}

TEST_CASE("copytruncate_then_grows_past_old_offset", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  WriteFile(log, "first line 1\nfirst line 2\n");
  CHECK(PollLines(tailer) == Lines{"first line 1", "first line 2"});
  // Truncated and refilled past the old offset before the next poll: only the changed first
  // bytes tell.
  WriteFile(log, "second generation line A\nsecond generation line B\n");
  CHECK(PollLines(tailer) == Lines{"second generation line A", "second generation line B"});
  CHECK(StatsFor(tailer, log).truncations == 1);
}

TEST_CASE("deleted_and_recreated", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  WriteFile(log, "one\n");
  CHECK(PollLines(tailer) == Lines{"one"});

  fs::remove(log);
  CHECK(PollLines(tailer).empty());
  TailedFileStats stats = StatsFor(tailer, log);
  CHECK_FALSE(stats.open);  // deleted and idle: closed, so its space is freed
  CHECK(stats.error.empty());

  WriteFile(log, "two\n");
  CHECK(PollLines(tailer) == Lines{"two"});

  // Deleted and re-created between two polls, with a last line in the deleted file.
  AppendFile(log, "three\n");
  fs::remove(log);
  WriteFile(log, "four\n");
  CHECK(PollLines(tailer) == Lines{"three", "four"});
  stats = StatsFor(tailer, log);
  CHECK(stats.rotations == 1);
  CHECK(stats.lines == 4);
}

TEST_CASE("symlink_retargeted", "[tailer]") {
  TempDir dir;
  const fs::path link = dir / "current.log";
  const fs::path first = dir / "app-1.log";
  const fs::path second = dir / "app-2.log";
  WriteFile(first, "history\n");
  fs::create_symlink(first, link);
  LogTailer tailer(Options({link.string()}));
  AppendFile(first, "first 1\n");
  std::vector<std::string> paths;
  std::vector<std::string> lines;
  const auto sink = [&](std::string_view path, std::string_view line) {
    paths.emplace_back(path);
    lines.emplace_back(line);
  };
  tailer.Poll(sink);
  CHECK(lines == Lines{"first 1"});
  CHECK(paths == Lines{link.string()});  // lines are reported under the configured path

  WriteFile(second, "second 1\n");
  AppendFile(first, "first 2\n");
  // Re-target atomically, the way deploy tools do: new link, renamed over the old one.
  fs::create_symlink(second, dir / "tmp-link");
  Rename(dir / "tmp-link", link);
  lines.clear();
  tailer.Poll(sink);
  CHECK(lines == Lines{"first 2", "second 1"});
  CHECK(StatsFor(tailer, link).rotations == 1);

  // Pointed back while the first file is still being drained: followed, not re-read from 0.
  AppendFile(first, "first 3\n");
  fs::create_symlink(first, dir / "tmp-link");
  Rename(dir / "tmp-link", link);
  lines.clear();
  tailer.Poll(sink);
  CHECK(lines == Lines{"first 3"});
  AppendFile(first, "first 4\n");
  lines.clear();
  tailer.Poll(sink);
  CHECK(lines == Lines{"first 4"});
}

TEST_CASE("glob_picks_up_new_files", "[tailer]") {
  TempDir dir;
  WriteFile(dir / "a.log", "old\n");
  fs::create_directory(dir / "sub.log");  // directories matching the pattern are not files
  LogTailer tailer(Options({(dir / "*.log").string()}));
  Recorder recorder;
  CHECK(tailer.Poll(recorder.Sink()) == 0);

  AppendFile(dir / "a.log", "a1\n");
  WriteFile(dir / "b.log", "b1\nb2\n");
  WriteFile(dir / "c.txt", "not matched\n");
  CHECK(tailer.Poll(recorder.Sink()) == 3);
  CHECK(recorder.lines ==
        std::vector<std::pair<std::string, std::string>>{{(dir / "a.log").string(), "a1"},
                                                         {(dir / "b.log").string(), "b1"},
                                                         {(dir / "b.log").string(), "b2"}});
  std::vector<TailedFileStats> stats = tailer.Stats();
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].path == (dir / "a.log").string());
  CHECK(stats[1].lines == 2);

  // A glob match that disappears is forgotten once its file is closed.
  fs::remove(dir / "b.log");
  tailer.Poll(recorder.Sink());
  stats = tailer.Stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].path == (dir / "a.log").string());
}

TEST_CASE("glob matching the rotated name follows the file instead of re-reading it", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "app.log";
  LogTailer tailer(Options({(dir / "app.log*").string()}));
  Writer writer(log);
  writer.Write("1\n2\n");
  CHECK(PollLines(tailer) == Lines{"1", "2"});
  writer.Write("3\n");
  Rename(log, dir / "app.log.1");
  WriteFile(log, "new 1\n");
  CHECK(PollLines(tailer) == Lines{"3", "new 1"});
  writer.Write("4\n");
  CHECK(PollLines(tailer) == Lines{"4"});
  CHECK(PollLines(tailer).empty());
  CHECK(StatsFor(tailer, log).lines == 4);
}

TEST_CASE("same file under two paths is read once", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  const fs::path link = dir / "hardlink.log";
  LogTailer tailer(Options({log.string(), link.string()}));
  WriteFile(log, "a\n");
  fs::create_hard_link(log, link);
  CHECK(PollLines(tailer) == Lines{"a"});
  AppendFile(log, "b\n");
  CHECK(PollLines(tailer) == Lines{"b"});
  CHECK(StatsFor(tailer, link).error == "same file as " + log.string() + ", read there");
  CHECK_FALSE(StatsFor(tailer, link).open);
}

TEST_CASE("permission_denied", "[tailer]") {
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  const fs::path log = dir / "secret.log";
  const fs::path closed_dir = dir / "closed";
  const fs::path hidden = closed_dir / "hidden.log";
  WriteFile(log, "old\n");
  fs::permissions(log, fs::perms::owner_read | fs::perms::owner_write);
  fs::create_directory(closed_dir);
  WriteFile(hidden, "x\n");
  fs::permissions(closed_dir, fs::perms::owner_all);

  // What an unprivileged tailer must see: errors reported per path, no lines, no crash.
  const auto check_denied = [&]() -> int {
    LogTailer tailer(Options({log.string(), hidden.string()}));
    if (tailer.Poll([](std::string_view, std::string_view) {}) != 0) return 10;
    const std::vector<TailedFileStats> stats = tailer.Stats();
    if (stats.size() != 2) return 11;
    // Sorted by path: "closed/hidden.log" < "secret.log".
    if (stats[0].error != "stat: Permission denied" || stats[0].open) return 12;
    if (stats[1].error != "open: Permission denied" || stats[1].open) return 13;
    return 0;
  };

  if (::geteuid() != 0) {
    CHECK(check_denied() == 0);
    LogTailer tailer(Options({log.string()}));
    CHECK(PollLines(tailer).empty());
    CHECK(StatsFor(tailer, log).error == "open: Permission denied");
    // Readable again: it existed at start, so it starts at its end like any file present then.
    fs::permissions(log, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                             fs::perms::others_read);
    AppendFile(log, "new\n");
    CHECK(PollLines(tailer) == Lines{"new"});
    CHECK(StatsFor(tailer, log).error.empty());
    return;
  }

  // Root reads everything; drop to nobody in a child process to see a real EACCES.
  const std::optional<int> failed_step = testing::RunAsNobody(check_denied);
  if (!failed_step) {
    // Nothing can be denied here, so the point of this test cannot be checked: say so.
    WARN("SKIP: running as root without CAP_SETUID, permission_denied cannot be exercised");
    return;
  }
  CHECK(*failed_step == 0);
}

TEST_CASE("position_file_resume_no_gap_no_double_count", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  const fs::path positions = dir / "positions";
  LogTailerOptions options = Options({log.string()});
  options.position_file = positions.string();
  options.position_save_interval = std::chrono::milliseconds(0);

  {
    LogTailer tailer(options);
    CHECK(tailer.PositionFileError().empty());  // missing: first start
    WriteFile(log, "l1\nl2\nl3\nl4-par");
    CHECK(PollLines(tailer) == Lines{"l1", "l2", "l3"});
  }                               // saves on destruction, at the start of the partial line
  AppendFile(log, "tial\nl5\n");  // written while the sidecar restarts
  {
    LogTailer tailer(options);
    CHECK(tailer.PositionFileError().empty());
    CHECK(PollLines(tailer) == Lines{"l4-partial", "l5"});
    AppendFile(log, "l6\n");
    CHECK(PollLines(tailer) == Lines{"l6"});  // Poll saved (interval 0)
  }
  {
    // A crash loses nothing saved: Poll itself saved the position after "l7".
    LogTailer tailer(options);
    AppendFile(log, "l7\n");
    CHECK(PollLines(tailer) == Lines{"l7"});
    const PositionFileContents saved = ReadPositionFile(positions.string());
    CHECK_FALSE(saved.error);
    REQUIRE(saved.positions.size() == 1);
    CHECK(saved.positions[0].path == log.string());
    CHECK(saved.positions[0].offset == fs::file_size(log));
    CHECK(saved.positions[0].fingerprint == testing::ReadFile(log));
  }
  {
    // Rotated while down: the new file is read from 0, the old one is not re-read.
    Rename(log, dir / "access.log.1");
    WriteFile(log, "n1\nn2\nn3\n");
    LogTailer tailer(options);
    CHECK(PollLines(tailer) == Lines{"n1", "n2", "n3"});
  }
  {
    // copytruncate while down, refilled past the old offset: same inode, other first bytes.
    WriteFile(log, "m1 -- a longer line than before\n");
    LogTailer tailer(options);
    CHECK(PollLines(tailer) == Lines{"m1 -- a longer line than before"});
  }
  {
    // Same file, shrunk below the saved offset while down.
    WriteFile(log, "m");
    LogTailer tailer(options);
    AppendFile(log, "2\n");
    CHECK(PollLines(tailer) == Lines{"m2"});
  }
  CHECK(fs::exists(positions));
  CHECK_FALSE(fs::exists(positions.string() + ".tmp"));
}

TEST_CASE("a retired tailer never writes the position file again", "[tailer]") {
  // Reload: the old tailer is retired, its replacement reads on and saves further; the old one's
  // destruction (later, on another thread) must not put its older offset back.
  TempDir dir;
  const fs::path log = dir / "access.log";
  const fs::path positions = dir / "positions";
  WriteFile(log, "");
  LogTailerOptions options = Options({log.string()});
  options.position_file = positions.string();
  options.position_save_interval = std::chrono::milliseconds(0);
  auto retired = std::make_unique<LogTailer>(options);
  AppendFile(log, "one\n");
  CHECK(PollLines(*retired) == Lines{"one"});  // saved at offset 4
  retired->Retire();
  AppendFile(log, "two\n");
  CHECK(PollLines(*retired) == Lines{"two"});  // reads, but saves nothing any more
  CHECK(retired->SavePositions());
  CHECK(retired->CommitPositions(retired->Positions()));
  REQUIRE(ReadPositionFile(positions.string()).positions.at(0).offset == 4);

  LogTailer replacement(options);
  AppendFile(log, "three\n");
  CHECK(PollLines(replacement) == Lines{"two", "three"});
  REQUIRE(ReadPositionFile(positions.string()).positions.at(0).offset == 14);
  std::thread([&retired] { retired.reset(); }).join();
  CHECK(ReadPositionFile(positions.string()).positions.at(0).offset == 14);
  CHECK_FALSE(fs::exists(positions.string() + ".tmp"));
  // A kill now, and a restart: nothing is read twice.
  LogTailer restarted(options);
  AppendFile(log, "four\n");
  CHECK(PollLines(restarted) == Lines{"four"});
}

TEST_CASE("position file keeps entries of files not open yet", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  const fs::path positions = dir / "positions";
  LogTailerOptions options = Options({log.string()});
  options.position_file = positions.string();
  {
    LogTailer tailer(options);
    WriteFile(log, "a\n");
    CHECK(PollLines(tailer) == Lines{"a"});
  }
  const fs::path moved = dir / "moved-away";
  Rename(log, moved);
  { LogTailer tailer(options); }  // file missing during this run: its entry must survive
  Rename(moved, log);
  AppendFile(log, "b\n");
  LogTailer tailer(options);
  CHECK(PollLines(tailer) == Lines{"b"});
}

TEST_CASE("corrupt_position_file", "[tailer]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  const fs::path positions = dir / "positions";
  WriteFile(log, "old\n");
  LogTailerOptions options = Options({log.string()});
  options.position_file = positions.string();

  const auto check_ignored = [&](const std::string& content, const std::string& reason) {
    WriteFile(positions, content);
    LogTailer tailer(options);
    INFO(content);
    CHECK_THAT(tailer.PositionFileError(), Catch::Contains(reason));
    // Ignored: behaves as without a position file (start at the end).
    CHECK(PollLines(tailer).empty());
    AppendFile(log, "x\n");
    CHECK(PollLines(tailer) == Lines{"x"});
    // The next save replaces the bad file.
    CHECK(tailer.SavePositions());
    CHECK_THAT(tailer.PositionFileError(), Catch::Contains(reason));  // load reason stays
  };
  check_ignored(std::string("\x00\x01garbage\n", 10),
                "line 1: not a sidecar-exporter position file");
  check_ignored("", "empty file");
  check_ignored("sidecar-exporter-log-positions 1\n1 2 x 61 /a\n", "line 2: bad offset");
  check_ignored("sidecar-exporter-log-positions 1\n1 2 3 6", "line 2: truncated");
  check_ignored("sidecar-exporter-log-positions 1\n1 2 3 zz /a\n", "line 2: bad fingerprint");

  // After a save, the file is valid again.
  LogTailer tailer(options);
  CHECK(tailer.PositionFileError().empty());
  CHECK(PollLines(tailer).empty());

  // A position file that cannot be written: reported, never thrown.
  LogTailerOptions unwritable = options;
  unwritable.position_file = (dir / "no-such-dir" / "positions").string();
  LogTailer broken(unwritable);
  CHECK_FALSE(broken.SavePositions());
  CHECK_THAT(broken.PositionFileError(), Catch::Contains("cannot save positions"));
}

TEST_CASE("options are validated", "[tailer]") {
  const auto message = [](const LogTailerOptions& options) {
    try {
      LogTailer tailer(options);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  CHECK(message(Options({})) == "log tailer: no paths to tail");
  CHECK(message(Options({"/a", ""})) == "log tailer: paths[1] is empty");
  CHECK(message(Options({"/a", "/b", "/a"})) == "log tailer: paths[2] \"/a\" repeats paths[0]");
  LogTailerOptions options = Options({"/var/log/*"});
  options.position_file = "/var/log/positions";
  CHECK(message(options) ==
        "log tailer: paths[0] \"/var/log/*\" matches the position file /var/log/positions");
  options = Options({"/a"});
  options.max_line_bytes = 0;
  CHECK_THAT(message(options), Catch::StartsWith("log tailer: max_line_bytes must be in [1, "));
}

// Line `seq` of the stress tests: its number, then padding derived from it, so that every line
// can be checked byte for byte without keeping what was written.
std::string StressLine(std::uint32_t seq) {
  char number[16];
  std::snprintf(number, sizeof number, "%08u", seq);
  std::string line(number);
  line += ' ';
  line.append((seq * 7919u) % 131u, static_cast<char>('a' + seq % 26));
  line += (seq % 10 == 0) ? "\r\n" : "\n";
  return line;
}

// Checks each delivered line against StressLine and that sequence numbers arrive in order, once.
class SequenceChecker {
 public:
  explicit SequenceChecker(std::uint32_t total) : total_(total) {}

  void See(std::string_view line) {
    std::uint32_t seq = 0;
    for (std::size_t i = 0; i < 8 && i < line.size(); ++i) seq = seq * 10 + (line[i] - '0');
    std::string expected = StressLine(seq);
    expected.erase(expected.find_last_not_of("\r\n") + 1);
    if (seq != next_ || line != expected) {
      if (errors_.size() < 5) {
        errors_.push_back("expected line " + std::to_string(next_) + ", got \"" +
                          std::string(line.substr(0, 40)) + "\"");
      }
    }
    next_ = seq + 1;
    ++delivered_;
  }
  std::uint32_t delivered() const { return delivered_; }
  const std::vector<std::string>& errors() const { return errors_; }
  bool complete() const { return delivered_ == total_ && next_ == total_; }

 private:
  std::uint32_t total_;
  std::uint32_t next_ = 0;
  std::uint32_t delivered_ = 0;
  std::vector<std::string> errors_;
};

TEST_CASE("log_rotation_by_rename stress: exactly once through 200 rotations", "[tailer]") {
  constexpr std::uint32_t kLines = 200'000;
  constexpr int kRotations = 200;
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  SequenceChecker checker(kLines);
  const auto sink = [&checker](std::string_view, std::string_view line) { checker.See(line); };
  std::mt19937 rng(20240601);
  const auto chance = [&rng](int percent) {
    return std::uniform_int_distribution<int>(0, 99)(rng) < percent;
  };
  std::size_t polls = 0;
  bool polled_this_generation = false;
  const auto poll = [&] {
    tailer.Poll(sink);
    ++polls;
    polled_this_generation = true;
  };
  // Writes `data` in random pieces (cutting lines anywhere), polling at random between them.
  const auto write_in_pieces = [&](Writer& writer, std::string_view data) {
    while (!data.empty()) {
      const std::size_t piece =
          std::min(data.size(), std::uniform_int_distribution<std::size_t>(1, 20'000)(rng));
      writer.Write(data.substr(0, piece));
      data.remove_prefix(piece);
      if (chance(30)) poll();
    }
  };

  std::uint32_t seq = 0;
  auto writer = std::make_unique<Writer>(log);
  for (int generation = 0; generation <= kRotations; ++generation) {
    polled_this_generation = false;
    const std::uint32_t remaining = kLines - seq;
    const std::uint32_t count =
        generation == kRotations ? remaining
                                 : std::min(remaining, std::uniform_int_distribution<std::uint32_t>(
                                                           0, 2 * kLines / kRotations)(rng));
    std::string data;
    for (std::uint32_t i = 0; i < count; ++i) data += StressLine(seq++);
    // The rename falls anywhere, even inside a line; the writer finishes it in the old file.
    const std::size_t rename_at = std::uniform_int_distribution<std::size_t>(0, data.size())(rng);
    write_in_pieces(*writer, std::string_view(data).substr(0, rename_at));
    if (generation == kRotations) break;
    // The documented bound: each generation is seen by a poll while it is at the path.
    if (!polled_this_generation) poll();
    Rename(log, dir / "access.log.1");
    write_in_pieces(*writer, std::string_view(data).substr(rename_at));
    if (chance(50)) poll();  // the path is missing now
    writer = std::make_unique<Writer>(log);
  }
  REQUIRE(seq == kLines);
  poll();
  poll();

  INFO("polls: " << polls);
  CHECK(checker.errors().empty());
  for (const std::string& error : checker.errors()) UNSCOPED_INFO(error);
  CHECK(checker.delivered() == kLines);
  CHECK(checker.complete());
  const TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.lines == kLines);
  CHECK(stats.rotations == kRotations);
  CHECK(stats.truncations == 0);
  CHECK(stats.lag_bytes == 0);
}

TEST_CASE("log_rotation_by_rename stress: concurrent writer and poller", "[tailer]") {
  constexpr std::uint32_t kLines = 200'000;
  constexpr int kRotations = 100;
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  std::atomic<bool> writer_done = false;
  std::atomic<bool> give_up = false;
  SequenceChecker checker(kLines);  // poller thread only, read after join

  std::thread poller([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!(writer_done && checker.delivered() >= kLines)) {
      tailer.Poll([&checker](std::string_view, std::string_view line) { checker.See(line); });
      if (std::chrono::steady_clock::now() > deadline) {
        give_up = true;
        break;
      }
    }
  });

  std::thread writer_thread([&] {
    std::mt19937 rng(7);
    std::uint32_t seq = 0;
    auto writer = std::make_unique<Writer>(log);
    for (int generation = 0; generation <= kRotations && !give_up; ++generation) {
      const std::uint32_t end =
          generation == kRotations ? kLines : (generation + 1) * (kLines / (kRotations + 1));
      // Full speed: batches of lines, one write(2) each, cut at random points.
      std::string data;
      while (seq < end) {
        data.clear();
        const std::uint32_t batch = std::uniform_int_distribution<std::uint32_t>(1, 400)(rng);
        for (std::uint32_t i = 0; i < batch && seq < end; ++i) data += StressLine(seq++);
        writer->Write(data);
      }
      if (generation == kRotations) break;
      // Handshake, the documented bound: the tailer has opened this generation.
      for (;;) {
        const std::vector<TailedFileStats> stats = tailer.Stats();
        if ((stats.at(0).open && stats.at(0).rotations == static_cast<std::uint64_t>(generation)) ||
            give_up) {
          break;
        }
        std::this_thread::yield();
      }
      Rename(log, dir / "access.log.1");
      writer->Write(StressLine(seq++));  // before the writer reopens
      writer = std::make_unique<Writer>(log);
    }
    writer_done = true;
  });

  writer_thread.join();
  poller.join();
  CHECK_FALSE(give_up);
  for (const std::string& error : checker.errors()) UNSCOPED_INFO(error);
  CHECK(checker.errors().empty());
  CHECK(checker.delivered() == kLines);
  CHECK(checker.complete());
  const TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.lines == kLines);
  CHECK(stats.rotations == kRotations);
}

TEST_CASE("log_rotation_by_rename stress: 1000 rotations 5 ms apart, polled every 50 ms",
          "[tailer]") {
  // Faster than the poll: most generations are created and rotated away between two polls (the
  // inotify waker's coalescing delay is 50 ms). Each line must still be read exactly once.
  constexpr int kRotations = 1000;
  constexpr std::uint32_t kLinesPerGeneration = 20;
  constexpr std::uint32_t kLines = (kRotations + 1) * (kLinesPerGeneration + 1);
  TempDir dir;
  const fs::path log = dir / "access.log";
  LogTailer tailer(Options({log.string()}));
  std::vector<int> seen(kLines, 0);  // poller thread only, read after join
  std::uint64_t delivered = 0;
  std::atomic<bool> writer_done = false;

  std::thread poller([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    const auto sink = [&](std::string_view, std::string_view line) {
      std::uint32_t seq = 0;
      for (std::size_t i = 0; i < 8 && i < line.size(); ++i) seq = seq * 10 + (line[i] - '0');
      if (seq < kLines) ++seen[seq];
      ++delivered;
    };
    bool final_poll_done = false;
    while (std::chrono::steady_clock::now() < deadline) {
      const bool done = writer_done;
      tailer.Poll(sink);
      if (final_poll_done && delivered >= kLines) break;
      final_poll_done = done;
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  std::uint32_t seq = 0;
  auto writer = std::make_unique<Writer>(log);
  for (int generation = 0; generation <= kRotations; ++generation) {
    std::string data;
    for (std::uint32_t i = 0; i < kLinesPerGeneration; ++i) data += StressLine(seq++);
    writer->Write(data);
    if (generation == kRotations) {
      writer->Write(StressLine(seq++));
      break;
    }
    char name[32];
    std::snprintf(name, sizeof name, "access.log-%04d", generation);
    Rename(log, dir / name);
    writer->Write(StressLine(seq++));  // the writer has not reopened yet
    writer = std::make_unique<Writer>(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(seq == kLines);
  writer_done = true;
  poller.join();

  std::uint32_t missing = 0;
  std::uint32_t doubled = 0;
  for (const int count : seen) {
    missing += count == 0 ? 1 : 0;
    doubled += count > 1 ? 1 : 0;
  }
  INFO("lines missing: " << missing << ", read more than once: " << doubled);
  CHECK(missing == 0);
  CHECK(doubled == 0);
  CHECK(delivered == kLines);
  const TailedFileStats stats = StatsFor(tailer, log);
  CHECK(stats.lines == kLines);
  CHECK(stats.rotations == kRotations);
  CHECK(stats.missed_generations > 0);  // the point of the test: polls were outrun
}

TEST_CASE("IntervalWaker returns false on stop, true after the interval", "[tailer][waker]") {
  IntervalWaker fast(std::chrono::milliseconds(1));
  std::stop_source source;
  CHECK(fast.Wait(source.get_token()));

  IntervalWaker slow(std::chrono::hours(1));
  std::stop_source stopped;
  stopped.request_stop();
  CHECK_FALSE(slow.Wait(stopped.get_token()));

  // Stop requested while waiting ends the wait (a hang here fails through the ctest timeout).
  std::stop_source later;
  std::atomic<bool> result = true;
  std::jthread waiter([&] { result = slow.Wait(later.get_token()); });
  later.request_stop();
  waiter.join();
  CHECK_FALSE(result);

  CHECK_THROWS_AS(IntervalWaker(std::chrono::milliseconds(0)), std::invalid_argument);
}

TEST_CASE("InotifyWaker wakes on a write before the fallback interval", "[tailer][waker]") {
  TempDir dir;
  const fs::path log = dir / "access.log";
  InotifyWaker waker({log.string()}, std::chrono::hours(1), std::chrono::milliseconds(0));
  AppendFile(log, "x\n");  // queued before Wait: must still wake it
  std::stop_source source;
  CHECK(waker.Wait(source.get_token()));

  std::stop_source later;
  std::atomic<bool> result = true;
  std::jthread waiter([&] { result = waker.Wait(later.get_token()); });
  later.request_stop();
  waiter.join();
  CHECK_FALSE(result);
}

TEST_CASE("Poll throughput on a 1M-line access log", "[.][tailer-bench]") {
  const fs::path source = fs::path(SIDECAR_TEST_DATA_DIR) / "apache_combined_10k.log";
  if (!fs::exists(source)) {
    WARN("missing " << source);
    return;
  }
  const std::string sample = testing::ReadFile(source);
  TempDir dir;
  const fs::path log = dir / "access.log";
  {
    std::ofstream out(log, std::ios::binary);
    for (int i = 0; i < 100; ++i) out << sample;
  }
  LogTailerOptions options = Options({log.string()});
  options.from_beginning = true;
  LogTailer tailer(options);
  std::uint64_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  const std::size_t lines =
      tailer.Poll([&bytes](std::string_view, std::string_view line) { bytes += line.size(); });
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  CHECK(lines == 1'000'000);
  WARN(lines << " lines, " << fs::file_size(log) << " bytes in " << elapsed.count()
             << " s: " << lines / elapsed.count() << " lines/s, "
             << fs::file_size(log) / elapsed.count() / 1e6 << " MB/s");
}

}  // namespace
}  // namespace sidecar
