#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "collectors/http/tls_options.h"

namespace sidecar {

// One HTTP request to the main container: a GET of a status page, or a probe's request.
struct HttpRequest {
  std::string url;
  // When set, the request goes over this Unix domain socket; `url` still names host and path.
  std::optional<std::string> unix_socket;
  // Extra request headers, each "Name: value".
  std::vector<std::string> headers;
  std::chrono::steady_clock::time_point deadline;
  // Bodies larger than this are refused, so a misbehaving main container cannot make the
  // sidecar buffer without bound.
  std::size_t max_body_bytes = 1 << 20;
  std::stop_token stop;
  // libcurl's receive buffer; 0 for its default (16 KiB). A larger one reads a large body in
  // fewer system calls: a 600 KB exposition took 57 recv() and 43 poll() per scrape with 16 KiB,
  // 24 and 11 with 128 KiB.
  std::size_t receive_buffer_bytes = 0;

  // What probes need besides a plain GET; the defaults are Get()'s behaviour.
  // GET, HEAD (no body read), POST or any other method.
  std::string method = "GET";
  // Sent when not empty.
  std::string body;
  // Follow up to `max_redirects` Location headers.
  bool follow_redirects = false;
  long max_redirects = 10;
  // Set: TLS as configured, and the response reports the session (version, certificate expiry).
  std::optional<TlsOptions> tls;
  // A new connection for this request (and not kept), so that connect and TLS are measured.
  bool fresh_connection = false;
  // False: body bytes are counted and capped but not kept (probes that do not read the body).
  bool keep_body = true;
  // The proxy to send the request through (http://, https:// or socks5:// URL); https URLs are
  // tunnelled with CONNECT. Empty: none, whatever http_proxy and the like say in the environment.
  std::string proxy;
};

// Time spent in each phase of a request, in seconds, summed over redirects, with
// blackbox_exporter's meanings: `tls` runs from the end of name resolution to the end of the
// handshake (so it includes `connect`); `processing` from the connection being ready to the first
// response byte; `transfer` from there to the end of the body.
struct HttpTimings {
  double resolve = 0;
  double connect = 0;
  double tls = 0;
  double processing = 0;
  double transfer = 0;
};

struct HttpResponse {
  // 0 when no HTTP answer arrived (connection refused, timeout, ...).
  long status = 0;
  std::string body;
  std::string content_type;
  // Empty on success; otherwise what went wrong, ready to show to a person.
  std::string error;
  bool ok() const { return error.empty() && status >= 200 && status < 300; }

  // Filled by Send() (Get() too), for probes.
  // For a transfer that failed: one word (connection_refused, timeout, resolve, connect_failed,
  // tls, too_many_redirects, body_too_large, connection_error, http_protocol, aborted).
  std::string failure_reason;
  // Headers of the final response in arrival order, names in lower case.
  std::vector<std::pair<std::string, std::string>> headers;
  // Body bytes received (after any content decoding), kept or not.
  std::uint64_t body_bytes = 0;
  // The Content-Length header; -1 when the response had none, 0 without a response.
  std::int64_t content_length = 0;
  // 1.0, 1.1, 2 or 3; 0 without a response.
  double http_version = 0;
  // Redirects answered, followed or not (as Go's client counts them).
  long redirects = 0;
  // The final request went over TLS; `tls` then holds its session (requests with `tls` set).
  bool final_https = false;
  std::optional<TlsSession> tls;
  // The Last-Modified header in Unix seconds.
  std::optional<std::int64_t> last_modified;
  HttpTimings timings;
};

// A libcurl easy handle kept between requests so that scrapes reuse the connection to the main
// container instead of opening one per scrape.
//
// Not thread-safe: one request at a time per client (collectors are never run concurrently).
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs the request; any status other than 2xx is an error (and the body is dropped).
  // The body is received into `body_storage` (emptied first), whose capacity is reused.
  HttpResponse Get(const HttpRequest& request, std::string body_storage = {});
  // Performs the request and reports what happened without judging the status: `error` and
  // `failure_reason` are set only when no complete response arrived.
  HttpResponse Send(const HttpRequest& request, std::string body_storage = {});

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

}  // namespace sidecar
