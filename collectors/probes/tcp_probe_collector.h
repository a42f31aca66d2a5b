#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/collector_type.h"
#include "collectors/probes/probe_options.h"
#include "collectors/probes/probe_outcome.h"

namespace sidecar {

// One step of a TCP conversation, as in blackbox_exporter's query_response: first wait for a
// line matching `expect` (when set), then send `send` followed by "\n" (when not empty), where
// "$1", "${1}" and "${name}" stand for the groups `expect` captured.
struct TcpProbeStep {
  SharedRegex expect;
  std::string send;
};

struct TcpProbeOptions {
  std::string name;
  // "host:port" or "[v6]:port".
  std::string address;
  // Set: the connection starts with a TLS handshake.
  std::optional<TlsOptions> tls;
  std::vector<TcpProbeStep> query_response;
  std::chrono::milliseconds timeout{5000};
};

// Expands "$1", "${1}", "${name}" and "$$" in `send_template` with the groups of `regex` that
// matched (`groups[0]` the whole match), as Go's Regexp.Expand does: unknown or unmatched groups
// expand to nothing, and a "$" not followed by a group reference stays as it is.
std::string ExpandTemplate(std::string_view send_template, const RE2& regex,
                           const std::vector<std::string_view>& groups);

// blackbox_exporter's tcp module from inside the pod: at scrape time, connects to `address`,
// optionally in TLS, and walks the query_response steps. Exports probe_success,
// probe_duration_seconds, probe_failed_due_to_regex, probe_failure_reason and, with TLS,
// probe_ssl_earliest_cert_expiry and probe_tls_version_info, each labelled collector=<name>.
// A failing probe is a measurement, not a collector error: Collect() reports no error for it.
//
// Thread-safety: Collect() must not run concurrently with itself (the exporter guarantees it);
// Summary() may run on any thread.
class TcpProbeCollector final : public Collector {
 public:
  explicit TcpProbeCollector(TcpProbeOptions options);

  CollectResult Collect(const CollectContext& context) override;
  std::string Summary() const override;

 private:
  ProbeOutcome Probe(std::chrono::steady_clock::time_point deadline, std::stop_token stop) const;

  const TcpProbeOptions options_;
  ProbeHistory history_;
};

// Decodes the options of a `tcp_probe` collector into a factory of TcpProbeCollector.
CollectorFactory DecodeTcpProbe(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
