#pragma once

#include <filesystem>
#include <string>

namespace sidecar::testing {

// A file system of `type` (tmpfs, ramfs, ext4 on a loop device...) mounted on `where` (created
// when missing), unmounted on destruction. Mounting needs root (CAP_SYS_ADMIN): check mounted()
// and say SKIP when it failed.
class ScopedMount {
 public:
  // `source`: "tmpfs" or "ramfs" for those, an image file for `-o loop` file systems.
  ScopedMount(const std::filesystem::path& where, const std::string& type,
              const std::string& options = "", const std::string& source = "");
  ~ScopedMount();
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;

  bool mounted() const { return mounted_; }
  // Why mounting failed; empty when mounted.
  const std::string& error() const { return error_; }
  bool Remount(bool read_only);

 private:
  std::filesystem::path where_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace sidecar::testing
