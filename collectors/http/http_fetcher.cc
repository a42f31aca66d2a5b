#include "collectors/http/http_fetcher.h"

#include <utility>

namespace sidecar {

HttpFetcher::HttpFetcher(std::string url, std::optional<std::string> unix_socket,
                         std::vector<std::string> headers)
    : url_(std::move(url)), unix_socket_(std::move(unix_socket)), headers_(std::move(headers)) {}

std::string HttpFetcher::Describe() const {
  std::string description = "GET " + url_;
  if (unix_socket_) description += " over " + *unix_socket_;
  return description;
}

FetchedDocument HttpFetcher::Fetch(const FetchLimits& limits, std::string body_storage) {
  HttpRequest request;
  request.url = url_;
  request.unix_socket = unix_socket_;
  request.headers = headers_;
  request.deadline = limits.deadline;
  request.max_body_bytes = limits.max_body_bytes;
  request.stop = limits.stop;
  // Documents that were large last time get a larger receive buffer (kept below the size that
  // malloc maps anew at each request, see exporter/main.cc); small status pages keep libcurl's.
  if (body_storage.capacity() >= 64 * 1024) request.receive_buffer_bytes = 128 * 1024 - 64;
  HttpResponse response = client_.Get(request, std::move(body_storage));
  FetchedDocument document;
  if (!response.ok()) {
    document.error = response.error.empty() ? "HTTP status " + std::to_string(response.status)
                                            : std::move(response.error);
    return document;
  }
  document.body = std::move(response.body);
  document.content_type = std::move(response.content_type);
  return document;
}

}  // namespace sidecar
