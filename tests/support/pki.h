#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace sidecar::testing {

// Certificates for TLS tests, made by the openssl command in a temp dir: a CA; a server
// certificate for 127.0.0.1 and localhost signed by it; a client certificate signed by it; and
// a client certificate from a second, unrelated CA (the "wrong CA"). EC P-256 keys, 2 days.
class TestPki {
 public:
  TestPki();
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path ca_cert() const { return dir_ / "ca.crt"; }
  std::filesystem::path server_cert() const { return dir_ / "server.crt"; }
  std::filesystem::path server_key() const { return dir_ / "server.key"; }
  std::filesystem::path client_cert() const { return dir_ / "client.crt"; }
  std::filesystem::path client_key() const { return dir_ / "client.key"; }
  std::filesystem::path other_client_cert() const { return dir_ / "other-client.crt"; }
  std::filesystem::path other_client_key() const { return dir_ / "other-client.key"; }

  // Issues another server certificate signed by the CA, with this common name, into `cert` and
  // `key` (written next to them first, then renamed over them, as an atomic renewal would).
  void IssueServerCertificate(const std::filesystem::path& cert, const std::filesystem::path& key,
                              const std::string& common_name) const;

 private:
  TempDir dir_;
};

// The real curl command against `url` with `args`; status 0 when no HTTP answer came.
struct CurlResult {
  int exit_code = -1;
  long status = 0;
  std::string body;    // with -v, also curl's trace
  std::string output;  // everything curl printed
};
CurlResult Curl(const std::string& url, const std::vector<std::string>& args = {});

// A bcrypt hash of `password` made by htpasswd (apache2-utils), "$2y$" form, cost 10.
std::string BcryptHash(const std::string& password);

}  // namespace sidecar::testing
