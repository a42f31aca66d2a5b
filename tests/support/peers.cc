#include "tests/support/peers.h"

#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sidecar::testing {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t AppendHeader(char* data, size_t size, size_t count, void* user) {
  std::string line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n") + 1);
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * count;
}

}  // namespace

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

HttpResult HttpGet(const std::string& url, const std::vector<std::string>& headers,
                   const std::string& method, std::chrono::milliseconds timeout) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  curl_slist* header_list = nullptr;
  for (const auto& header : headers) header_list = curl_slist_append(header_list, header.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) result.error = curl_easy_strerror(code);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  return result;
}

std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> metrics;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) throw std::runtime_error("bad metric line: " + line);
    metrics[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return metrics;
}

PromtoolCheck CheckWithPromtool(const std::string& exposition) {
  const CommandResult result = RunCommand({"promtool", "check", "metrics"}, exposition);
  PromtoolCheck check;
  check.exit_code = result.exit_code;
  check.output = result.output;
  check.unexpected_findings = result.output;
  for (const std::string known :
       {"nginx_connections_accepted counter metrics should have \"_total\" suffix\n",
        "nginx_connections_handled counter metrics should have \"_total\" suffix\n",
        // The Apache exporter's names, kept for its dashboards and alerts.
        "apache_cpu_time_ms_total metric names should not contain abbreviated units\n",
        "apache_duration_ms_total metric names should not contain abbreviated units\n",
        "apache_sent_kilobytes_total use base unit \"bytes\" instead of \"kilobytes\"\n"}) {
    if (const size_t at = check.unexpected_findings.find(known); at != std::string::npos) {
      check.unexpected_findings.erase(at, known.size());
    }
  }
  return check;
}

NginxServer::NginxServer(int worker_processes) : worker_processes_(worker_processes) {
  std::filesystem::create_directories(dir_ / "files");
  std::filesystem::create_directories(dir_ / "logs");
  std::filesystem::create_directories(dir_ / "tmp");
}

NginxServer::~NginxServer() { Stop(); }

std::string NginxServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void NginxServer::Start() {
  // nginx cannot report an ephemeral port, so take a free one and retry if it was snatched.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = FreePort();
    const std::string root = dir_.path().string();
    // As root, nginx's workers would run as "nobody" and could not reopen logs in our 0700 temp
    // dir after a rotation (SIGUSR1); keep them as the user running the test.
    const std::string user = geteuid() == 0 ? "user root root;\n" : "";
    WriteFile(dir_ / "nginx.conf", user + R"(daemon off;
master_process on;
worker_processes )" + std::to_string(worker_processes_) +
                                       R"(;
pid )" + root + R"(/nginx.pid;
error_log )" + root + R"(/logs/error.log warn;
events { worker_connections 256; }
http {
  log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time';
  access_log )" + root + R"(/logs/access.log timed;
  client_body_temp_path )" + root + R"(/tmp;
  proxy_temp_path )" + root + R"(/tmp;
  fastcgi_temp_path )" + root + R"(/tmp;
  uwsgi_temp_path )" + root + R"(/tmp;
  scgi_temp_path )" + root + R"(/tmp;
)" + extra_http_config_ + R"(
  server {
    listen 127.0.0.1:)" + std::to_string(port_) +
                                       R"(;
    listen unix:)" + unix_socket().string() +
                                       R"(;
    location = /stub_status { stub_status; access_log off; }
    location = /status/200 { return 200 "status 200\n"; }
    location = /status/201 { return 201 "status 201\n"; }
    location = /status/204 { return 204 "status 204\n"; }
    location = /status/301 { return 301 "status 301\n"; }
    location = /status/304 { return 304 "status 304\n"; }
    location = /status/400 { return 400 "status 400\n"; }
    location = /status/401 { return 401 "status 401\n"; }
    location = /status/403 { return 403 "status 403\n"; }
    location = /status/404 { return 404 "status 404\n"; }
    location = /status/429 { return 429 "status 429\n"; }
    location = /status/500 { return 500 "status 500\n"; }
    location = /status/502 { return 502 "status 502\n"; }
    location = /status/503 { return 503 "status 503\n"; }
    location = /status/504 { return 504 "status 504\n"; }
    location = /garbage { return 200 "Active connections: lots\nof garbage\n"; }
    location = /big { return 200 "Active connections: 1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"; }
    location /files/ { alias )" + root +
                                       R"(/files/; default_type application/json; }
    location / { return 200 "hello\n"; }
  }
}
)");
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"nginx", "-c", (dir_ / "nginx.conf").string(), "-p", root, "-e",
                                 (dir_ / "logs" / "error.log").string()},
        dir_ / "logs" / "stdout.log");
    if (WaitForPort(port_, std::chrono::seconds(5)) && process_->Running()) {
      // The master listens before it forks its workers; tests that count processes need them.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (worker_pids().size() < static_cast<size_t>(worker_processes_) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (process_->Running()) return;
    }
    process_.reset();
  }
  throw std::runtime_error("nginx did not start; see " + (dir_ / "logs").string());
}

void NginxServer::ReopenLogs() {
  if (!process_) throw std::runtime_error("nginx is not running");
  process_->Signal(SIGUSR1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!std::filesystem::exists(access_log())) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("nginx did not reopen " + access_log().string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int NginxServer::master_pid() const {
  if (!process_) throw std::runtime_error("nginx is not running");
  return process_->pid();
}

std::vector<int> NginxServer::worker_pids() const { return ChildPids(master_pid()); }

void NginxServer::Crash() {
  const std::vector<int> workers = worker_pids();
  process_->Signal(SIGKILL);  // first, or it would fork new workers for the killed ones
  process_->Wait(std::chrono::seconds(5));
  process_.reset();
  for (const int worker : workers) kill(worker, SIGKILL);
  // A killed nginx leaves its Unix socket behind, which would fail the next bind().
  std::filesystem::remove(unix_socket());
  // Orphans are reaped by init; a zombie no longer holds anything.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (const int worker : workers) {
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream stat("/proc/" + std::to_string(worker) + "/stat");
      std::string line;
      if (!std::getline(stat, line) || line.substr(line.rfind(')') + 2, 1) == "Z") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

ProcessExporterServer::ProcessExporterServer(const std::string& config_yaml) {
  WriteFile(dir_ / "config.yaml", config_yaml);
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreePort();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"prometheus-process-exporter", "-config.path",
                                 (dir_ / "config.yaml").string(), "-web.listen-address",
                                 "127.0.0.1:" + std::to_string(port_)},
        dir_ / "process-exporter.log");
    if (WaitForPort(port_, std::chrono::seconds(10)) && process_->Running()) return;
    process_.reset();
  }
  throw std::runtime_error("prometheus-process-exporter did not start: " +
                           ReadFile(dir_ / "process-exporter.log"));
}

std::map<std::string, double> ProcessExporterServer::Metrics() const {
  const HttpResult result = HttpGet("http://127.0.0.1:" + std::to_string(port_) + "/metrics");
  if (result.status != 200) {
    throw std::runtime_error("GET process-exporter /metrics: " + std::to_string(result.status) +
                             " " + result.error);
  }
  return ParseMetrics(result.body);
}

void NginxServer::Stop() {
  if (!process_) return;
  process_->Signal(SIGQUIT);  // graceful: finishes requests in flight and writes the log
  if (!process_->Wait(std::chrono::seconds(5))) process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(5));
  process_.reset();
}

std::string ExporterBinary() {
  const char* binary = std::getenv("SIDECAR_EXPORTER_BIN");
  return binary != nullptr && *binary != '\0' ? binary : SIDECAR_DEFAULT_EXPORTER_BIN;
}

bool ExporterIsSanitized() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#else
  const char* sanitizer = std::getenv("SIDECAR_EXPORTER_SANITIZER");
  return sanitizer != nullptr && *sanitizer != '\0';
#endif
}

ExporterProcess::ExporterProcess(const std::string& config_yaml,
                                 std::vector<std::string> extra_args,
                                 std::vector<std::string> command_prefix)
    : config_file_(dir_ / "config.yaml") {
  WriteFile(config_file_, config_yaml);
  if (!command_prefix.empty()) {
    using std::filesystem::perms;
    std::filesystem::permissions(dir_.path(), perms::others_read | perms::others_exec,
                                 std::filesystem::perm_options::add);
    std::filesystem::permissions(config_file_, perms::others_read,
                                 std::filesystem::perm_options::add);
  }
  std::vector<std::string> argv = std::move(command_prefix);
  for (const std::string& arg : {ExporterBinary(), "--config.file=" + config_file_.string(),
                                 std::string("--web.listen-address=127.0.0.1:0")}) {
    argv.push_back(arg);
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, dir_ / "exporter.log");
  if (!process_->WaitForLog("msg=ready", std::chrono::seconds(10))) {
    throw std::runtime_error("exporter did not become ready:\n" + process_->Log());
  }
  const std::string log = process_->Log();
  constexpr std::string_view kListening = "msg=listening address=127.0.0.1:";
  const size_t at = log.find(kListening);
  if (at == std::string::npos) {
    throw std::runtime_error("no listening address in the exporter's log:\n" + log);
  }
  port_ = std::stoi(log.substr(at + kListening.size()));
}

std::string ExporterProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::map<std::string, double> ExporterProcess::Metrics() {
  const HttpResult result = HttpGet(url("/metrics"));
  if (result.status != 200) {
    throw std::runtime_error("GET /metrics: " + std::to_string(result.status) + " " + result.error);
  }
  return ParseMetrics(result.body);
}

namespace {

std::string Substitute(std::string text, int port, const std::string& dir) {
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"{port}", std::to_string(port)}, {"{dir}", dir}}) {
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
      text.replace(at, key.size(), value);
      at += value.size();
    }
  }
  return text;
}

}  // namespace

PeerProcess::PeerProcess(std::vector<std::string> argv,
                         std::vector<std::pair<std::string, std::string>> files) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreePort();
    const std::string dir = dir_.path().string();
    for (const auto& [name, content] : files)
      WriteFile(dir_ / name, Substitute(content, port_, dir));
    std::vector<std::string> args;
    for (const auto& arg : argv) args.push_back(Substitute(arg, port_, dir));
    process_ =
        std::make_unique<ChildProcess>(args, dir_ / ("peer-" + std::to_string(attempt) + ".log"));
    if (WaitForPort(port_, std::chrono::seconds(20)) && process_->Running()) return;
    process_.reset();
  }
  throw std::runtime_error(argv.front() + " did not start; see " + dir_.path().string());
}

std::string PeerProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<std::string> PromtoolFindings(const PromtoolCheck& check) {
  std::vector<std::string> findings;
  std::istringstream lines(check.output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) findings.push_back(line);
  }
  std::sort(findings.begin(), findings.end());
  return findings;
}

}  // namespace sidecar::testing
