#pragma once

// Shared by the fault tests: the real exporter binary under conditions that go wrong (crashes,
// reloads, files that vanish, full disks), with a writer producing access-log lines at a known
// rate, so that counts can be checked exactly.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "tests/support/peers.h"

namespace sidecar::testing {

// One combined-format line with a sequence number in its path.
std::string AccessLine(std::uint64_t seq, int status = 200);

// Appends lines to `path` on its own thread, `lines_per_second` in batches every 10 ms, opening
// the file in append mode for each batch (so renames and deletions are followed like a writer
// that reopens). Stop() joins and returns how many lines were written.
class LineWriter {
 public:
  LineWriter(std::filesystem::path path, int lines_per_second);
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;
  std::uint64_t Stop();
  std::uint64_t written() const { return written_; }

 private:
  std::filesystem::path path_;
  int lines_per_second_;
  std::atomic<bool> stop_ = false;
  std::atomic<std::uint64_t> written_ = 0;
  std::thread thread_;
};

// Sum of the series of `name` (any labels).
double SumOf(const std::map<std::string, double>& metrics, const std::string& name);

// An access_log collector config for `log`, with `extra` YAML lines (indented by four spaces).
std::string AccessLogConfig(const std::string& name, const std::string& log,
                            const std::string& extra = "");

// A whole config: one access_log `web` counting `log` from its beginning, with `positions` as
// its position file (the setup of every exactness check).
std::string CountingConfig(const std::string& log, const std::string& positions);

// Scrapes /metrics of `exporter` until `done(metrics)` or `timeout`; the last metrics.
template <typename Done>
std::map<std::string, double> ScrapeUntil(ExporterProcess& exporter, Done done,
                                          std::chrono::seconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::map<std::string, double> metrics = exporter.Metrics();
  while (!done(metrics) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    metrics = exporter.Metrics();
  }
  return metrics;
}

}  // namespace sidecar::testing
