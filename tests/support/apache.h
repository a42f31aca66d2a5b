#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {

// A real Apache httpd (Debian's apache2 binary) on 127.0.0.1, configured in its own temp dir:
// mod_status at /server-status, a combined access log at combined_log(), a second log in
// kTimedLogFormat (with %D) at timed_log(), files under /static/ (index.html, 10k.bin) and 404
// for anything else. No systemd, nothing under /etc is read or changed.
class ApacheServer {
 public:
  // The LogFormat of timed_log(): combined with bytes on the wire and the time taken in µs.
  static constexpr const char* kTimedLogFormat =
      R"(%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\" %D)";

  // `mpm`: prefork, worker or event.
  explicit ApacheServer(std::string mpm = "event", bool extended_status = true);
  ~ApacheServer();
  ApacheServer(const ApacheServer&) = delete;
  ApacheServer& operator=(const ApacheServer&) = delete;

  // Adds directives to httpd.conf before Start(); "LoadModule name" loads Debian's mod_name.so
  // (`LoadModule("proxy")`).
  void AddConfig(const std::string& directives) { extra_config_ += directives + "\n"; }
  void LoadModule(const std::string& name) { extra_modules_.push_back(name); }
  void Start();
  // The master's pid and its children's (read from /proc).
  int master_pid() const;
  std::vector<int> child_pids() const;
  // Graceful stop (SIGWINCH would wait for requests; SIGTERM is what a pod's stop sends).
  void Stop();
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  std::filesystem::path combined_log() const { return dir_ / "logs" / "combined.log"; }
  std::filesystem::path timed_log() const { return dir_ / "logs" / "timed.log"; }
  // Apache's ErrorLog, in its default ErrorLogFormat at LogLevel warn.
  std::filesystem::path error_log() const { return dir_ / "logs" / "error.log"; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::string mpm_;
  bool extended_status_;
  int port_ = 0;
  std::string extra_config_;
  std::vector<std::string> extra_modules_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sidecar::testing
