#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {

// A real PHP-FPM (Debian's php-fpm8.2 binary) started from its own config in a temp dir, with two
// pools: "www" on a Unix socket (unix_socket()) with `pm = static` and `www_children` children,
// and "tcp" on 127.0.0.1:tcp_port() with `pm = dynamic` and at most `tcp_children`. Both serve
// pm.status_path /status and the scripts in script_dir(): hello.php, and slow.php, which sleeps
// `?ms=` milliseconds.
class PhpFpmServer {
 public:
  PhpFpmServer(int www_children = 3, int tcp_children = 2);
  ~PhpFpmServer();
  PhpFpmServer(const PhpFpmServer&) = delete;
  PhpFpmServer& operator=(const PhpFpmServer&) = delete;

  void Start();
  void Stop();
  std::filesystem::path unix_socket() const { return dir_ / "www.sock"; }
  int tcp_port() const { return tcp_port_; }
  std::filesystem::path script_dir() const { return dir_ / "scripts"; }
  // An nginx server block on 127.0.0.1:`port` that passes /www/<script>.php to the Unix socket
  // pool and /tcp/<script>.php to the TCP pool (for NginxServer::AddHttpConfig, after Start()).
  std::string NginxServerBlock(int port) const;

 private:
  TempDir dir_;
  int www_children_;
  int tcp_children_;
  int tcp_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sidecar::testing
