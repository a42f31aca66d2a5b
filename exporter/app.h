#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "collectors/system/exporter_process_collector.h"
#include "exporter/collector_runner.h"
#include "exporter/config.h"
#include "exporter/exposition.h"
#include "exporter/http_server.h"
#include "exporter/logger.h"
#include "exporter/metric_families.h"
#include "exporter/single_flight.h"
#include "exporter/status_history.h"
#include "exporter/status_report.h"
#include "exporter/tls_context.h"

namespace sidecar {

struct AppOptions {
  std::string config_file;
  std::string listen_address = ":10113";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;  // exporter-toolkit web config; empty for plain HTTP
  int web_threads = 8;
  // How often the status page's sampler takes a snapshot; zero runs no sampler (the page then
  // shows no history). Only benchmarks change it (hidden flag --status.sample-interval-ms).
  std::chrono::milliseconds status_sample_interval = kStatusSampleInterval;
  // False in the image's lean binary (no TLS library): a reload whose collectors need TLS is then
  // refused, since only a restart (main runs sidecar-exporter-tls then) can provide it.
  bool tls_available = TlsAvailable();
};

// The exporter process: owns the configuration, the collectors and the HTTP server, and
// serves /metrics, /healthz, /readyz and the status page.
//
// Start(), Reload() and Stop() are called from the main thread; the HTTP handlers run on the
// server's threads and only read a snapshot of the active collectors, swapped under a mutex.
class App {
 public:
  App(AppOptions options, Logger& logger);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Loads the config, starts listening and builds the collectors. False (after logging every
  // error) when the config is invalid or the address cannot be bound.
  bool Start();
  // Re-reads the config file (SIGHUP). An invalid new config keeps the running one.
  void Reload();
  // Ends fetches in progress and stops the server; returns when every thread has stopped.
  void Stop();

  int port() const;

 private:
  // The collectors of one loaded config.
  struct Active {
    std::chrono::milliseconds timeout{5000};
    std::vector<std::pair<std::string, std::string>> const_labels;
    std::vector<std::shared_ptr<CollectorRunner>> runners;
  };

  // Builds runners for `config`, reusing those of `previous` whose options did not change.
  // Throws when a collector cannot be built.
  std::shared_ptr<const Active> Build(const Config& config, const Active* previous);
  std::shared_ptr<const Active> Snapshot() const;
  // Runs every collector of `active` concurrently; one result per runner.
  std::vector<std::shared_ptr<const CollectResult>> CollectAll(
      const Active& active, std::chrono::steady_clock::time_point deadline);
  // Runs every collector (concurrently) and adds the exporter's own metrics.
  Gathered Gather(std::chrono::steady_clock::time_point deadline);
  // The status page's history: a snapshot every options_.status_sample_interval until stopped.
  void SampleStatus(std::stop_token stop);
  StatusPageData PageData() const;
  std::string HealthProblem() const;
  std::string ReadinessProblem() const;

  HttpReply ServeMetrics(const HttpRequestInfo& request);
  HttpReply ServeHealthz(const HttpRequestInfo& request);
  HttpReply ServeReadyz(const HttpRequestInfo& request);
  HttpReply ServeStatusPage(const HttpRequestInfo& request);
  HttpReply ServeStatusJson(const HttpRequestInfo& request);

  const AppOptions options_;
  Logger& logger_;
  const std::chrono::system_clock::time_point started_;
  std::stop_source stop_;
  ExporterProcessCollector process_collector_;
  // Concurrent /metrics requests share one gather and serialisation, and the buffers bound the
  // expositions resident at once (one, unless a client reads slowly; see ExpositionBuffers).
  std::shared_ptr<ExpositionBuffers> exposition_buffers_ = std::make_shared<ExpositionBuffers>();
  SingleFlight<Exposition> scrapes_;

  mutable std::mutex mutex_;
  std::shared_ptr<const Active> active_;
  std::atomic<bool> ready_{false};
  bool last_reload_successful_ = true;
  std::string last_reload_error_;
  double last_reload_success_unix_seconds_ = 0;
  std::uint64_t reload_failures_total_ = 0;
  std::atomic<std::uint64_t> scrapes_total_{0};

  // The status page's snapshots: 30 minutes' worth at one per kStatusSampleInterval.
  StatusHistory status_history_;
  std::jthread status_sampler_;  // stopped and joined in Stop(), before the collectors go

  // TLS of the server, when configured: its reload metrics are served with ours.
  std::shared_ptr<TlsContext> tls_;
  // Last member: destroyed first, so that no handler runs while the rest is torn down.
  std::unique_ptr<HttpServer> server_;
};

}  // namespace sidecar
