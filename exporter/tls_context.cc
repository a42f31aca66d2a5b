#include "exporter/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <ctime>
#include <stdexcept>

#include "collectors/core/metric_family_builder.h"

namespace sidecar {
namespace {

// The reason OpenSSL gives for the last failure, or `fallback`.
std::string OpenSslError(const std::string& fallback) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return fallback;
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

struct BioCloser {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioCloser>;

BioPtr OpenFile(const std::filesystem::path& path, const std::string& field) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    throw std::runtime_error(field + " " + path.string() +
                             ": cannot read: " + OpenSslError("no such file"));
  }
  return bio;
}

// What identifies a version of a file: a renewal by kubelet's symlink swap or by an in-place
// write changes at least one of these.
std::string FileStamp(const std::filesystem::path& path) {
  if (path.empty()) return "-";
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return "missing";
  return std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino) + ":" +
         std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
         std::to_string(info.st_mtim.tv_nsec);
}

int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

struct TlsContext::Material {
  X509* certificate = nullptr;
  STACK_OF(X509) * chain = nullptr;  // intermediates after the leaf in cert_file
  EVP_PKEY* key = nullptr;
  X509_STORE* client_cas = nullptr;
  double not_after_unix_seconds = 0;

  Material() = default;
  Material(const Material&) = delete;
  Material& operator=(const Material&) = delete;
  ~Material() {
    X509_free(certificate);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_STORE_free(client_cas);
  }
};

namespace {

std::shared_ptr<const TlsContext::Material> LoadMaterial(const TlsServerConfig& config) {
  auto material = std::make_shared<TlsContext::Material>();
  BioPtr certs = OpenFile(config.cert_file, "cert_file");
  material->certificate = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
  if (material->certificate == nullptr) {
    throw std::runtime_error("cert_file " + config.cert_file.string() +
                             ": no PEM certificate: " + OpenSslError("empty"));
  }
  material->chain = sk_X509_new_null();
  while (X509* next = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(material->chain, next);
  }
  ERR_clear_error();  // the end of the file reads as an error
  BioPtr key = OpenFile(config.key_file, "key_file");
  material->key = PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr);
  if (material->key == nullptr) {
    throw std::runtime_error("key_file " + config.key_file.string() +
                             ": no PEM private key: " + OpenSslError("empty"));
  }
  if (X509_check_private_key(material->certificate, material->key) != 1) {
    ERR_clear_error();
    throw std::runtime_error("key_file " + config.key_file.string() +
                             " does not match the certificate in " + config.cert_file.string());
  }
  std::tm expiry{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(material->certificate), &expiry) == 1) {
    material->not_after_unix_seconds = static_cast<double>(timegm(&expiry));
  }
  if (!config.client_ca_file.empty()) {
    material->client_cas = X509_STORE_new();
    if (X509_STORE_load_file(material->client_cas, config.client_ca_file.c_str()) != 1) {
      throw std::runtime_error("client_ca_file " + config.client_ca_file.string() +
                               ": no PEM certificate: " + OpenSslError("cannot read"));
    }
  }
  return material;
}

}  // namespace

TlsContext::TlsContext(TlsServerConfig config, Logger& logger)
    : config_(std::move(config)), logger_(logger) {
  material_ = LoadMaterial(config_);
  fingerprint_ = FileStamp(config_.cert_file) + " " + FileStamp(config_.key_file) + " " +
                 FileStamp(config_.client_ca_file);
  last_check_ = std::chrono::steady_clock::now();

  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) throw std::runtime_error("SSL_CTX_new: " + OpenSslError("failed"));
  ssl_ctx_ = ctx;  // freed by the destructor from here on, also when a step below throws
  const auto fail = [&](const std::string& what) {
    SSL_CTX_free(ctx);
    ssl_ctx_ = nullptr;
    throw std::runtime_error(what + ": " + OpenSslError("rejected"));
  };
  if (SSL_CTX_set_min_proto_version(ctx, config_.min_version) != 1) fail("min_version");
  if (SSL_CTX_set_max_proto_version(ctx, config_.max_version) != 1) fail("max_version");
  if (!config_.cipher_suites.empty()) {
    std::string list;
    for (const auto& suite : config_.cipher_suites) list += (list.empty() ? "" : ":") + suite;
    if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) fail("cipher_suites");
  }
  if (!config_.curves.empty()) {
    std::string list;
    for (const auto& curve : config_.curves) list += (list.empty() ? "" : ":") + curve;
    if (SSL_CTX_set1_groups_list(ctx, list.c_str()) != 1) fail("curve_preferences");
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION |
               (config_.prefer_server_cipher_suites ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  static constexpr unsigned char kSessionContext[] = "sidecar-exporter";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  // A client certificate is never demanded at the handshake: kubelet probes have none, and
  // /healthz and /readyz must answer them. The HTTP layer refuses every other path to a
  // connection without one when client_auth_type requires it. A certificate that is presented
  // is verified at the handshake when the type says so.
  switch (config_.client_auth) {
    case ClientAuth::kNoClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config_.client_ca_file.c_str())) {
        SSL_CTX_set_client_CA_list(ctx, names);
      }
      break;
  }
  SSL_CTX_set_cert_cb(
      ctx, [](SSL* ssl, void* self) { return OnCertificate(ssl, self); }, this);
}

TlsContext::~TlsContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_)); }

int TlsContext::OnCertificate(void* ssl_handle, void* self_handle) {
  auto* self = static_cast<TlsContext*>(self_handle);
  SSL* ssl = static_cast<SSL*>(ssl_handle);
  self->MaybeReload();
  const std::shared_ptr<const Material> material = self->Current();
  // Each SSL takes its own references, so a reload during the handshake frees nothing in use.
  if (SSL_use_certificate(ssl, material->certificate) != 1 ||
      SSL_use_PrivateKey(ssl, material->key) != 1 || SSL_set1_chain(ssl, material->chain) != 1) {
    return 0;
  }
  if (material->client_cas != nullptr) SSL_set1_verify_cert_store(ssl, material->client_cas);
  return 1;
}

std::shared_ptr<const TlsContext::Material> TlsContext::Current() {
  std::lock_guard lock(mutex_);
  return material_;
}

void TlsContext::MaybeReload() {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (now - last_check_ < std::chrono::seconds(1)) return;
    last_check_ = now;
  }
  const std::string stamp = FileStamp(config_.cert_file) + " " + FileStamp(config_.key_file) + " " +
                            FileStamp(config_.client_ca_file);
  {
    std::lock_guard lock(mutex_);
    if (stamp == fingerprint_) return;
    fingerprint_ = stamp;
  }
  try {
    auto material = LoadMaterial(config_);
    const double not_after = material->not_after_unix_seconds;
    {
      std::lock_guard lock(mutex_);
      material_ = std::move(material);
      last_reload_successful_ = true;
    }
    logger_.Info("TLS certificate reloaded", {{"cert_file", config_.cert_file.string()},
                                              {"not_after", std::to_string(not_after)}});
  } catch (const std::exception& e) {
    {
      std::lock_guard lock(mutex_);
      last_reload_successful_ = false;
      ++reload_failures_total_;
    }
    logger_.Error("cannot reload the TLS files; serving the previous certificate",
                  {{"error", e.what()}});
  }
}

std::vector<prometheus::MetricFamily> TlsContext::Collect() {
  MaybeReload();
  std::lock_guard lock(mutex_);
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  families.push_back(
      MetricFamilyBuilder("sidecar_exporter_tls_last_reload_successful",
                          "Whether the last reading of the web config's cert_file, key_file and "
                          "client_ca_file succeeded (0: the previous certificate is served).",
                          MetricType::Gauge)
          .Add(last_reload_successful_ ? 1 : 0)
          .Build());
  families.push_back(MetricFamilyBuilder("sidecar_exporter_tls_reload_failures_total",
                                         "Changed TLS files (web config) that could not be "
                                         "loaded and left the previous certificate in use.",
                                         MetricType::Counter)
                         .Add(static_cast<double>(reload_failures_total_))
                         .Build());
  families.push_back(
      MetricFamilyBuilder("sidecar_exporter_tls_certificate_expiry_timestamp_seconds",
                          "When the served certificate (web config cert_file) expires, in unix "
                          "seconds.",
                          MetricType::Gauge)
          .Add(material_->not_after_unix_seconds)
          .Build());
  return families;
}

bool TlsAvailable() { return true; }

namespace {

// What a handshake, read or write that returned `result` (not a success) is waiting for, or
// that the peer closed the session (close_notify) or it failed.
TlsServerSession::Status StatusOfUnfinished(SSL* ssl, int result) {
  switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ:
      return TlsServerSession::Status::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsServerSession::Status::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return TlsServerSession::Status::kClosed;
    default:
      return TlsServerSession::Status::kFailed;
  }
}

}  // namespace

std::unique_ptr<TlsServerSession> TlsServerSession::Accept(const TlsContext& context, int fd) {
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(context.ssl_ctx_));
  if (ssl == nullptr) return nullptr;
  auto session = std::make_unique<TlsServerSession>(Passkey{}, ssl);
  if (SSL_set_fd(ssl, fd) != 1) return nullptr;
  SSL_set_accept_state(ssl);
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return session;
}

TlsServerSession::~TlsServerSession() { SSL_free(ssl_); }

TlsServerSession::Status TlsServerSession::Handshake() {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  return result == 1 ? Status::kOk : StatusOfUnfinished(ssl_, result);
}

bool TlsServerSession::PeerCertificate() const {
  return SSL_get0_peer_certificate(ssl_) != nullptr;
}

TlsServerSession::Transfer TlsServerSession::Read(char* data, std::size_t size) {
  ERR_clear_error();
  const int got = SSL_read(ssl_, data, static_cast<int>(size));
  if (got > 0) return {Status::kOk, static_cast<std::size_t>(got)};
  return {StatusOfUnfinished(ssl_, got), 0};
}

TlsServerSession::Transfer TlsServerSession::Write(const char* data, std::size_t size) {
  ERR_clear_error();
  const int sent = SSL_write(ssl_, data, static_cast<int>(size));
  if (sent > 0) return {Status::kOk, static_cast<std::size_t>(sent)};
  return {StatusOfUnfinished(ssl_, sent), 0};
}

void TlsServerSession::Shutdown() { SSL_shutdown(ssl_); }

}  // namespace sidecar
