// Throughput of access-log parsing plus RequestMetrics::Observe on one core.
//
// Usage: parse_bench <apache_combined_10k.log> <scratch file> [copies]
// Writes `copies` (default 100) concatenated copies of the log to the scratch file, then streams
// it through each parser with a fixed 1 MiB read buffer (memory must not depend on line count),
// and prints lines/s, parse errors and peak RSS. Built by parse_bench.sh, not by CMake.

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "collectors/logs/log_format.h"
#include "collectors/logs/log_record.h"
#include "collectors/logs/request_metrics.h"

namespace {

using sidecar::accesslog::FormatError;
using sidecar::accesslog::LogFormat;
using sidecar::accesslog::LogFormatKind;
using sidecar::accesslog::LogRecord;
using sidecar::accesslog::RequestMetrics;
using sidecar::accesslog::RequestMetricsOptions;

// CPU time of this thread: on a shared machine wall time also counts waiting for a core.
double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

long MaxRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

struct Result {
  std::uint64_t lines = 0;
  std::uint64_t errors = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  long rss_at_10pct_kib = 0;
  long rss_at_end_kib = 0;
  double requests = 0;
};

Result Run(const std::string& path, LogFormatKind kind, std::string_view format,
           std::uint64_t expected_lines) {
  FormatError error;
  std::unique_ptr<LogFormat> parser = LogFormat::Compile(kind, format, {}, error);
  if (!parser) {
    std::cerr << "compile: " << error.message << "\n";
    std::exit(1);
  }
  RequestMetricsOptions options;
  options.collector = "bench";
  options.fields = parser->fields();
  // Counts by method and status, bytes, and the duration histogram when the format has a
  // request time.
  sidecar::accesslog::OptionsError create_error;
  std::unique_ptr<RequestMetrics> metrics = RequestMetrics::Create(options, create_error);
  if (!metrics) {
    std::cerr << "metrics: " << create_error.option << ": " << create_error.message << "\n";
    std::exit(1);
  }

  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  constexpr std::size_t kBufferSize = 1 << 20;
  std::vector<char> buffer(kBufferSize);
  std::size_t filled = 0;
  LogRecord record;
  Result result;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  while (true) {
    const std::size_t got = std::fread(buffer.data() + filled, 1, kBufferSize - filled, file);
    filled += got;
    std::size_t pos = 0;
    while (true) {
      const void* newline = std::memchr(buffer.data() + pos, '\n', filled - pos);
      if (newline == nullptr) {
        break;
      }
      const std::size_t end = static_cast<const char*>(newline) - buffer.data();
      const std::string_view line(buffer.data() + pos, end - pos);
      if (parser->Parse(line, record)) {
        metrics->Observe(record);
      } else {
        ++result.errors;
      }
      ++result.lines;
      if (result.lines == expected_lines / 10) {
        result.rss_at_10pct_kib = MaxRssKib();
      }
      pos = end + 1;
    }
    std::memmove(buffer.data(), buffer.data() + pos, filled - pos);
    filled -= pos;
    if (got == 0) {
      break;
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  std::fclose(file);
  result.rss_at_end_kib = MaxRssKib();
  for (const auto& family : metrics->Collect()) {
    if (family.name == "accesslog_http_requests_total") {
      for (const auto& metric : family.metric) {
        result.requests += metric.counter.value;
      }
    }
  }
  return result;
}

void Print(std::string_view name, const Result& result) {
  const auto lines = static_cast<double>(result.lines);
  std::printf(
      "%-30s %8llu lines %4llu errors | wall %.3f s %9.0f lines/s | cpu %.3f s %9.0f lines/s | "
      "requests_total=%.0f | max RSS %ld KiB at 10%%, %ld KiB at end\n",
      std::string(name).c_str(), static_cast<unsigned long long>(result.lines),
      static_cast<unsigned long long>(result.errors), result.seconds, lines / result.seconds,
      result.cpu_seconds, lines / result.cpu_seconds, result.requests, result.rss_at_10pct_kib,
      result.rss_at_end_kib);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: parse_bench <apache_combined_10k.log> <scratch file> [copies]\n";
    return 2;
  }
  const std::string source = argv[1];
  const std::string scratch = argv[2];
  const int copies = argc > 3 ? std::atoi(argv[3]) : 100;
  std::string content;
  {
    std::ifstream in(source, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    content = text.str();
  }
  std::uint64_t lines_per_copy = 0;
  for (char c : content) {
    lines_per_copy += c == '\n' ? 1 : 0;
  }
  {
    std::ofstream out(scratch, std::ios::binary | std::ios::trunc);
    for (int i = 0; i < copies; ++i) {
      out << content;
    }
  }
  // The same lines with a request time appended, so that the duration histogram is fed too.
  const std::string timed = scratch + ".timed";
  {
    std::ofstream out(timed, std::ios::binary | std::ios::trunc);
    std::istringstream lines(content);
    std::string line;
    std::vector<std::string> with_time;
    for (int n = 0; std::getline(lines, line); ++n) {
      with_time.push_back(line + " " + std::to_string(n % 3000 / 1000) + "." +
                          std::to_string(100 + n % 900).substr(1) + "\n");
    }
    for (int i = 0; i < copies; ++i) {
      for (const std::string& timed_line : with_time) {
        out << timed_line;
      }
    }
  }
  content.clear();
  content.shrink_to_fit();
  const std::uint64_t expected = lines_per_copy * static_cast<std::uint64_t>(copies);
  std::printf(
      "%llu lines, %.1f MiB\n", static_cast<unsigned long long>(expected),
      static_cast<double>(std::ifstream(scratch, std::ios::ate | std::ios::binary).tellg()) /
          (1 << 20));

  // Warm the page cache so that both runs read from memory.
  Run(scratch, LogFormatKind::kNginx, "combined", expected);
  Print("nginx combined (compiled)", Run(scratch, LogFormatKind::kNginx, "combined", expected));
  Print("apache combined (compiled)", Run(scratch, LogFormatKind::kApache, "combined", expected));
  Run(timed, LogFormatKind::kNginx, "", expected);  // Page cache.
  Print("nginx combined $request_time",
        Run(timed, LogFormatKind::kNginx,
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
            "\"$http_referer\" \"$http_user_agent\" $request_time",
            expected));
  Print(
      "RE2, five named groups",
      Run(scratch, LogFormatKind::kRegex,
          R"re(^(?P<remote_addr>\S+) \S+ \S+ \[[^\]]*\] "(?P<method>\S+) (?P<uri>\S*)[^"]*" (?P<status>\d{3}) (?P<body_bytes_sent>\d+|-))re",
          expected));
  std::remove(scratch.c_str());
  std::remove(timed.c_str());
  return 0;
}
