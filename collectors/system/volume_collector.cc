#include "collectors/system/volume_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "collectors/core/metric_family_builder.h"
#include "collectors/core/unique_fd.h"

namespace sidecar {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Directories nested deeper than this are counted but not entered: each level being walked holds
// one descriptor, so this bounds the descriptors (and the memory) of a walk whatever the tree.
constexpr std::size_t kMaxDepth = 256;
// getdents64 buffer, shared by all levels.
constexpr std::size_t kDirentBuffer = 32 * 1024;

// Walks one directory tree depth first, relative to open directory descriptors (openat,
// fstatat), so that no path is ever longer than one name and memory does not grow with the
// tree: one descriptor and its resume offset per level being walked, one read buffer, and the
// inodes with several links.
class VolumeWalker {
 public:
  VolumeWalker(const VolumeWalkLimits& limits, VolumeUsage& usage)
      : limits_(limits), usage_(usage), buffer_(std::make_unique<char[]>(kDirentBuffer)) {}

  void Walk(const std::filesystem::path& root) {
    struct stat root_stat {};
    if (lstat(root.c_str(), &root_stat) != 0) {
      Stop(Errno("cannot stat " + root.string()));
      return;
    }
    if (S_ISLNK(root_stat.st_mode)) {
      Stop(root.string() +
           " is a symlink, which is not followed; give the volume's mount point itself");
      return;
    }
    if (!S_ISDIR(root_stat.st_mode)) {
      Stop(root.string() + " is not a directory; give the volume's mount point");
      return;
    }
    UniqueFd fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
      Stop(Errno("cannot read " + root.string()));
      return;
    }
    device_ = root_stat.st_dev;
    Count(root_stat);
    levels_.push_back(Level{.fd = std::move(fd), .name = root.string()});
    while (!levels_.empty() && usage_.complete) ReadSome();
    if (usage_.complete && deepest_skipped_ > 0) {
      usage_.complete = false;
      usage_.error = "directories nested deeper than " + std::to_string(kMaxDepth) +
                     " levels were not entered; usage is a lower bound";
    }
  }

 private:
  struct Level {
    UniqueFd fd;
    std::string name;   // for error messages: the path relative to the level above
    off_t resume = 0;   // getdents offset of the next entry
    bool seek = false;  // returning from a subdirectory: resume at `resume`
  };

  void Stop(std::string reason) {
    usage_.complete = false;
    usage_.error = std::move(reason);
  }

  std::string PathOfTop() const {
    std::string path;
    for (const Level& level : levels_) path += (path.empty() ? "" : "/") + level.name;
    return path;
  }

  void Count(const struct stat& entry) {
    if (entry.st_nlink > 1 && !S_ISDIR(entry.st_mode) &&
        !linked_.insert({entry.st_dev, entry.st_ino}).second) {
      return;  // another link to an inode already counted
    }
    usage_.allocated_bytes += static_cast<std::uint64_t>(entry.st_blocks) * 512;
    ++usage_.inodes;
  }

  // One getdents64 on the deepest level: counts its entries up to the first subdirectory, which
  // becomes the deepest level; pops the level at its end.
  void ReadSome() {
    Level& level = levels_.back();
    if (level.seek && lseek(level.fd.get(), level.resume, SEEK_SET) < 0) {
      usage_.error = Errno("cannot read " + PathOfTop());
      levels_.pop_back();
      return;
    }
    level.seek = false;
    const ssize_t n = getdents64(level.fd.get(), buffer_.get(), kDirentBuffer);
    if (n <= 0) {
      // Vanished meanwhile (a rotated log directory): nothing more to count. Anything else is
      // worth telling, but the rest of the tree still counts.
      if (n < 0 && errno != ENOENT) usage_.error = Errno("cannot read " + PathOfTop());
      levels_.pop_back();
      return;
    }
    for (ssize_t at = 0; at < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer_.get() + at);
      at += entry->d_reclen;
      level.resume = entry->d_off;
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      if (++entries_ > limits_.max_entries) {
        Stop("stopped after " + std::to_string(limits_.max_entries) +
             " entries (max_entries); usage is a lower bound");
        return;
      }
      if (entries_ % 1024 == 0 && std::chrono::steady_clock::now() > limits_.deadline) {
        Stop("stopped after " + std::to_string(entries_) +
             " entries at the time limit (max_walk_time); usage is a lower bound");
        return;
      }
      struct stat entry_stat {};
      if (fstatat(level.fd.get(), entry->d_name, &entry_stat, AT_SYMLINK_NOFOLLOW) != 0) {
        continue;  // gone
      }
      if (entry_stat.st_dev != device_) continue;  // a mount point inside: another filesystem
      Count(entry_stat);
      if (!S_ISDIR(entry_stat.st_mode)) continue;
      if (levels_.size() >= kMaxDepth) {
        ++deepest_skipped_;
        continue;
      }
      UniqueFd child(
          openat(level.fd.get(), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (child.get() < 0) {
        if (errno != ENOENT)
          usage_.error = Errno("cannot read " + PathOfTop() + "/" + entry->d_name);
        continue;
      }
      // The rest of this level is read after the subdirectory (depth first, like du).
      level.seek = true;
      levels_.push_back(Level{.fd = std::move(child), .name = std::string(name)});
      return;
    }
  }

  const VolumeWalkLimits& limits_;
  VolumeUsage& usage_;
  std::unique_ptr<char[]> buffer_;
  dev_t device_ = 0;
  std::uint64_t entries_ = 0;
  std::uint64_t deepest_skipped_ = 0;
  std::vector<Level> levels_;
  std::set<std::pair<dev_t, ino_t>> linked_;
};

}  // namespace

std::optional<std::uint64_t> ParseByteQuantity(std::string_view text) {
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  const std::string_view suffix(end, static_cast<size_t>(text.data() + text.size() - end));
  static constexpr std::pair<std::string_view, std::uint64_t> kSuffixes[] = {
      {"", 1},
      {"Ki", 1ull << 10},
      {"Mi", 1ull << 20},
      {"Gi", 1ull << 30},
      {"Ti", 1ull << 40},
      {"Pi", 1ull << 50},
      {"Ei", 1ull << 60},
      {"k", 1000ull},
      {"M", 1000'000ull},
      {"G", 1000'000'000ull},
      {"T", 1000'000'000'000ull},
      {"P", 1000'000'000'000'000ull},
      {"E", 1000'000'000'000'000'000ull}};
  for (const auto& [name, factor] : kSuffixes) {
    if (suffix != name) continue;
    if (number > UINT64_MAX / factor) return std::nullopt;
    return number * factor;
  }
  return std::nullopt;
}

VolumeUsage WalkVolume(const std::filesystem::path& root, const VolumeWalkLimits& limits) {
  VolumeUsage usage;
  VolumeWalker(limits, usage).Walk(root);
  return usage;
}

VolumeCollector::VolumeCollector(VolumeOptions options) : options_(std::move(options)) {}

CollectResult VolumeCollector::Collect(const CollectContext& context) {
  const auto now = std::chrono::steady_clock::now();
  if (!usage_ || now - walked_at_ >= options_.refresh) {
    VolumeWalkLimits limits;
    limits.max_entries = options_.max_entries;
    limits.deadline = now + options_.max_walk_time;
    if (context.deadline != std::chrono::steady_clock::time_point{}) {
      limits.deadline = std::min(limits.deadline, context.deadline);
    }
    usage_ = WalkVolume(options_.path, limits);
    walked_at_ = now;
    if (!usage_->complete && usage_->inodes > 0) ++walks_truncated_;
  }

  CollectResult result;
  using prometheus::MetricType;
  const auto add = [&](const char* name, const char* help, MetricType type, double value) {
    result.families.push_back(
        MetricFamilyBuilder(name, help, type, {{"volume", options_.name}}).Add(value).Build());
  };
  // A walk that found nothing (the path is missing or not a directory) tells no usage.
  if (usage_->inodes > 0) {
    add("sidecar_volume_used_bytes",
        "Bytes allocated to the files under the volume's path (st_blocks, as du and the kubelet "
        "count), a lower bound when the walk was cut short.",
        MetricType::Gauge, static_cast<double>(usage_->allocated_bytes));
    add("sidecar_volume_files",
        "Inodes under the volume's path (files, directories, symlinks and the path itself), as "
        "du --inodes counts.",
        MetricType::Gauge, static_cast<double>(usage_->inodes));
  }
  add("sidecar_volume_walks_truncated_total",
      "Walks of the volume's path cut short: stopped by max_entries or max_walk_time, or with "
      "directories nested over 256 levels deep not entered.",
      MetricType::Counter, static_cast<double>(walks_truncated_));
  if (options_.limit_bytes) {
    add("sidecar_volume_limit_bytes",
        "The volume's size limit from the configuration (an emptyDir's sizeLimit).",
        MetricType::Gauge, static_cast<double>(*options_.limit_bytes));
  }
  struct statvfs filesystem {};
  if (statvfs(options_.path.c_str(), &filesystem) == 0) {
    add("sidecar_volume_filesystem_size_bytes",
        "Size of the filesystem holding the volume, from statvfs (for an emptyDir, the node's "
        "disk or the pod's tmpfs).",
        MetricType::Gauge, static_cast<double>(filesystem.f_blocks) * filesystem.f_frsize);
    add("sidecar_volume_filesystem_available_bytes",
        "Bytes available to unprivileged users on the filesystem holding the volume, from "
        "statvfs.",
        MetricType::Gauge, static_cast<double>(filesystem.f_bavail) * filesystem.f_frsize);
  } else if (usage_->error.empty()) {
    usage_->error = Errno("statvfs " + options_.path.string());
  }
  if (!usage_->error.empty()) result.error = usage_->error;

  std::string summary = "walks " + options_.path.string() + ": " +
                        std::to_string(usage_->allocated_bytes) + " bytes in " +
                        std::to_string(usage_->inodes) + " inodes";
  if (options_.limit_bytes) summary += " of " + std::to_string(*options_.limit_bytes);
  if (!usage_->error.empty()) summary += " (" + usage_->error + ")";
  {
    const std::lock_guard lock(summary_mutex_);
    summary_ = std::move(summary);
  }
  return result;
}

std::string VolumeCollector::Summary() const {
  const std::lock_guard lock(summary_mutex_);
  return summary_;
}

CollectorFactory DecodeVolume(FieldDecoder& fields, const CollectorDefaults& defaults) {
  VolumeOptions options;
  options.name = defaults.name;
  options.path = fields.RequiredString("path");
  if (!options.path.empty() && !options.path.is_absolute()) {
    fields.Error("path", "\"" + options.path.string() +
                             "\" is not an absolute path; give the volume's mount point, such as "
                             "/var/log/nginx");
  }
  if (const std::optional<std::string> limit = fields.OptionalString("limit")) {
    options.limit_bytes = ParseByteQuantity(*limit);
    if (!options.limit_bytes || *options.limit_bytes == 0) {
      fields.Error("limit", "invalid size \"" + *limit +
                                "\"; use bytes or a Kubernetes quantity such as 512Mi or 1G");
    }
  }
  options.max_entries = fields.Unsigned("max_entries", options.max_entries, 1, 100'000'000);
  options.max_walk_time = fields.Duration("max_walk_time", options.max_walk_time);
  options.refresh = fields.Duration("refresh", options.refresh);
  return [options] { return std::make_unique<VolumeCollector>(options); };
}

}  // namespace sidecar
