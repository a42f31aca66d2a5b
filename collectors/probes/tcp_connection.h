#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "collectors/http/tls_options.h"

namespace sidecar {

// Why a connection step failed: a probe_failure_reason word and a sentence for people.
struct ConnectionFailure {
  std::string reason;
  std::string detail;
};

// One TCP connection to the main container, optionally in TLS, read line by line the way Go's
// bufio.Scanner splits lines (so that blackbox_exporter's query_response steps mean the same):
// "\n" ends a line, a "\r" before it is dropped, a last line without "\n" still counts.
// Established by libcurl (CURLOPT_CONNECT_ONLY), so TLS options and certificate reporting are
// those of the HTTP probe.
//
// Every call is bounded by `deadline` and ends early when `stop` is requested. Lines longer than
// `max_line_bytes` fail the read, so memory stays bounded whatever the peer sends.
//
// Not thread-safe; one probe owns it.
class TcpConnection {
 public:
  TcpConnection(std::chrono::steady_clock::time_point deadline, std::stop_token stop,
                std::size_t max_line_bytes = 64 * 1024);
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Connects to `address` ("host:port", "[v6]:port") and, with `tls`, completes a handshake.
  std::optional<ConnectionFailure> Connect(const std::string& address,
                                           const std::optional<TlsOptions>& tls);
  // The handshake's result after a successful Connect() with TLS.
  const std::optional<TlsSession>& tls_session() const { return tls_session_; }

  std::optional<ConnectionFailure> Send(std::string_view data);

  // The next line, or nullopt at the end of the stream (with `failure` unset) or on an error
  // (with `failure` set).
  std::optional<std::string> ReadLine(std::optional<ConnectionFailure>& failure);

 private:
  // Waits until the socket is readable (`for_write` false) or writable; the failure on timeout.
  std::optional<ConnectionFailure> Wait(bool for_write);

  struct Handle;
  std::unique_ptr<Handle> handle_;
  const std::chrono::steady_clock::time_point deadline_;
  const std::stop_token stop_;
  const std::size_t max_line_bytes_;
  std::optional<TlsSession> tls_session_;
  std::string buffer_;
  bool eof_ = false;
};

}  // namespace sidecar
