// sidecar-exporter: flags, signals and the App; everything else lives in the libraries.
#include <pthread.h>
#include <sys/resource.h>

#include <csignal>
#include <iostream>

#include "exporter/app.h"
#include "exporter/config.h"
#include "exporter/flags.h"
#include "exporter/logger.h"
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

}  // namespace

int main(int argc, char** argv) {
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

  sidecar::LogLevel level{};
  sidecar::LogFormat format{};
  sidecar::ParseLogLevel(flags->log_level, level);
  sidecar::ParseLogFormat(flags->log_format, format);
  sidecar::Logger logger(std::cerr, level, format);

  sidecar::AppOptions options;
  options.config_file = flags->config_file;
  options.listen_address = flags->listen_address;
  options.telemetry_path = flags->telemetry_path;
  options.web_config_file = flags->web_config_file;
  options.web_threads = flags->web_max_threads;
  sidecar::App app(options, logger);
  if (!app.Start()) return 1;

  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      app.Reload();
      continue;
    }
    logger.Info("stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  app.Stop();
  logger.Info("stopped");
  return 0;
}
