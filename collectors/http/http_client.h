#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace sidecar {

// One HTTP GET to the main container (status pages, health endpoints).
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
};

struct HttpResponse {
  // 0 when no HTTP answer arrived (connection refused, timeout, ...).
  long status = 0;
  std::string body;
  std::string content_type;
  // Empty on success; otherwise what went wrong, ready to show to a person.
  std::string error;
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
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

  HttpResponse Get(const HttpRequest& request);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

}  // namespace sidecar
