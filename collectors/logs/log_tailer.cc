#include "collectors/logs/log_tailer.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <utility>

#include "collectors/core/unique_fd.h"

namespace sidecar {
namespace {

// Large reads keep the syscall count per line low: at ~200 bytes per access-log line one read
// carries over a thousand lines.
constexpr std::size_t kReadChunk = 256 * 1024;
// Enough to tell two log files apart (timestamps, addresses) while costing one small pread per
// file per Poll.
constexpr std::size_t kFingerprintBytes = 256;
// A line buffer this large means a misconfiguration, not a log format.
constexpr std::size_t kMaxLineBytesLimit = 64 * 1024 * 1024;

// Frees what glob(3) allocated.
class GlobResult {
 public:
  GlobResult() = default;
  ~GlobResult() { ::globfree(&glob_); }
  GlobResult(const GlobResult&) = delete;
  GlobResult& operator=(const GlobResult&) = delete;
  glob_t* get() { return &glob_; }

 private:
  glob_t glob_{};
};

bool HasWildcard(std::string_view text) {
  return text.find_first_of("*?[") != std::string_view::npos;
}

std::string ErrnoText(std::string_view what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// Whether the file behind `fd` starts with `prefix`, or, with `or_zeros`, with as many zero bytes.
bool StartsWith(int fd, std::string_view prefix, bool or_zeros = false) {
  if (prefix.empty()) return true;
  char head[kFingerprintBytes];
  const std::size_t want = std::min(prefix.size(), sizeof head);
  const ssize_t n = ::pread(fd, head, want, 0);
  if (n != static_cast<ssize_t>(want)) return false;
  if (std::memcmp(head, prefix.data(), want) == 0) return true;
  return or_zeros && std::all_of(head, head + want, [](char c) { return c == '\0'; });
}

// Where data starts at or after `offset` (SEEK_DATA): `offset` itself outside a hole, `size` when
// only a hole follows, `offset` when the filesystem cannot tell.
std::uint64_t NextData(int fd, std::uint64_t offset, std::uint64_t size) {
  if (offset >= size) return offset;
  const off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (data >= 0) return static_cast<std::uint64_t>(data);
  return errno == ENXIO ? size : offset;
}

// A second descriptor on the file behind `read_fd`, for writing (fallocate needs one).
// /proc/self/fd names the inode itself, whatever `path` names now; without /proc, `path` is used
// if it still names the same file. -1 with errno set on failure.
UniqueFd OpenForWriting(int read_fd, const std::string& path, std::uint64_t dev,
                        std::uint64_t ino) {
  constexpr int kFlags = O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  const std::string proc = "/proc/self/fd/" + std::to_string(read_fd);
  UniqueFd fd(::open(proc.c_str(), kFlags));
  if (fd.get() >= 0 || errno != ENOENT) return fd;
  fd = UniqueFd(::open(path.c_str(), kFlags));
  struct stat st {};
  if (fd.get() >= 0 &&
      (::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_dev) != dev ||
       static_cast<std::uint64_t>(st.st_ino) != ino)) {
    errno = ESTALE;
    return UniqueFd(-1);
  }
  return fd;
}

std::string ReadFingerprint(int fd, std::uint64_t offset) {
  std::string fingerprint(std::min<std::uint64_t>(offset, kFingerprintBytes), '\0');
  const ssize_t n = ::pread(fd, fingerprint.data(), fingerprint.size(), 0);
  fingerprint.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return fingerprint;
}

// Frees what opendir(3) allocated.
class DirHandle {
 public:
  explicit DirHandle(const std::string& path) : dir_(::opendir(path.c_str())) {}
  ~DirHandle() {
    if (dir_ != nullptr) ::closedir(dir_);
  }
  DirHandle(const DirHandle&) = delete;
  DirHandle& operator=(const DirHandle&) = delete;
  DIR* get() const { return dir_; }

 private:
  DIR* dir_;
};

// Whether `name` is what rotation makes of `base`: "access.log.1", "access.log-20261129",
// "access.log_old". Compressed ones are left alone: their bytes are not lines.
bool IsRotatedName(std::string_view name, std::string_view base) {
  if (name.size() <= base.size() + 1 || !name.starts_with(base)) return false;
  const char separator = name[base.size()];
  if (separator != '.' && separator != '-' && separator != '_') return false;
  for (const std::string_view suffix : {".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", ".zip"}) {
    if (name.ends_with(suffix)) return false;
  }
  return true;
}

}  // namespace

// One open generation of a tracked path.
struct LogTailer::OpenFile {
  UniqueFd fd;
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t offset = 0;      // bytes consumed from fd, == its file offset
  std::uint64_t line_start = 0;  // start of the incomplete line: the position worth saving
  std::string fingerprint;       // first min(offset, kFingerprintBytes) bytes
  std::string partial;           // incomplete line, at most max_line_bytes + 1 bytes
  bool discarding = false;       // skipping the rest of a line up to its '\n'
  std::uint64_t generation = 0;  // new at each open and truncation (ReclaimMark::generation)
  // Reclaim: [0, reclaimed) is freed (by us, or found a hole at open); written through write_fd,
  // opened at the first punch. `reclaim_stopped`: the file cannot be punched (permissions,
  // filesystem); no more attempts.
  std::uint64_t reclaimed = 0;
  UniqueFd write_fd;
  bool reclaim_stopped = false;
  // When a rotated-away file last grew (or was rotated away), for rotated_file_grace.
  std::chrono::steady_clock::time_point last_growth;
};

struct LogTailer::TrackedPath {
  std::string path;
  bool from_glob = false;
  bool matched = true;  // for glob paths: matched by the latest expansion
  std::optional<OpenFile> current;
  // Generations rotated away but possibly still written to; read before `current`.
  std::vector<OpenFile> draining;
  TailedFileStats stats;
  // Identity of a file that existed at construction but could not be opened then (permissions):
  // when it can be opened later it still starts at its end, as if opened at construction.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> present_at_start;
  // Files next to `path` under a rotated name (IsRotatedName) that are history or already read:
  // every rotated sibling seen by the last scan, plus every generation opened for this path.
  // A rotated sibling not in here appeared since and was never opened: a generation created and
  // rotated away between two polls.
  std::set<std::pair<std::uint64_t, std::uint64_t>> known_generations;
  bool siblings_scanned = false;
};

void LogTailer::ValidateOptions(const LogTailerOptions& options) {
  if (options.paths.empty()) {
    throw std::invalid_argument("log tailer: no paths to tail");
  }
  for (std::size_t i = 0; i < options.paths.size(); ++i) {
    const std::string& path = options.paths[i];
    const std::string where = "log tailer: paths[" + std::to_string(i) + "]";
    if (path.empty()) throw std::invalid_argument(where + " is empty");
    if (path.find('\0') != std::string::npos) {
      throw std::invalid_argument(where + " contains a NUL byte");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (options.paths[j] == path) {
        throw std::invalid_argument(where + " \"" + path + "\" repeats paths[" + std::to_string(j) +
                                    "]");
      }
    }
    if (!options.position_file.empty()) {
      // Tailing our own position file would feed its rewrites back as log lines.
      for (const std::string& own : {options.position_file, options.position_file + ".tmp"}) {
        if (own == path || (HasWildcard(path) && ::fnmatch(path.c_str(), own.c_str(), 0) == 0)) {
          throw std::invalid_argument(where + " \"" + path + "\" matches the position file " +
                                      options.position_file);
        }
      }
    }
  }
  if (options.max_line_bytes == 0 || options.max_line_bytes > kMaxLineBytesLimit) {
    throw std::invalid_argument("log tailer: max_line_bytes must be in [1, " +
                                std::to_string(kMaxLineBytesLimit) + "], got " +
                                std::to_string(options.max_line_bytes));
  }
  if (options.position_save_interval.count() < 0) {
    throw std::invalid_argument("log tailer: position_save_interval must not be negative");
  }
}

LogTailer::LogTailer(LogTailerOptions options) : options_(std::move(options)) {
  ValidateOptions(options_);

  buffer_ = std::make_unique_for_overwrite<char[]>(kReadChunk);

  if (!options_.position_file.empty()) {
    PositionFileContents contents = ReadPositionFile(options_.position_file);
    if (contents.error) load_error_ = "position file ignored: " + *contents.error;
    for (FilePosition& position : contents.positions) {
      std::string path = position.path;
      resume_[path] = std::move(position);
    }
  }

  ExpandPaths();
  for (auto& [path, tracked] : tracked_) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) tracked->stats.error = ErrnoText("stat", errno);
      continue;
    }
    if (!OpenPath(*tracked, /*at_start=*/true)) {
      tracked->present_at_start.emplace(st.st_dev, st.st_ino);
    }
  }
  // Positions of files the patterns no longer match would be carried along forever.
  std::erase_if(resume_, [this](const auto& entry) { return !tracked_.contains(entry.first); });
  PublishStats();
}

LogTailer::~LogTailer() {
  if (options_.position_file.empty() || !options_.autosave_positions) return;
  try {
    SavePositions();
  } catch (...) {
    // Only allocation can throw here; losing this save means re-reading lines after a restart.
  }
}

void LogTailer::ExpandPaths() {
  for (auto& [path, tracked] : tracked_) {
    tracked->matched = !tracked->from_glob;
  }
  const auto track = [this](const std::string& path, bool from_glob) {
    auto [it, inserted] = tracked_.try_emplace(path);
    if (inserted) {
      it->second = std::make_unique<TrackedPath>();
      it->second->path = path;
      it->second->stats.path = path;
      it->second->from_glob = from_glob;
      // What is already there under rotated names is history, not generations to read.
      ScanSiblings(*it->second, nullptr, nullptr);
    }
    it->second->matched = true;
  };
  for (const std::string& pattern : options_.paths) {
    if (!HasWildcard(pattern)) {
      track(pattern, /*from_glob=*/false);
      continue;
    }
    GlobResult result;
    // GLOB_MARK appends '/' to directories so that they can be skipped without a stat each.
    if (::glob(pattern.c_str(), GLOB_MARK, nullptr, result.get()) != 0) continue;
    for (std::size_t i = 0; i < result.get()->gl_pathc; ++i) {
      const std::string_view match = result.get()->gl_pathv[i];
      if (!match.empty() && match.back() != '/') track(std::string(match), /*from_glob=*/true);
    }
  }
}

bool LogTailer::OpenPath(TrackedPath& tracked, bool at_start) {
  // O_NONBLOCK: a FIFO at the path must not block the poll loop in open(2).
  UniqueFd fd(::open(tracked.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    tracked.stats.error = ErrnoText("open", errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    tracked.stats.error = ErrnoText("fstat", errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    tracked.stats.error = "not a regular file";
    return false;
  }
  const auto dev = static_cast<std::uint64_t>(st.st_dev);
  const auto ino = static_cast<std::uint64_t>(st.st_ino);
  const auto size = static_cast<std::uint64_t>(st.st_size);

  // A file we already read: one of our own rotated files (a symlink pointed back), a hard link, or
  // a glob match of the name a file was rotated to. Following it instead of opening it again
  // avoids a double count.
  for (auto& [other_path, other] : tracked_) {
    if (other.get() != &tracked && other->current && other->current->dev == dev &&
        other->current->ino == ino) {
      tracked.stats.error = "same file as " + other_path + ", read there";
      return false;
    }
    for (auto it = other->draining.begin(); it != other->draining.end(); ++it) {
      if (it->dev == dev && it->ino == ino) {
        tracked.current = std::move(*it);
        other->draining.erase(it);
        tracked.stats.error.clear();
        tracked.present_at_start.reset();
        return true;
      }
    }
  }

  OpenFile file;
  file.dev = dev;
  file.ino = ino;
  const auto identity = std::make_pair(dev, ino);
  if (auto saved = resume_.find(tracked.path); saved != resume_.end()) {
    const FilePosition& position = saved->second;
    // Same inode is not enough: inode numbers are reused, and copytruncate keeps the inode.
    const bool same_file = position.dev == dev && position.ino == ino && size >= position.offset &&
                           SameStart(fd.get(), position.fingerprint);
    file.offset = same_file ? position.offset : 0;
    resume_.erase(saved);
    positions_dirty_ = true;
  } else if ((at_start || tracked.present_at_start == identity) && !options_.from_beginning) {
    file.offset = size;
    if (size > 0) {
      // Starting inside a line would deliver its tail as a line of its own.
      char last = '\n';
      if (::pread(fd.get(), &last, 1, static_cast<off_t>(size - 1)) == 1 && last != '\n') {
        file.discarding = true;
      }
    }
  }
  file.generation = next_generation_++;
  if (options_.reclaim == LogReclaim::kPunchHole) {
    // Punched by an earlier run: not to be punched (nor counted) again.
    file.reclaimed = NextData(fd.get(), 0, size);
    if (const std::uint64_t data = NextData(fd.get(), file.offset, size); data > file.offset) {
      // Starting inside a hole (from_beginning, or a position file lost): its bytes are lines
      // freed after they were counted. Resume after the first line break that follows it.
      file.offset = data;
      file.discarding = true;
    }
  }
  if (file.offset > 0 && ::lseek(fd.get(), static_cast<off_t>(file.offset), SEEK_SET) < 0) {
    tracked.stats.error = ErrnoText("lseek", errno);
    return false;
  }
  file.line_start = file.offset;
  file.fingerprint = ReadFingerprint(fd.get(), file.offset);
  file.fd = std::move(fd);
  tracked.known_generations.insert(identity);
  tracked.current = std::move(file);
  tracked.present_at_start.reset();
  tracked.stats.error.clear();
  return true;
}

std::size_t LogTailer::Poll(const LineSink& sink) {
  poll_unix_seconds_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::size_t lines = 0;
  ApplyReclaimMarks();
  ExpandPaths();
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    TrackedPath& tracked = *it->second;
    UpdatePath(tracked, sink, lines);
    // Forget glob matches that are gone, so that dated file names do not pile up.
    if (tracked.from_glob && !tracked.matched && !tracked.current && tracked.draining.empty()) {
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
  if (!options_.position_file.empty() && options_.autosave_positions && positions_dirty_) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_save_ >= options_.position_save_interval) SavePositions();
  }
  PublishStats();
  return lines;
}

void LogTailer::UpdatePath(TrackedPath& tracked, const LineSink& sink, std::size_t& lines) {
  // Older generations first, so that a path's lines come out in the order they were written.
  // A rotated file is closed once a Poll finds nothing new in it and it has been idle for the
  // grace period.
  const auto now = std::chrono::steady_clock::now();
  for (auto it = tracked.draining.begin(); it != tracked.draining.end();) {
    if (ReadAvailable(tracked, *it, sink, lines) > 0) {
      it->last_growth = now;
      ++it;
    } else if (now - it->last_growth >= options_.rotated_file_grace) {
      it = tracked.draining.erase(it);
      positions_dirty_ = true;
    } else {
      ++it;
    }
  }

  struct stat st {};
  if (::stat(tracked.path.c_str(), &st) != 0) {
    const int err = errno;
    tracked.stats.error = err == ENOENT || err == ENOTDIR ? "" : ErrnoText("stat", err);
    if (tracked.current) {
      // Renamed away (the writer may still append until it reopens) or deleted.
      const std::uint64_t n = ReadAvailable(tracked, *tracked.current, sink, lines);
      struct stat open_st {};
      if (n == 0 && ::fstat(tracked.current->fd.get(), &open_st) == 0 && open_st.st_nlink == 0) {
        // Deleted and idle: holding it would keep its disk space allocated.
        tracked.current.reset();
        positions_dirty_ = true;
      }
    }
  } else if (tracked.current && tracked.current->dev == static_cast<std::uint64_t>(st.st_dev) &&
             tracked.current->ino == static_cast<std::uint64_t>(st.st_ino)) {
    OpenFile& file = *tracked.current;
    if (static_cast<std::uint64_t>(st.st_size) < file.offset ||
        !SameStart(file.fd.get(), file.fingerprint)) {
      // copytruncate: the content we read is gone (or replaced); start over, after reading the
      // lines written between our last read and the truncation from the copy, when it is here.
      ++tracked.stats.truncations;
      if (!ReadFromCopy(tracked, file, sink, lines)) ++tracked.stats.truncations_without_copy;
      ::lseek(file.fd.get(), 0, SEEK_SET);
      file.offset = 0;
      file.line_start = 0;
      file.fingerprint.clear();
      file.partial.clear();
      file.discarding = false;
      file.generation = next_generation_++;
      file.reclaimed = 0;
      positions_dirty_ = true;
    }
    ReadAvailable(tracked, file, sink, lines);
  } else {
    const bool rotated = tracked.current.has_value();
    if (rotated) {
      // Rotated: finish what is in the old file now, keep it open for late writes.
      ++tracked.stats.rotations;
      ReadAvailable(tracked, *tracked.current, sink, lines);
      tracked.current->last_growth = now;
      tracked.draining.push_back(std::move(*tracked.current));
      tracked.current.reset();
    }
    const bool opened = OpenPath(tracked, /*at_start=*/false);
    if (rotated || opened) {
      // Generations created and rotated away since the last poll are next to the path under a
      // rotated name: read them (before the new file, which is younger).
      ScanSiblings(tracked, &sink, &lines);
    }
    if (opened) {
      positions_dirty_ = true;
      ReadAvailable(tracked, *tracked.current, sink, lines);
    }
  }

  std::uint64_t lag = 0;
  const auto add_lag = [&lag](const OpenFile& file) {
    struct stat open_st {};
    if (::fstat(file.fd.get(), &open_st) == 0 &&
        static_cast<std::uint64_t>(open_st.st_size) > file.offset) {
      lag += static_cast<std::uint64_t>(open_st.st_size) - file.offset;
    }
  };
  for (const OpenFile& file : tracked.draining) add_lag(file);
  if (tracked.current) add_lag(*tracked.current);
  tracked.stats.lag_bytes = lag;
  tracked.stats.open = tracked.current.has_value();
}

bool LogTailer::IsOpen(std::uint64_t dev, std::uint64_t ino) const {
  for (const auto& [path, tracked] : tracked_) {
    if (tracked->current && tracked->current->dev == dev && tracked->current->ino == ino) {
      return true;
    }
    for (const OpenFile& file : tracked->draining) {
      if (file.dev == dev && file.ino == ino) return true;
    }
  }
  return false;
}

std::vector<LogTailer::Sibling> LogTailer::ListSiblings(const TrackedPath& tracked) const {
  const std::filesystem::path path(tracked.path);
  std::string directory = path.parent_path().string();
  if (directory.empty()) directory = ".";
  const std::string base = path.filename().string();
  std::vector<Sibling> siblings;
  DirHandle dir(directory);
  if (dir.get() == nullptr) return siblings;
  while (const dirent* entry = ::readdir(dir.get())) {
    if (!IsRotatedName(entry->d_name, base)) continue;
    std::string sibling = directory + "/" + entry->d_name;
    // Tailed under its own name (a glob matching rotated names): read there.
    if (tracked_.contains(sibling)) continue;
    struct stat st {};
    if (::stat(sibling.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    siblings.push_back(Sibling{.path = std::move(sibling),
                               .dev = static_cast<std::uint64_t>(st.st_dev),
                               .ino = static_cast<std::uint64_t>(st.st_ino),
                               .size = static_cast<std::uint64_t>(st.st_size),
                               .mtime = std::chrono::seconds(st.st_mtim.tv_sec) +
                                        std::chrono::nanoseconds(st.st_mtim.tv_nsec)});
  }
  // Oldest first: the order in which the generations were written.
  std::sort(siblings.begin(), siblings.end(),
            [](const Sibling& a, const Sibling& b) { return a.mtime < b.mtime; });
  return siblings;
}

void LogTailer::ScanSiblings(TrackedPath& tracked, const LineSink* sink, std::size_t* lines) {
  tracked.siblings_scanned = true;
  std::set<std::pair<std::uint64_t, std::uint64_t>> known;
  for (const Sibling& sibling : ListSiblings(tracked)) {
    const auto identity = std::make_pair(sibling.dev, sibling.ino);
    known.insert(identity);
    if (sink == nullptr || tracked.known_generations.contains(identity) ||
        IsOpen(sibling.dev, sibling.ino)) {
      continue;
    }
    UniqueFd fd(::open(sibling.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 ||
        static_cast<std::uint64_t>(st.st_ino) != sibling.ino ||
        static_cast<std::uint64_t>(st.st_dev) != sibling.dev) {
      continue;  // renamed again or unreadable: the next scan sees it
    }
    OpenFile file;
    file.fd = std::move(fd);
    file.dev = sibling.dev;
    file.ino = sibling.ino;
    file.generation = next_generation_++;
    file.last_growth = std::chrono::steady_clock::now();
    ++tracked.stats.rotations;
    ++tracked.stats.missed_generations;
    ReadAvailable(tracked, file, *sink, *lines);
    tracked.draining.push_back(std::move(file));
  }
  // What is not in the directory any more cannot come back (bounded memory); what is open stays.
  const auto keep_open = [&known](const OpenFile& file) { known.emplace(file.dev, file.ino); };
  if (tracked.current) keep_open(*tracked.current);
  for (const OpenFile& file : tracked.draining) keep_open(file);
  tracked.known_generations = std::move(known);
}

bool LogTailer::ReadFromCopy(TrackedPath& tracked, OpenFile& file, const LineSink& sink,
                             std::size_t& lines) {
  if (file.offset == 0) return true;  // nothing read yet, nothing to miss
  // logrotate's copy: a rotated sibling that starts with what we read and is at least as long.
  const Sibling* copy = nullptr;
  const std::vector<Sibling> siblings = ListSiblings(tracked);
  for (const Sibling& sibling : siblings) {
    if (sibling.size < file.offset || IsOpen(sibling.dev, sibling.ino)) continue;
    if (copy == nullptr || sibling.mtime >= copy->mtime) {
      UniqueFd fd(::open(sibling.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
      if (fd.get() >= 0 && SameStart(fd.get(), file.fingerprint)) copy = &sibling;
    }
  }
  if (copy == nullptr) return false;
  UniqueFd fd(::open(copy->path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0 || !SameStart(fd.get(), file.fingerprint) ||
      ::lseek(fd.get(), static_cast<off_t>(file.offset), SEEK_SET) < 0) {
    return false;
  }
  tracked.known_generations.emplace(copy->dev, copy->ino);
  // Continue the same generation (its partial line included) from the copy, to the copy's end.
  // A line the copy ends inside was finished after the copy was made: lost with the truncation.
  UniqueFd original = std::exchange(file.fd, std::move(fd));
  ReadAvailable(tracked, file, sink, lines);
  file.fd = std::move(original);
  return true;
}

std::uint64_t LogTailer::ReadAvailable(TrackedPath& tracked, OpenFile& file, const LineSink& sink,
                                       std::size_t& lines) {
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(file.fd.get(), buffer_.get(), kReadChunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      tracked.stats.error = ErrnoText("read", errno);
      break;
    }
    if (n == 0) break;
    const auto count = static_cast<std::size_t>(n);
    if (file.offset < kFingerprintBytes) {
      file.fingerprint.append(buffer_.get(),
                              std::min<std::size_t>(count, kFingerprintBytes - file.offset));
    }
    SplitLines(tracked, file, std::string_view(buffer_.get(), count), sink, lines);
    file.offset += count;
    total += count;
    // A short read of a regular file means its end (for now); skip the read that returns 0.
    if (count < kReadChunk) break;
  }
  if (total > 0) {
    tracked.stats.bytes_read += total;
    positions_dirty_ = true;
  }
  return total;
}

void LogTailer::SplitLines(TrackedPath& tracked, OpenFile& file, std::string_view data,
                           const LineSink& sink, std::size_t& lines) {
  const std::size_t max = options_.max_line_bytes;
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
  std::uint64_t delivered = 0;
  while (p < end) {
    const auto* newline = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (newline == nullptr) {
      // Hold the incomplete line; +1 leaves room for a '\r' that the '\n' may still follow.
      if (!file.discarding) {
        if (file.partial.size() + (end - p) > max + 1) {
          ++tracked.stats.lines_too_long;
          file.partial.clear();
          file.discarding = true;
        } else {
          file.partial.append(p, end - p);
        }
      }
      break;
    }
    std::string_view line(p, newline - p);
    p = newline + 1;
    file.line_start = file.offset + (p - begin);
    if (file.discarding) {
      file.discarding = false;
      continue;
    }
    if (!file.partial.empty()) {
      if (file.partial.size() + line.size() > max + 1) {
        ++tracked.stats.lines_too_long;
        file.partial.clear();
        continue;
      }
      file.partial.append(line);
      line = file.partial;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max) {
      ++tracked.stats.lines_too_long;
    } else {
      sink(tracked.path, line);
      ++delivered;
    }
    file.partial.clear();
  }
  if (delivered > 0) {
    lines += delivered;
    tracked.stats.lines += delivered;
    tracked.stats.last_line_unix_seconds = poll_unix_seconds_;
  }
}

std::vector<FilePosition> LogTailer::Positions() const {
  std::vector<FilePosition> positions;
  for (const auto& [path, tracked] : tracked_) {
    if (tracked->current) {
      const OpenFile& file = *tracked->current;
      positions.push_back(FilePosition{
          .path = path,
          .dev = file.dev,
          .ino = file.ino,
          .offset = file.line_start,
          .fingerprint = file.fingerprint.substr(
              0, std::min<std::uint64_t>(file.fingerprint.size(), file.line_start)),
      });
    } else if (auto saved = resume_.find(path); saved != resume_.end()) {
      // Not open yet (missing, permission denied): keep what the previous run knew.
      positions.push_back(saved->second);
    }
  }
  return positions;
}

std::vector<ReclaimMark> LogTailer::ReclaimMarks() const {
  std::vector<ReclaimMark> marks;
  if (options_.reclaim != LogReclaim::kPunchHole) return marks;
  for (const auto& [path, tracked] : tracked_) {
    if (!tracked->current) continue;
    const OpenFile& file = *tracked->current;
    marks.push_back(ReclaimMark{.path = path,
                                .dev = file.dev,
                                .ino = file.ino,
                                .generation = file.generation,
                                .offset = file.line_start});
  }
  return marks;
}

void LogTailer::Reclaim(std::vector<ReclaimMark> marks) {
  if (options_.reclaim != LogReclaim::kPunchHole) return;
  std::lock_guard lock(reclaim_mutex_);
  // Newer marks supersede older ones: same generation, offsets at least as far.
  pending_reclaim_ = std::move(marks);
}

void LogTailer::ApplyReclaimMarks() {
  std::vector<ReclaimMark> marks;
  {
    std::lock_guard lock(reclaim_mutex_);
    marks.swap(pending_reclaim_);
  }
  for (const ReclaimMark& mark : marks) {
    const auto it = tracked_.find(mark.path);
    if (it == tracked_.end() || !it->second->current) continue;
    OpenFile& file = *it->second->current;
    if (file.dev == mark.dev && file.ino == mark.ino && file.generation == mark.generation) {
      PunchBefore(*it->second, file, mark.offset);
    }
  }
}

void LogTailer::PunchBefore(TrackedPath& tracked, OpenFile& file, std::uint64_t offset) {
  if (file.reclaim_stopped) return;
  struct stat st {};
  if (::fstat(file.fd.get(), &st) != 0) return;
  // Whole blocks only: punching part of a block writes zeros into it instead of freeing it.
  const std::uint64_t block = st.st_blksize > 0 ? static_cast<std::uint64_t>(st.st_blksize) : 4096;
  const std::uint64_t end = offset / block * block;
  if (end <= file.reclaimed) return;
  // Truncated (copytruncate) since the mark, which this Poll has not seen yet: [0, offset) now
  // holds someone else's lines, not ours.
  if (static_cast<std::uint64_t>(st.st_size) < offset ||
      !SameStart(file.fd.get(), file.fingerprint)) {
    return;
  }
  TailedFileStats& stats = tracked.stats;
  const auto fail = [&](std::uint64_t& counter, bool stop, std::string message) {
    ++counter;
    file.reclaim_stopped = stop;
    stats.reclaim_error = "reclaim: " + std::move(message);
  };
  if (file.write_fd.get() < 0) {
    file.write_fd = OpenForWriting(file.fd.get(), tracked.path, file.dev, file.ino);
    if (file.write_fd.get() < 0) {
      const int err = errno;
      if (err == EACCES || err == EPERM || err == EROFS || err == ETXTBSY) {
        fail(stats.reclaim_permission, true,
             ErrnoText("the sidecar may not open the file for writing (open", err) +
                 "); its blocks are not freed: mount the volume read-write and run the sidecar "
                 "as the writer's user");
      } else {
        fail(stats.reclaim_errors, false, ErrnoText("open for writing", err));
      }
      return;
    }
  }
  const auto length = static_cast<off_t>(end - file.reclaimed);
  if (::fallocate(file.write_fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(file.reclaimed), length) != 0) {
    const int err = errno;
    if (err == EOPNOTSUPP || err == ENOSYS) {
      fail(stats.reclaim_unsupported, true,
           ErrnoText("the filesystem cannot punch holes (fallocate", err) +
               "); the file's blocks are not freed");
    } else if (err == EPERM || err == EACCES || err == EROFS) {
      fail(stats.reclaim_permission, true,
           ErrnoText("the file may not be modified (fallocate", err) +
               "); its blocks are not freed");
    } else {
      fail(stats.reclaim_errors, false, ErrnoText("fallocate", err));
    }
    return;
  }
  stats.reclaimed_bytes += end - file.reclaimed;
  stats.reclaim_error.clear();
  file.reclaimed = end;
}

bool LogTailer::SameStart(int fd, std::string_view prefix) const {
  return StartsWith(fd, prefix, options_.reclaim == LogReclaim::kPunchHole);
}

bool LogTailer::SavePositions() {
  if (options_.position_file.empty()) return true;
  last_save_ = std::chrono::steady_clock::now();
  const bool saved = CommitPositions(Positions());
  if (saved) positions_dirty_ = false;
  return saved;
}

bool LogTailer::CommitPositions(const std::vector<FilePosition>& positions) {
  if (options_.position_file.empty()) return true;
  std::lock_guard save_lock(save_mutex_);
  // A retired tailer's positions are older than its replacement's: writing them would make a
  // restart count lines twice.
  if (retired_) return true;
  const std::optional<std::string> error = WritePositionFile(options_.position_file, positions);
  std::lock_guard lock(mutex_);
  save_error_ = error ? "cannot save positions: " + *error : "";
  return !error;
}

void LogTailer::Retire() {
  std::lock_guard save_lock(save_mutex_);
  retired_ = true;
}

std::string LogTailer::PositionFileError() const {
  std::lock_guard lock(mutex_);
  if (load_error_.empty()) return save_error_;
  if (save_error_.empty()) return load_error_;
  return load_error_ + "; " + save_error_;
}

void LogTailer::PublishStats() {
  std::vector<TailedFileStats> stats;
  stats.reserve(tracked_.size());
  for (const auto& [path, tracked] : tracked_) {
    stats.push_back(tracked->stats);
  }
  std::lock_guard lock(mutex_);
  published_ = std::move(stats);
}

std::vector<TailedFileStats> LogTailer::Stats() const {
  std::lock_guard lock(mutex_);
  return published_;
}

}  // namespace sidecar
