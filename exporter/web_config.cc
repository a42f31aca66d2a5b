#include "exporter/web_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace sidecar {
namespace {

// Go's crypto/tls names (what the toolkit's cipher_suites takes) -> OpenSSL's.
const std::map<std::string, std::string, std::less<>>& CipherSuiteNames() {
  static const std::map<std::string, std::string, std::less<>> kNames = {
      {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
      {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
      {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
      {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
      {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
      // TLS 1.3 suites: Go accepts and ignores them (1.3 suites are not configurable).
      {"TLS_AES_128_GCM_SHA256", ""},
      {"TLS_AES_256_GCM_SHA384", ""},
      {"TLS_CHACHA20_POLY1305_SHA256", ""},
  };
  return kNames;
}

const std::map<std::string, std::string, std::less<>>& CurveNames() {
  static const std::map<std::string, std::string, std::less<>> kNames = {
      {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}, {"X25519", "X25519"}};
  return kNames;
}

const std::map<std::string, int, std::less<>>& TlsVersions() {
  static const std::map<std::string, int, std::less<>> kVersions = {
      {"TLS10", 0x0301}, {"TLS11", 0x0302}, {"TLS12", 0x0303}, {"TLS13", 0x0304}};
  return kVersions;
}

template <typename Map>
std::string KeysOf(const Map& map) {
  std::string keys;
  for (const auto& [key, value] : map) keys += (keys.empty() ? "" : ", ") + key;
  return keys;
}

std::filesystem::path Resolve(const std::string& file, const std::filesystem::path& base_dir) {
  if (file.empty()) return {};
  const std::filesystem::path path(file);
  return path.is_absolute() ? path : base_dir / path;
}

int DecodeVersion(FieldDecoder& fields, const std::string& key, int fallback) {
  const std::optional<std::string> name = fields.OptionalString(key);
  if (!name) return fallback;
  const auto found = TlsVersions().find(*name);
  if (found == TlsVersions().end()) {
    fields.Error(key, "unknown TLS version \"" + *name + "\"; allowed: " + KeysOf(TlsVersions()));
    return fallback;
  }
  return found->second;
}

std::optional<TlsServerConfig> DecodeTls(FieldDecoder fields,
                                         const std::filesystem::path& base_dir) {
  TlsServerConfig tls;
  const std::string cert = fields.String("cert_file", "");
  const std::string key = fields.String("key_file", "");
  const std::string auth =
      fields.Enum("client_auth_type", "",
                  {"", "NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                   "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"});
  const std::string ca = fields.String("client_ca_file", "");
  tls.min_version = DecodeVersion(fields, "min_version", tls.min_version);
  tls.max_version = DecodeVersion(fields, "max_version", tls.max_version);
  if (tls.min_version > tls.max_version) {
    fields.Error("max_version", "is below min_version");
  }
  for (const std::string& name : fields.StringList("cipher_suites")) {
    const auto found = CipherSuiteNames().find(name);
    if (found == CipherSuiteNames().end()) {
      fields.Error("cipher_suites", "unknown cipher suite \"" + name +
                                        "\"; allowed (Go's names): " + KeysOf(CipherSuiteNames()));
    } else if (!found->second.empty()) {
      tls.cipher_suites.push_back(found->second);
    }
  }
  for (const std::string& name : fields.StringList("curve_preferences")) {
    const auto found = CurveNames().find(name);
    if (found == CurveNames().end()) {
      fields.Error("curve_preferences",
                   "unknown curve \"" + name + "\"; allowed: " + KeysOf(CurveNames()));
    } else {
      tls.curves.push_back(found->second);
    }
  }
  tls.prefer_server_cipher_suites = fields.Bool("prefer_server_cipher_suites", true);
  fields.RejectUnknownKeys();

  // The toolkit serves plain HTTP when the section names no files at all.
  if (cert.empty() && key.empty() && auth.empty() && ca.empty()) return std::nullopt;
  if (cert.empty()) fields.Error("cert_file", "missing; TLS needs cert_file and key_file");
  if (key.empty()) fields.Error("key_file", "missing; TLS needs cert_file and key_file");
  tls.cert_file = Resolve(cert, base_dir);
  tls.key_file = Resolve(key, base_dir);
  tls.client_ca_file = Resolve(ca, base_dir);
  static const std::map<std::string, ClientAuth, std::less<>> kAuth = {
      {"", ClientAuth::kNoClientCert},
      {"NoClientCert", ClientAuth::kNoClientCert},
      {"RequestClientCert", ClientAuth::kRequestClientCert},
      {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
      {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert}};
  if (const auto found = kAuth.find(auth); found != kAuth.end()) tls.client_auth = found->second;
  const bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                        tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verifies && ca.empty()) {
    fields.Error("client_ca_file", "missing; client_auth_type " + auth + " verifies against it");
  }
  if (!verifies && !ca.empty()) {
    fields.Error("client_auth_type",
                 "client_ca_file is set but client_auth_type does not verify client "
                 "certificates; use VerifyClientCertIfGiven or RequireAndVerifyClientCert");
  }
  return tls;
}

// The exporter-toolkit accepts only these headers in http_server_config.headers.
bool IsAllowedHeader(std::string_view name) {
  static constexpr std::string_view kAllowed[] = {"Strict-Transport-Security",
                                                  "X-Content-Type-Options", "X-Frame-Options",
                                                  "X-XSS-Protection", "Content-Security-Policy"};
  for (std::string_view allowed : kAllowed) {
    if (allowed == name) return true;
  }
  return false;
}

bool IsBcryptHash(std::string_view hash) {
  if (hash.size() != 60) return false;
  if (!(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))) {
    return false;
  }
  return hash[6] == '$' && std::isdigit(static_cast<unsigned char>(hash[4])) &&
         std::isdigit(static_cast<unsigned char>(hash[5]));
}

}  // namespace

WebConfigLoad ParseWebConfig(std::string_view yaml, const std::string& file_name,
                             const std::filesystem::path& base_dir) {
  WebConfigLoad load;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    load.errors.push_back(
        {file_name, e.mark.line + 1, e.mark.column + 1, "", "invalid YAML: " + e.msg});
    return load;
  }
  WebConfig config;
  if (root.IsNull() || !root.IsDefined()) {
    load.config = std::move(config);  // an empty file: plain HTTP, no authentication
    return load;
  }
  if (!root.IsMap()) {
    load.errors.push_back({file_name, root.Mark().line + 1, root.Mark().column + 1, "",
                           "expected a mapping with tls_server_config, http_server_config and "
                           "basic_auth_users"});
    return load;
  }
  try {
    FieldDecoder top(root, "", file_name, load.errors);
    config.tls = DecodeTls(top.Child("tls_server_config"), base_dir);
    FieldDecoder http = top.Child("http_server_config");
    // HTTP/2 is not offered (CivetWeb speaks HTTP/1.1 here); the key is accepted for
    // compatibility with files written for Go exporters.
    http.Bool("http2", true);
    FieldDecoder headers = http.Child("headers");
    for (const auto& [name, value] : http.StringMap("headers", /*label_names=*/false)) {
      if (!IsAllowedHeader(name)) {
        headers.Error(name, "header \"" + name +
                                "\" cannot be set; allowed: Strict-Transport-Security, "
                                "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
                                "Content-Security-Policy");
      } else if (value.find_first_of("\r\n") != std::string::npos || value.empty()) {
        headers.Error(name, "the value must be one non-empty line");
      } else {
        config.headers.emplace_back(name, value);
      }
    }
    http.RejectUnknownKeys();
    FieldDecoder users = top.Child("basic_auth_users");
    for (auto& [user, hash] : top.StringMap("basic_auth_users", /*label_names=*/false)) {
      if (user.empty() || user.find(':') != std::string::npos) {
        users.Error(user, "user names cannot be empty or contain ':'");
      } else if (!IsBcryptHash(hash)) {
        users.Error(user,
                    "not a bcrypt hash; want 60 characters starting with $2y$, $2b$ or $2a$ "
                    "(htpasswd -nBC 10 \"\" | tr -d ':' makes one)");
      } else {
        config.basic_auth_users.emplace_back(user, hash);
      }
    }
    top.RejectUnknownKeys();
  } catch (const YAML::Exception& e) {
    load.errors.push_back({file_name, e.mark.line + 1, e.mark.column + 1, "", e.msg});
  }
  if (load.errors.empty()) load.config = std::move(config);
  return load;
}

WebConfigLoad LoadWebConfigFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    WebConfigLoad load;
    load.errors.push_back(
        {path.string(), 0, 0, "", "cannot read the file: " + std::string(std::strerror(errno))});
    return load;
  }
  std::ostringstream content;
  content << in.rdbuf();
  return ParseWebConfig(content.str(), path.string(), path.parent_path());
}

}  // namespace sidecar
