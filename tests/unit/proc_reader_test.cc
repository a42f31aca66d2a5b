#include "collectors/system/proc_reader.h"

#include <catch2/catch.hpp>
#include <string>

#include "tests/support/temp_dir.h"

namespace sidecar::procfs {
namespace {

// A /proc/<pid>/stat line with recognisable values in the fields the collectors read.
std::string StatLine(const std::string& comm) {
  return "42 (" + comm +
         ") S 7 42 42 0 -1 4194560 1010 0 1212 0 1414 1515 0 0 20 0 3 0 2222 23232323 2424 "
         "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";
}

TEST_CASE("stat fields are counted after the command name's last parenthesis", "[procfs]") {
  for (const std::string comm : {"nginx", "a b", "x) (y", ")", ""}) {
    INFO(comm);
    const std::optional<ProcStat> stat = ParseProcStat(StatLine(comm));
    REQUIRE(stat);
    CHECK(stat->comm == comm);
    CHECK(stat->state == 'S');
    CHECK(stat->ppid == 7);
    CHECK(stat->minflt == 1010);
    CHECK(stat->majflt == 1212);
    CHECK(stat->utime == 1414);
    CHECK(stat->stime == 1515);
    CHECK(stat->num_threads == 3);
    CHECK(stat->starttime == 2222);
    CHECK(stat->vsize == 23232323);
    CHECK(stat->rss == 2424);
  }
}

TEST_CASE("malformed stat lines are refused", "[procfs]") {
  CHECK_FALSE(ParseProcStat(""));
  CHECK_FALSE(ParseProcStat("42 nginx S 7"));
  CHECK_FALSE(ParseProcStat("42 (nginx) S 7 42 42 0 -1 4194560 1010 0 1212 0 1414"));  // short
  CHECK_FALSE(
      ParseProcStat("42 (nginx) S 7 42 42 0 -1 4194560 x 0 1212 0 1414 1515 0 0 20 0 "
                    "3 0 2222 23232323 2424"));
  CHECK_FALSE(
      ParseProcStat("42 (nginx) SS 7 42 42 0 -1 4194560 1 0 1212 0 1414 1515 0 0 20 0 "
                    "3 0 2222 23232323 2424"));
}

TEST_CASE("keyed numbers match whole keys only", "[procfs]") {
  const std::string smaps = "Rss:     300 kB\nPss_Anon:   9 kB\nPss:       100 kB\nSwapPss: 5 kB\n";
  CHECK(FindKeyedNumber(smaps, "Pss:") == 100u);
  CHECK(FindKeyedNumber(smaps, "SwapPss:") == 5u);
  CHECK(FindKeyedNumber(smaps, "Swap:") == std::nullopt);
  const std::string stat = "cpu  1 2 3\nbtimeout 5\nbtime 1700000000\nprocesses 9\n";
  CHECK(ParseBootTime(stat) == 1700000000.0);
  CHECK(FindKeyedNumber("read_bytes: 4096\nwrite_bytes: 8192", "write_bytes:") == 8192u);
  CHECK(FindKeyedNumber("VmSwap:\tabc kB\n", "VmSwap:") == std::nullopt);
}

TEST_CASE("the open files limit is the soft one; unlimited is unknown", "[procfs]") {
  const std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 524288               files     \n";
  CHECK(ParseOpenFilesLimit(limits) == 1024u);
  CHECK(ParseOpenFilesLimit("Max open files            unlimited  unlimited  files\n") ==
        std::nullopt);
  CHECK(ParseOpenFilesLimit("") == std::nullopt);
}

TEST_CASE("whole files are read whatever their size, missing ones are gone", "[procfs]") {
  testing::TempDir dir;
  std::string big(200000, 'x');
  big += "\nbtime 1700000000\n";
  testing::WriteFile(dir / "stat", big);
  std::string contents;
  REQUIRE(ReadWholeFile(dir / "stat", contents) == ReadStatus::kOk);
  CHECK(contents == big);
  CHECK(ReadWholeFile(dir / "stat", contents, 1000) == ReadStatus::kOtherError);
  CHECK(contents.size() <= 1000);
  CHECK(ReadWholeFile(dir / "missing", contents) == ReadStatus::kGone);
  // A real /proc file reports size 0 but has content.
  REQUIRE(ReadWholeFile("/proc/self/status", contents) == ReadStatus::kOk);
  CHECK(contents.find("Name:") == 0);
  std::uint64_t entries = 0;
  CHECK(CountEntries(dir.path(), entries) == ReadStatus::kOk);
  CHECK(entries == 1);
  CHECK(CountEntries(dir / "missing", entries) == ReadStatus::kGone);
}

}  // namespace
}  // namespace sidecar::procfs
