#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sidecar {

// TLS settings for a connection to the main container, with the meanings of Prometheus'
// tls_config (used by blackbox_exporter).
struct TlsOptions {
  // PEM file of the CAs that sign the server's certificate; empty: the system's CAs.
  std::string ca_file;
  // PEM client certificate and its key, for servers that ask for one (both or neither).
  std::string cert_file;
  std::string key_file;
  // Name sent in SNI and checked against the certificate instead of the URL's host.
  std::string server_name;
  bool insecure_skip_verify = false;
};

// What a TLS handshake revealed.
struct TlsSession {
  // As blackbox_exporter labels it: "TLS 1.2", "TLS 1.3"; empty when libcurl did not say.
  std::string version;
  // Earliest notAfter of the certificates the server sent, in Unix seconds.
  std::optional<std::int64_t> earliest_cert_expiry;
};

}  // namespace sidecar
