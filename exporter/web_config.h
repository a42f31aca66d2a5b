#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/core/config_decoder.h"

namespace sidecar {

// Who must show a client certificate, in the exporter-toolkit's (Go crypto/tls) terms.
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,           // asked for, not verified, not required
  kRequireAnyClientCert,        // required, not verified
  kVerifyClientCertIfGiven,     // verified against client_ca_file when given
  kRequireAndVerifyClientCert,  // required and verified
};

struct TlsServerConfig {
  // Absolute, or relative to the web config file's folder (as the exporter-toolkit resolves them).
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  std::filesystem::path client_ca_file;
  // OpenSSL protocol versions (TLS1_2_VERSION...); the toolkit's default minimum is TLS 1.2.
  int min_version = 0x0303;
  int max_version = 0x0304;
  // OpenSSL names of the TLS 1.2 suites allowed, in order; empty for OpenSSL's defaults. As in
  // Go, TLS 1.3 suites are not configurable.
  std::vector<std::string> cipher_suites;
  // OpenSSL group names ("P-256", "X25519"), in order of preference; empty for the defaults.
  std::vector<std::string> curves;
  bool prefer_server_cipher_suites = true;
};

// The exporter-toolkit web configuration (--web.config.file) that official exporters read, so
// that one file serves them and us: TLS, extra response headers and basic-auth users.
struct WebConfig {
  std::optional<TlsServerConfig> tls;
  // Security headers added to every response (the toolkit's allowed set only).
  std::vector<std::pair<std::string, std::string>> headers;
  // user -> bcrypt hash ($2a$, $2b$ or $2y$); empty for no authentication.
  std::vector<std::pair<std::string, std::string>> basic_auth_users;
};

struct WebConfigLoad {
  std::optional<WebConfig> config;
  std::vector<ConfigError> errors;  // every error, located; empty when `config` is set
};

// Decodes a web config; relative file names are resolved against `base_dir`. Never throws.
WebConfigLoad ParseWebConfig(std::string_view yaml, const std::string& file_name,
                             const std::filesystem::path& base_dir);
WebConfigLoad LoadWebConfigFile(const std::filesystem::path& path);

}  // namespace sidecar
