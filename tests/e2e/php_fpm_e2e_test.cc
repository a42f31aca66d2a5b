// The exporter against a real PHP-FPM, straight over FastCGI, with a real nginx in front of it
// passing PHP requests with fastcgi_pass, as in the classic nginx + php-fpm pod.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <future>
#include <thread>

#include "tests/support/peers.h"
#include "tests/support/php_fpm.h"

namespace sidecar::testing {
namespace {

std::string FpmConfig(const PhpFpmServer& fpm) {
  return "global:\n  timeout: 8s\ncollectors:\n"
         "  - {type: php_fpm, name: www, address: 'unix://" +
         fpm.unix_socket().string() +
         "', status_path: /status, timeout: 8s}\n"
         "  - {type: php_fpm, name: tcp, address: 'tcp://127.0.0.1:" +
         std::to_string(fpm.tcp_port()) + "', status_path: /status, timeout: 8s}\n";
}

// The classic pod: php-fpm with a "www" pool of 3 static children on a Unix socket and a "tcp"
// pool of at most 2 dynamic children, nginx in front on `front`.
struct PhpFpmPod {
  PhpFpmPod() {
    fpm.Start();
    front = FreePort();
    nginx.AddHttpConfig(fpm.NginxServerBlock(front));
    nginx.Start();
    REQUIRE(WaitForPort(front, std::chrono::seconds(5)));
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(front) + path;
  }
  PhpFpmServer fpm{3, 2};
  NginxServer nginx;
  int front = 0;
};

std::string Series(const std::string& name, const std::string& pool, const std::string& uri) {
  return name + "{pool=\"" + pool + "\",scrape_uri=\"" + uri + "\"}";
}

TEST_CASE("PHP-FPM pools over FastCGI count the PHP requests nginx passes them", "[e2e][php_fpm]") {
  PhpFpmPod pod;
  PhpFpmServer& fpm = pod.fpm;
  ExporterProcess exporter(FpmConfig(fpm));
  const std::string www_uri = "unix://" + fpm.unix_socket().string() + ";/status";
  const std::string tcp_uri = "tcp://127.0.0.1:" + std::to_string(fpm.tcp_port()) + "/status";

  auto before = exporter.Metrics();
  REQUIRE(before.at("phpfpm_up{scrape_uri=\"" + www_uri + "\"}") == 1);
  REQUIRE(before.at("phpfpm_up{scrape_uri=\"" + tcp_uri + "\"}") == 1);
  constexpr int kRequests = 25;
  for (int i = 0; i < kRequests; ++i) {
    const HttpResult result = HttpGet(pod.url("/www/hello.php"));
    REQUIRE(result.status == 200);
    REQUIRE_THAT(result.body, Catch::StartsWith("hello from "));
  }
  REQUIRE(HttpGet(pod.url("/tcp/hello.php")).status == 200);
  auto after = exporter.Metrics();

  // The pool counts the traffic plus the exporter's own status request in the first scrape.
  const auto accepted = [&](auto& metrics, const std::string& pool, const std::string& uri) {
    return metrics.at(Series("phpfpm_accepted_connections", pool, uri));
  };
  CHECK(accepted(after, "www", www_uri) - accepted(before, "www", www_uri) == kRequests + 1);
  CHECK(accepted(after, "tcp", tcp_uri) - accepted(before, "tcp", tcp_uri) == 2);
  // Static pool: all three children, one of them serving this status request (another may still
  // be finishing the last PHP request after nginx got its answer).
  CHECK(after.at(Series("phpfpm_total_processes", "www", www_uri)) == 3);
  CHECK(after.at(Series("phpfpm_active_processes", "www", www_uri)) >= 1);
  CHECK(after.at(Series("phpfpm_active_processes", "www", www_uri)) +
            after.at(Series("phpfpm_idle_processes", "www", www_uri)) ==
        3);
  CHECK(after.at(Series("phpfpm_listen_queue", "www", www_uri)) == 0);
  CHECK(after.at(Series("phpfpm_start_since", "www", www_uri)) >= 0);
  // Per child: requests served add up to the pool's accepted connections (each child counts the
  // request it is serving too).
  double child_requests = 0;
  for (int child = 0; child < 3; ++child) {
    const std::string labels =
        "{pool=\"www\",child=\"" + std::to_string(child) + "\",scrape_uri=\"" + www_uri + "\"}";
    child_requests += after.at("phpfpm_process_requests" + labels);
    CHECK(after.count("phpfpm_process_request_duration" + labels) == 1);
    CHECK(after.count("phpfpm_process_last_request_cpu" + labels) == 1);
    CHECK(after.count("phpfpm_process_last_request_memory" + labels) == 1);
    double states = 0;
    for (const char* state : {"Idle", "Running", "Finishing", "Reading headers",
                              "Getting request informations", "Ending"}) {
      states += after.at("phpfpm_process_state{pool=\"www\",child=\"" + std::to_string(child) +
                         "\",state=\"" + state + "\",scrape_uri=\"" + www_uri + "\"}");
    }
    CHECK(states == 1);
  }
  CHECK(child_requests == accepted(after, "www", www_uri));

  const PromtoolCheck check = CheckWithPromtool(HttpGet(exporter.url("/metrics")).body);
  INFO(check.output);
  CHECK(check.exit_code != 1);
}

TEST_CASE("a slow script holds every child: active reaches max_children, the queue rises",
          "[e2e][php_fpm]") {
  PhpFpmPod pod;
  PhpFpmServer& fpm = pod.fpm;
  ExporterProcess exporter(FpmConfig(fpm));
  const std::string tcp_uri = "tcp://127.0.0.1:" + std::to_string(fpm.tcp_port()) + "/status";
  const std::string slow = pod.url("/tcp/slow.php?ms=1000");

  // Two children (pm.max_children) take two slow requests, two more wait; the scrape's status
  // request queues behind them, and four more slow requests queue behind it. When the status
  // request is served, both children are busy and those four still wait.
  std::vector<std::future<long>> requests;
  const auto send = [&](int count) {
    for (int i = 0; i < count; ++i) {
      requests.push_back(std::async(std::launch::async, [&] { return HttpGet(slow).status; }));
    }
  };
  send(4);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto scrape = std::async(std::launch::async, [&] { return exporter.Metrics(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  send(4);
  const auto busy = scrape.get();
  for (auto& request : requests) CHECK(request.get() == 200);

  CHECK(busy.at("phpfpm_up{scrape_uri=\"" + tcp_uri + "\"}") == 1);
  CHECK(busy.at(Series("phpfpm_active_processes", "tcp", tcp_uri)) == 2);
  CHECK(busy.at(Series("phpfpm_idle_processes", "tcp", tcp_uri)) == 0);
  CHECK(busy.at(Series("phpfpm_listen_queue", "tcp", tcp_uri)) >= 1);
  CHECK(busy.at(Series("phpfpm_max_listen_queue", "tcp", tcp_uri)) >= 2);
  CHECK(busy.at(Series("phpfpm_max_active_processes", "tcp", tcp_uri)) == 2);
  CHECK(busy.at(Series("phpfpm_max_children_reached", "tcp", tcp_uri)) >= 1);
  CHECK(busy.at(Series("phpfpm_listen_queue_length", "tcp", tcp_uri)) > 0);
}

// A Unix socket that accepts connections and never answers, like a wedged FPM.
class SilentUnixListener {
 public:
  explicit SilentUnixListener(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(fd_, 16) == 0);
  }
  ~SilentUnixListener() { close(fd_); }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// A TCP server that answers every connection with `reply` and closes it.
class ScriptedTcpServer {
 public:
  explicit ScriptedTcpServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(fd_, 16) == 0);
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        const int client = accept(fd_, nullptr, nullptr);
        if (client < 0) return;
        char request[4096];
        (void)!read(client, request, sizeof request);
        (void)!write(client, reply_.data(), reply_.size());
        close(client);
      }
    });
  }
  ~ScriptedTcpServer() {
    thread_.request_stop();
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
  }
  int port() const { return port_; }

 private:
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::jthread thread_;
};

TEST_CASE("FPM not started, wedged or not FastCGI: phpfpm_up 0 within the timeout, a reason",
          "[e2e][php_fpm]") {
  TempDir dir;
  SilentUnixListener silent(dir / "silent.sock");
  // A STDOUT record whose header announces 1000 bytes, then the connection closes after 5.
  ScriptedTcpServer liar(std::string("\x01\x06\x00\x01\x03\xe8\x00\x00hello", 13));
  NginxServer nginx;  // speaks HTTP, not FastCGI
  nginx.Start();
  ExporterProcess exporter(
      "collectors:\n"
      "  - {type: php_fpm, name: missing, address: 'unix://" +
      (dir / "not-yet.sock").string() +
      "'}\n"
      "  - {type: php_fpm, name: silent, timeout: 1s, address: 'unix://" +
      (dir / "silent.sock").string() +
      "'}\n"
      "  - {type: php_fpm, name: liar, address: 'tcp://127.0.0.1:" +
      std::to_string(liar.port()) +
      "'}\n"
      "  - {type: php_fpm, name: http, address: 'tcp://127.0.0.1:" +
      std::to_string(nginx.port()) + "'}\n");

  const auto started = std::chrono::steady_clock::now();
  const auto metrics = exporter.Metrics();
  const auto took = std::chrono::steady_clock::now() - started;
  // The silent socket costs its 1 s timeout, not more (the collectors run concurrently).
  CHECK(took < std::chrono::milliseconds(2500));
  for (const std::string& uri : {"unix://" + (dir / "not-yet.sock").string() + ";/status",
                                 "unix://" + (dir / "silent.sock").string() + ";/status",
                                 "tcp://127.0.0.1:" + std::to_string(liar.port()) + "/status",
                                 "tcp://127.0.0.1:" + std::to_string(nginx.port()) + "/status"}) {
    INFO(uri);
    CHECK(metrics.at("phpfpm_up{scrape_uri=\"" + uri + "\"}") == 0);
  }
  CHECK(metrics.count("phpfpm_accepted_connections") == 0);
  const std::string page = HttpGet(exporter.url("/")).body;
  CHECK_THAT(page, Catch::Contains("not-yet.sock does not exist (yet): is php-fpm started"));
  CHECK_THAT(page, Catch::Contains("timed out waiting for the answer"));
  CHECK_THAT(page,
             Catch::Contains("FastCGI: connection closed inside a record (13 of the 1008 bytes its "
                             "header announced)"));
  CHECK_THAT(page, Catch::Contains("FastCGI: record version 72, want 1; not a FastCGI server"));
  CHECK(exporter.process().Running());
}

TEST_CASE("php_fpm through the web server's HTTP location (url)", "[e2e][php_fpm]") {
  PhpFpmServer fpm(2, 1);
  fpm.Start();
  NginxServer nginx;
  const int front = FreePort();
  // The status page proxied by nginx, as some pods expose it.
  nginx.AddHttpConfig(
      "server {\n  listen 127.0.0.1:" + std::to_string(front) +
      ";\n  location = /fpm-status {\n    fastcgi_pass unix:" + fpm.unix_socket().string() +
      ";\n    fastcgi_param SCRIPT_FILENAME /status;\n"
      "    fastcgi_param SCRIPT_NAME /status;\n"
      "    fastcgi_param QUERY_STRING $query_string;\n"
      "    fastcgi_param REQUEST_METHOD GET;\n  }\n}");
  nginx.Start();
  REQUIRE(WaitForPort(front, std::chrono::seconds(5)));
  const std::string url = "http://127.0.0.1:" + std::to_string(front) + "/fpm-status";
  ExporterProcess exporter("collectors:\n  - {type: php_fpm, name: fpm, url: '" + url + "'}\n");
  const auto metrics = exporter.Metrics();
  CHECK(metrics.at("phpfpm_up{scrape_uri=\"" + url + "\"}") == 1);
  CHECK(metrics.at(Series("phpfpm_total_processes", "www", url)) == 2);
  CHECK(metrics.count("phpfpm_process_requests{pool=\"www\",child=\"1\",scrape_uri=\"" + url +
                      "\"}") == 1);
}

}  // namespace
}  // namespace sidecar::testing
