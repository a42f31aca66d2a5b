#include "exporter/collector_types.h"

#include <memory>

#include "collectors/nginx_status_collector.h"
#include "exporter/access_log_options.h"

namespace sidecar {
namespace {

CollectorFactory DecodeNginxStatus(FieldDecoder& fields, const CollectorDefaults& defaults) {
  NginxStatusOptions options;
  options.url = fields.Url("url", "http://127.0.0.1:8080/stub_status");
  options.unix_socket = fields.OptionalString("unix_socket");
  options.timeout = fields.Duration("timeout", defaults.timeout);
  options.max_body_bytes =
      fields.Unsigned("max_response_bytes", options.max_body_bytes, 256, 16 << 20);
  options.labels = fields.StringMap("labels", /*label_names=*/true);
  return [options] { return std::make_unique<NginxStatusCollector>(options); };
}

}  // namespace

const std::vector<CollectorType>& CollectorTypes() {
  static const std::vector<CollectorType> kTypes = {
      {"nginx_status", "nginx stub_status page over HTTP or a Unix socket", DecodeNginxStatus,
       true},
      {"access_log", "access logs on a shared volume", DecodeAccessLog},
  };
  return kTypes;
}

}  // namespace sidecar
