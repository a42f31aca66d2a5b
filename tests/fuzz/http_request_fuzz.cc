// libFuzzer target: any bytes as an HTTP request (request line, methods, URLs, headers) sent to
// a real HttpServer on 127.0.0.1 with basic auth on, whose answer must be an HTTP response or
// nothing, never a crash or a hang; plus the header parsers our dispatcher runs on the same
// bytes (Accept-Encoding, Authorization).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "exporter/basic_auth.h"
#include "exporter/http_server.h"

namespace {

// htpasswd -nbBC 4 alice 'pa:ss w0rd'
constexpr char kHash[] = "$2y$04$DUNfWMiNWd1BMZvc3jSxL.tzcmzIY1Jzz9vspty9EqQVplfVUhZQ2";

sidecar::HttpServer& Server() {
  static const std::unique_ptr<sidecar::HttpServer> server = [] {
    sidecar::HttpServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.threads = 4;
    options.header_timeout_ms = 500;
    options.basic_auth = std::make_shared<sidecar::BasicAuthenticator>(
        std::vector<std::pair<std::string, std::string>>{{"alice", kHash}});
    std::map<std::string, sidecar::HttpServer::Handler> routes;
    routes["/metrics"] = [](const sidecar::HttpRequestInfo& request) {
      sidecar::HttpReply reply;
      reply.body = std::string(4096, 'm') + request.path;
      reply.compressible = true;
      return reply;
    };
    routes["/healthz"] = [](const sidecar::HttpRequestInfo&) { return sidecar::HttpReply{}; };
    return std::make_unique<sidecar::HttpServer>(options, std::move(routes));
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  sidecar::AcceptsGzip(input);
  static const sidecar::BasicAuthenticator auth(
      std::vector<std::pair<std::string, std::string>>{{"alice", kHash}});
  auth.Check(input);

  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(Server().port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) __builtin_trap();
  timeval timeout{5, 0};  // far above the 0.5 s header timeout: hitting it means a hang
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  send(fd, data, size, MSG_NOSIGNAL);
  shutdown(fd, SHUT_WR);
  std::string answer;
  char buffer[8192];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      answer.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) __builtin_trap();  // hung
    break;
  }
  close(fd);
  // CivetWeb echoes the request's version in its error answers ("HTTP/\xac.0 400 ..."), so only
  // the "HTTP/" prefix is certain.
  if (!answer.empty() && !answer.starts_with("HTTP/")) __builtin_trap();
  return 0;
}
