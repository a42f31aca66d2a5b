#include "tests/faults/faults.h"

#include <cstdio>
#include <fstream>

namespace sidecar::testing {

std::string AccessLine(std::uint64_t seq, int status) {
  char line[160];
  std::snprintf(line, sizeof line,
                "10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] \"GET /item/%llu HTTP/1.1\" %d 612 "
                "\"-\" \"fault-test\"\n",
                static_cast<unsigned long long>(seq), status);
  return line;
}

LineWriter::LineWriter(std::filesystem::path path, int lines_per_second)
    : path_(std::move(path)), lines_per_second_(lines_per_second) {
  thread_ = std::thread([this] {
    const auto period = std::chrono::milliseconds(10);
    const std::uint64_t batch = std::max(1, lines_per_second_ / 100);
    auto next = std::chrono::steady_clock::now();
    std::string data;
    while (!stop_) {
      data.clear();
      const std::uint64_t first = written_;
      for (std::uint64_t i = 0; i < batch; ++i) data += AccessLine(first + i);
      {
        std::ofstream out(path_, std::ios::app | std::ios::binary);
        // A missing directory (a fault under test): these lines are not written, nor counted.
        if (out) {
          out.write(data.data(), static_cast<std::streamsize>(data.size()));
          out.flush();
          if (out) written_ += batch;
        }
      }
      next += period;
      std::this_thread::sleep_until(next);
    }
  });
}

LineWriter::~LineWriter() { Stop(); }

std::uint64_t LineWriter::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return written_;
}

double SumOf(const std::map<std::string, double>& metrics, const std::string& name) {
  double sum = 0;
  for (const auto& [key, value] : metrics) {
    if (key == name || key.starts_with(name + "{")) sum += value;
  }
  return sum;
}

std::string AccessLogConfig(const std::string& name, const std::string& log,
                            const std::string& extra) {
  return "  - type: access_log\n    name: " + name + "\n    paths: ['" + log + "']\n" + extra;
}

std::string CountingConfig(const std::string& log, const std::string& positions) {
  return "collectors:\n" +
         AccessLogConfig("web", log,
                         "    from_beginning: true\n    position_file: '" + positions + "'\n");
}

}  // namespace sidecar::testing
