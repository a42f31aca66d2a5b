// The gate in front of the real HTTP server (CivetWeb on loopback), driven over raw sockets so
// that each test controls exactly what a client sends and when.
#include "exporter/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "collectors/core/unique_fd.h"
#include "exporter/http_server.h"

namespace sidecar {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

UniqueFd Connect(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

void SendAll(const UniqueFd& fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
    REQUIRE(sent > 0);
    data.remove_prefix(static_cast<size_t>(sent));
  }
}

// Reads until `responses` complete responses (by Content-Length) arrived, the peer closed, or
// `timeout` passed. Sets `closed` when the peer closed the connection.
std::string ReadResponses(const UniqueFd& fd, int responses, milliseconds timeout, bool& closed) {
  std::string data;
  closed = false;
  const auto deadline = Clock::now() + timeout;
  const auto complete = [&] {
    int found = 0;
    size_t at = 0;
    while (found < responses) {
      const size_t head_end = data.find("\r\n\r\n", at);
      if (head_end == std::string::npos) return false;
      const size_t length_at = data.find("Content-Length: ", at);
      if (length_at == std::string::npos || length_at > head_end) return false;
      const size_t length = std::stoul(data.substr(length_at + 16));
      if (data.size() < head_end + 4 + length) return false;
      at = head_end + 4 + length;
      ++found;
    }
    return true;
  };
  while (!complete() && Clock::now() < deadline) {
    pollfd poll_fd{fd.get(), POLLIN, 0};
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (poll(&poll_fd, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
    char buffer[65536];
    const ssize_t got = recv(fd.get(), buffer, sizeof buffer, 0);
    if (got <= 0) {
      closed = true;
      break;
    }
    data.append(buffer, static_cast<size_t>(got));
  }
  return data;
}

// True when the peer closes the connection within `timeout`.
bool ClosedWithin(const UniqueFd& fd, milliseconds timeout) {
  bool closed = false;
  ReadResponses(fd, 1000, timeout, closed);
  return closed;
}

int Count(std::string_view text, std::string_view what) {
  int count = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

struct Server {
  explicit Server(int header_timeout_ms = 5000) {
    HttpServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.threads = 2;
    options.header_timeout_ms = header_timeout_ms;
    server = std::make_unique<HttpServer>(
        options, std::map<std::string, HttpServer::Handler>{{"/hello", [](const HttpRequestInfo&) {
                                                               HttpReply reply;
                                                               reply.body = "hello\n";
                                                               return reply;
                                                             }}});
  }
  std::unique_ptr<HttpServer> server;
};

TEST_CASE("listen addresses parse as Prometheus writes them", "[connection_gate]") {
  const auto v4 = ParseListenAddress(":10113");
  REQUIRE(v4);
  CHECK(v4->storage.ss_family == AF_INET);
  CHECK(ntohs(reinterpret_cast<const sockaddr_in*>(&v4->storage)->sin_port) == 10113);
  CHECK(reinterpret_cast<const sockaddr_in*>(&v4->storage)->sin_addr.s_addr == INADDR_ANY);
  const auto local = ParseListenAddress("localhost:80");
  REQUIRE(local);
  CHECK(reinterpret_cast<const sockaddr_in*>(&local->storage)->sin_addr.s_addr ==
        htonl(INADDR_LOOPBACK));
  const auto v6 = ParseListenAddress("[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->storage.ss_family == AF_INET6);
  CHECK_FALSE(ParseListenAddress("10113"));
  CHECK_FALSE(ParseListenAddress(":99999"));
  CHECK_FALSE(ParseListenAddress("a:b"));
  CHECK_FALSE(ParseListenAddress("[::1:80"));
}

TEST_CASE("a kept-alive connection serves one request after another, pipelined ones too",
          "[connection_gate]") {
  Server server;
  const UniqueFd client = Connect(server.server->port());
  bool closed = false;
  SendAll(client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string first = ReadResponses(client, 1, milliseconds(5000), closed);
  CHECK(Count(first, "HTTP/1.1 200") == 1);
  CHECK(Count(first, "Connection: close") == 0);
  REQUIRE_FALSE(closed);
  // Two requests in one write: the second waits in the socket until the first is answered.
  SendAll(client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string both = ReadResponses(client, 2, milliseconds(5000), closed);
  CHECK(Count(both, "HTTP/1.1 200") == 1);
  CHECK(Count(both, "HTTP/1.1 404") == 1);
  CHECK(both.find("200") < both.find("404"));
  CHECK_FALSE(closed);
  // HEAD has a Content-Length but no body: the gate must not wait for one, and the next
  // request on the connection must still be answered.
  SendAll(client, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    char buffer[4096];
    const ssize_t got = recv(client.get(), buffer, sizeof buffer, 0);
    REQUIRE(got > 0);
    head.append(buffer, static_cast<size_t>(got));
  }
  CHECK(head.starts_with("HTTP/1.1 200"));
  CHECK(head.ends_with("\r\n\r\n"));  // and nothing after it
  SendAll(client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string after_head = ReadResponses(client, 1, milliseconds(5000), closed);
  CHECK(after_head.starts_with("HTTP/1.1 200"));
  CHECK(after_head.ends_with("hello\n"));
  CHECK_FALSE(closed);
}

TEST_CASE("a client that pauses between requests is served again after the server let go",
          "[connection_gate]") {
  Server server;
  const UniqueFd client = Connect(server.server->port());
  bool closed = false;
  for (int i = 0; i < 3; ++i) {
    SendAll(client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(Count(ReadResponses(client, 1, milliseconds(5000), closed), "HTTP/1.1 200") == 1);
    REQUIRE_FALSE(closed);
    // Longer than the server keeps its side of the connection for the next request.
    std::this_thread::sleep_for(milliseconds(400));
  }
}

TEST_CASE("a client that asks to close, or uses another method, is closed after its answer",
          "[connection_gate]") {
  Server server;
  bool closed = false;
  {
    const UniqueFd client = Connect(server.server->port());
    SendAll(client, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::string answer = ReadResponses(client, 1, milliseconds(5000), closed);
    CHECK(Count(answer, "HTTP/1.1 200") == 1);
    CHECK(Count(answer, "Connection: close") == 1);
    CHECK(ClosedWithin(client, milliseconds(2000)));
  }
  {
    const UniqueFd client = Connect(server.server->port());
    SendAll(client, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    const std::string answer = ReadResponses(client, 1, milliseconds(5000), closed);
    CHECK(Count(answer, "HTTP/1.1 405") == 1);
    CHECK(ClosedWithin(client, milliseconds(2000)));
  }
}

TEST_CASE("stalled clients hold no worker", "[connection_gate]") {
  // A minute of header timeout: were the stalled clients holding the two workers, the request
  // below would wait that long.
  Server server(/*header_timeout_ms=*/60000);
  std::vector<UniqueFd> stalled;
  stalled.push_back(Connect(server.server->port()));  // idle
  for (int i = 0; i < 4; ++i) {
    stalled.push_back(Connect(server.server->port()));
    SendAll(stalled.back(), "GET /hello HTTP/1.1\r\nHo");  // half a header
  }
  const UniqueFd client = Connect(server.server->port());
  bool closed = false;
  SendAll(client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(Count(ReadResponses(client, 1, milliseconds(10000), closed), "HTTP/1.1 200") == 1);
}

TEST_CASE("stalled clients are closed once the header timeout runs out", "[connection_gate]") {
  Server server(/*header_timeout_ms=*/300);
  const UniqueFd idle = Connect(server.server->port());
  const UniqueFd trickling = Connect(server.server->port());
  SendAll(trickling, "GET /hello HTTP/1.1\r\n");
  CHECK(ClosedWithin(idle, milliseconds(10000)));
  CHECK(ClosedWithin(trickling, milliseconds(10000)));
}

TEST_CASE("a header over the limit is answered 431 and closed", "[connection_gate]") {
  Server server;
  const UniqueFd client = Connect(server.server->port());
  SendAll(client, "GET /hello HTTP/1.1\r\nX-Long: " + std::string(20000, 'a'));
  bool closed = false;
  const std::string answer = ReadResponses(client, 1, milliseconds(5000), closed);
  CHECK(Count(answer, "HTTP/1.1 431") == 1);
  CHECK(ClosedWithin(client, milliseconds(2000)));
}

}  // namespace
}  // namespace sidecar
