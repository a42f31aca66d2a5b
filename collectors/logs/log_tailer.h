#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/logs/position_file.h"

namespace sidecar {

// What the tailer does with the disk blocks of lines it no longer needs.
enum class LogReclaim {
  kNone,
  // fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) on the whole blocks before the position
  // the owner hands to LogTailer::Reclaim(): the file keeps its size and offsets (an O_APPEND
  // writer notices nothing), its old lines read as zero bytes, their blocks go back to the volume.
  kPunchHole,
};

struct LogTailerOptions {
  // Literal paths or glob(3) patterns (a path with any of `*?[` is a pattern). A literal path that
  // does not exist yet is waited for; a pattern is expanded again on every Poll().
  //
  // Patterns should not match rotated names (use "/var/log/nginx/*.log", not "*.log*"). If they
  // do, a file renamed onto a matched name while the tailer still drains it is followed under its
  // new name rather than read twice; one found only later is read again from its start.
  std::vector<std::string> paths;
  // Files that exist at construction are read from their end (old history is not counted again)
  // unless this is set. Files that appear later are always read from their start.
  bool from_beginning = false;
  // Lines longer than this (without the "\n" or "\r\n") are skipped and counted in
  // TailedFileStats::lines_too_long. Bounds the memory held for a partial line.
  std::size_t max_line_bytes = 64 * 1024;
  // Empty: none. Otherwise positions are loaded from it at construction and written to it by
  // SavePositions() / CommitPositions(), and, with `autosave_positions`, by Poll() at most once
  // per `position_save_interval` (zero: on every Poll that moved a position) and on destruction.
  std::string position_file;
  std::chrono::milliseconds position_save_interval = std::chrono::seconds(10);
  // False: only the owner's SavePositions() / CommitPositions() write the position file, so that
  // it can commit exactly the positions that match what it exported (see AccessLogCollector).
  bool autosave_positions = true;
  // How long a rotated-away file stays open after it last grew. Writers reopen late: logrotate
  // creates the new file, then nginx gets SIGUSR1 and keeps writing to the old one until then.
  // Zero closes it at the first Poll that finds nothing new in it.
  std::chrono::milliseconds rotated_file_grace = std::chrono::seconds(5);
  // kPunchHole: see Reclaim(). It also makes a file whose first bytes read as zeros (punched by
  // this or an earlier run, or copied so by logrotate) still count as the file that was read, and
  // makes reading that starts inside a hole skip to the next line after it.
  LogReclaim reclaim = LogReclaim::kNone;
};

// Where the lines of the current file of one path stop being needed, taken by ReclaimMarks()
// together with the positions the owner commits, and handed back to Reclaim() once committed.
struct ReclaimMark {
  std::string path;
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  // Changes when the file is opened again or truncated: a mark of an older generation is ignored,
  // since its offset counts bytes of content that is gone.
  std::uint64_t generation = 0;
  std::uint64_t offset = 0;  // start of a line; the whole blocks before it may be freed
};

// Per tailed path (a literal path or one glob match), cumulative over the rotations of that path.
struct TailedFileStats {
  std::string path;
  std::uint64_t lines = 0;           // complete lines delivered to the sink
  std::uint64_t bytes_read = 0;      // including skipped long lines and line terminators
  std::uint64_t lines_too_long = 0;  // skipped, longer than max_line_bytes
  std::uint64_t rotations = 0;       // path now names another file (rename, delete+create, symlink)
  std::uint64_t truncations = 0;     // same file, restarted from 0 (copytruncate)
  // Truncations for which no copy was found next to the file (see ReadFromCopy): lines written
  // between the last read and the truncation may be lost.
  std::uint64_t truncations_without_copy = 0;
  // Generations found under a rotated name that no Poll saw at the path (also in `rotations`).
  std::uint64_t missed_generations = 0;
  std::uint64_t lag_bytes = 0;        // file size minus read offset at the end of the last Poll
  double last_line_unix_seconds = 0;  // wall-clock time of the Poll that delivered the last line
  bool open = false;                  // a file is open for this path
  std::string error;                  // why the path cannot be read now ("open: Permission denied")
  // With LogReclaim::kPunchHole: bytes of the path's files whose blocks were freed, and failures
  // by reason. `unsupported` and `permission` count once per file (no more attempts on it);
  // `error` counts each failed attempt (it is retried with the next mark).
  std::uint64_t reclaimed_bytes = 0;
  std::uint64_t reclaim_unsupported = 0;  // the filesystem cannot punch holes (EOPNOTSUPP)
  std::uint64_t reclaim_permission = 0;   // the sidecar may not open the file for writing
  std::uint64_t reclaim_errors = 0;       // any other failure of open(2) or fallocate(2)
  std::string reclaim_error;              // the last failure; cleared by a successful punch
};

// Follows log files the way `tail -F` does, and hands out their complete lines. It knows files,
// never formats or metrics: the owner parses the lines and exports Stats() as metrics.
//
// Rotation and truncation are detected on each Poll():
// - Rename (+create), delete (+create), symlink re-targeted: stat(path) names another (dev, inode)
//   than the open fd. The old file is read to its end, then the new one from its start. The old fd
//   stays open ("draining") and is read on following polls until a Poll finds nothing new in it
//   and it has not grown for `rotated_file_grace`, so lines the writer adds to the old file
//   before it reopens (nginx before USR1) are not lost.
// - Generations that came and went between two polls: when the path names another file, the
//   directory is listed for rotated names of the path ("access.log.1", "access.log-20261129",
//   "access.log_x"; not compressed ones: .gz .bz2 .xz .zst .lz4 .Z .zip). A regular file there
//   that no Poll has opened and that was not there at the previous listing is such a generation:
//   it is read from its start and drained like the others. Files under rotated names when the path
//   is first tracked are history and never read.
// - copytruncate: the file is smaller than the read offset, or its first bytes (a fingerprint of
//   up to 256 bytes) changed. What had not been read yet is read from logrotate's copy, a file
//   under a rotated name that starts with the same bytes and is at least as long as what was read
//   (the newest such); then reading restarts at 0.
// - Path gone: a renamed-away file is kept open until the path names a file again; a deleted file
//   (no links left) is closed once a Poll finds nothing new in it.
//
// Exactness bounds (lines are neither lost nor delivered twice except here):
// - Rename rotation: lost only if a generation was rotated away between two polls and then
//   deleted, overwritten by a later rename, compressed, or moved to another directory before the
//   next Poll (a Poll that sees the path change lists its directory). Lines of such found
//   generations may come out after those of a younger one (counts are exact, order is not).
//   Bytes written to a rotated-away file once it has been idle for `rotated_file_grace` (and a
//   Poll has seen that) are lost: it has been closed. A file given a rotated name by hand while
//   the tailer runs is read as a generation.
// - copytruncate: with the copy next to the file, nothing is lost but what logrotate itself loses
//   (bytes written between its copy and its truncation; a last line the copy ends inside).
//   Without a copy, bytes appended after the offset reached by the last Poll before the
//   truncation are lost, and TailedFileStats::truncations_without_copy counts the truncation. If
//   the file has already grown back past the old offset and its first min(offset, 256) bytes are
//   identical to the old ones, the truncation is not seen and the first `offset` bytes of the new
//   content are skipped.
// - A line without its final '\n' is held until the '\n' arrives (also in a rotated file being
//   drained); it is dropped if its file is closed (see above) or truncated before that.
// - Position file: positions are those of the last save; lines delivered after it are delivered
//   again after a crash (with `autosave_positions`, also not after a clean destruction, which
//   saves). A file rotated away while the sidecar was down is not read again (its rest is lost);
//   the new file is read from 0.
// - An existing file whose last line is incomplete at start (from its end) has that line skipped.
// - Reclaim (kPunchHole): only whole blocks before a committed mark are freed, so no line that a
//   restart from the position file reads is punched. Lines before the position file's offset are
//   gone for anything else that reads the file (logrotate's copy included: it holds zeros there);
//   the tailer itself never reads them again. A copytruncate that happens in the microseconds
//   between the check that the file still holds what was read and the punch would zero the first
//   lines written after the truncation (the check runs right before each punch).
//
// Memory: one 256 KiB read buffer plus, per open file, at most max_line_bytes + 1 of partial line
// (and, with reclaim, a second descriptor opened for writing).
//
// Thread-safety: Poll(), SavePositions(), Positions(), ReclaimMarks() and destruction must not run
// concurrently (call them from the one polling thread, or under one lock). Stats(),
// PositionFileError(), CommitPositions(), Reclaim() and Retire() may be called from any thread at
// any time. Not copyable or
// movable.
class LogTailer {
 public:
  // Called once per complete line, without its "\n" and without a "\r" before it. Lines are bytes:
  // NUL and invalid UTF-8 are passed through. Both views are valid only during the call. Must not
  // throw: an exception propagates out of Poll() and the rest of the chunk being split is lost.
  using LineSink = std::function<void(std::string_view path, std::string_view line)>;

  // Validates `options` (throws std::invalid_argument with the reason), loads the position file
  // (problems are reported by PositionFileError(), never thrown) and opens the files that exist,
  // at their end, their saved position, or 0 with from_beginning.
  explicit LogTailer(LogTailerOptions options);
  // The checks of the constructor, without any I/O: throws std::invalid_argument with the reason.
  static void ValidateOptions(const LogTailerOptions& options);
  // Saves positions when a position file is configured, `autosave_positions` is set and Retire()
  // was not called; never throws.
  ~LogTailer();
  LogTailer(const LogTailer&) = delete;
  LogTailer& operator=(const LogTailer&) = delete;

  // One pass, without threads or sleeps: expands the patterns, handles rotation, truncation,
  // deletion, then reads everything available and calls `sink` for each complete line, in file
  // order per path (a rotated file's lines before its successor's). Returns the number of lines
  // delivered. I/O errors on one path go in its TailedFileStats::error, never thrown.
  std::size_t Poll(const LineSink& sink);

  // A snapshot as of the end of the last Poll (or construction), sorted by path. Paths matched
  // by a glob disappear once their file is gone and closed; literal paths stay.
  std::vector<TailedFileStats> Stats() const;

  // Writes the position of every open file (and keeps the loaded positions of files not opened
  // yet) to the position file, atomically. Returns false, with the reason in PositionFileError(),
  // on failure; true when saved or no position file is configured. After Retire(): writes
  // nothing and returns true.
  bool SavePositions();

  // The positions SavePositions() would write, as of the end of the last Poll (or construction).
  // Poll-thread state: call it where Poll() cannot run (the polling thread, or under the lock the
  // owner holds around Poll()).
  std::vector<FilePosition> Positions() const;

  // Writes `positions` (taken by Positions()) to the position file, atomically; same result as
  // SavePositions(). May be called from any thread: writes are serialised, and none happens after
  // Retire() has returned.
  bool CommitPositions(const std::vector<FilePosition>& positions);

  // With LogReclaim::kPunchHole, the current file of each path and the start of its first line
  // not delivered yet (the offset Positions() gives), to hand to Reclaim() once the positions
  // taken at the same time are committed; empty otherwise. Poll-thread state, like Positions().
  std::vector<ReclaimMark> ReclaimMarks() const;

  // The lines before `marks` will never be needed again (their counts and positions are
  // committed): the next Poll() frees the whole blocks before each mark whose file and generation
  // are still current, opening the file for writing on the first punch. Replaces the marks not
  // applied yet. No-op without LogReclaim::kPunchHole. Any thread.
  void Reclaim(std::vector<ReclaimMark> marks);

  // From now on the position file is never written again by this tailer (not even on
  // destruction): its replacement owns it. Waits for a write in progress. Any thread.
  void Retire();

  // Why the position file was ignored at start or could not be saved last time; empty when fine
  // (a missing position file at start is fine: it is the first start).
  std::string PositionFileError() const;

 private:
  struct OpenFile;
  struct TrackedPath;
  // A file next to a tracked path under a rotated name ("access.log.1").
  struct Sibling {
    std::string path;
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint64_t size = 0;
    std::chrono::nanoseconds mtime{};
  };

  // Adds the literal paths and the current glob matches to tracked_.
  void ExpandPaths();
  // Rotation/truncation/deletion handling and reading for one path.
  void UpdatePath(TrackedPath& tracked, const LineSink& sink, std::size_t& lines);
  // Opens the file now at tracked.path as tracked.current; false (reason in stats) on failure.
  bool OpenPath(TrackedPath& tracked, bool at_start);
  // Reads `file` to its current end and delivers its complete lines; returns the bytes read.
  std::uint64_t ReadAvailable(TrackedPath& tracked, OpenFile& file, const LineSink& sink,
                              std::size_t& lines);
  // Whether any tracked path has this file open (current or draining).
  bool IsOpen(std::uint64_t dev, std::uint64_t ino) const;
  // Rotated siblings of tracked.path, oldest first.
  std::vector<Sibling> ListSiblings(const TrackedPath& tracked) const;
  // Refreshes tracked.known_generations. With a sink, first opens and reads every rotated sibling
  // that is neither known nor open (a missed generation), keeping it open as draining.
  void ScanSiblings(TrackedPath& tracked, const LineSink* sink, std::size_t* lines);
  // copytruncate: reads, from logrotate's copy next to the file (a rotated sibling that starts
  // with the same bytes), what `file` had not read before the truncation. False when no copy.
  bool ReadFromCopy(TrackedPath& tracked, OpenFile& file, const LineSink& sink, std::size_t& lines);
  void SplitLines(TrackedPath& tracked, OpenFile& file, std::string_view data, const LineSink& sink,
                  std::size_t& lines);
  void PublishStats();
  // Whether `fd`'s file starts with `prefix`; with reclaim, also when it starts with as many zero
  // bytes (the start was punched).
  bool SameStart(int fd, std::string_view prefix) const;
  // Applies the marks handed to Reclaim().
  void ApplyReclaimMarks();
  // Frees the whole blocks of `file` before `offset` not freed yet.
  void PunchBefore(TrackedPath& tracked, OpenFile& file, std::uint64_t offset);

  const LogTailerOptions options_;

  // Poll-thread state.
  std::map<std::string, std::unique_ptr<TrackedPath>> tracked_;  // by path
  std::map<std::string, FilePosition> resume_;  // loaded positions not used yet, by path
  std::unique_ptr<char[]> buffer_;
  std::chrono::steady_clock::time_point last_save_{};
  bool positions_dirty_ = false;
  double poll_unix_seconds_ = 0;
  std::uint64_t next_generation_ = 1;

  // Marks handed to Reclaim(), applied by the next Poll().
  std::mutex reclaim_mutex_;
  std::vector<ReclaimMark> pending_reclaim_;

  // Serialises position file writes (its ".tmp" is shared) and guards retired_.
  std::mutex save_mutex_;
  bool retired_ = false;

  // Shared with Stats() / PositionFileError() callers.
  mutable std::mutex mutex_;
  std::vector<TailedFileStats> published_;
  std::string load_error_;
  std::string save_error_;
};

}  // namespace sidecar
