#pragma once

#include <optional>
#include <string>
#include <vector>

#include "collectors/http/fetcher.h"
#include "collectors/http/http_client.h"

namespace sidecar {

// Fetches a document with an HTTP GET, over TCP or a Unix domain socket, reusing its connection
// between fetches. Any status outside 2xx is a failure.
//
// Not thread-safe (see Fetcher).
class HttpFetcher final : public Fetcher {
 public:
  // `headers` are sent as given ("Accept: application/json").
  HttpFetcher(std::string url, std::optional<std::string> unix_socket,
              std::vector<std::string> headers = {});

  FetchedDocument Fetch(const FetchLimits& limits, std::string body_storage) override;
  std::string Describe() const override;

 private:
  const std::string url_;
  const std::optional<std::string> unix_socket_;
  const std::vector<std::string> headers_;
  HttpClient client_;
};

}  // namespace sidecar
