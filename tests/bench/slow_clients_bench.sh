#!/usr/bin/env bash
# Benchmark (not a test): the HTTP port under hostile clients, sidecar-exporter against
# nginx-prometheus-exporter watching the same real nginx in the same run. For each exporter in
# turn, tests/bench/slow_clients.py holds IDLE connections that never send a byte and SLOW
# (slowloris) connections that trickle a header one byte a second, reopening those the server
# closes, and meanwhile times PROBES GETs of /metrics and of the liveness path (/healthz for
# ours; the Go exporter has none, so its "/" page stands in). Prints median and worst latency,
# failures, resident memory before and during the attack, and how many hostile connections
# each server closed. Targets: /metrics < 50 ms and /healthz < 20 ms with 1,000 + 1,000 open.
# Options (environment): IDLE (default 1000), SLOW (default 1000), PROBES (default 50 per path),
# SETTLE seconds before probing (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
idle=${IDLE:-1000}
slow=${SLOW:-1000}
probes=${PROBES:-50}
settle=${SETTLE:-3}

source scripts/lib.sh
build_bench sidecar-exporter
start_session sidecar-slow-clients
# Each hostile connection is a descriptor on both sides.
ulimit -n "$(ulimit -Hn)"

start_nginx_exporters

attack() {  # name pid port probe-paths
  local before during
  before=$(rss_kb "$2")
  python3 tests/bench/slow_clients.py --port "$3" --idle "$idle" --slow "$slow" \
    --paths "$4" --probes "$probes" --settle "$settle" >"$work/$1.out" &
  local attacker=$!
  sleep "$settle"
  during=$(rss_kb "$2")
  wait "$attacker"
  sed "s|^|$1 |" "$work/$1.out"
  printf '%s RSS before %.1f MB, during %.1f MB\n' "$1" "$(bc -l <<<"$before/1024")" \
    "$(bc -l <<<"$during/1024")"
}

echo
echo "hostile clients: $idle idle + $slow slowloris connections, $probes GETs per path, $(nproc) cores"
attack sidecar-exporter "$ours_pid" "$ours_port" /metrics,/healthz
attack nginx-prometheus-exporter "$theirs_pid" "$theirs_port" /metrics,/
