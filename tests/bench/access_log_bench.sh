#!/usr/bin/env bash
# Benchmark (not a test): the same access-log job through mtail (from Debian) and through
# sidecar-exporter, in one run, on the same 1M-line file made of copies of the real
# Apache combined log with a request time appended. The job: requests by method and status,
# response bytes, request duration histogram. Both run pinned to one core.
# Prints lines/s of each, the ratio, peak memory, and checks both counted the same totals.
# Options (environment): COPIES (default 100 = 1M lines).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
copies=${COPIES:-100}
data=$repo/tests/data/apache_combined_10k.log

source scripts/lib.sh
build_bench sidecar-exporter
start_session sidecar-logbench

# Deterministic request times (0.000 to 0.996 s) so both fill the same histogram.
awk '{printf "%s 0.%03d\n", $0, NR % 997}' "$data" >"$work/timed10k.log"
for _ in $(seq "$copies"); do cat "$work/timed10k.log"; done >"$work/access.log"
lines=$(wc -l <"$work/access.log")
size_mb=$(($(stat -c %s "$work/access.log") / 1048576))
cat "$work/access.log" >/dev/null  # page cache warm for both

now() { date +%s.%N; }

# --- mtail, one-shot: reads the file to its end, prints the metrics, exits.
start=$(now)
/usr/bin/time -f '%M' -o "$work/mtail.maxrss" taskset -c 0 mtail -one_shot \
  -one_shot_format=prometheus -logs "$work/access.log" -progs tests/bench/mtail -logtostderr \
  >"$work/mtail.prom" 2>"$work/mtail.err"
mtail_seconds=$(bc -l <<<"$(now) - $start")
mtail_total=$(awk '/^accesslog_http_requests_total\{/ {s += $NF} END {printf "%d", s}' "$work/mtail.prom")

# --- sidecar-exporter: tails the file from its beginning; timed until every line is counted.
cat >"$work/config.yaml" <<CONF
collectors:
  - type: access_log
    name: bench
    paths: ['$work/access.log']
    format: nginx
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time'
    from_beginning: true
CONF
port=$(free_port)
start=$(now)
taskset -c 0 build-bench/sidecar-exporter --config.file="$work/config.yaml" \
  --web.listen-address="127.0.0.1:$port" --log.level=warn &
ours_pid=$!
pids+=($ours_pid)
ours_read=0
for _ in $(seq 6000); do
  # Until the exporter listens, curl fails and the sum is 0.
  ours_read=$( (curl -s "http://127.0.0.1:$port/metrics" 2>/dev/null || true) |
    awk '/^sidecar_exporter_log_lines_read_total\{/ {s += $NF} END {printf "%d", s}')
  ((ours_read >= lines)) && break
  sleep 0.01
done
ours_seconds=$(bc -l <<<"$(now) - $start")
ours_rss=$(awk '/^VmHWM/ {print $2}' "/proc/$ours_pid/status")
ours_total=$(curl -s "http://127.0.0.1:$port/metrics" |
  awk '/^accesslog_http_requests_total\{/ {s += $NF} END {printf "%d", s}')
ours_errors=$(curl -s "http://127.0.0.1:$port/metrics" |
  awk '/^sidecar_exporter_log_parse_errors_total\{/ {s += $NF} END {printf "%d", s}')

echo
echo "access-log benchmark: $lines lines ($size_mb MiB, combined + request time), one core each"
printf '%-18s %10s %12s %14s %16s\n' "" seconds lines/s "peak RSS" "requests counted"
printf '%-18s %10.2f %12.0f %12.1fMB %16d\n' sidecar-exporter "$ours_seconds" \
  "$(bc -l <<<"$lines/$ours_seconds")" "$(bc -l <<<"$ours_rss/1024")" "$ours_total"
printf '%-18s %10.2f %12.0f %12.1fMB %16d\n' mtail "$mtail_seconds" \
  "$(bc -l <<<"$lines/$mtail_seconds")" "$(bc -l <<<"$(cat "$work/mtail.maxrss")/1024")" "$mtail_total"
printf 'ratio: %.1fx mtail lines/s (both timed from process start, ours includes scraping until done)\n' \
  "$(bc -l <<<"$mtail_seconds/$ours_seconds")"
# The log has one truncated line (no closing quote on the user agent): both must reject
# it, so both count the same requests and ours reports the rest as parse errors.
echo "lines read: $ours_read; parse errors: $ours_errors (the truncated line of each copy)"
if ((ours_read != lines || ours_total != mtail_total || ours_total + ours_errors != lines)); then
  echo "MISMATCH: lines=$lines read=$ours_read ours=$ours_total+$ours_errors mtail=$mtail_total" >&2
  exit 1
fi
