#include "collectors/collector_types.h"

#include "collectors/http/apache_status_collector.h"
#include "collectors/http/json_collector.h"
#include "collectors/http/nginx_status_collector.h"
#include "collectors/http/php_fpm_collector.h"
#include "collectors/http/prometheus_merge_collector.h"
#include "collectors/logs/access_log_options.h"
#include "collectors/logs/log_metrics_options.h"
#include "collectors/probes/http_probe_collector.h"
#include "collectors/probes/tcp_probe_collector.h"
#include "collectors/system/process_collector.h"
#include "collectors/system/volume_collector.h"

namespace sidecar {

const std::vector<CollectorType>& CollectorTypes() {
  static const std::vector<CollectorType> kTypes = {
      // Status pages over HTTP (PHP-FPM also over FastCGI).
      {"nginx_status", "nginx stub_status page over HTTP or a Unix socket", DecodeNginxStatus,
       true},
      {"apache_status", "Apache httpd mod_status ?auto page over HTTP or a Unix socket",
       DecodeApacheStatus, true},
      {"php_fpm", "PHP-FPM pool status page over FastCGI or HTTP", DecodePhpFpm},
      {"json", "metrics picked out of a JSON status document", DecodeJson},
      {"prometheus", "the main container's own /metrics, merged in", DecodePrometheusMerge, true},
      // Logs on a shared volume.
      {"access_log", "access logs on a shared volume", DecodeAccessLog},
      {"log_metrics", "metrics defined over any log lines (error logs, app logs), as mtail",
       DecodeLogMetrics},
      // Active checks of the main container.
      {"http_probe",
       "HTTP request judged by status, headers and body, as blackbox_exporter's http module",
       DecodeHttpProbe},
      {"tcp_probe", "TCP connection and query/response check, as blackbox_exporter's tcp module",
       DecodeTcpProbe},
      // The pod as the sidecar sees it.
      {"process", "the main container's processes through a shared PID namespace", DecodeProcess},
      {"volume", "the shared volume's usage against its limit, and its filesystem", DecodeVolume},
  };
  return kTypes;
}

}  // namespace sidecar
