#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "collectors/http/tls_options.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// The result of one active check of the main container, as blackbox_exporter reports it plus
// the reason it failed.
struct ProbeOutcome {
  bool success = false;
  // Empty on success; otherwise one snake_case word (connection_refused, timeout, status_code,
  // body_regex, ...), exported as probe_failure_reason{reason="..."}.
  std::string reason;
  // For a person: what exactly went wrong ("HTTP status 503, want one of 200, 204").
  std::string detail;
  bool failed_due_to_regex = false;
  // Set when the connection used TLS.
  std::optional<TlsSession> tls;
  double duration_seconds = 0;

  // Marks the outcome failed, keeping the first reason when called again.
  void Fail(std::string failure_reason, std::string failure_detail);
};

// Appends the families every probe exports, each series labelled collector=`collector`:
// probe_success, probe_duration_seconds, probe_failed_due_to_regex, probe_failure_reason (while
// failing) and, after a TLS handshake, probe_ssl_earliest_cert_expiry and probe_tls_version_info.
void AppendProbeFamilies(const ProbeOutcome& outcome, const std::string& collector,
                         std::vector<prometheus::MetricFamily>& families);

// The last outcome of a probe, for the status page.
//
// Thread-safe: Record() runs in Collect(), Describe() on any thread.
class ProbeHistory {
 public:
  void Record(const ProbeOutcome& outcome);
  // "<target>: ok" or "<target>: failing: timeout (detail)"; "<target>: not probed yet".
  std::string Describe(const std::string& target) const;

 private:
  mutable std::mutex mutex_;
  std::optional<ProbeOutcome> last_;
};

}  // namespace sidecar
