#!/usr/bin/env bash
# Benchmark (not a test): sidecar-exporter against nginx-prometheus-exporter, the exporter users
# would pick instead, watching the same real nginx in the same run. wrk drives each /metrics
# endpoint in turn with the same load; the script prints scrapes/s and resident memory (idle and
# after the load) of each, and the ratios. Targets: >= 2x its scrapes/s, <= half its memory.
# Options (environment): DURATION in seconds with an "s" (default 10s), CONNECTIONS (default 16),
# THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
threads=${THREADS:-2}

source scripts/lib.sh
build_bench sidecar-exporter
start_session sidecar-bench

start_nginx_exporters
sleep 1
ours_idle=$(rss_kb $ours_pid)
theirs_idle=$(rss_kb $theirs_pid)
ours_anon=$(anon_kb $ours_pid)
theirs_anon=$(anon_kb $theirs_pid)

run_wrk() {  # port threads connections
  wrk -t"$2" -c"$3" -d"$duration" "http://127.0.0.1:$1/metrics" | awk '/^Requests\/sec/ {print $2}'
}
# One scraper at a time: the cost of a single scrape, nothing shared. CPU per scrape in us.
seconds=${duration%s}
t0=$(cpu_ticks $theirs_pid)
theirs_seq=$(run_wrk "$theirs_port" 1 1)
theirs_cpu=$(bc -l <<<"($(cpu_ticks $theirs_pid) - $t0) * 1000000 / $(getconf CLK_TCK) / ($theirs_seq * $seconds)")
t0=$(cpu_ticks $ours_pid)
ours_seq=$(run_wrk "$ours_port" 1 1)
ours_cpu=$(bc -l <<<"($(cpu_ticks $ours_pid) - $t0) * 1000000 / $(getconf CLK_TCK) / ($ours_seq * $seconds)")
# Concurrent scrapers: concurrent scrapes share one collection here.
theirs_rps=$(run_wrk "$theirs_port" "$threads" "$connections")
theirs_loaded=$(rss_kb $theirs_pid)
ours_rps=$(run_wrk "$ours_port" "$threads" "$connections")
ours_loaded=$(rss_kb $ours_pid)

mb() { bc -l <<<"$1/1024"; }
echo
echo "scrape benchmark: same nginx, wrk for $duration per run, $(nproc) cores"
printf '%-26s %14s %12s %16s %10s %10s %12s\n' exporter "scrapes/s c=1" "CPU/scrape" \
  "scrapes/s c=$connections" "idle RSS" "idle anon" "loaded RSS"
printf '%-26s %14.0f %10.0fus %16.0f %8.1fMB %8.1fMB %10.1fMB\n' sidecar-exporter "$ours_seq" \
  "$ours_cpu" "$ours_rps" "$(mb "$ours_idle")" "$(mb "$ours_anon")" "$(mb "$ours_loaded")"
printf '%-26s %14.0f %10.0fus %16.0f %8.1fMB %8.1fMB %10.1fMB\n' nginx-prometheus-exporter \
  "$theirs_seq" "$theirs_cpu" "$theirs_rps" "$(mb "$theirs_idle")" "$(mb "$theirs_anon")" \
  "$(mb "$theirs_loaded")"
printf 'ratio (ours / theirs): scrapes/s %.2fx at c=1, %.2fx at c=%s; CPU per scrape %.2fx; idle RSS %.2fx, idle anon %.2fx, loaded RSS %.2fx\n' \
  "$(bc -l <<<"$ours_seq/$theirs_seq")" "$(bc -l <<<"$ours_rps/$theirs_rps")" "$connections" \
  "$(bc -l <<<"$ours_cpu/$theirs_cpu")" \
  "$(bc -l <<<"$ours_idle/$theirs_idle")" "$(bc -l <<<"$ours_anon/$theirs_anon")" \
  "$(bc -l <<<"$ours_loaded/$theirs_loaded")"
