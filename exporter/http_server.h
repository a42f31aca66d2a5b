#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

struct mg_context;

namespace sidecar {

class BasicAuthenticator;
class ConnectionGate;
class TlsContext;

// The parts of a request our handlers look at.
struct HttpRequestInfo {
  std::string method;
  std::string path;
  bool accepts_gzip = false;
  std::string accept;  // the Accept header, for handlers that answer in several formats
  std::string query;   // the query string, without "?"
  // Prometheus tells its scrape timeout in X-Prometheus-Scrape-Timeout-Seconds.
  std::optional<double> scrape_timeout_seconds;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // A large body shared instead of copied (a whole exposition); when set, `body` is not used.
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Compress when the client accepts gzip and the body is large enough to be worth it.
  bool compressible = false;
  // The body is already gzip-encoded (the handler checked HttpRequestInfo::accepts_gzip).
  bool gzip_encoded = false;

  const std::string& Body() const { return shared_body ? *shared_body : body; }
};

struct HttpServerOptions {
  // Prometheus style: "host:port", ":port" (all interfaces) or "[v6]:port"; port 0 = ephemeral.
  std::string listen_address = ":10113";
  // CivetWeb's worker threads: requests handled at once. A connection reaches a worker only once
  // its request header is whole (see ConnectionGate), so stalled clients hold none.
  int threads = 8;
  // Time allowed for a whole request header from the connection's start (or from the previous
  // response on a kept-alive connection): a client sending one byte a second is dropped when this
  // runs out, not when it stops sending. With TLS it bounds the handshake and the header
  // together, both at the gate; it also bounds CivetWeb's writes.
  int header_timeout_ms = 5000;
  int max_request_bytes = 16 * 1024;
  // Connections the kernel completes before the gate accepts them (capped by
  // net.core.somaxconn).
  int listen_backlog = 4096;

  // From --web.config.file. TLS when set (it must outlive the server); plain HTTP otherwise.
  std::shared_ptr<TlsContext> tls;
  // Paths other than `public_paths` need the right password when set...
  std::shared_ptr<const BasicAuthenticator> basic_auth;
  // ...and a client certificate when this is true (TLS verified it when the config says so).
  bool require_client_certificate = false;
  // Added to every response (http_server_config.headers).
  std::vector<std::pair<std::string, std::string>> headers;
  // Answered without credentials: kubelet probes can present neither a certificate nor a password.
  std::set<std::string> public_paths = {"/healthz", "/readyz"};
};

// An HTTP or HTTPS server (CivetWeb) that routes GET and HEAD of exact paths to handlers. Unknown
// paths get 404, other methods 405; there is no document root and so no file serving or listing.
// Gzip encoding is applied here for compressible replies. With credentials configured, every
// request but those of `public_paths` is refused (401 without the password, 403 without a
// client certificate) before routing.
//
// Starts in the constructor (throws std::runtime_error when it cannot listen) and stops in the
// destructor, which waits for handlers in progress. Handlers run on CivetWeb's worker threads
// and must be thread-safe.
class HttpServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequestInfo&)>;

  HttpServer(HttpServerOptions options, std::map<std::string, Handler> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port actually bound (useful with port 0).
  int port() const;

 private:
  class Dispatcher;
  HttpServerOptions options_;
  std::map<std::string, Handler> routes_;
  std::string client_certificate_token_;  // see ConnectionGateOptions::client_certificate_header
  std::unique_ptr<Dispatcher> dispatcher_;
  struct StopCivetWeb {
    void operator()(mg_context* context) const;  // waits for handlers in progress
  };
  std::unique_ptr<mg_context, StopCivetWeb> server_;
  int backend_port_ = 0;  // CivetWeb's, on loopback
  std::unique_ptr<ConnectionGate> gate_;
};

// True when an Accept-Encoding header value allows gzip (honouring q=0).
bool AcceptsGzip(std::string_view accept_encoding);
// Compresses `data` as a gzip member.
std::string Gzip(std::string_view data);
// The same, written over `out`, whose memory is reused (it keeps its capacity).
void GzipInto(std::string_view data, std::string& out);

}  // namespace sidecar
