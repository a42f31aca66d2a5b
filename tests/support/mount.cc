#include "tests/support/mount.h"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "tests/support/process.h"

namespace sidecar::testing {

ScopedMount::ScopedMount(const std::filesystem::path& where, const std::string& type,
                         const std::string& options, const std::string& source)
    : where_(where) {
  std::filesystem::create_directories(where_);
  if (source.empty() || source == type) {
    mounted_ = ::mount(type.c_str(), where_.c_str(), type.c_str(), 0,
                       options.empty() ? nullptr : options.c_str()) == 0;
    if (!mounted_) error_ = "mount -t " + type + ": " + std::strerror(errno);
    return;
  }
  // An image file: mount(8) sets up the loop device.
  std::vector<std::string> argv = {"mount", "-t", type, "-o", "loop"};
  if (!options.empty()) argv.back() += "," + options;
  argv.push_back(source);
  argv.push_back(where_.string());
  const CommandResult result = RunCommand(argv);
  mounted_ = result.exit_code == 0;
  if (!mounted_) error_ = "mount -o loop " + source + ": " + result.output;
}

ScopedMount::~ScopedMount() {
  if (!mounted_) return;
  if (::umount2(where_.c_str(), 0) != 0) ::umount2(where_.c_str(), MNT_DETACH);
}

bool ScopedMount::Remount(bool read_only) {
  return ::mount(nullptr, where_.c_str(), nullptr, MS_REMOUNT | (read_only ? MS_RDONLY : 0),
                 nullptr) == 0;
}

}  // namespace sidecar::testing
