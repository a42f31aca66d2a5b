#include "collectors/probes/tcp_connection.h"

#include <curl/curl.h>
#include <poll.h>

#include <algorithm>

#include "collectors/http/curl_support.h"

namespace sidecar {
namespace {

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::stop_token*>(user)->stop_requested() ? 1 : 0;
}

// Slices of a wait, so that a stop request is noticed quickly.
constexpr auto kPollSlice = std::chrono::milliseconds(100);

}  // namespace

struct TcpConnection::Handle {
  CurlEasy curl{curl_easy_init()};
  CurlTlsCapture tls;
  curl_socket_t socket = CURL_SOCKET_BAD;
};

TcpConnection::TcpConnection(std::chrono::steady_clock::time_point deadline, std::stop_token stop,
                             std::size_t max_line_bytes)
    : handle_(std::make_unique<Handle>()),
      deadline_(deadline),
      stop_(std::move(stop)),
      max_line_bytes_(max_line_bytes) {}

TcpConnection::~TcpConnection() = default;

std::optional<ConnectionFailure> TcpConnection::Connect(const std::string& address,
                                                        const std::optional<TlsOptions>& tls) {
  CURL* curl = handle_->curl.get();
  if (curl == nullptr) return ConnectionFailure{"internal", "libcurl could not create a handle"};
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline_ - std::chrono::steady_clock::now());
  if (remaining.count() <= 0) {
    return ConnectionFailure{"timeout", "no time left before the scrape deadline"};
  }
  std::string url = (tls ? "https://" : "http://") + address + "/";
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(remaining.count()));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &stop_);
  if (tls) {
    // No ALPN: the peer is not necessarily an HTTP server.
    curl_easy_setopt(curl, CURLOPT_SSL_ENABLE_ALPN, 0L);
    std::string error;
    const std::optional<std::string> tls_url = handle_->tls.Apply(curl, *tls, url, error);
    if (!tls_url) return ConnectionFailure{"internal", error};
    url = *tls_url;
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    long os_errno = 0;
    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    return ConnectionFailure{
        TransferFailureReason(code, os_errno),
        "connect to " + address + ": " +
            (error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code))};
  }
  curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &handle_->socket);
  if (tls) tls_session_ = handle_->tls.Read(curl);
  return std::nullopt;
}

std::optional<ConnectionFailure> TcpConnection::Wait(bool for_write) {
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (stop_.stop_requested()) return ConnectionFailure{"aborted", "exporter shutting down"};
    if (now >= deadline_) {
      return ConnectionFailure{"timeout", for_write ? "timed out sending" : "timed out reading"};
    }
    const auto slice = std::min<std::chrono::steady_clock::duration>(deadline_ - now, kPollSlice);
    pollfd descriptor{handle_->socket, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    const int ready =
        poll(&descriptor, 1,
             static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count()));
    if (ready > 0) return std::nullopt;
  }
}

std::optional<ConnectionFailure> TcpConnection::Send(std::string_view data) {
  while (!data.empty()) {
    size_t sent = 0;
    const CURLcode code = curl_easy_send(handle_->curl.get(), data.data(), data.size(), &sent);
    if (code == CURLE_AGAIN) {
      if (auto failure = Wait(/*for_write=*/true)) return failure;
      continue;
    }
    if (code != CURLE_OK) {
      return ConnectionFailure{"connection_error",
                               std::string("send: ") + curl_easy_strerror(code)};
    }
    data.remove_prefix(sent);
  }
  return std::nullopt;
}

std::optional<std::string> TcpConnection::ReadLine(std::optional<ConnectionFailure>& failure) {
  failure.reset();
  while (true) {
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buffer_.size() > max_line_bytes_) {
      failure = ConnectionFailure{
          "line_too_long",
          "a line longer than " + std::to_string(max_line_bytes_) + " bytes arrived"};
      return std::nullopt;
    }
    if (eof_) {
      if (buffer_.empty()) return std::nullopt;
      std::string line = std::move(buffer_);
      buffer_.clear();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    char chunk[4096];
    size_t received = 0;
    const CURLcode code = curl_easy_recv(handle_->curl.get(), chunk, sizeof chunk, &received);
    if (code == CURLE_AGAIN) {
      if ((failure = Wait(/*for_write=*/false))) return std::nullopt;
      continue;
    }
    if (code != CURLE_OK) {
      failure =
          ConnectionFailure{"connection_error", std::string("read: ") + curl_easy_strerror(code)};
      return std::nullopt;
    }
    if (received == 0) {
      eof_ = true;
      continue;
    }
    buffer_.append(chunk, received);
  }
}

}  // namespace sidecar
