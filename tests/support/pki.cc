#include "tests/support/pki.h"

#include <stdexcept>

#include "tests/support/process.h"

namespace sidecar::testing {
namespace {

void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = RunCommand(argv);
  if (result.exit_code != 0) throw std::runtime_error("openssl failed:\n" + result.output);
}

void NewKeyAndRequest(const std::filesystem::path& key, const std::filesystem::path& request,
                      const std::string& common_name) {
  Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
           key.string(), "-out", request.string(), "-subj", "/CN=" + common_name});
}

void Sign(const std::filesystem::path& request, const std::filesystem::path& ca_dir,
          const std::string& ca_name, const std::filesystem::path& cert,
          const std::filesystem::path& extensions) {
  std::vector<std::string> args = {"x509",
                                   "-req",
                                   "-in",
                                   request.string(),
                                   "-CA",
                                   (ca_dir / (ca_name + ".crt")).string(),
                                   "-CAkey",
                                   (ca_dir / (ca_name + ".key")).string(),
                                   "-CAcreateserial",
                                   "-days",
                                   "2",
                                   "-out",
                                   cert.string()};
  if (!extensions.empty()) {
    args.push_back("-extfile");
    args.push_back(extensions.string());
  }
  Openssl(args);
}

void NewCa(const std::filesystem::path& dir, const std::string& name) {
  Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", (dir / (name + ".key")).string(), "-out", (dir / (name + ".crt")).string(),
           "-days", "2", "-subj", "/CN=" + name});
}

}  // namespace

TestPki::TestPki() {
  NewCa(dir(), "ca");
  NewCa(dir(), "other-ca");
  WriteFile(dir_ / "server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  IssueServerCertificate(server_cert(), server_key(), "sidecar-exporter");
  NewKeyAndRequest(client_key(), dir_ / "client.csr", "prometheus");
  Sign(dir_ / "client.csr", dir(), "ca", client_cert(), {});
  NewKeyAndRequest(other_client_key(), dir_ / "other-client.csr", "prometheus");
  Sign(dir_ / "other-client.csr", dir(), "other-ca", other_client_cert(), {});
}

void TestPki::IssueServerCertificate(const std::filesystem::path& cert,
                                     const std::filesystem::path& key,
                                     const std::string& common_name) const {
  const std::filesystem::path new_key = dir_ / "new-server.key";
  const std::filesystem::path new_cert = dir_ / "new-server.crt";
  NewKeyAndRequest(new_key, dir_ / "server.csr", common_name);
  Sign(dir_ / "server.csr", dir(), "ca", new_cert, dir_ / "server.ext");
  std::filesystem::rename(new_key, key);
  std::filesystem::rename(new_cert, cert);
}

CurlResult Curl(const std::string& url, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time",
                                   "10",   "-w",  "\nstatus=%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  const CommandResult result = RunCommand(argv);
  CurlResult curl;
  curl.exit_code = result.exit_code;
  curl.output = result.output;
  const size_t at = result.output.rfind("\nstatus=");
  if (at != std::string::npos) {
    curl.status = std::stol(result.output.substr(at + 8));
    curl.body = result.output.substr(0, at);
  }
  return curl;
}

std::string BcryptHash(const std::string& password) {
  const CommandResult result = RunCommand({"htpasswd", "-nbBC", "10", "user", password});
  if (result.exit_code != 0) throw std::runtime_error("htpasswd failed:\n" + result.output);
  const size_t colon = result.output.find(':');
  const size_t end = result.output.find('\n');
  return result.output.substr(colon + 1, end - colon - 1);
}

}  // namespace sidecar::testing
