#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "collectors/core/collector.h"
#include "collectors/core/collector_type.h"

namespace sidecar {

// Parses a Kubernetes quantity of bytes ("512Mi", "1G", "1048576"): binary suffixes Ki, Mi, Gi,
// Ti, Pi, Ei, decimal k, M, G, T, P, E. nullopt for anything else (fractions included).
std::optional<std::uint64_t> ParseByteQuantity(std::string_view text);

// What one walk of a directory tree found.
struct VolumeUsage {
  std::uint64_t allocated_bytes = 0;  // st_blocks * 512 of every inode once, the root included
  std::uint64_t inodes = 0;           // files, directories, symlinks, the root included
  bool complete = true;               // false when a bound stopped the walk
  std::string error;                  // why it stopped, or what could not be read
};

struct VolumeWalkLimits {
  std::uint64_t max_entries = 1'000'000;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// Walks `root` as `du -s -x -B1` and `du -s -x --inodes` count: allocated blocks (what the
// kubelet counts against an emptyDir's sizeLimit), hard links once, symlinks not followed, other
// filesystems not entered. Walks relative to open directory descriptors, so that depth is not
// limited by PATH_MAX; directories nested more than 256 levels deep are counted but not entered
// (the walk is then incomplete, with that reason). Memory and descriptors: one descriptor per
// level being walked (at most 256), one 32 KiB read buffer, and the inodes with several links
// (bounded by `max_entries`).
VolumeUsage WalkVolume(const std::filesystem::path& root, const VolumeWalkLimits& limits);

struct VolumeOptions {
  std::string name;  // the "volume" label
  std::filesystem::path path;
  std::optional<std::uint64_t> limit_bytes;  // the emptyDir's sizeLimit, which statfs cannot see
  std::uint64_t max_entries = 1'000'000;
  std::chrono::milliseconds max_walk_time{2000};
  // A walk is reused by scrapes within this interval: walking a large tree on every scrape of
  // several Prometheus replicas would cost more than it tells.
  std::chrono::milliseconds refresh{15000};
};

// The shared volume the logs live on: its usage by walking it, its filesystem by statvfs.
//
// Thread-safety: Collect() must not run concurrently with itself (the exporter guarantees it);
// Summary() may run on any thread.
class VolumeCollector final : public Collector {
 public:
  explicit VolumeCollector(VolumeOptions options);

  CollectResult Collect(const CollectContext& context) override;
  std::string Summary() const override;

 private:
  const VolumeOptions options_;
  std::optional<VolumeUsage> usage_;
  std::chrono::steady_clock::time_point walked_at_;
  std::uint64_t walks_truncated_ = 0;
  mutable std::mutex summary_mutex_;
  std::string summary_;
};

// Decodes the options of a `volume` collector into a factory of VolumeCollector.
CollectorFactory DecodeVolume(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
