#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/collector_type.h"
#include "collectors/http/http_client.h"

namespace sidecar {

// The numbers nginx's stub_status module reports.
struct StubStatus {
  std::uint64_t active = 0;
  std::uint64_t accepted = 0;
  std::uint64_t handled = 0;
  std::uint64_t requests = 0;
  std::uint64_t reading = 0;
  std::uint64_t writing = 0;
  std::uint64_t waiting = 0;
};

// Parses a stub_status page. Also accepts Tengine's page, whose counter line carries an extra
// request_time column. Returns nullopt and sets `error` for anything else.
std::optional<StubStatus> ParseStubStatus(std::string_view body, std::string& error);

struct NginxStatusOptions {
  std::string url = "http://127.0.0.1/stub_status";
  // When set, `url` is fetched over this Unix domain socket.
  std::optional<std::string> unix_socket;
  std::chrono::milliseconds timeout{5000};
  std::size_t max_body_bytes = 64 * 1024;
  // Extra labels on every series, to tell two nginx instances apart in one pod.
  std::vector<std::pair<std::string, std::string>> labels;
};

// Fetches stub_status at scrape time and exports it under the names nginx-prometheus-exporter uses
// (nginx_up, nginx_connections_*, nginx_http_requests_total), so its dashboards and alerts work
// unchanged. When nginx is down, slow or answers garbage, only `nginx_up 0` is exported: the
// other series disappear rather than go stale.
//
// Thread-safety: Collect() must not run concurrently with itself (the exporter guarantees it).
class NginxStatusCollector final : public Collector {
 public:
  explicit NginxStatusCollector(NginxStatusOptions options);

  CollectResult Collect(const CollectContext& context) override;
  std::string Summary() const override;

 private:
  const NginxStatusOptions options_;
  HttpClient client_;
};

// Decodes the options of an `nginx_status` collector into a factory of NginxStatusCollector.
CollectorFactory DecodeNginxStatus(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
