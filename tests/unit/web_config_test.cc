#include "exporter/web_config.h"

#include <catch2/catch.hpp>

namespace sidecar {
namespace {

std::vector<std::string> Errors(const WebConfigLoad& load) {
  std::vector<std::string> errors;
  for (const auto& error : load.errors) errors.push_back(error.ToString());
  return errors;
}

constexpr char kHash[] = "$2y$04$DUNfWMiNWd1BMZvc3jSxL.tzcmzIY1Jzz9vspty9EqQVplfVUhZQ2";

TEST_CASE("web config: every exporter-toolkit field decodes", "[web_config]") {
  const std::string yaml = std::string(R"(tls_server_config:
  cert_file: tls/server.crt
  key_file: /etc/tls/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: true
  headers:
    Strict-Transport-Security: max-age=31536000
    X-Frame-Options: deny
basic_auth_users:
  prometheus: ')") + kHash +
                           "'\n";
  const WebConfigLoad load = ParseWebConfig(yaml, "web.yml", "/config");
  REQUIRE(Errors(load).empty());
  const WebConfig& config = *load.config;
  REQUIRE(config.tls);
  CHECK(config.tls->cert_file == "/config/tls/server.crt");
  CHECK(config.tls->key_file == "/etc/tls/server.key");
  CHECK(config.tls->client_ca_file == "/config/ca.crt");
  CHECK(config.tls->client_auth == ClientAuth::kRequireAndVerifyClientCert);
  CHECK(config.tls->min_version == 0x0304);
  CHECK(config.tls->max_version == 0x0304);
  // Go's names become OpenSSL's; TLS 1.3 suites are accepted and, as in Go, not configured.
  CHECK(config.tls->cipher_suites == std::vector<std::string>{"ECDHE-RSA-AES128-GCM-SHA256"});
  CHECK(config.tls->curves == std::vector<std::string>{"X25519", "P-256"});
  CHECK_FALSE(config.tls->prefer_server_cipher_suites);
  CHECK(config.headers ==
        std::vector<std::pair<std::string, std::string>>{
            {"Strict-Transport-Security", "max-age=31536000"}, {"X-Frame-Options", "deny"}});
  CHECK(config.basic_auth_users ==
        std::vector<std::pair<std::string, std::string>>{{"prometheus", kHash}});
}

TEST_CASE("web config: empty file and empty TLS section mean plain HTTP", "[web_config]") {
  const WebConfigLoad empty = ParseWebConfig("", "web.yml", "/");
  REQUIRE(empty.config);
  CHECK_FALSE(empty.config->tls);
  const WebConfigLoad no_files = ParseWebConfig("tls_server_config: {}\n", "web.yml", "/");
  REQUIRE(no_files.config);
  CHECK_FALSE(no_files.config->tls);
  CHECK(ParseWebConfig("tls_server_config:\n  min_version: TLS12\n", "web.yml", "/").config);
}

TEST_CASE("web config: every error is located and says what is allowed", "[web_config]") {
  const WebConfigLoad load = ParseWebConfig(R"(tls_server_config:
  cert_file: a.crt
  client_auth_type: VerifyClientCertIfGiven
  min_version: TLS13
  max_version: TLS12
  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]
  curve_preferences: [P-256]
  colour: blue
http_server_config:
  headers:
    Server: x
basic_auth_users:
  alice: secret
  "bob:x": ')" + std::string(kHash) + "'\nfoo: 1\n",
                                            "web.yml", "/");
  CHECK_FALSE(load.config);
  const auto errors = Errors(load);
  const std::vector<std::string> expected = {
      "web.yml:5:16: tls_server_config.max_version: is below min_version",
      "web.yml:6:18: tls_server_config.cipher_suites: unknown cipher suite "
      "\"TLS_RSA_WITH_RC4_128_SHA\"; allowed (Go's names): ",
      "web.yml:7:22: tls_server_config.curve_preferences: unknown curve \"P-256\"; allowed: "
      "CurveP256, CurveP384, CurveP521, X25519",
      "web.yml:8:3: tls_server_config.colour: unknown field \"colour\"",
      "tls_server_config.key_file: missing; TLS needs cert_file and key_file",
      "tls_server_config.client_ca_file: missing; client_auth_type VerifyClientCertIfGiven "
      "verifies against it",
      "web.yml:11:13: http_server_config.headers.Server: header \"Server\" cannot be set",
      "web.yml:13:10: basic_auth_users.alice: not a bcrypt hash",
      "basic_auth_users.bob:x: user names cannot be empty or contain ':'",
      "web.yml:15:1: foo: unknown field \"foo\"",
  };
  for (const std::string& want : expected) {
    bool found = false;
    for (const std::string& error : errors) found |= error.find(want) != std::string::npos;
    INFO(want);
    CAPTURE(errors);
    CHECK(found);
  }
  CHECK(errors.size() == expected.size());
}

TEST_CASE("web config: a CA without verification is refused, as by the toolkit", "[web_config]") {
  const WebConfigLoad load = ParseWebConfig(
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n", "w.yml", "/");
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].field == "tls_server_config.client_auth_type");
}

TEST_CASE("web config: invalid YAML is an error, not a crash", "[web_config]") {
  const WebConfigLoad load = ParseWebConfig("tls_server_config: [\n", "w.yml", "/");
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].message.starts_with("invalid YAML"));
  CHECK(ParseWebConfig("- a\n- b\n", "w.yml", "/").errors.size() == 1);
  CHECK(ParseWebConfig("basic_auth_users: [a]\n", "w.yml", "/").errors.size() == 1);
}

}  // namespace
}  // namespace sidecar
