#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/collector_type.h"
#include "collectors/http/http_client.h"
#include "collectors/probes/probe_options.h"
#include "collectors/probes/probe_outcome.h"

namespace sidecar {

// blackbox_exporter's http_header_match_spec.
struct HeaderMatch {
  std::string header;  // lower case
  SharedRegex regexp;
  // Without it, a missing header fails the probe.
  bool allow_missing = false;
};

struct HttpProbeOptions {
  std::string name;
  std::string url;
  // When set, `url` is requested over this Unix domain socket.
  std::optional<std::string> unix_socket;
  std::string method = "GET";
  // "Name: value".
  std::vector<std::string> headers;
  std::string body;
  // Empty: any 2xx.
  std::vector<long> valid_status_codes;
  bool follow_redirects = true;
  // Go's Proto strings ("HTTP/1.1", "HTTP/2.0"); empty: any version.
  std::vector<std::string> valid_http_versions;
  // Fail when the final request went over TLS, or when it did not.
  bool fail_if_ssl = false;
  bool fail_if_not_ssl = false;
  // http://, https:// or socks5:// proxy URL; empty: none.
  std::string proxy_url;
  std::vector<SharedRegex> fail_if_body_matches;
  std::vector<SharedRegex> fail_if_body_not_matches;
  std::vector<HeaderMatch> fail_if_header_matches;
  std::vector<HeaderMatch> fail_if_header_not_matches;
  TlsOptions tls;
  // Read at every probe, so that rotated secrets are picked up.
  std::string basic_auth_username;
  std::string basic_auth_password_file;
  std::string bearer_token_file;
  std::chrono::milliseconds timeout{5000};
  // Larger bodies fail the probe (body_too_large); only kept in memory for body regexes.
  std::size_t max_response_bytes = 10 << 20;
};

// blackbox_exporter's http module from inside the pod: at scrape time, one request on a fresh
// connection, judged by status code, header and body regexes. Exports blackbox's probe_* names
// and meanings (probe_success, probe_http_status_code, probe_http_duration_seconds{phase}, ...)
// plus probe_failure_reason{reason}, each labelled collector=<name>. A failing probe is a
// measurement, not a collector error: Collect() reports no error for it, and Summary() says why.
//
// Thread-safety: Collect() must not run concurrently with itself (the exporter guarantees it);
// Summary() may run on any thread.
class HttpProbeCollector final : public Collector {
 public:
  explicit HttpProbeCollector(HttpProbeOptions options);

  CollectResult Collect(const CollectContext& context) override;
  std::string Summary() const override;

 private:
  // Judges a response that arrived: status, headers, body.
  void Judge(const HttpResponse& response, ProbeOutcome& outcome) const;

  const HttpProbeOptions options_;
  HttpClient client_;
  ProbeHistory history_;
};

// Decodes the options of an `http_probe` collector into a factory of HttpProbeCollector.
CollectorFactory DecodeHttpProbe(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
