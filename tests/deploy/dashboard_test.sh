#!/usr/bin/env bash
# Runs every query of the Grafana dashboards against a real Prometheus that scrapes the real
# exporter while it watches a real nginx under traffic, all on 127.0.0.1 with ephemeral ports.
#
#   tests/deploy/dashboard_test.sh SOURCE_DIR NODE_DIR EXPORTER_BIN
#
#   1. nginx (Debian's) serves a front server with stub_status, a proxy to a back server and a few
#      fixed answers (200, 404, 500, 502), logging in the log_format of k8s/base/config.yaml.
#   2. The exporter runs with k8s/base/config.yaml, its URL and paths pointed at that nginx, plus
#      two probes: an HTTPS endpoint of that nginx (self-signed certificate) and a closed port.
#      It also merges Prometheus' own /metrics (type: prometheus) as a main container's would be.
#   3. Prometheus (Debian's) scrapes it every second, with namespace/pod target labels as
#      Kubernetes discovery would add, and evaluates the recording rules of the PrometheusRule.
#   4. curl sends a bounded burst of requests; once the recording rules have data,
#      dashboard_queries.mjs fills the variables and runs every panel query through the HTTP API.
set -euo pipefail

src=$(cd "${1:?usage: dashboard_test.sh SOURCE_DIR NODE_DIR EXPORTER_BIN}" && pwd)
node_dir=$(cd "${2:?usage}" && pwd)
exporter=${3:?usage}
t_start=$SECONDS
log() { printf 'dashboard_test: [%3ds] %s\n' $((SECONDS - t_start)) "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

for tool in nginx apache2 php-fpm8.2 prometheus promtool curl node python3 openssl; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || fail "$tool not found: run scripts/deploy-deps.sh"
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $exporter ]] || fail "exporter binary $exporter not built"

tmp=$(mktemp -d)
# nginx's workers run as nobody when the test runs as root: they must reach the document root.
chmod 0755 "$tmp"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if ((rc != 0)); then
    for f in exporter.log prometheus.log nginx-error.log; do
      [[ -s $tmp/$f ]] && { echo "--- $f (tail)" >&2; tail -n 20 "$tmp/$f" >&2; }
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {  # url, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
front=$(free_port); back=$(free_port); exp_port=$(free_port); prom_port=$(free_port)
# The probes' row: an HTTPS endpoint with a self-signed certificate, and a port nothing listens on.
tls_port=$(free_port); closed_port=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj /CN=localhost -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null || fail "openssl req"

# --- nginx ------------------------------------------------------------------------------------
log_format=$(grep -oP "^\s*log_format: '\K.*(?='\s*$)" "$src/k8s/base/config.yaml")
[[ -n $log_format ]] || fail "no log_format in k8s/base/config.yaml"
mkdir -p "$tmp/html" "$tmp/nginx-tmp"
echo '<h1>sidecar-exporter dashboard test</h1>' >"$tmp/html/index.html"
cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path $tmp/nginx-tmp/body;
  proxy_temp_path $tmp/nginx-tmp/proxy;
  fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
  uwsgi_temp_path $tmp/nginx-tmp/uwsgi;
  scgi_temp_path $tmp/nginx-tmp/scgi;
  log_format sidecar '$log_format';
  server {
    listen 127.0.0.1:$front;
    access_log $tmp/access.log sidecar;
    root $tmp/html;
    log_not_found off;
    location = /stub_status { stub_status; allow 127.0.0.1; deny all; access_log off; }
    location = /boom { return 500; }
    location /api/ { proxy_pass http://127.0.0.1:$back/; }
    # An upstream nothing listens on: connect() failures in the error log (log_metrics row).
    location = /upstream-down { proxy_pass http://127.0.0.1:$closed_port; }
  }
  server {
    listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $tmp/tls.crt;
    ssl_certificate_key $tmp/tls.key;
    access_log off;
    location = /healthz { return 200 '{"status": "UP"}'; }
  }
  server {
    listen 127.0.0.1:$back;
    access_log off;
    location = /ok { return 200 "ok\n"; }
    location = /created { return 201 "created\n"; }
    location = /fail { return 502; }
  }
}
EOF
"$nginx_bin" -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' 2>>"$tmp/nginx-error.log" &
pids+=($!)
wait_http "http://127.0.0.1:$front/stub_status" 10 || fail "nginx did not start"
log "nginx on 127.0.0.1:$front (backend :$back)"

# --- Apache (mod_status) and PHP-FPM (a Unix-socket pool and a TCP pool) for their rows -----------
apache2_bin=$(PATH=$PATH:/usr/sbin:/sbin command -v apache2) || fail "apache2 not found"
php_fpm_bin=$(PATH=$PATH:/usr/sbin:/sbin command -v php-fpm8.2) || fail "php-fpm8.2 not found"
modules=$(dirname "$(dirname "$apache2_bin")")/lib/apache2/modules
apache_port=$(free_port); fpm_tcp_port=$(free_port)
as_nobody_apache=; as_nobody_fpm=
if [[ $(id -u) -eq 0 ]]; then
  as_nobody_apache=$'User nobody\nGroup nogroup'
  as_nobody_fpm=$'user = nobody\ngroup = nogroup'
fi
mkdir -p "$tmp/apache"
cat >"$tmp/apache/httpd.conf" <<EOF
ServerRoot $tmp/apache
PidFile $tmp/apache/httpd.pid
DefaultRuntimeDir $tmp/apache
Mutex file:$tmp/apache
ErrorLog $tmp/apache/error.log
$as_nobody_apache
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule status_module $modules/mod_status.so
Listen 127.0.0.1:$apache_port
ServerName 127.0.0.1
DocumentRoot $tmp/html
<Location /server-status>
  SetHandler server-status
</Location>
EOF
# Its own session: Apache's parent signals its whole process group when it stops.
setsid "$apache2_bin" -f "$tmp/apache/httpd.conf" -DFOREGROUND >>"$tmp/apache/error.log" 2>&1 &
pids+=($!)
cat >"$tmp/php-fpm.conf" <<EOF
[global]
error_log = $tmp/php-fpm.log
daemonize = no
[www]
$as_nobody_fpm
listen = $tmp/php-fpm.sock
pm = static
pm.max_children = 2
pm.status_path = /status
[api]
$as_nobody_fpm
listen = 127.0.0.1:$fpm_tcp_port
pm = dynamic
pm.max_children = 2
pm.start_servers = 1
pm.min_spare_servers = 1
pm.max_spare_servers = 1
pm.status_path = /status
EOF
"$php_fpm_bin" --nodaemonize --fpm-config "$tmp/php-fpm.conf" --allow-to-run-as-root &
pids+=($!)
wait_http "http://127.0.0.1:$apache_port/server-status?auto" 10 || fail "apache2 did not start"
log "apache2 on 127.0.0.1:$apache_port, php-fpm on $tmp/php-fpm.sock and :$fpm_tcp_port"

# --- exporter, configured from k8s/base/config.yaml ---------------------------------------------
sed -e "s|http://127.0.0.1:8080/stub_status|http://127.0.0.1:$front/stub_status|" \
    -e "s|/var/log/nginx/access.log|$tmp/access.log|" \
    -e "s|path: /var/log/nginx\$|path: $tmp|" \
    "$src/k8s/base/config.yaml" >"$tmp/exporter.yaml"
grep -q "$tmp/access.log" "$tmp/exporter.yaml" || fail "could not point the config at the test's log"
grep -q "path: $tmp\$" "$tmp/exporter.yaml" || fail "could not point the volume at the test's dir"
cat >>"$tmp/exporter.yaml" <<EOF
  # Probes: one passing over TLS (phases, certificate expiry), one failing (its reason).
  - type: http_probe
    name: health
    url: https://127.0.0.1:$tls_port/healthz
    tls: {insecure_skip_verify: true}
    fail_if_body_not_matches_regexp: ['"UP"']
  - type: tcp_probe
    name: closed_port
    address: 127.0.0.1:$closed_port
  # Apache's mod_status and the two PHP-FPM pools, for their dashboard rows.
  - type: apache_status
    name: apache
    url: http://127.0.0.1:$apache_port/server-status?auto
  - type: php_fpm
    name: fpm_www
    address: unix://$tmp/php-fpm.sock
  - type: php_fpm
    name: fpm_api
    address: tcp://127.0.0.1:$fpm_tcp_port
  # The Prometheus below, merged in as the main container's own /metrics (its process_* families
  # clash with the sidecar's and are dropped and counted), for the merged app metrics row.
  - type: prometheus
    name: app_metrics
    url: http://127.0.0.1:$prom_port/metrics
    labels: {source: app}
  # The error logs of nginx and Apache, for the error-log row.
  - type: log_metrics
    name: nginx_errors
    paths: [$tmp/nginx-error.log]
    preset: nginx_error
    from_beginning: true
  - type: log_metrics
    name: apache_errors
    paths: [$tmp/apache/error.log]
    preset: apache_error
    from_beginning: true
  # nginx's master (matched by its config path) and workers, as k8s/overlays/process-namespace does.
  - type: process
    name: nginx_processes
    match: {cmdline: '$tmp/nginx.conf'}
EOF
"$exporter" --config.file="$tmp/exporter.yaml" --web.listen-address="127.0.0.1:$exp_port" \
  >"$tmp/exporter.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$exp_port/healthz" 15 || fail "exporter /healthz did not answer"
log "exporter on 127.0.0.1:$exp_port"

# --- traffic: bounded ---------------------------------------------------------------------------
traffic() {
  local i
  for ((i = 0; i < 40; i++)); do
    for path in / /index.html /missing /boom /api/ok /api/created /api/fail /upstream-down; do
      curl -s -o /dev/null "http://127.0.0.1:$front$path" || true
    done
    curl -s -o /dev/null -X POST --data 'x=1' "http://127.0.0.1:$front/api/ok" || true
    curl -s -o /dev/null "http://127.0.0.1:$apache_port/index.html" || true
    sleep 0.25
  done
}
traffic &
pids+=($!)

# --- prometheus ---------------------------------------------------------------------------------
node "$src/tests/deploy/extract_rules.mjs" "$node_dir" "$src/k8s/monitoring/prometheusrule.yaml" \
  --interval=1s >"$tmp/rules.yaml"
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [$tmp/rules.yaml]
scrape_configs:
  - job_name: sidecar-exporter
    static_configs:
      - targets: ['127.0.0.1:$exp_port']
        labels: {namespace: deploy-test, pod: web-0, container: sidecar-exporter}
EOF
promtool check config "$tmp/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom-data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$prom_port/-/ready" 30 || fail "prometheus did not become ready"
log "prometheus on 127.0.0.1:$prom_port"

curl -fsS "http://127.0.0.1:$exp_port/metrics" >"$tmp/metrics-first.txt" || fail "/metrics"
# Exit 3 is lint only: nginx_connections_accepted/handled keep nginx-prometheus-exporter's names,
# which lack _total. Anything else (a parse error) fails.
rc=0
promtool check metrics <"$tmp/metrics-first.txt" >&2 || rc=$?
((rc == 0 || rc == 3)) || fail "promtool check metrics: the exposition does not parse"

# Panels need two samples of every counter after traffic began; the histogram panels need the
# recording rules evaluated on them.
ready_query='count(namespace_pod_collector_le:accesslog_http_upstream_duration_seconds_bucket:rate5m > 0)'
for ((i = 0; i < 60; i++)); do
  if curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$ready_query" 2>/dev/null |
      grep -q '"result":\[{'; then
    break
  fi
  sleep 1
done
sleep 3
curl -fsS "http://127.0.0.1:$exp_port/metrics" >"$tmp/metrics.txt" || fail "/metrics"
log "$(grep -vc '^#' "$tmp/metrics.txt") samples on /metrics; running the panel queries"

node "$src/tests/deploy/dashboard_queries.mjs" --prometheus="http://127.0.0.1:$prom_port" \
  --metrics="$tmp/metrics.txt" --rules="$tmp/rules.yaml" --node-dir="$node_dir" \
  "$src"/dashboards/*.json
log "PASS in $((SECONDS - t_start))s"
