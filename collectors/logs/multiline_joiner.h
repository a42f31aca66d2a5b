#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}  // namespace re2

namespace sidecar {

struct MultilineOptions {
  // RE2 (unanchored unless it says `^`, bytes) that a record's first line matches; the lines
  // after it that do not match join its record (a stack trace under its log line).
  std::string start;
  // Bounds of one record: lines beyond either are left out of it (and counted).
  std::size_t max_lines = 500;
  std::size_t max_bytes = 64 * 1024;
  // A record whose last line came this long ago is complete (its file may stay quiet after it).
  std::chrono::milliseconds flush_timeout{2000};
};

// Counts of a MultilineJoiner, cumulative.
struct MultilineStats {
  std::uint64_t records = 0;               // records handed out
  std::uint64_t flushed_by_timeout = 0;    // of which ended by the flush timeout
  std::uint64_t lines_over_max_lines = 0;  // continuation lines left out: the record had max_lines
  std::uint64_t lines_over_max_bytes = 0;  // continuation lines left out: it would pass max_bytes
  // Lines that do not match `start` with no record open before them (a file read from the middle
  // of a record, or a start pattern that never matches): each is a record of its own.
  std::uint64_t orphan_lines = 0;
};

// Joins the lines of each file into records: a line matching `start` opens a record, the lines
// after it that do not match are appended to it ("\n" between them), and the record is handed to
// the sink when the next start line of the same file comes or, through Flush(), when it has been
// quiet for the flush timeout. Memory: at most max_bytes per file with an open record.
//
// Exactness: the lines of a record still open are past the tailer's position; if the process is
// killed before the record completes and the positions were committed past them, they are lost.
//
// Thread-safety: none (the tail thread). Not copyable.
class MultilineJoiner {
 public:
  // Called once per record with its file and text; returns what the caller wants passed back
  // from Feed() (whether the record parsed). The text is valid during the call only.
  using RecordSink = std::function<bool(std::string_view path, std::string_view record)>;

  // Throws std::invalid_argument when `start` is not a valid RE2 or a bound is zero.
  explicit MultilineJoiner(MultilineOptions options);
  ~MultilineJoiner();
  MultilineJoiner(const MultilineJoiner&) = delete;
  MultilineJoiner& operator=(const MultilineJoiner&) = delete;

  // One line of `path`. Returns false when a record it completed was refused by the sink.
  bool Feed(std::string_view path, std::string_view line, const RecordSink& sink);
  // Hands out the records that have seen no line since the previous call for at least the flush
  // timeout (lines marked by Feed() restart their clock at this call). `refused` gets the path of
  // each record the sink refused.
  void Flush(std::chrono::steady_clock::time_point now, const RecordSink& sink,
             const std::function<void(std::string_view path)>& refused);

  MultilineStats stats() const { return stats_; }

 private:
  struct Pending {
    std::string text;
    std::size_t lines = 0;
    bool open = false;
    bool touched = false;  // a line came since the last Flush()
    std::chrono::steady_clock::time_point last_line{};
  };
  bool Emit(std::string_view path, Pending& pending, const RecordSink& sink);

  const MultilineOptions options_;
  std::unique_ptr<re2::RE2> start_;
  std::map<std::string, Pending, std::less<>> pending_;  // by path
  MultilineStats stats_;
};

}  // namespace sidecar
