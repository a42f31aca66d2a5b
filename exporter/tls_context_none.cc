// The variant of tls_context.cc without TLS, linked into the container image's lean
// sidecar-exporter so that it maps no TLS library: nothing here is reached unless a web config
// asks for TLS, which main hands to sidecar-exporter-tls before (exporter/tls_requirement.h).
#include <stdexcept>

#include "exporter/tls_context.h"

namespace sidecar {

bool TlsAvailable() { return false; }

TlsContext::TlsContext(TlsServerConfig config, Logger& logger)
    : config_(std::move(config)), logger_(logger) {
  throw std::runtime_error(
      "cert_file: TLS is unavailable in this build of sidecar-exporter (built without OpenSSL); "
      "run sidecar-exporter-tls, next to it in the image");
}

TlsContext::~TlsContext() = default;

std::vector<prometheus::MetricFamily> TlsContext::Collect() { return {}; }

std::unique_ptr<TlsServerSession> TlsServerSession::Accept(const TlsContext&, int) {
  return nullptr;
}

TlsServerSession::~TlsServerSession() = default;

TlsServerSession::Status TlsServerSession::Handshake() { return Status::kFailed; }

bool TlsServerSession::PeerCertificate() const { return false; }

TlsServerSession::Transfer TlsServerSession::Read(char*, std::size_t) {
  return {Status::kFailed, 0};
}

TlsServerSession::Transfer TlsServerSession::Write(const char*, std::size_t) {
  return {Status::kFailed, 0};
}

void TlsServerSession::Shutdown() {}

}  // namespace sidecar
