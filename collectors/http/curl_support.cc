#include "collectors/http/curl_support.h"

#include <cerrno>
#include <charconv>
#include <ctime>
#include <memory>

namespace sidecar {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlStringDeleter {
  void operator()(char* text) const { curl_free(text); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

CurlString UrlPart(CURLU* url, CURLUPart part, unsigned flags = 0) {
  char* text = nullptr;
  if (curl_url_get(url, part, &text, flags) != CURLUE_OK) return nullptr;
  return CurlString(text);
}

bool ReadInt(std::string_view& text, int& value) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return false;
  text.remove_prefix(static_cast<size_t>(end - text.data()));
  return true;
}

bool Expect(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<std::int64_t> ParseCertificateTime(std::string_view text) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  int year = 0;
  int month = -1;
  int day = 0;
  for (int i = 0; i < 12; ++i) {
    if (text.starts_with(kMonths[i])) month = i;
  }
  if (month >= 0) {  // OpenSSL: "Nov 29 18:49:00 2027 GMT", day padded with a space
    text.remove_prefix(3);
    if (!ReadInt(text, day) || !ReadInt(text, tm.tm_hour) || !Expect(text, ':') ||
        !ReadInt(text, tm.tm_min) || !Expect(text, ':') || !ReadInt(text, tm.tm_sec) ||
        !ReadInt(text, year)) {
      return std::nullopt;
    }
  } else {  // GnuTLS via libcurl's own ASN.1 decoder: "2027-11-29 18:49:00 GMT"
    if (!ReadInt(text, year) || !Expect(text, '-') || !ReadInt(text, month) || !Expect(text, '-') ||
        !ReadInt(text, day) || !ReadInt(text, tm.tm_hour) || !Expect(text, ':') ||
        !ReadInt(text, tm.tm_min) || !Expect(text, ':') || !ReadInt(text, tm.tm_sec)) {
      return std::nullopt;
    }
    month -= 1;
  }
  if (text != " GMT" || year < 1950 || year > 9999 || month < 0 || month > 11 || day < 1 ||
      day > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string TransferFailureReason(CURLcode code, long os_errno) {
  switch (code) {
    case CURLE_OK:
      return {};
    case CURLE_COULDNT_CONNECT:
      return os_errno == ECONNREFUSED ? "connection_refused" : "connect_failed";
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "resolve";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return "tls";
    case CURLE_TOO_MANY_REDIRECTS:
      return "too_many_redirects";
    case CURLE_ABORTED_BY_CALLBACK:
      return "aborted";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "http_protocol";
    default:
      return "connection_error";
  }
}

std::string TlsVersionLabel(std::string_view openssl_name) {
  if (openssl_name == "TLSv1") return "TLS 1.0";
  if (openssl_name.starts_with("TLSv")) return "TLS " + std::string(openssl_name.substr(4));
  return std::string(openssl_name);
}

CurlTlsCapture::~CurlTlsCapture() = default;

std::optional<std::string> CurlTlsCapture::Apply(CURL* curl, const TlsOptions& options,
                                                 const std::string& url, std::string& error) {
  version_.clear();
  host_header_.clear();
  std::string request_url = url;
  if (!options.server_name.empty()) {
    std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
    if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
      error = "cannot parse URL " + url;
      return std::nullopt;
    }
    const CurlString host = UrlPart(parsed.get(), CURLUPART_HOST);
    const CurlString port = UrlPart(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    const CurlString explicit_port = UrlPart(parsed.get(), CURLUPART_PORT);
    if (!host || !port ||
        curl_url_set(parsed.get(), CURLUPART_HOST, options.server_name.c_str(), 0) != CURLUE_OK) {
      error = "cannot set server_name " + options.server_name + " in URL " + url;
      return std::nullopt;
    }
    const CurlString rewritten = UrlPart(parsed.get(), CURLUPART_URL);
    if (!rewritten) {
      error = "cannot set server_name " + options.server_name + " in URL " + url;
      return std::nullopt;
    }
    request_url = rewritten.get();
    const std::string entry =
        options.server_name + ":" + port.get() + ":" + host.get() + ":" + port.get();
    connect_to_.reset(curl_slist_append(nullptr, entry.c_str()));
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to_.get());
    host_header_ = std::string("Host: ") + host.get();
    if (explicit_port) host_header_ += std::string(":") + explicit_port.get();
  }
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, options.cert_file.c_str());
  }
  if (!options.key_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, options.key_file.c_str());
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options.insecure_skip_verify ? 0L : 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options.insecure_skip_verify ? 0L : 2L);
  curl_easy_setopt(curl, CURLOPT_CERTINFO, 1L);
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, OnDebug);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, this);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  return request_url;
}

int CurlTlsCapture::OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_TEXT) return 0;
  // OpenSSL backend: "SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384".
  constexpr std::string_view kPrefix = "SSL connection using ";
  const std::string_view text(data, size);
  if (!text.starts_with(kPrefix)) return 0;
  std::string_view version = text.substr(kPrefix.size());
  version = version.substr(0, version.find_first_of(" /\r\n"));
  static_cast<CurlTlsCapture*>(user)->version_ = TlsVersionLabel(version);
  return 0;
}

std::optional<TlsSession> CurlTlsCapture::Read(CURL* curl) const {
  curl_certinfo* certificates = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CERTINFO, &certificates) != CURLE_OK ||
      certificates == nullptr || certificates->num_of_certs <= 0) {
    if (version_.empty()) return std::nullopt;
    return TlsSession{version_, std::nullopt};
  }
  TlsSession session;
  session.version = version_;
  constexpr std::string_view kExpire = "Expire date:";
  for (int i = 0; i < certificates->num_of_certs; ++i) {
    for (const curl_slist* field = certificates->certinfo[i]; field; field = field->next) {
      const std::string_view text(field->data);
      if (!text.starts_with(kExpire)) continue;
      const std::optional<std::int64_t> expiry = ParseCertificateTime(text.substr(kExpire.size()));
      if (expiry && (!session.earliest_cert_expiry || *expiry < *session.earliest_cert_expiry)) {
        session.earliest_cert_expiry = expiry;
      }
    }
  }
  return session;
}

}  // namespace sidecar
