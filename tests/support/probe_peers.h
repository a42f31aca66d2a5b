#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {

// A self-signed certificate and its key, made by openssl in `dir`, for CN and SAN localhost
// and 127.0.0.1, valid for `days` from now.
struct Certificate {
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  // notAfter in Unix seconds, as openssl reports it.
  long long not_after = 0;
};
Certificate MakeSelfSignedCertificate(const std::filesystem::path& dir, const std::string& name,
                                      int days);

// Debian's redis-server on 127.0.0.1, on a free port, without persistence, in its own temp dir.
class RedisServer {
 public:
  RedisServer();
  ~RedisServer();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// Debian's prometheus-blackbox-exporter on 127.0.0.1 with `modules_yaml` (the text under
// "modules:") as its configuration, plus `extra_args` (such as --web.config.file).
class BlackboxExporter {
 public:
  explicit BlackboxExporter(const std::string& modules_yaml,
                            const std::vector<std::string>& extra_args = {});
  ~BlackboxExporter();
  int port() const { return port_; }
  // GET /probe?module=...&target=... parsed into "name{labels}" -> value.
  std::map<std::string, double> Probe(const std::string& module, const std::string& target);

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sidecar::testing
