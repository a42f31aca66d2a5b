#include "collectors/http/http_client.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string_view>
#include <utility>

#include "collectors/http/curl_support.h"

namespace sidecar {
namespace {

// State shared with libcurl's callbacks for one transfer.
struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  CURL* curl = nullptr;
  bool too_large = false;
  std::size_t header_bytes = 0;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  HttpResponse& response = *transfer->response;
  if (response.body_bytes + bytes > transfer->request->max_body_bytes) {
    transfer->too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  if (transfer->request->keep_body && response.body_bytes == 0) {
    // The body is appended in pieces of 16 KiB at most: room for all of it at once, as the
    // Content-Length announces it (up to the cap), instead of a copy at every doubling.
    curl_off_t length = -1;
    curl_easy_getinfo(transfer->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length > 0) {
      response.body.reserve(
          std::min(static_cast<std::size_t>(length), transfer->request->max_body_bytes));
    }
  }
  response.body_bytes += bytes;
  if (transfer->request->keep_body) response.body.append(data, bytes);
  return bytes;
}

// Headers of the final response: a status line starts a new response (a redirect, or a final
// answer after "100 Continue"). At most kMaxHeaderBytes are kept.
size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {
    transfer->response->headers.clear();
    transfer->header_bytes = 0;
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || transfer->header_bytes + bytes > kMaxHeaderBytes) {
    return bytes;
  }
  transfer->header_bytes += bytes;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' ||
                            value.back() == '\t')) {
    value.remove_suffix(1);
  }
  transfer->response->headers.emplace_back(std::move(name), std::string(value));
  return bytes;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* transfer = static_cast<Transfer*>(user);
  return transfer->request->stop.stop_requested() ? 1 : 0;
}

double Seconds(CURL* curl, CURLINFO info) {
  curl_off_t micros = 0;
  curl_easy_getinfo(curl, info, &micros);
  return static_cast<double>(micros) / 1e6;
}

// libcurl sums each phase over redirects, measured from the start of each request.
HttpTimings ReadTimings(CURL* curl) {
  const double resolved = Seconds(curl, CURLINFO_NAMELOOKUP_TIME_T);
  const double connected = Seconds(curl, CURLINFO_CONNECT_TIME_T);
  const double handshaken = Seconds(curl, CURLINFO_APPCONNECT_TIME_T);
  const double ready = std::max(connected, handshaken);
  const double first_byte = Seconds(curl, CURLINFO_STARTTRANSFER_TIME_T);
  const double total = Seconds(curl, CURLINFO_TOTAL_TIME_T);
  HttpTimings timings;
  timings.resolve = resolved;
  if (connected > 0) timings.connect = std::max(0.0, connected - resolved);
  if (handshaken > 0) timings.tls = std::max(0.0, handshaken - resolved);
  if (first_byte > 0) {
    timings.processing = std::max(0.0, first_byte - ready);
    timings.transfer = std::max(0.0, total - first_byte);
  }
  return timings;
}

double HttpVersion(long curl_version) {
  switch (curl_version) {
    case CURL_HTTP_VERSION_1_0:
      return 1.0;
    case CURL_HTTP_VERSION_1_1:
      return 1.1;
    case CURL_HTTP_VERSION_2_0:
      return 2;
    case CURL_HTTP_VERSION_3:
      return 3;
    default:
      return 0;
  }
}

bool HasHeader(const std::vector<std::string>& headers, std::string_view name) {
  for (const std::string& header : headers) {
    if (header.size() > name.size() && header[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), header.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return true;
    }
  }
  return false;
}

}  // namespace

struct HttpClient::Handle {
  CurlEasy curl{curl_easy_init()};
};

HttpClient::HttpClient() : handle_(std::make_unique<Handle>()) {}
HttpClient::~HttpClient() = default;

HttpResponse HttpClient::Get(const HttpRequest& request, std::string body_storage) {
  HttpResponse response = Send(request, std::move(body_storage));
  if (response.error.empty() && (response.status < 200 || response.status >= 300)) {
    response.error = "HTTP status " + std::to_string(response.status);
  }
  if (!response.error.empty()) response.body.clear();
  return response;
}

HttpResponse HttpClient::Send(const HttpRequest& request, std::string body_storage) {
  HttpResponse response;
  response.body = std::move(body_storage);
  response.body.clear();
  CURL* curl = handle_->curl.get();
  if (curl == nullptr) {
    response.error = "libcurl could not create a handle";
    response.failure_reason = "internal";
    return response;
  }
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      request.deadline - std::chrono::steady_clock::now());
  if (remaining.count() <= 0) {
    response.error = "no time left before the scrape deadline";
    response.failure_reason = "timeout";
    return response;
  }

  Transfer transfer{&request, &response, curl};
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(remaining.count()));
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, request.max_redirects);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "sidecar-exporter");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_FILETIME, 1L);
  if (request.receive_buffer_bytes > 0) {
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, static_cast<long>(request.receive_buffer_bytes));
  }
  curl_easy_setopt(curl, CURLOPT_PROXY, request.proxy.c_str());
  if (request.fresh_connection) {
    curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
  }
  if (request.unix_socket) {
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, request.unix_socket->c_str());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET" || !request.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, request.body.c_str());
  }

  CurlTlsCapture tls;
  std::string url = request.url;
  if (request.tls) {
    std::string error;
    std::optional<std::string> tls_url = tls.Apply(curl, *request.tls, request.url, error);
    if (!tls_url) {
      response.error = error;
      response.failure_reason = "internal";
      return response;
    }
    url = std::move(*tls_url);
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());

  std::vector<std::string> header_lines = request.headers;
  if (!tls.host_header().empty() && !HasHeader(header_lines, "Host")) {
    header_lines.push_back(tls.host_header());
  }
  if (!request.body.empty() || request.method == "POST") {
    // libcurl would add a form Content-Type and "Expect: 100-continue"; Go's client neither.
    if (!HasHeader(header_lines, "Content-Type")) header_lines.push_back("Content-Type:");
    if (!HasHeader(header_lines, "Expect")) header_lines.push_back("Expect:");
  }
  CurlList headers;
  for (const std::string& header : header_lines) {
    curl_slist* appended = curl_slist_append(headers.get(), header.c_str());
    if (appended == nullptr) {
      response.error = "libcurl could not allocate a request header";
      response.failure_reason = "internal";
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
  curl_easy_getinfo(curl, CURLINFO_REDIRECT_COUNT, &response.redirects);
  // Like Go's client (and so blackbox_exporter), count a redirect that was answered but not
  // followed (follow_redirects off, or one past max_redirects).
  const char* unfollowed = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &unfollowed) == CURLE_OK && unfollowed) {
    ++response.redirects;
  }
  if (response.status > 0) {
    curl_off_t content_length = -1;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &content_length);
    response.content_length = content_length;
    long version = 0;
    curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version);
    response.http_version = HttpVersion(version);
    curl_off_t modified = -1;
    if (curl_easy_getinfo(curl, CURLINFO_FILETIME_T, &modified) == CURLE_OK && modified >= 0) {
      response.last_modified = modified;
    }
  }
  const char* scheme = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_SCHEME, &scheme) == CURLE_OK && scheme != nullptr) {
    response.final_https = strcasecmp(scheme, "https") == 0;
  }
  if (request.tls && response.final_https) response.tls = tls.Read(curl);
  response.timings = ReadTimings(curl);

  if (transfer.too_large) {
    response.error =
        "response body larger than " + std::to_string(request.max_body_bytes) + " bytes refused";
    response.failure_reason = "body_too_large";
  } else if (code == CURLE_ABORTED_BY_CALLBACK) {
    response.error = "aborted: exporter shutting down";
    response.failure_reason = "aborted";
  } else if (code != CURLE_OK) {
    response.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    long os_errno = 0;
    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    response.failure_reason = TransferFailureReason(code, os_errno);
  }
  return response;
}

}  // namespace sidecar
