#include "collectors/system/volume_collector.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>

#include "tests/support/families.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

namespace fs = std::filesystem;

std::map<std::string, double> Values(const CollectResult& result) {
  return testing::FirstValues(result.families);
}

// The first number du prints.
std::uint64_t Du(const std::vector<std::string>& args) {
  const testing::CommandResult result = testing::RunCommand(args);
  REQUIRE(result.exit_code == 0);
  return std::stoull(result.output);
}

// A tree with what du and the kubelet count differently from file sizes: a sparse file, hard
// links, a symlink to a big file outside, nested directories.
void MakeTree(const std::filesystem::path& root, const std::filesystem::path& outside) {
  std::filesystem::create_directories(root / "a" / "b" / "c");
  testing::WriteFile(root / "access.log", std::string(100000, 'x'));
  testing::WriteFile(root / "a" / "b" / "error.log", std::string(5000, 'y'));
  testing::WriteFile(root / "a" / "empty", "");
  std::filesystem::create_hard_link(root / "access.log", root / "a" / "access.log.link");
  // Sparse: 64 MiB long, one block written.
  const int fd = open((root / "sparse").c_str(), O_CREAT | O_WRONLY, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, "z", 1, 64 << 20) == 1);
  close(fd);
  testing::WriteFile(outside, std::string(1 << 20, 'o'));
  std::filesystem::create_symlink(outside, root / "a" / "big-elsewhere");
}

TEST_CASE("byte quantities as Kubernetes writes them", "[volume]") {
  CHECK(ParseByteQuantity("512Mi") == 512ull << 20);
  CHECK(ParseByteQuantity("1G") == 1000000000ull);
  CHECK(ParseByteQuantity("1048576") == 1048576ull);
  CHECK(ParseByteQuantity("2Ki") == 2048ull);
  CHECK_FALSE(ParseByteQuantity("1.5Gi"));
  CHECK_FALSE(ParseByteQuantity("Mi"));
  CHECK_FALSE(ParseByteQuantity("5 Mi"));
  CHECK_FALSE(ParseByteQuantity("5mi"));
  CHECK_FALSE(ParseByteQuantity("99999999999Ei"));
}

TEST_CASE("a walk counts allocated blocks and inodes as du does", "[volume]") {
  testing::TempDir dir;
  MakeTree(dir / "volume", dir / "outside");
  const VolumeUsage usage = WalkVolume(dir / "volume", {});
  CHECK(usage.complete);
  CHECK(usage.error.empty());
  const std::string root = (dir / "volume").string();
  CHECK(usage.allocated_bytes == Du({"du", "-s", "-x", "-B1", root}));
  CHECK(usage.inodes == Du({"du", "-s", "-x", "--inodes", root}));
  // Not the sparse file's length, nor the symlink's target.
  CHECK(usage.allocated_bytes < (1 << 20));
}

TEST_CASE("walks are bounded by entries and time", "[volume]") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "volume" / "many");
  for (int i = 0; i < 3000; ++i) {
    testing::WriteFile(dir / "volume" / "many" / std::to_string(i), "");
  }
  VolumeWalkLimits limits;
  limits.max_entries = 100;
  VolumeUsage usage = WalkVolume(dir / "volume", limits);
  CHECK_FALSE(usage.complete);
  CHECK(usage.inodes <= 101);
  CHECK(usage.error == "stopped after 100 entries (max_entries); usage is a lower bound");

  limits.max_entries = 1'000'000;
  limits.deadline = std::chrono::steady_clock::now();  // already over
  usage = WalkVolume(dir / "volume", limits);
  CHECK_FALSE(usage.complete);
  CHECK(usage.inodes < 3000);
  CHECK(usage.error ==
        "stopped after 1024 entries at the time limit (max_walk_time); usage is a lower bound");
}

TEST_CASE("the volume collector caches its walk and reports its filesystem", "[volume]") {
  testing::TempDir dir;
  MakeTree(dir / "volume", dir / "outside");
  VolumeOptions options;
  options.name = "logs";
  options.path = dir / "volume";
  options.limit_bytes = 512ull << 20;
  options.refresh = std::chrono::hours(1);
  VolumeCollector collector(options);
  CollectResult first = collector.Collect({});
  CHECK_FALSE(first.error);
  auto values = Values(first);
  CHECK(values["sidecar_volume_used_bytes"] ==
        static_cast<double>(Du({"du", "-s", "-x", "-B1", options.path.string()})));
  CHECK(values["sidecar_volume_limit_bytes"] == 512.0 * (1 << 20));
  CHECK(values["sidecar_volume_filesystem_size_bytes"] > 0);
  CHECK(values["sidecar_volume_filesystem_available_bytes"] <=
        values["sidecar_volume_filesystem_size_bytes"]);
  CHECK(first.families.at(0).metric.at(0).label.at(0).value == "logs");

  // Within `refresh`, scrapes reuse the walk.
  testing::WriteFile(options.path / "new.log", std::string(100000, 'n'));
  CHECK(Values(collector.Collect({}))["sidecar_volume_files"] == values["sidecar_volume_files"]);
  options.refresh = std::chrono::milliseconds(0);
  VolumeCollector uncached(options);
  CHECK(Values(uncached.Collect({}))["sidecar_volume_files"] == values["sidecar_volume_files"] + 1);
}

TEST_CASE("a volume path that is a file or missing is a clear error", "[volume]") {
  testing::TempDir dir;
  testing::WriteFile(dir / "file", "x");
  VolumeOptions options;
  options.name = "logs";
  options.path = dir / "file";
  VolumeCollector on_file(options);
  CollectResult result = on_file.Collect({});
  REQUIRE(result.error);
  CHECK(*result.error ==
        options.path.string() + " is not a directory; give the volume's mount point");
  CHECK(Values(result).count("sidecar_volume_used_bytes") == 0);

  options.path = dir / "missing";
  VolumeCollector on_missing(options);
  result = on_missing.Collect({});
  REQUIRE(result.error);
  CHECK(*result.error == "cannot stat " + options.path.string() + ": No such file or directory");
  CHECK(Values(result).count("sidecar_volume_used_bytes") == 0);
}

TEST_CASE("symlinks are not followed: loops inside, a symlink as the path", "[volume]") {
  testing::TempDir dir;
  MakeTree(dir / "volume", dir / "outside");
  const fs::path root = dir / "volume";
  fs::create_symlink("loop-b", root / "loop-a");
  fs::create_symlink("loop-a", root / "loop-b");
  fs::create_symlink("..", root / "a" / "up");
  fs::create_symlink(root, root / "a" / "b" / "self");
  const VolumeUsage usage = WalkVolume(root, {});
  CHECK(usage.complete);
  CHECK(usage.error.empty());
  CHECK(usage.allocated_bytes == Du({"du", "-s", "-x", "-B1", root.string()}));
  CHECK(usage.inodes == Du({"du", "-s", "-x", "--inodes", root.string()}));

  VolumeOptions options;
  options.name = "logs";
  for (const fs::path& link : {dir / "link-to-volume", dir / "loop-1"}) {
    options.path = link;
    if (link.filename() == "loop-1") {
      fs::create_symlink(dir / "loop-2", dir / "loop-1");
      fs::create_symlink(dir / "loop-1", dir / "loop-2");
    } else {
      fs::create_symlink(root, link);
    }
    VolumeCollector collector(options);
    const CollectResult result = collector.Collect({});
    REQUIRE(result.error);
    CHECK(*result.error == link.string() +
                               " is a symlink, which is not followed; give the volume's mount "
                               "point itself");
    CHECK(Values(result).count("sidecar_volume_used_bytes") == 0);
  }
}

// `depth` nested directories named `name` under `root`, each holding `files` small files, made
// relative to open descriptors: the full path may be far longer than PATH_MAX.
void MakeChain(const fs::path& root, int depth, const std::string& name, int files) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  for (int level = 0; level < depth; ++level) {
    for (int i = 0; i < files; ++i) {
      const int file =
          ::openat(fd, ("f" + std::to_string(i)).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      REQUIRE(file >= 0);
      REQUIRE(::write(file, "x", 1) == 1);
      ::close(file);
    }
    REQUIRE(::mkdirat(fd, name.c_str(), 0755) == 0);
    const int child = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    REQUIRE(child >= 0);
    fd = child;
  }
  ::close(fd);
}

TEST_CASE("a tree deeper than PATH_MAX is walked like du walks it; past 256 levels it says so",
          "[volume]") {
  testing::TempDir dir;
  const std::string name(40, 'd');
  // 200 levels of 41 bytes: paths of 8 KB, twice PATH_MAX.
  fs::create_directory(dir / "deep");
  MakeChain(dir / "deep", 200, name, 2);
  const VolumeUsage usage = WalkVolume(dir / "deep", {});
  CHECK(usage.error.empty());
  CHECK(usage.complete);
  CHECK(usage.inodes == 1 + 200 * 3);
  CHECK(usage.allocated_bytes == Du({"du", "-s", "-x", "-B1", (dir / "deep").string()}));
  CHECK(usage.inodes == Du({"du", "-s", "-x", "--inodes", (dir / "deep").string()}));

  // 300 levels: the directories below level 256 are counted, not entered.
  fs::create_directory(dir / "deeper");
  MakeChain(dir / "deeper", 300, "d", 1);
  const VolumeUsage deeper = WalkVolume(dir / "deeper", {});
  CHECK_FALSE(deeper.complete);
  CHECK(deeper.error ==
        "directories nested deeper than 256 levels were not entered; usage is a lower bound");
  // The root, 256 levels of one file and one directory each.
  CHECK(deeper.inodes == 1 + 256 * 2);
  CHECK(deeper.inodes < Du({"du", "-s", "-x", "--inodes", (dir / "deeper").string()}));
}

}  // namespace
}  // namespace sidecar
