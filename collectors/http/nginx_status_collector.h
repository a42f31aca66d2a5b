#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/collector_type.h"
#include "collectors/http/status_page_collector.h"

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

// Where nginx's stub_status page is (url, unix_socket, timeout, body cap, labels).
using NginxStatusOptions = StatusPageOptions;

// Fetches stub_status at scrape time and exports it under the names nginx-prometheus-exporter uses
// (nginx_up, nginx_connections_*, nginx_http_requests_total), so its dashboards and alerts work
// unchanged. When nginx is down, slow or answers garbage, only `nginx_up 0` is exported: the
// other series disappear rather than go stale.
//
// Thread-safety: as StatusPageCollector.
class NginxStatusCollector final : public StatusPageCollector {
 public:
  explicit NginxStatusCollector(const NginxStatusOptions& options);

 private:
  std::optional<std::string> Export(const FetchedDocument& document,
                                    std::vector<prometheus::MetricFamily>& families) override;
};

// Decodes the options of an `nginx_status` collector into a factory of NginxStatusCollector.
CollectorFactory DecodeNginxStatus(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
