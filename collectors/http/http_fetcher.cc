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

FetchedDocument HttpFetcher::Fetch(const FetchLimits& limits) {
  HttpRequest request;
  request.url = url_;
  request.unix_socket = unix_socket_;
  request.headers = headers_;
  request.deadline = limits.deadline;
  request.max_body_bytes = limits.max_body_bytes;
  request.stop = limits.stop;
  HttpResponse response = client_.Get(request);
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
