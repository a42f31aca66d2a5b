// sidecar-exporter: flags, signals and the App; everything else lives in the libraries.
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "exporter/app.h"
#include "exporter/config.h"
#include "exporter/flags.h"
#include "exporter/logger.h"
#include "exporter/tls_context.h"
#include "exporter/tls_requirement.h"
#include "exporter/version.h"

namespace {

int CheckConfig(const std::string& file) {
  const sidecar::ConfigLoad load = sidecar::LoadConfigFile(file);
  for (const auto& error : load.errors) std::cerr << error.ToString() << "\n";
  if (!load.config) {
    std::cerr << file << ": " << load.errors.size() << " error(s)\n";
    return 1;
  }
  std::cout << file << ": OK, " << load.config->collectors.size() << " collector(s)\n";
  return 0;
}

// Every open connection holds a descriptor, also while the gate waits for its header: raise the
// soft limit to the hard one, as Go programs do at start, so that thousands of them fit.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// glibc's allocator, left to itself, keeps a scrape's high-water mark in every thread that ran
// one: a multi-megabyte exposition is served by any of CivetWeb's workers, each with its own arena,
// and freed buffers of that size raise the mmap threshold so that the next ones come from (and
// stay in) the arenas (13 MB grew to 200 MB at 2,000 access-log series). Here all threads share
// one arena (scrapes are single-flighted, so they rarely allocate at once), blocks of 256 KiB and
// more are mapped and unmapped (a fixed threshold, which also stops the raising: with 1 MiB, a
// gzip encoding's and the first exposition's growing buffers stayed in the arena and the peak with
// 16 scrapers came within 40 KiB of issue 12's bound), and up to 4 MiB of free memory stays on top
// of the arena: with less (the default 128 KiB), every scrape of a 10k-series merge gave its pages
// back and faulted them in again, costing more CPU than the parsing. (malloc_trim after each large
// scrape was tried: 9 MB less, twice the CPU time.)
void BoundMallocFootprint() {
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
  mallopt(M_ARENA_MAX, 1);
}

// The image's lean binary has no TLS library (exporter/tls_context.h); when the configuration
// needs TLS, the same command runs as sidecar-exporter-tls, installed next to it, instead. Returns
// only when that cannot be done (with the exit status).
int RunTlsBinary(char** argv, const std::string& reason, sidecar::Logger& logger) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path tls_binary = self.parent_path() / "sidecar-exporter-tls";
  logger.Info("the configuration needs TLS, which this binary lacks: running sidecar-exporter-tls",
              {{"reason", reason}, {"binary", tls_binary.string()}});
  std::string program = tls_binary.string();
  argv[0] = program.data();
  execv(program.c_str(), argv);
  logger.Error("cannot run sidecar-exporter-tls; it must be installed next to sidecar-exporter",
               {{"binary", program}, {"error", std::strerror(errno)}});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  BoundMallocFootprint();
  std::string error;
  const auto flags = sidecar::ParseFlags(std::vector<std::string>(argv + 1, argv + argc), error);
  if (!flags) {
    std::cerr << "sidecar-exporter: " << error << "\n\n" << sidecar::Usage();
    return 2;
  }
  if (flags->help) {
    std::cout << sidecar::Usage();
    return 0;
  }
  if (flags->version) {
    std::cout << "sidecar-exporter, version " << sidecar::Version() << " (revision "
              << sidecar::Revision() << ")\n";
    return 0;
  }
  if (flags->config_check) return CheckConfig(flags->config_file);

  sidecar::LogLevel level{};
  sidecar::LogFormat format{};
  sidecar::ParseLogLevel(flags->log_level, level);
  sidecar::ParseLogFormat(flags->log_format, format);
  sidecar::Logger logger(std::cerr, level, format);
  if (!sidecar::TlsAvailable()) {
    auto reason = sidecar::WebConfigFileNeedsTls(flags->web_config_file);
    if (!reason) reason = sidecar::ConfigFileNeedsTls(flags->config_file);
    if (reason) return RunTlsBinary(argv, *reason, logger);
  }

  // Signals are taken synchronously by this thread alone: block them before any thread starts
  // so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  RaiseOpenFileLimit();

  sidecar::AppOptions options;
  options.config_file = flags->config_file;
  options.listen_address = flags->listen_address;
  options.telemetry_path = flags->telemetry_path;
  options.web_config_file = flags->web_config_file;
  options.web_threads = flags->web_max_threads;
  options.status_sample_interval = std::chrono::milliseconds(flags->status_sample_interval_ms);
  sidecar::App app(options, logger);
  if (!app.Start()) return 1;
  // Starting (decoding the configuration, compiling patterns) frees most of what it allocated;
  // the free pages go back to the system instead of staying resident until the arena's top is
  // trimmed, which may be never (M_TRIM_THRESHOLD above).
  malloc_trim(0);

  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      app.Reload();
      malloc_trim(0);
      continue;
    }
    logger.Info("stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  app.Stop();
  logger.Info("stopped");
  return 0;
}
