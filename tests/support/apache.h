#pragma once

#include <filesystem>
#include <memory>
#include <string>

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

  void Start();
  // Graceful stop (SIGWINCH would wait for requests; SIGTERM is what a pod's stop sends).
  void Stop();
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  std::filesystem::path combined_log() const { return dir_ / "logs" / "combined.log"; }
  std::filesystem::path timed_log() const { return dir_ / "logs" / "timed.log"; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::string mpm_;
  bool extended_status_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sidecar::testing
