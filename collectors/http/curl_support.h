#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "collectors/http/tls_options.h"

namespace sidecar {

// Owners of libcurl handles and lists.
struct CurlEasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
struct CurlListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlList = std::unique_ptr<curl_slist, CurlListDeleter>;

// Parses a certificate time as libcurl's CURLINFO_CERTINFO shows it with OpenSSL
// ("Nov 29 18:49:00 2027 GMT") or GnuTLS ("2027-11-29 18:49:00 GMT"). Nullopt for anything else.
std::optional<std::int64_t> ParseCertificateTime(std::string_view text);

// The probe_failure_reason word for a failed libcurl transfer: connection_refused, timeout,
// resolve, connect_failed, tls, too_many_redirects, connection_error, http_protocol, aborted.
// `os_errno` is CURLINFO_OS_ERRNO.
std::string TransferFailureReason(CURLcode code, long os_errno);

// Maps the version OpenSSL names ("TLSv1.3") to blackbox_exporter's label ("TLS 1.3").
std::string TlsVersionLabel(std::string_view openssl_name);

// Sets TLS options on a libcurl handle and reads back what the handshake revealed: the peer's
// certificates (CURLINFO_CERTINFO) and the negotiated version (from libcurl's handshake
// message, the only place libcurl reports it without linking the TLS library ourselves).
//
// One per transfer: it must outlive the transfer, whose callbacks point at it.
class CurlTlsCapture {
 public:
  CurlTlsCapture() = default;
  ~CurlTlsCapture();
  CurlTlsCapture(const CurlTlsCapture&) = delete;
  CurlTlsCapture& operator=(const CurlTlsCapture&) = delete;

  // Applies `options` for a transfer of `url`. With a server_name, the URL is rewritten to that
  // name and CURLOPT_CONNECT_TO routes it to the original host, so that SNI and verification use
  // the name, as Go's tls.Config.ServerName does. Returns the URL to request, or nullopt with
  // `error` set when `url` does not parse.
  std::optional<std::string> Apply(CURL* curl, const TlsOptions& options, const std::string& url,
                                   std::string& error);
  // After the transfer: the session, or nullopt when no TLS handshake happened.
  std::optional<TlsSession> Read(CURL* curl) const;
  // "Host: <original host[:port]>" when Apply rewrote the URL, else empty.
  const std::string& host_header() const { return host_header_; }

 private:
  static int OnDebug(CURL* curl, curl_infotype type, char* data, size_t size, void* user);

  std::string version_;
  std::string host_header_;
  CurlList connect_to_;
};

}  // namespace sidecar
