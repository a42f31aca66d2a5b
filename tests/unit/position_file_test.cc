#include "collectors/logs/position_file.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

TEST_CASE("positions round-trip, odd paths and binary fingerprints included", "[tailer]") {
  const std::vector<FilePosition> positions = {
      {.path = "/var/log/a b%c\td\ne.log",
       .dev = 2049,
       .ino = 18446744073709551615u,
       .offset = 12,
       .fingerprint = std::string("\x00\xff\n ab", 6)},
      {.path = "/var/log/empty.log", .dev = 1, .ino = 2, .offset = 0, .fingerprint = ""},
  };
  const std::string text = SerializePositions(positions);
  CHECK(text ==
        "sidecar-exporter-log-positions 1\n"
        "2049 18446744073709551615 12 00ff0a206162 /var/log/a%20b%25c%09d%0Ae.log\n"
        "1 2 0 - /var/log/empty.log\n");
  std::vector<FilePosition> parsed;
  CHECK_FALSE(ParsePositions(text, parsed));
  CHECK(parsed == positions);
}

TEST_CASE("position files that are not trusted are rejected whole", "[tailer]") {
  std::vector<FilePosition> parsed;
  const auto error = [&parsed](std::string_view text) {
    return ParsePositions(text, parsed).value_or("accepted");
  };
  const std::string header = "sidecar-exporter-log-positions 1\n";
  CHECK(error(header) == "accepted");
  CHECK(error("") == "empty file");
  CHECK(error("sidecar-exporter-log-positions 2\n") ==
        "line 1: not a sidecar-exporter position file (expected \"sidecar-exporter-log-positions "
        "1\")");
  CHECK(error(header + "1 2 3 - /a\n1 2 3 - /b") == "line 3: truncated (no newline)");
  CHECK(error(header + "-1 2 3 - /a\n") == "line 2: bad device number");
  CHECK(error(header + "1 2x 3 - /a\n") == "line 2: bad inode number");
  CHECK(error(header + "1 2 99999999999999999999 - /a\n") == "line 2: bad offset");
  CHECK(error(header + "1 2 3 abc /a\n") == "line 2: bad fingerprint");
  CHECK(error(header + "1 2 1 6162 /a\n") == "line 2: fingerprint longer than offset");
  CHECK(error(header + "1 2 3 -\n") == "line 2: bad path");
  CHECK(error(header + "1 2 3 - /a%2\n") == "line 2: bad path");
  CHECK(parsed.empty());
}

TEST_CASE("position file is written atomically and read back", "[tailer]") {
  testing::TempDir dir;
  const std::string path = (dir / "positions").string();
  PositionFileContents missing = ReadPositionFile(path);
  CHECK_FALSE(missing.error);  // first start
  CHECK(missing.positions.empty());

  const std::vector<FilePosition> positions = {
      {.path = "/x.log", .dev = 1, .ino = 2, .offset = 3, .fingerprint = "abc"}};
  CHECK_FALSE(WritePositionFile(path, positions));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  PositionFileContents read = ReadPositionFile(path);
  CHECK_FALSE(read.error);
  CHECK(read.positions == positions);

  testing::WriteFile(path, "junk\n");
  read = ReadPositionFile(path);
  REQUIRE(read.error);
  CHECK(*read.error == path +
                           ": line 1: not a sidecar-exporter position file (expected "
                           "\"sidecar-exporter-log-positions 1\")");
  CHECK(read.positions.empty());

  const std::optional<std::string> failed =
      WritePositionFile((dir / "missing-dir" / "positions").string(), positions);
  REQUIRE(failed);
  CHECK_THAT(*failed, Catch::StartsWith("cannot create "));
}

}  // namespace
}  // namespace sidecar
