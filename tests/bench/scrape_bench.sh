#!/usr/bin/env bash
# Benchmark (not a test): sidecar-exporter against nginx-prometheus-exporter, the exporter users
# would pick instead, watching the same real nginx in the same run. wrk drives each /metrics
# endpoint in turn with the same load; the script prints scrapes/s and resident memory (idle and
# after the load) of each, and the ratios. Targets: >= 2x its scrapes/s, <= half its memory.
# Options (environment): DURATION (default 10s), CONNECTIONS (default 16), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
threads=${THREADS:-2}

scripts/install-deps.sh
BUILD_DIR=build-bench BUILD_TYPE=Release scripts/build.sh -DSIDECAR_BUILD_TESTS=OFF >/dev/null

work=$(mktemp -d -t sidecar-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

nginx_port=$(free_port)
mkdir -p "$work/tmp"
cat >"$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$nginx_port; location = /stub_status { stub_status; } }
}
CONF
PATH=$PATH:/usr/sbin nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)
wait_port "$nginx_port"
scrape_uri="http://127.0.0.1:$nginx_port/stub_status"

ours_port=$(free_port)
printf 'collectors:\n  - {type: nginx_status, name: nginx, url: "%s"}\n' "$scrape_uri" >"$work/config.yaml"
build-bench/sidecar-exporter --config.file="$work/config.yaml" \
  --web.listen-address="127.0.0.1:$ours_port" --log.level=warn &
ours_pid=$!
pids+=($ours_pid)

theirs_port=$(free_port)
prometheus-nginx-exporter -nginx.scrape-uri="$scrape_uri" \
  -web.listen-address="127.0.0.1:$theirs_port" >"$work/theirs.log" 2>&1 &
theirs_pid=$!
pids+=($theirs_pid)
wait_port "$ours_port"
wait_port "$theirs_port"

# One scrape each so both have loaded everything a scrape needs, then idle memory.
curl -sf "http://127.0.0.1:$ours_port/metrics" | grep -q '^nginx_up 1'
curl -sf "http://127.0.0.1:$theirs_port/metrics" | grep -q '^nginx_up 1'
sleep 1
ours_idle=$(rss_kb $ours_pid)
theirs_idle=$(rss_kb $theirs_pid)

run_wrk() {
  wrk -t"$threads" -c"$connections" -d"$duration" "http://127.0.0.1:$1/metrics" |
    awk '/^Requests\/sec/ {print $2}'
}
theirs_rps=$(run_wrk "$theirs_port")
theirs_loaded=$(rss_kb $theirs_pid)
ours_rps=$(run_wrk "$ours_port")
ours_loaded=$(rss_kb $ours_pid)

echo
echo "scrape benchmark: wrk -t$threads -c$connections -d$duration on /metrics, same nginx, $(nproc) cores"
printf '%-28s %12s %14s %16s\n' exporter scrapes/s "idle RSS (MB)" "loaded RSS (MB)"
printf '%-28s %12.0f %14.1f %16.1f\n' sidecar-exporter "$ours_rps" "$(bc -l <<<"$ours_idle/1024")" "$(bc -l <<<"$ours_loaded/1024")"
printf '%-28s %12.0f %14.1f %16.1f\n' nginx-prometheus-exporter "$theirs_rps" "$(bc -l <<<"$theirs_idle/1024")" "$(bc -l <<<"$theirs_loaded/1024")"
printf 'ratio: %.2fx scrapes/s, %.2fx idle memory, %.2fx loaded memory (ours / theirs)\n' \
  "$(bc -l <<<"$ours_rps/$theirs_rps")" "$(bc -l <<<"$ours_idle/$theirs_idle")" \
  "$(bc -l <<<"$ours_loaded/$theirs_loaded")"
