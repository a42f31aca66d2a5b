// The gate in front of the real HTTP server (CivetWeb on loopback), driven over raw sockets so
// that each test controls exactly what a client sends and when.
#include "exporter/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "collectors/core/unique_fd.h"
#include "exporter/http_server.h"
#include "exporter/logger.h"
#include "exporter/tls_context.h"
#include "tests/support/pki.h"

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
  explicit Server(int header_timeout_ms = 5000, std::shared_ptr<TlsContext> tls = nullptr,
                  bool require_client_certificate = false) {
    HttpServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.threads = 2;
    options.header_timeout_ms = header_timeout_ms;
    options.tls = std::move(tls);
    options.require_client_certificate = require_client_certificate;
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

// --- TLS: the gate terminates it, so the same holds for HTTPS clients ------------------------

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// A blocking TLS client over a raw socket (optionally with a client certificate), so that a test
// decides exactly what goes over the session and when.
class TlsClient {
 public:
  explicit TlsClient(int port, const testing::TestPki* client_certificate_from = nullptr)
      : socket_(Connect(port)), ctx_(SSL_CTX_new(TLS_client_method())) {
    REQUIRE(ctx_);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
    if (client_certificate_from != nullptr) {
      REQUIRE(SSL_CTX_use_certificate_file(ctx_.get(),
                                           client_certificate_from->client_cert().c_str(),
                                           SSL_FILETYPE_PEM) == 1);
      REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_.get(), client_certificate_from->client_key().c_str(),
                                          SSL_FILETYPE_PEM) == 1);
    }
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), socket_.get());
    timeval timeout{10, 0};  // no test waits longer for an answer
    setsockopt(socket_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  bool Handshake() { return SSL_connect(ssl_.get()) == 1; }
  void Send(std::string_view data) {
    REQUIRE(SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())) ==
            static_cast<int>(data.size()));
  }
  // Reads until `responses` whole responses (by Content-Length) came, or the session ended.
  std::string Read(int responses) {
    std::string data;
    while (CountComplete(data) < responses) {
      char buffer[16384];
      errno = 0;
      const int got = SSL_read(ssl_.get(), buffer, sizeof buffer);
      if (got <= 0) {
        timed_out_ = errno == EAGAIN || errno == EWOULDBLOCK;
        break;
      }
      data.append(buffer, static_cast<size_t>(got));
    }
    return data;
  }
  // The last Read ended because nothing came for 10 s (rather than the session ending).
  bool timed_out() const { return timed_out_; }

 private:
  static int CountComplete(const std::string& data) {
    int found = 0;
    size_t at = 0;
    while (true) {
      const size_t head_end = data.find("\r\n\r\n", at);
      const size_t length_at = data.find("Content-Length: ", at);
      if (head_end == std::string::npos || length_at == std::string::npos || length_at > head_end) {
        return found;
      }
      const size_t end = head_end + 4 + std::stoul(data.substr(length_at + 16));
      if (data.size() < end) return found;
      at = end;
      ++found;
    }
  }

  UniqueFd socket_;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  bool timed_out_ = false;
};

struct TlsFixture {
  explicit TlsFixture(ClientAuth client_auth = ClientAuth::kNoClientCert) {
    TlsServerConfig config;
    config.cert_file = pki.server_cert();
    config.key_file = pki.server_key();
    config.client_auth = client_auth;
    if (client_auth == ClientAuth::kRequireAndVerifyClientCert)
      config.client_ca_file = pki.ca_cert();
    tls = std::make_shared<TlsContext>(config, logger);
  }
  testing::TestPki pki;
  std::ostringstream log;
  Logger logger{log, LogLevel::kInfo, LogFormat::kLogfmt};
  std::shared_ptr<TlsContext> tls;
};

TEST_CASE("TLS clients stalled before or after their handshake hold no worker",
          "[connection_gate][tls]") {
  TlsFixture fixture;
  // A minute of header timeout, two workers: were the stalled clients holding them, the request
  // below would wait that long.
  Server server(/*header_timeout_ms=*/60000, fixture.tls);
  const int port = server.server->port();
  std::vector<UniqueFd> stalled;
  stalled.push_back(Connect(port));  // idle, no ClientHello
  stalled.push_back(Connect(port));
  SendAll(stalled.back(), std::string("\x16\x03\x01", 3));  // a ClientHello's first bytes
  std::vector<std::unique_ptr<TlsClient>> trickling;        // handshake done, then half a header
  for (int i = 0; i < 4; ++i) {
    trickling.push_back(std::make_unique<TlsClient>(port));
    REQUIRE(trickling.back()->Handshake());
    trickling.back()->Send("GET /hello HTTP/1.1\r\nHo");
  }
  TlsClient client(port);
  REQUIRE(client.Handshake());
  client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(Count(client.Read(1), "HTTP/1.1 200") == 1);
}

TEST_CASE("a TLS connection is kept for one request after another, pipelined ones too",
          "[connection_gate][tls]") {
  TlsFixture fixture;
  Server server(5000, fixture.tls);
  TlsClient client(server.server->port());
  REQUIRE(client.Handshake());
  client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(Count(client.Read(1), "HTTP/1.1 200") == 1);
  client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nHEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string answers = client.Read(2);
  CHECK(Count(answers, "HTTP/1.1 200") == 2);
  CHECK(Count(answers, "hello\n") == 1);  // the HEAD answer has no body
}

TEST_CASE("TLS stalled clients are closed at the header timeout; plain HTTP on a TLS port at once",
          "[connection_gate][tls]") {
  TlsFixture fixture;
  Server server(/*header_timeout_ms=*/300, fixture.tls);
  TlsClient trickling(server.server->port());
  REQUIRE(trickling.Handshake());
  trickling.Send("GET /hello HTTP/1.1\r\n");
  const UniqueFd plain = Connect(server.server->port());
  SendAll(plain, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(ClosedWithin(plain, milliseconds(10000)));
  CHECK(trickling.Read(1).empty());    // the session ends without an answer...
  CHECK_FALSE(trickling.timed_out());  // ...at the timeout, not after the client gave up
}

TEST_CASE("a required client certificate is the one presented at the handshake, not a header",
          "[connection_gate][tls]") {
  TlsFixture fixture(ClientAuth::kRequireAndVerifyClientCert);
  Server server(5000, fixture.tls, /*require_client_certificate=*/true);
  const int port = server.server->port();
  // The header the gate uses to pass the certificate on, forged with any value: refused.
  TlsClient forger(port);
  REQUIRE(forger.Handshake());
  forger.Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Sidecar-Client-Certificate: 1\r\n\r\n");
  CHECK(Count(forger.Read(1), "HTTP/1.1 403") == 1);
  TlsClient with_certificate(port, &fixture.pki);
  REQUIRE(with_certificate.Handshake());
  // ...and with a certificate, a forged header sent too does not spoil it.
  with_certificate.Send(
      "GET /hello HTTP/1.1\r\nHost: x\r\nX-Sidecar-Client-Certificate: 1\r\n\r\n");
  CHECK(Count(with_certificate.Read(1), "HTTP/1.1 200") == 1);
}

}  // namespace
}  // namespace sidecar
