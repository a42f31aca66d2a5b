#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exporter/logger.h"
#include "exporter/web_config.h"
#include "prometheus/metric_family.h"

struct ssl_st;

namespace sidecar {

// Everything of the exporter that needs OpenSSL is declared here (TLS on the listening port) and
// defined in one of two translation units, of which a binary links exactly one:
// tls_context.cc (OpenSSL), or tls_context_none.cc for the image's lean binary, which then
// maps no TLS library at all: its TlsContext constructor throws "TLS unavailable" and
// TlsAvailable() is false (main then runs sidecar-exporter-tls instead when the configuration
// asks for TLS; see exporter/tls_requirement.h).
bool TlsAvailable();

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

  const TlsServerConfig& config() const { return config_; }

  // sidecar_exporter_tls_* families: reload success, failures, expiry of the served certificate.
  std::vector<prometheus::MetricFamily> Collect();

  struct Material;  // certificate chain, key and client CA store loaded together

 private:
  // Re-reads the files if they changed since the last look (at most once a second).
  void MaybeReload();
  std::shared_ptr<const Material> Current();
  static int OnCertificate(void* ssl, void* self);
  friend class TlsServerSession;

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

// One client's TLS session on a non-blocking socket, server side (the connection gate's).
class TlsServerSession {
 public:
  enum class Status { kOk, kWantRead, kWantWrite, kClosed, kFailed };
  struct Transfer {
    Status status;
    std::size_t bytes;  // with kOk, more than 0
  };

  // A session accepting on `fd` with `context`'s settings and certificate; null when it cannot be
  // set up.
  static std::unique_ptr<TlsServerSession> Accept(const TlsContext& context, int fd);

 private:
  struct Passkey {
    explicit Passkey() = default;
  };

 public:
  TlsServerSession(Passkey, ssl_st* ssl) : ssl_(ssl) {}
  ~TlsServerSession();
  TlsServerSession(const TlsServerSession&) = delete;
  TlsServerSession& operator=(const TlsServerSession&) = delete;

  // Advances the handshake: kOk once done, kWantRead/kWantWrite to be called again when the
  // socket is ready, kClosed or kFailed (not TLS, no common version or cipher, a certificate
  // that failed verification...).
  Status Handshake();
  // After the handshake: whether the client presented a certificate (verified as configured).
  bool PeerCertificate() const;
  // kClosed: the client sent close_notify. Partial writes are allowed, from a buffer that may move
  // between retries.
  Transfer Read(char* data, std::size_t size);
  Transfer Write(const char* data, std::size_t size);
  // Tells the client the session ends (close_notify), as far as the socket takes it now.
  void Shutdown();

 private:
  [[maybe_unused]] ssl_st* ssl_;  // unused by tls_context_none.cc
};

}  // namespace sidecar
