#include "collectors/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>

namespace sidecar {
namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

struct HeaderListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// State shared with libcurl's callbacks for one transfer.
struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (transfer->response->body.size() + bytes > transfer->request->max_body_bytes) {
    transfer->too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  transfer->response->body.append(data, bytes);
  return bytes;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* transfer = static_cast<Transfer*>(user);
  return transfer->request->stop.stop_requested() ? 1 : 0;
}

}  // namespace

struct HttpClient::Handle {
  std::unique_ptr<CURL, CurlDeleter> curl{curl_easy_init()};
};

HttpClient::HttpClient() : handle_(std::make_unique<Handle>()) {}
HttpClient::~HttpClient() = default;

HttpResponse HttpClient::Get(const HttpRequest& request) {
  HttpResponse response;
  CURL* curl = handle_->curl.get();
  if (curl == nullptr) {
    response.error = "libcurl could not create a handle";
    return response;
  }
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      request.deadline - std::chrono::steady_clock::now());
  if (remaining.count() <= 0) {
    response.error = "no time left before the scrape deadline";
    return response;
  }

  Transfer transfer{&request, &response};
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(remaining.count()));
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "sidecar-exporter");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  if (request.unix_socket) {
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, request.unix_socket->c_str());
  }
  std::unique_ptr<curl_slist, HeaderListDeleter> headers;
  for (const std::string& header : request.headers) {
    curl_slist* appended = curl_slist_append(headers.get(), header.c_str());
    if (appended == nullptr) {
      response.error = "libcurl could not allocate a request header";
      return response;
    }
    headers.release();
    headers.reset(appended);
  }
  if (headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  const char* content_type = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type) {
    response.content_type = content_type;
  }
  if (transfer.too_large) {
    response.error =
        "response body larger than " + std::to_string(request.max_body_bytes) + " bytes refused";
  } else if (code == CURLE_ABORTED_BY_CALLBACK) {
    response.error = "aborted: exporter shutting down";
  } else if (code != CURLE_OK) {
    response.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  } else if (response.status < 200 || response.status >= 300) {
    response.error = "HTTP status " + std::to_string(response.status);
  }
  if (!response.error.empty()) {
    response.body.clear();
  }
  return response;
}

}  // namespace sidecar
