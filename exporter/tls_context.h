#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exporter/logger.h"
#include "exporter/web_config.h"
#include "prometheus/metric_family.h"

namespace sidecar {

// The server side of TLS: an OpenSSL SSL_CTX built from a web config's tls_server_config, whose
// certificate, key and client CAs are re-read when their files change (cert-manager renews a
// Secret in place, kubelet swaps the mounted files), without a restart and without dropping
// connections. Files are checked at most once a second, on a handshake or a scrape of the
// metrics; a new set that does not load (unreadable, not PEM, key not matching the certificate)
// is logged and counted, and the old one stays in use.
//
// The constructor loads the files and throws std::runtime_error naming the file when it cannot.
// Thread-safe: handshakes on any thread pick up the current material.
class TlsContext {
 public:
  TlsContext(TlsServerConfig config, Logger& logger);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The SSL_CTX (owned by this object) for CivetWeb's external_ssl_ctx callback.
  void* ssl_ctx() const { return ssl_ctx_; }
  const TlsServerConfig& config() const { return config_; }

  // sidecar_exporter_tls_* families: reload success, failures, expiry of the served certificate.
  std::vector<prometheus::MetricFamily> Collect();

  struct Material;  // certificate chain, key and client CA store loaded together

 private:
  // Re-reads the files if they changed since the last look (at most once a second).
  void MaybeReload();
  std::shared_ptr<const Material> Current();
  static int OnCertificate(void* ssl, void* self);

  const TlsServerConfig config_;
  Logger& logger_;
  void* ssl_ctx_ = nullptr;

  std::mutex mutex_;
  std::shared_ptr<const Material> material_;
  std::string fingerprint_;  // of the files' metadata when last read
  std::chrono::steady_clock::time_point last_check_;
  bool last_reload_successful_ = true;
  std::uint64_t reload_failures_total_ = 0;
};

}  // namespace sidecar
