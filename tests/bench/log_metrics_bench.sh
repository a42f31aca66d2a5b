#!/usr/bin/env bash
# Benchmark (not a test): the same three-pattern job over nginx's error log through mtail (from
# Debian) and through sidecar-exporter's type: log_metrics, in one run, on the same 1M-line file
# made of copies of a real nginx error log (tests/data/nginx_error.log, written by nginx made to
# fail in tests/e2e/log_metrics_e2e_test.cc). The job: lines by level, upstream timeouts,
# upstream connect failures (tests/bench/mtail/error_log). Both run pinned to one core.
# Prints lines/s of each, the ratio, peak memory, and checks both counted the same.
# Options (environment): LINES (default 1000000).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
want=${LINES:-1000000}
data=$repo/tests/data/nginx_error.log

source scripts/lib.sh
build_bench sidecar-exporter
start_session sidecar-errorbench

sample=$(wc -l <"$data")
copies=$(((want + sample - 1) / sample))
# One awk, not one cat per copy: the sample has 8 lines, so 1M lines are 125,000 copies.
awk -v n="$copies" '{line[NR] = $0} END {for (i = 0; i < n; i++) for (j = 1; j <= NR; j++) print line[j]}' \
  "$data" >"$work/error.log"
lines=$(wc -l <"$work/error.log")
size_mb=$(($(stat -c %s "$work/error.log") / 1048576))
cat "$work/error.log" >/dev/null  # page cache warm for both

# --- mtail, one-shot: reads the file to its end, prints the metrics, exits.
start=$(now)
/usr/bin/time -f '%M' -o "$work/mtail.maxrss" taskset -c 0 mtail -one_shot \
  -one_shot_format=prometheus -logs "$work/error.log" -progs tests/bench/mtail/error_log \
  -logtostderr >"$work/mtail.prom" 2>"$work/mtail.err"
mtail_seconds=$(bc -l <<<"$(now) - $start")

# --- sidecar-exporter: tails the file from its beginning; timed until every line is counted.
cat >"$work/config.yaml" <<CONF
collectors:
  - type: log_metrics
    name: bench
    paths: ['$work/error.log']
    from_beginning: true
    format: regex
    regex: '^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(?P<level>[a-z]+)\] \d+#\d+: '
    metrics:
      - name: nginx_error_log_lines_total
        labels: [level]
      - name: nginx_error_log_upstream_timeouts_total
        match: 'upstream timed out'
      - name: nginx_error_log_upstream_connect_failures_total
        match: 'connect\(\) (?:to \S+ )?failed .*while connecting to upstream'
CONF
time_log_reading "$work/config.yaml" "$lines"
curl -s "http://127.0.0.1:$port/metrics" >"$work/ours.prom"

echo
echo "error-log benchmark: $lines lines ($size_mb MiB, nginx error log), three patterns, one core each"
printf '%-18s %10s %12s %12s\n' "" seconds lines/s "peak RSS"
printf '%-18s %10.2f %12.0f %10.1fMB\n' sidecar-exporter "$ours_seconds" \
  "$(bc -l <<<"$lines/$ours_seconds")" "$(bc -l <<<"$ours_rss/1024")"
printf '%-18s %10.2f %12.0f %10.1fMB\n' mtail "$mtail_seconds" \
  "$(bc -l <<<"$lines/$mtail_seconds")" "$(bc -l <<<"$(cat "$work/mtail.maxrss")/1024")"
printf 'ratio: %.1fx mtail lines/s (both timed from process start, ours includes scraping until done)\n' \
  "$(bc -l <<<"$mtail_seconds/$ours_seconds")"
status=0
for family in nginx_error_log_lines_total nginx_error_log_upstream_timeouts_total \
  nginx_error_log_upstream_connect_failures_total; do
  ours=$(sum_family "$family" <"$work/ours.prom")
  theirs=$(sum_family "$family" <"$work/mtail.prom")
  echo "$family: ours $ours, mtail $theirs"
  ((ours == theirs)) || status=1
done
((ours_read == lines)) || status=1
((status == 0)) || echo "MISMATCH (lines $lines, read $ours_read)" >&2
exit "$status"
