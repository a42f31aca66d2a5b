// libFuzzer target: any bytes as a FastCGI server's answer, fed in two pieces, then as a CGI
// response and as PHP-FPM's JSON status page.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collectors/http/fastcgi_fetcher.h"
#include "collectors/http/php_fpm_collector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sidecar::FastCgiResponseReader reader(4096);
  const size_t split = size == 0 ? 0 : data[0] % size;
  if (reader.Feed(bytes.substr(0, split)) == sidecar::FastCgiResponseReader::State::kNeedMore &&
      reader.Feed(bytes.substr(split)) == sidecar::FastCgiResponseReader::State::kNeedMore) {
    (void)reader.Truncated();
  }
  std::string error;
  if (const auto response = sidecar::ParseCgiResponse(bytes, error)) {
    if (const auto pool = sidecar::ParsePhpFpmStatus(response->body, error)) {
      std::vector<prometheus::MetricFamily> families;
      sidecar::AppendPhpFpmFamilies(*pool, "unix:///s;/status", {}, families);
    }
  }
  if (const auto pool = sidecar::ParsePhpFpmStatus(bytes, error)) {
    std::vector<prometheus::MetricFamily> families;
    sidecar::AppendPhpFpmFamilies(*pool, "unix:///s;/status", {}, families);
  }
  return 0;
}
