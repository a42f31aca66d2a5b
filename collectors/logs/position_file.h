#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar {

// Where the log tailer stopped in one file, so that a restarted sidecar resumes without a gap or
// a double count. `offset` is always the start of a line (just after a '\n', or 0).
struct FilePosition {
  std::string path;  // as configured or matched by a glob, not the symlink target
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t offset = 0;
  // The first min(offset, kFingerprintBytes) bytes of the file: tells a file that was truncated
  // and rewritten, or a new file that reused the inode number, from the one we were reading.
  std::string fingerprint;

  bool operator==(const FilePosition&) const = default;
};

// What ReadPositionFile() found.
struct PositionFileContents {
  std::vector<FilePosition> positions;
  // Set when the file exists but cannot be read or is not a valid position file; `positions` is
  // then empty (a half-trusted file could cause double counts). Unset when the file is missing,
  // which is the normal first start.
  std::optional<std::string> error;
};

// Text format, one file per line, so a person can read it on the shared volume:
//   sidecar-exporter-log-positions 1
//   <dev> <ino> <offset> <fingerprint as hex, or -> <path, with %, space, \t, \r, \n escaped as
//   %XX>
std::string SerializePositions(const std::vector<FilePosition>& positions);
// Returns the reason when `text` is not a valid position file ("line 3: bad offset").
std::optional<std::string> ParsePositions(std::string_view text,
                                          std::vector<FilePosition>& positions);

// Never throws for I/O or format errors: they come back in `error`.
PositionFileContents ReadPositionFile(const std::string& path);

// Replaces `path` atomically: writes `path`.tmp in the same directory, fsyncs it, renames it
// over `path` and fsyncs the directory, so a crash (of the process or the node) leaves either
// the old or the new file, never a torn one, and a returned success survives a node crash. Returns
// the reason on failure. Not safe to call concurrently for the same path.
std::optional<std::string> WritePositionFile(const std::string& path,
                                             const std::vector<FilePosition>& positions);

}  // namespace sidecar
