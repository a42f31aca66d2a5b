#include "collectors/system/proc_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>

#include "collectors/core/unique_fd.h"

namespace sidecar::procfs {
namespace {

ReadStatus StatusFromErrno(int error) {
  switch (error) {
    case ENOENT:
    case ESRCH:
      return ReadStatus::kGone;
    case EACCES:
    case EPERM:
      return ReadStatus::kPermissionDenied;
    default:
      return ReadStatus::kOtherError;
  }
}

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};

template <typename Number>
bool ParseNumber(std::string_view token, Number& value) {
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  return error == std::errc() && end == token.data() + token.size();
}

}  // namespace

ReadStatus ReadWholeFile(const std::filesystem::path& path, std::string& contents,
                         size_t max_bytes) {
  contents.clear();
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return StatusFromErrno(errno);
  size_t used = 0;
  contents.resize(std::min<size_t>(4096, max_bytes));
  while (true) {
    if (used == contents.size()) {
      if (contents.size() >= max_bytes) {
        contents.resize(used);
        return ReadStatus::kOtherError;
      }
      contents.resize(std::min(contents.size() * 2, max_bytes));
    }
    const ssize_t count = read(fd.get(), contents.data() + used, contents.size() - used);
    if (count < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      contents.clear();
      return StatusFromErrno(error);
    }
    if (count == 0) break;
    used += static_cast<size_t>(count);
  }
  contents.resize(used);
  return ReadStatus::kOk;
}

ReadStatus CountEntries(const std::filesystem::path& directory, std::uint64_t& count) {
  count = 0;
  const std::unique_ptr<DIR, DirCloser> dir(opendir(directory.c_str()));
  if (!dir) return StatusFromErrno(errno);
  while (const dirent* entry = readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") ++count;
  }
  return ReadStatus::kOk;
}

ReadStatus ReadLink(const std::filesystem::path& path, std::string& target) {
  char buffer[4096];
  const ssize_t length = readlink(path.c_str(), buffer, sizeof buffer);
  if (length < 0) return StatusFromErrno(errno);
  target.assign(buffer, static_cast<size_t>(length));
  return ReadStatus::kOk;
}

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  const size_t open_paren = text.find('(');
  const size_t close_paren = text.rfind(')');
  if (open_paren == std::string_view::npos || close_paren == std::string_view::npos ||
      close_paren < open_paren || close_paren + 2 > text.size()) {
    return std::nullopt;
  }
  ProcStat stat;
  stat.comm = std::string(text.substr(open_paren + 1, close_paren - open_paren - 1));
  // Fields from number 3 (state) on, separated by single spaces.
  std::string_view rest = text.substr(close_paren + 2);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
  int number = 3;
  bool ok = true;
  while (!rest.empty() && number <= 24 && ok) {
    const size_t space = rest.find(' ');
    const std::string_view token = rest.substr(0, space);
    switch (number) {
      case 3:
        ok = token.size() == 1;
        stat.state = token.empty() ? '?' : token[0];
        break;
      case 4:
        ok = ParseNumber(token, stat.ppid);
        break;
      case 10:
        ok = ParseNumber(token, stat.minflt);
        break;
      case 12:
        ok = ParseNumber(token, stat.majflt);
        break;
      case 14:
        ok = ParseNumber(token, stat.utime);
        break;
      case 15:
        ok = ParseNumber(token, stat.stime);
        break;
      case 20:
        ok = ParseNumber(token, stat.num_threads);
        break;
      case 22:
        ok = ParseNumber(token, stat.starttime);
        break;
      case 23:
        ok = ParseNumber(token, stat.vsize);
        break;
      case 24:
        ok = ParseNumber(token, stat.rss);
        break;
      default:
        break;
    }
    ++number;
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  if (!ok || number <= 24) return std::nullopt;
  return stat;
}

std::optional<double> ParseBootTime(std::string_view proc_stat) {
  const std::optional<std::uint64_t> btime = FindKeyedNumber(proc_stat, "btime");
  if (!btime) return std::nullopt;
  return static_cast<double>(*btime);
}

std::optional<std::uint64_t> FindKeyedNumber(std::string_view text, std::string_view key) {
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    std::string_view line = text.substr(at, end == std::string_view::npos ? end : end - at);
    at = end == std::string_view::npos ? text.size() : end + 1;
    if (!line.starts_with(key)) continue;
    line.remove_prefix(key.size());
    // The key must end here: "Pss:" is not "Pss_Anon:", "btime" is not "btimex".
    if (!line.empty() && line.front() != ' ' && line.front() != '\t' && line.front() != ':') {
      continue;
    }
    if (!line.empty() && line.front() == ':') line.remove_prefix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    std::uint64_t value = 0;
    const auto [number_end, error] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (error != std::errc()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> ParseOpenFilesLimit(std::string_view limits) {
  constexpr std::string_view kKey = "Max open files";
  const size_t at = limits.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = limits.substr(at + kKey.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (error != std::errc()) return std::nullopt;  // "unlimited"
  return value;
}

}  // namespace sidecar::procfs
