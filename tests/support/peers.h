#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {

struct HttpResult {
  long status = 0;  // 0: no answer
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;
};

// A GET (or another method) with libcurl; the body is not decompressed.
HttpResult HttpGet(const std::string& url, const std::vector<std::string>& headers = {},
                   const std::string& method = "GET",
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

// `text` percent-encoded for a URL's query (RFC 3986: all but letters, digits and -_.~).
std::string UrlEncode(const std::string& text);

// Parses the text exposition format into "name{labels}" -> value, labels as written.
std::map<std::string, double> ParseMetrics(const std::string& text);

// `promtool check metrics` on an exposition.
struct PromtoolCheck {
  int exit_code = -1;  // 0 clean, 3 lint findings only, 1 malformed
  std::string output;
  // The findings other than the two that nginx-prometheus-exporter's names cause
  // (nginx_connections_accepted and _handled are counters without "_total"; we keep its names so
  // that its dashboards and alerts work), and the three of the Apache exporter's names
  // (apache_cpu_time_ms_total, apache_duration_ms_total, apache_sent_kilobytes_total).
  std::string unexpected_findings;
  bool ok() const { return unexpected_findings.empty() && (exit_code == 0 || exit_code == 3); }
};
PromtoolCheck CheckWithPromtool(const std::string& exposition);

// A real nginx on 127.0.0.1, configured in its own temp dir: stub_status at /stub_status, an
// access log at access_log(), `/` answering 200, `/status/<code>` answering that code
// (200, 201, 204, 301, 304, 400, 401, 403, 404, 429, 500, 502, 503, 504).
class NginxServer {
 public:
  explicit NginxServer(int worker_processes = 1);
  ~NginxServer();
  // Adds directives to the http block (more server blocks, say) before Start().
  void AddHttpConfig(const std::string& directives) { extra_http_config_ += directives + "\n"; }
  void Start();
  void Stop();
  // Kills the master and its workers with SIGKILL, as a container runtime does when the main
  // container dies, and waits until they are gone. Start() brings nginx back.
  void Crash();
  // The master's pid and its workers' (read from /proc).
  int master_pid() const;
  std::vector<int> worker_pids() const;
  // Asks nginx to reopen its log files (SIGUSR1, what logrotate's postrotate does) and waits
  // until the access log exists again.
  void ReopenLogs();
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  std::filesystem::path access_log() const { return dir_ / "logs" / "access.log"; }
  // nginx's error_log, at level warn.
  std::filesystem::path error_log() const { return dir_ / "logs" / "error.log"; }
  // The same server also listens on this Unix domain socket.
  std::filesystem::path unix_socket() const { return dir_ / "nginx.sock"; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // Files put here are served under /files/ (as application/json).
  std::filesystem::path files_dir() const { return dir_ / "files"; }

 private:
  TempDir dir_;
  int worker_processes_;
  int port_ = 0;
  std::string extra_http_config_;
  std::unique_ptr<ChildProcess> process_;
};

// Debian's prometheus-process-exporter on an ephemeral port with `config_yaml` (its
// process_names format) as its config file.
class ProcessExporterServer {
 public:
  explicit ProcessExporterServer(const std::string& config_yaml);
  std::map<std::string, double> Metrics() const;

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// A peer exporter or server started as `argv`, each "{port}" replaced by a free port and each
// "{dir}" by the peer's own temp dir (retried on another port if that one was taken); killed on
// destruction. For prometheus, prometheus-node-exporter, prometheus-nginx-exporter, ...
class PeerProcess {
 public:
  // Files to write into the peer's dir before it starts (its config), "{port}" and "{dir}"
  // replaced in their content too.
  PeerProcess(std::vector<std::string> argv,
              std::vector<std::pair<std::string, std::string>> files = {});
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  const std::filesystem::path& dir() const { return dir_.path(); }
  ChildProcess& process() { return *process_; }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// The PromtoolCheck findings lines of `check`, one per line, sorted.
std::vector<std::string> PromtoolFindings(const PromtoolCheck& check);

// The exporter binary the tests start: $SIDECAR_EXPORTER_BIN when set, else the one built next to
// the tests. The test command sets it to run the end-to-end tests once more against a sanitised
// build of the exporter without building the tests a second time.
std::string ExporterBinary();

// True when that binary runs under AddressSanitizer or ThreadSanitizer (the test command says so
// in $SIDECAR_EXPORTER_SANITIZER, or these tests were built with one): its allocator is then the
// sanitiser's, so resident-memory bounds do not describe the exporter.
bool ExporterIsSanitized();

// The exporter binary under test, on an ephemeral port, with `config_yaml` as its config file.
class ExporterProcess {
 public:
  // `command_prefix` runs the exporter through another command (such as setpriv to drop to
  // another user); the config file is then made readable by everyone.
  explicit ExporterProcess(const std::string& config_yaml, std::vector<std::string> extra_args = {},
                           std::vector<std::string> command_prefix = {});
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  std::map<std::string, double> Metrics();
  ChildProcess& process() { return *process_; }
  const std::filesystem::path& config_file() const { return config_file_; }

 private:
  TempDir dir_;
  std::filesystem::path config_file_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sidecar::testing
