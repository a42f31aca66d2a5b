#include "tests/support/php_fpm.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace sidecar::testing {

PhpFpmServer::PhpFpmServer(int www_children, int tcp_children)
    : www_children_(www_children), tcp_children_(tcp_children) {
  std::filesystem::create_directories(script_dir());
  WriteFile(script_dir() / "hello.php", "<?php echo \"hello from \", getmypid(), \"\\n\";\n");
  WriteFile(script_dir() / "slow.php",
            "<?php usleep(1000 * (int)($_GET['ms'] ?? 1000)); echo \"slept\\n\";\n");
  // As root, the pools' children run as nobody and must reach the scripts.
  if (geteuid() == 0) chmod(dir_.path().c_str(), 0755);
}

PhpFpmServer::~PhpFpmServer() { Stop(); }

std::string PhpFpmServer::NginxServerBlock(int port) const {
  // The parameters of Debian's fastcgi_params that PHP needs, written out so that nothing under
  // /etc is read.
  const std::string params = "      fastcgi_param SCRIPT_FILENAME " + script_dir().string() +
                             "/$1;\n"
                             "      fastcgi_param SCRIPT_NAME /$1;\n"
                             "      fastcgi_param QUERY_STRING $query_string;\n"
                             "      fastcgi_param REQUEST_METHOD $request_method;\n"
                             "      fastcgi_param REQUEST_URI $request_uri;\n"
                             "      fastcgi_param CONTENT_TYPE $content_type;\n"
                             "      fastcgi_param CONTENT_LENGTH $content_length;\n"
                             "      fastcgi_param SERVER_PROTOCOL $server_protocol;\n"
                             "      fastcgi_param REMOTE_ADDR $remote_addr;\n";
  return "server {\n    listen 127.0.0.1:" + std::to_string(port) +
         ";\n    location ~ ^/www/(.+\\.php)$ {\n      fastcgi_pass unix:" +
         unix_socket().string() + ";\n" + params +
         "    }\n    location ~ ^/tcp/(.+\\.php)$ {\n      fastcgi_pass 127.0.0.1:" +
         std::to_string(tcp_port_) + ";\n" + params + "    }\n  }";
}

void PhpFpmServer::Start() {
  const std::string root = dir_.path().string();
  const std::string user = geteuid() == 0 ? "user = nobody\ngroup = nogroup\n" : "";
  for (int attempt = 0; attempt < 5; ++attempt) {
    tcp_port_ = FreePort();
    WriteFile(dir_ / "php-fpm.conf",
              "[global]\npid = " + root + "/php-fpm.pid\nerror_log = " + root +
                  "/error.log\ndaemonize = no\n\n[www]\n" + user +
                  "listen = " + unix_socket().string() + "\npm = static\npm.max_children = " +
                  std::to_string(www_children_) + "\npm.status_path = /status\n\n[tcp]\n" + user +
                  "listen = 127.0.0.1:" + std::to_string(tcp_port_) +
                  "\npm = dynamic\npm.max_children = " + std::to_string(tcp_children_) +
                  "\npm.start_servers = 1\npm.min_spare_servers = 1\n"
                  "pm.max_spare_servers = 1\npm.status_path = /status\n");
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"php-fpm8.2", "--nodaemonize", "--fpm-config",
                                 (dir_ / "php-fpm.conf").string(), "--allow-to-run-as-root"},
        dir_ / "stdout.log");
    if (WaitForPort(tcp_port_, std::chrono::seconds(5)) && process_->Running()) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!std::filesystem::exists(unix_socket()) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return;
    }
    process_.reset();
  }
  throw std::runtime_error("php-fpm8.2 did not start; see " + root + "/error.log");
}

void PhpFpmServer::Stop() {
  if (!process_) return;
  process_->Signal(SIGQUIT);  // graceful
  if (!process_->Wait(std::chrono::seconds(5))) process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(5));
  process_.reset();
}

}  // namespace sidecar::testing
