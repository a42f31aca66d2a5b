#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/collector_type.h"
#include "collectors/http/status_page_collector.h"

namespace sidecar {

// One child process of a pool, as `?json&full` lists it.
struct PhpFpmProcess {
  std::string state;  // "Idle", "Running", "Reading headers"...
  double requests = 0;
  double request_duration = 0;  // microseconds
  double last_request_cpu = 0;  // percent
  double last_request_memory = 0;
};

// What PHP-FPM's status page says about one pool (`?json&full`).
struct PhpFpmPool {
  std::string name;
  double start_since = 0;
  double accepted_connections = 0;
  double listen_queue = 0;
  double max_listen_queue = 0;
  double listen_queue_length = 0;
  double idle_processes = 0;
  double active_processes = 0;
  double total_processes = 0;
  double max_active_processes = 0;
  double max_children_reached = 0;
  double slow_requests = 0;
  std::vector<PhpFpmProcess> processes;
};

// Parses the JSON of `?json` or `?json&full`; nullopt with `error` naming the missing or
// mistyped field otherwise.
std::optional<PhpFpmPool> ParsePhpFpmStatus(std::string_view json, std::string& error);

// Appends the families of `pool` under hipages/php-fpm_exporter's names; `scrape_uri` is that
// exporter's label naming the source.
void AppendPhpFpmFamilies(const PhpFpmPool& pool, const std::string& scrape_uri,
                          const LabelPairs& labels,
                          std::vector<prometheus::MetricFamily>& families);

// Where a pool's status page is.
struct PhpFpmOptions {
  // FastCGI, straight to the pool: "unix:///run/php/php-fpm.sock" or "tcp://127.0.0.1:9000".
  std::string address;
  std::string status_path = "/status";
  // Or over HTTP through the web server: "http://127.0.0.1:8080/fpm-status".
  std::string url;
  std::optional<std::string> unix_socket;  // with `url`
  std::chrono::milliseconds timeout{5000};
  std::size_t max_body_bytes = 1 << 20;
  LabelPairs labels;
};

// Fetches one PHP-FPM pool's status page (`?json&full`) at scrape time, over FastCGI or HTTP,
// and exports it under the names and labels of hipages/php-fpm_exporter (phpfpm_up,
// phpfpm_accepted_connections, ..., per child phpfpm_process_*{pool, child}), so its dashboards
// and alerts work unchanged. On failure only `phpfpm_up 0` is exported.
//
// Thread-safety: as StatusPageCollector.
class PhpFpmCollector final : public StatusPageCollector {
 public:
  explicit PhpFpmCollector(const PhpFpmOptions& options);

 private:
  std::optional<std::string> Export(const FetchedDocument& document,
                                    std::vector<prometheus::MetricFamily>& families) override;

  const std::string scrape_uri_;
  const LabelPairs user_labels_;
};

// Decodes the options of a `php_fpm` collector.
CollectorFactory DecodePhpFpm(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
