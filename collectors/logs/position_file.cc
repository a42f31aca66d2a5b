#include "collectors/logs/position_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

namespace sidecar {
namespace {

constexpr std::string_view kHeader = "sidecar-exporter-log-positions 1";

std::string ErrnoText(int err) { return std::strerror(err); }

// Paths may hold any byte but '\0'; escaping the separators keeps one entry per line.
std::string EscapePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (const char c : path) {
    if (c == '%' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool DecodeHex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = HexValue(hex[i]);
    const int low = HexValue(hex[i + 1]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
  }
  return true;
}

bool UnescapePath(std::string_view escaped, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '%') {
      out += escaped[i];
      continue;
    }
    std::string byte;
    if (i + 2 >= escaped.size() || !DecodeHex(escaped.substr(i + 1, 2), byte)) return false;
    out += byte;
    i += 2;
  }
  return !out.empty();
}

bool ParseUint(std::string_view text, std::uint64_t& value) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// Splits off the text up to the next space.
std::string_view NextField(std::string_view& rest) {
  const std::size_t space = rest.find(' ');
  std::string_view field = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return field;
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using UniqueFile = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

std::string SerializePositions(const std::vector<FilePosition>& positions) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kHeader);
  out += '\n';
  for (const FilePosition& position : positions) {
    out += std::to_string(position.dev) + ' ' + std::to_string(position.ino) + ' ' +
           std::to_string(position.offset) + ' ';
    if (position.fingerprint.empty()) {
      out += '-';
    }
    for (const char c : position.fingerprint) {
      const auto byte = static_cast<unsigned char>(c);
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
    out += ' ';
    out += EscapePath(position.path);
    out += '\n';
  }
  return out;
}

std::optional<std::string> ParsePositions(std::string_view text,
                                          std::vector<FilePosition>& positions) {
  positions.clear();
  std::size_t line_number = 0;
  bool saw_header = false;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    if (newline == std::string_view::npos) {
      // Every line we write ends in '\n': a missing one means the file was cut short.
      return "line " + std::to_string(line_number + 1) + ": truncated (no newline)";
    }
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    ++line_number;
    const std::string where = "line " + std::to_string(line_number) + ": ";
    if (!saw_header) {
      if (line != kHeader) {
        return where + "not a sidecar-exporter position file (expected \"" + std::string(kHeader) +
               "\")";
      }
      saw_header = true;
      continue;
    }
    FilePosition position;
    if (!ParseUint(NextField(line), position.dev)) return where + "bad device number";
    if (!ParseUint(NextField(line), position.ino)) return where + "bad inode number";
    if (!ParseUint(NextField(line), position.offset)) return where + "bad offset";
    const std::string_view fingerprint = NextField(line);
    if (fingerprint != "-" && !DecodeHex(fingerprint, position.fingerprint)) {
      return where + "bad fingerprint";
    }
    if (position.fingerprint.size() > position.offset) {
      return where + "fingerprint longer than offset";
    }
    if (!UnescapePath(line, position.path)) return where + "bad path";
    positions.push_back(std::move(position));
  }
  if (!saw_header) return std::string("empty file");
  return std::nullopt;
}

PositionFileContents ReadPositionFile(const std::string& path) {
  PositionFileContents contents;
  UniqueFile file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    if (errno != ENOENT) contents.error = "cannot open " + path + ": " + ErrnoText(errno);
    return contents;
  }
  std::string text;
  char buffer[16 * 1024];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    text.append(buffer, n);
  }
  if (std::ferror(file.get())) {
    contents.error = "cannot read " + path;
    return contents;
  }
  if (auto error = ParsePositions(text, contents.positions)) {
    contents.positions.clear();
    contents.error = path + ": " + *error;
  }
  return contents;
}

std::optional<std::string> WritePositionFile(const std::string& path,
                                             const std::vector<FilePosition>& positions) {
  const std::string temp = path + ".tmp";
  const std::string text = SerializePositions(positions);
  {
    UniqueFile file(std::fopen(temp.c_str(), "wb"));
    if (!file) return "cannot create " + temp + ": " + ErrnoText(errno);
    if (std::fwrite(text.data(), 1, text.size(), file.get()) != text.size() ||
        std::fflush(file.get()) != 0) {
      const int err = errno;
      std::remove(temp.c_str());
      return "cannot write " + temp + ": " + ErrnoText(err);
    }
    // Without fsync a crash shortly after the rename can leave an empty file behind on ext4/xfs.
    if (::fsync(::fileno(file.get())) != 0) {
      const int err = errno;
      std::remove(temp.c_str());
      return "cannot fsync " + temp + ": " + ErrnoText(err);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(temp.c_str());
    return "cannot rename " + temp + " to " + path + ": " + ErrnoText(err);
  }
  // The rename itself reaches the disk with the directory: without this a node crash could bring
  // back an older position file.
  std::string directory = path.substr(0, path.rfind('/') + 1);
  if (directory.empty()) directory = ".";
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    // EINVAL: the file system cannot sync directories; the rename is still atomic.
    if (::fsync(dir_fd) != 0 && errno != EINVAL) {
      const int err = errno;
      ::close(dir_fd);
      return "cannot fsync " + directory + ": " + ErrnoText(err);
    }
    ::close(dir_fd);
  }
  return std::nullopt;
}

}  // namespace sidecar
