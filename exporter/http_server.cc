#include "exporter/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <stdexcept>
#include <thread>

#include "exporter/basic_auth.h"
#include "exporter/connection_gate.h"
#include "exporter/tls_context.h"

namespace sidecar {

namespace {

constexpr const char* kClientCertificateHeader = "X-Sidecar-Client-Certificate";

// 128 random bits in hex: the value the gate puts in kClientCertificateHeader, known only to this
// process, so that neither a client of the port nor one reaching CivetWeb's loopback port
// directly can claim a certificate it did not present.
std::string RandomToken() {
  std::random_device random;
  std::string token;
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(random()));
    token += part;
  }
  return token;
}

constexpr size_t kMinGzipBytes = 1024;
// A body above this size is written apart from the headers instead of copied behind them.
constexpr size_t kLargeBodyBytes = 64 * 1024;

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The current time in the IMF-fixdate form HTTP's Date header wants.
std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[40];
  const size_t length = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(buffer, length);
}

}  // namespace

bool AcceptsGzip(std::string_view header) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const size_t semicolon = item.find(';');
    const std::string_view coding = TrimSpaces(item.substr(0, semicolon));
    if (!EqualsIgnoreCase(coding, "gzip") && coding != "*") continue;
    if (semicolon == std::string_view::npos) return true;
    std::string_view params = TrimSpaces(item.substr(semicolon + 1));
    if (!params.starts_with("q=")) return true;
    params.remove_prefix(2);
    double q = 1;
    std::from_chars(params.data(), params.data() + params.size(), q);
    return q > 0;
  }
  return false;
}

void GzipInto(std::string_view data, std::string& out) {
  z_stream stream{};
  // 15 window bits + 16 asks zlib for a gzip header and trailer.
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib deflateInit2 failed");
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  // Expositions compress 10-25 fold: the output starts at a 32nd of the input (or the room
  // `out` already has) and doubles as needed, instead of zero-filling and keeping deflateBound's
  // worst case (the input's size). Every byte of it is written (resize fills), so starting
  // larger than needed costs resident memory for as long as the encoding, or its spare, lives.
  std::size_t size = std::max({data.size() / 32, std::size_t{4096}, out.capacity()});
  int result = Z_OK;
  while (result == Z_OK) {
    out.resize(size);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + stream.total_out);
    stream.avail_out = static_cast<uInt>(size - stream.total_out);
    result = deflate(&stream, Z_FINISH);
    size *= 2;
  }
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("zlib deflate failed");
}

std::string Gzip(std::string_view data) {
  std::string out;
  GzipInto(data, out);
  out.shrink_to_fit();
  return out;
}

// Routes CivetWeb's requests (its C API: CivetWeb's C++ wrapper would load libstdc++ as a shared
// library, which the image's lean binary links statically) by method to our route table.
class HttpServer::Dispatcher final {
 public:
  Dispatcher(const std::map<std::string, Handler>& routes, const HttpServerOptions& options,
             std::string client_certificate_token)
      : routes_(routes),
        options_(options),
        client_certificate_token_(std::move(client_certificate_token)) {}

  // CivetWeb's request handler (`self` is the Dispatcher): non-zero when the request was answered.
  static int Handle(mg_connection* conn, void* self) {
    auto& dispatcher = *static_cast<Dispatcher*>(self);
    const std::string_view method = mg_get_request_info(conn)->request_method;
    if (method == "GET") return dispatcher.Serve(conn, true) ? 1 : 0;
    if (method == "HEAD") return dispatcher.Serve(conn, false) ? 1 : 0;
    if (method == "POST" || method == "PUT" || method == "DELETE" || method == "OPTIONS" ||
        method == "PATCH") {
      return dispatcher.NotAllowed(conn) ? 1 : 0;
    }
    return 0;
  }

 private:
  // Whether a GET or HEAD client may send another request on this connection: it asked to keep
  // it. The ConnectionGate in front keeps the client's connection for the next request when this
  // says so. Other methods may carry a body the gate does not pass on, so their connections
  // always close (NotAllowed does not ask).
  static bool KeepAlive(mg_connection* conn) {
    const char* connection = mg_get_header(conn, "Connection");
    const mg_request_info* info = mg_get_request_info(conn);
    const bool http10 =
        info->http_version != nullptr && std::strcmp(info->http_version, "1.0") == 0;
    if (connection == nullptr) return !http10;
    return !EqualsIgnoreCase(TrimSpaces(connection), "close") &&
           (!http10 || EqualsIgnoreCase(TrimSpaces(connection), "keep-alive"));
  }

  // Writes status line, headers and body with a single write: two writes per response would
  // double the TCP sends, the largest cost of a scrape on loopback. A large body goes out in a
  // write of its own instead, where one more send is nothing next to copying it.
  void Send(mg_connection* conn, const HttpReply& reply, bool with_body, bool gzip,
            bool keep_connection) const {
    const std::string* body = &reply.Body();
    std::string compressed;
    if (gzip) {
      compressed = Gzip(*body);
      body = &compressed;
    }
    const bool body_apart = with_body && body->size() > kLargeBodyBytes;
    std::string response;
    response.reserve(256 + (with_body && !body_apart ? body->size() : 0));
    response += "HTTP/1.1 " + std::to_string(reply.status) + " " +
                mg_get_response_code_text(conn, reply.status) +
                "\r\nContent-Type: " + reply.content_type +
                "\r\nContent-Length: " + std::to_string(body->size()) +
                "\r\nCache-Control: no-store\r\nDate: " + HttpDate() + "\r\n";
    bool content_type_options = false;
    for (const auto& [name, value] : options_.headers) {
      response += name + ": " + value + "\r\n";
      content_type_options |= name == "X-Content-Type-Options";
    }
    if (!content_type_options) response += "X-Content-Type-Options: nosniff\r\n";
    if (gzip || reply.gzip_encoded) {
      response += "Content-Encoding: gzip\r\n";
    }
    if (reply.compressible || reply.gzip_encoded) {
      response += "Vary: Accept-Encoding\r\n";
    }
    for (const auto& [name, value] : reply.headers) {
      response += name + ": " + value + "\r\n";
    }
    // The gate reads this header to decide whether the client's connection stays open.
    response += keep_connection ? "" : "Connection: close\r\n";
    response += "\r\n";
    if (with_body && !body_apart) {
      response += *body;
    }
    mg_write(conn, response.data(), response.size());
    if (body_apart) mg_write(conn, body->data(), body->size());
  }

  // A refusal when the request needs credentials it lacks; nullopt when it may proceed.
  std::optional<HttpReply> Refusal(mg_connection* conn) const {
    const mg_request_info* info = mg_get_request_info(conn);
    const std::string path = info->local_uri ? info->local_uri : "";
    if (options_.public_paths.contains(path)) return std::nullopt;
    const char* certificate = mg_get_header(conn, kClientCertificateHeader);
    if (options_.require_client_certificate &&
        (certificate == nullptr || certificate != client_certificate_token_)) {
      HttpReply reply;
      reply.status = 403;
      reply.body = "forbidden: a client certificate is required\n";
      return reply;
    }
    if (options_.basic_auth) {
      const char* authorization = mg_get_header(conn, "Authorization");
      if (authorization == nullptr || !options_.basic_auth->Check(authorization)) {
        HttpReply reply;
        reply.status = 401;
        reply.body = "unauthorized\n";
        reply.headers.emplace_back("WWW-Authenticate", "Basic realm=\"sidecar-exporter\"");
        return reply;
      }
    }
    return std::nullopt;
  }

  bool NotAllowed(mg_connection* conn) {
    if (const auto refusal = Refusal(conn)) {
      Send(conn, *refusal, true, false, false);
      return true;
    }
    HttpReply reply;
    reply.status = 405;
    reply.body = "method not allowed; use GET or HEAD\n";
    reply.headers.emplace_back("Allow", "GET, HEAD");
    Send(conn, reply, true, false, false);
    return true;
  }

  bool Serve(mg_connection* conn, bool with_body) {
    const bool keep_connection = KeepAlive(conn);
    if (const auto refusal = Refusal(conn)) {
      Send(conn, *refusal, with_body, false, keep_connection);
      return true;
    }
    const mg_request_info* info = mg_get_request_info(conn);
    HttpRequestInfo request;
    request.method = info->request_method ? info->request_method : "";
    request.path = info->local_uri ? info->local_uri : "";
    if (const char* encoding = mg_get_header(conn, "Accept-Encoding")) {
      request.accepts_gzip = AcceptsGzip(encoding);
    }
    if (const char* accept = mg_get_header(conn, "Accept")) request.accept = accept;
    if (info->query_string != nullptr) request.query = info->query_string;
    if (const char* timeout = mg_get_header(conn, "X-Prometheus-Scrape-Timeout-Seconds")) {
      double seconds = 0;
      const auto [end, ec] = std::from_chars(timeout, timeout + std::strlen(timeout), seconds);
      if (ec == std::errc() && seconds > 0) request.scrape_timeout_seconds = seconds;
    }
    HttpReply reply;
    const auto route = routes_.find(request.path);
    if (route == routes_.end()) {
      reply.status = 404;
      reply.body = "not found; see / for the endpoints\n";
    } else {
      try {
        reply = route->second(request);
      } catch (const std::exception& e) {
        reply = HttpReply{};
        reply.status = 500;
        reply.body = std::string("internal error: ") + e.what() + "\n";
      }
    }
    const bool gzip =
        reply.compressible && request.accepts_gzip && reply.Body().size() >= kMinGzipBytes;
    Send(conn, reply, with_body, gzip, keep_connection);
    return true;
  }

  const std::map<std::string, Handler>& routes_;
  const HttpServerOptions& options_;
  const std::string client_certificate_token_;
};

HttpServer::HttpServer(HttpServerOptions server_options, std::map<std::string, Handler> routes)
    : options_(std::move(server_options)),
      routes_(std::move(routes)),
      client_certificate_token_(RandomToken()),
      dispatcher_(std::make_unique<Dispatcher>(routes_, options_, client_certificate_token_)) {
  const HttpServerOptions& options = options_;
  // CivetWeb listens on loopback only, in plain HTTP, behind the gate (see ConnectionGate), which
  // terminates TLS.
  const std::vector<std::string> civet_options = {
      "listening_ports",
      "127.0.0.1:0",
      "num_threads",
      std::to_string(options.threads),
      "request_timeout_ms",
      std::to_string(options.header_timeout_ms),
      "max_request_size",
      std::to_string(options.max_request_bytes),
      // The gate sends a kept-alive client's next request on the same connection; a worker waits
      // for it only briefly, so that an idle client holds none (the gate keeps the client's
      // connection itself, and opens a new one to us when this one has closed).
      "enable_keep_alive",
      "yes",
      "keep_alive_timeout_ms",
      "100",
      "listen_backlog",
      std::to_string(options.listen_backlog),
      "enable_directory_listing",
      "no",
      "decode_url",
      "yes",
      // Headers and body go out in two writes; without TCP_NODELAY, Nagle plus delayed ACKs
      // would hold every keep-alive response back by tens of milliseconds.
      "tcp_nodelay",
      "1",
  };
  std::vector<const char*> option_pointers;
  for (const std::string& option : civet_options) option_pointers.push_back(option.c_str());
  option_pointers.push_back(nullptr);
  mg_callbacks callbacks{};
  server_.reset(mg_start(&callbacks, nullptr, option_pointers.data()));
  if (!server_) throw std::runtime_error("cannot listen on " + options.listen_address);
  mg_set_request_handler(server_.get(), "/", &Dispatcher::Handle, dispatcher_.get());
  mg_server_port bound{};
  backend_port_ = mg_get_server_ports(server_.get(), 1, &bound) == 1 ? bound.port : 0;

  ConnectionGateOptions gate;
  gate.listen_address = options.listen_address;
  gate.backend_port = backend_port_;
  if (options.tls) {
    gate.tls = options.tls.get();
    gate.client_certificate_header =
        std::string(kClientCertificateHeader) + ": " + client_certificate_token_;
  }
  gate.header_timeout = std::chrono::milliseconds(options.header_timeout_ms);
  gate.max_header_bytes = static_cast<std::size_t>(options.max_request_bytes);
  gate.listen_backlog = options.listen_backlog;
  gate_ = std::make_unique<ConnectionGate>(gate);
}

int HttpServer::port() const { return gate_->port(); }

HttpServer::~HttpServer() {
  // No new requests reach CivetWeb once the gate is gone.
  gate_.reset();
  if (!server_) return;
  // CivetWeb's master thread notices the stop flag only when its poll() on the listening socket
  // returns, which without a connection takes up to 2 s (SOCKET_TIMEOUT_QUANTUM). Knocking on
  // our own port until close() returns ends that wait at once, keeping SIGTERM well under 2 s.
  std::jthread knocker([this](std::stop_token stop) {
    while (!stop.stop_requested()) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<uint16_t>(backend_port_));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
      close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  server_.reset();
}

void HttpServer::StopCivetWeb::operator()(mg_context* context) const { mg_stop(context); }

}  // namespace sidecar
