#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a real nginx on 127.0.0.1 writing its
# access log into a temp "shared volume", starts sidecar-exporter watching it, sends a little
# traffic and prints the URLs. Ctrl-C stops everything it started.
# Options: --duration SECONDS stops by itself after that long (default: run until Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=0
if [[ ${1:-} == --duration ]]; then duration=${2:?--duration needs seconds}; fi

scripts/install-deps.sh
scripts/build.sh >/dev/null

source scripts/lib.sh
start_session sidecar-demo
mkdir -p "$work/shared" "$work/tmp"
# Replaces the EXIT trap of start_session, to say what happened after cleaning up.
trap '_end_session; echo "demo stopped; everything it started is gone"' EXIT
trap 'exit 0' INT TERM

nginx_port=$(free_port)
start_nginx "$nginx_port" "$work/shared/access.log" '
    location = /missing { return 404 "not here\n"; }
    location = /broken { return 500 "broken\n"; }'

sed "s|http://127.0.0.1:8080/stub_status|http://127.0.0.1:$nginx_port/stub_status|; s|/var/log/nginx/|$work/shared/|g" \
  examples/nginx-access-log.yaml >"$work/config.yaml"
build/sidecar-exporter --config.file="$work/config.yaml" --web.listen-address=127.0.0.1:0 \
  2>"$work/exporter.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'msg=ready' "$work/exporter.log" 2>/dev/null && break; sleep 0.1; done
exporter=$(grep -o 'address=127.0.0.1:[0-9]*' "$work/exporter.log" | head -1 | cut -d= -f2)
[[ -n $exporter ]] || { cat "$work/exporter.log"; exit 1; }

for _ in $(seq 50); do grep -q '^nginx_up 1' <(curl -s "http://$exporter/metrics") && break; sleep 0.1; done
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/page/$i"; done
for i in $(seq 5); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/missing"; done
curl -s -o /dev/null "http://127.0.0.1:$nginx_port/broken"

cat <<INFO

  nginx (main container)    http://127.0.0.1:$nginx_port/   (56 requests sent: 50 x 200, 5 x 404, 1 x 500)
  sidecar-exporter status   http://$exporter/
  metrics                   http://$exporter/metrics
  liveness / readiness      http://$exporter/healthz   http://$exporter/readyz
  shared volume             $work/shared/access.log

INFO
sleep 1.5  # the tailer wakes on inotify; give it a moment to read the last lines
curl -s "http://$exporter/metrics" | grep -E '^(nginx_up|nginx_http_requests_total|accesslog_http_requests_total)' || true
echo
if ((duration > 0)); then
  echo "stopping in ${duration}s"
  sleep "$duration"
else
  echo "Ctrl-C stops nginx and the exporter."
  while kill -0 "${pids[1]}" 2>/dev/null; do sleep 1; done
fi
