#!/usr/bin/env bash
# Benchmark (not a test): the same access-log job through mtail (from Debian) and through
# sidecar-exporter, in one run, on the same 1M-line file made of copies of the real
# Apache combined log with a request time appended. The job: requests by method and status,
# response bytes, request duration histogram. Both run pinned to one core.
# Prints lines/s of each, the ratio, peak memory, and checks both counted the same totals.
#
# --sampler: instead of mtail, sidecar-exporter with the status page's sampler and without it
# (hidden flag --status.sample-interval-ms=0), alternating, ROUNDS times on the same file.
# At the shipped 5 s the run would end before the first snapshot, so the sampler runs every
# SAMPLE_MS (default 50 ms: 100 times as often as shipped), and each run reports how many
# snapshots it took. Prints lines/s, CPU seconds and peak RSS of every run, the median and
# spread of each side, the ratio, and how busy the machine was (it is shared).
# Options (environment): COPIES (default 100 = 1M lines; 300 with --sampler), ROUNDS (5),
# SAMPLE_MS (50).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
sampler_mode=0
[[ ${1:-} == --sampler ]] && sampler_mode=1
copies=${COPIES:-$((sampler_mode ? 300 : 100))}
rounds=${ROUNDS:-5}
sample_ms=${SAMPLE_MS:-50}
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

# --- mtail, one-shot: reads the file to its end, prints the metrics, exits.
if ((!sampler_mode)); then
start=$(now)
/usr/bin/time -f '%M' -o "$work/mtail.maxrss" taskset -c 0 mtail -one_shot \
  -one_shot_format=prometheus -logs "$work/access.log" -progs tests/bench/mtail -logtostderr \
  >"$work/mtail.prom" 2>"$work/mtail.err"
mtail_seconds=$(bc -l <<<"$(now) - $start")
mtail_total=$(sum_family accesslog_http_requests_total <"$work/mtail.prom")
fi

# --- sidecar-exporter: tails the file from its beginning; timed from process start until every
# line is counted. Waiting watches the bytes it has read (/proc/PID/io), not /metrics, so that
# the wait itself runs no collection; one scrape at the end confirms the count.
cat >"$work/config.yaml" <<CONF
collectors:
  - type: access_log
    name: bench
    paths: ['$work/access.log']
    format: nginx
    log_format: '$access_log_format'
    from_beginning: true
CONF
file_bytes=$(stat -c %s "$work/access.log")
clock_ticks=$(getconf CLK_TCK)

metric_sum() { sum_family "$1" <"$work/ours.prom"; }

# run_ours [FLAGS...]: one run; sets ours_seconds, ours_cpu (user + system seconds), ours_rss
# (peak, KiB), ours_read, ours_total, ours_errors and ours_snapshots (status-page snapshots taken).
run_ours() {
  local port start pid rchar
  port=$(free_port)
  start=$(now)
  taskset -c 0 build-bench/sidecar-exporter --config.file="$work/config.yaml" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn "$@" &
  pid=$!
  pids+=($pid)
  for _ in $(seq 12000); do
    rchar=$(awk '/^rchar/ {print $2}' "/proc/$pid/io" 2>/dev/null || echo 0)
    ((rchar >= file_bytes)) && break
    sleep 0.005
  done
  ours_read=0
  for _ in $(seq 2000); do
    (curl -s "http://127.0.0.1:$port/metrics" 2>/dev/null || true) >"$work/ours.prom"
    ours_read=$(metric_sum sidecar_exporter_log_lines_read_total)
    ((ours_read >= lines)) && break
    sleep 0.001
  done
  ours_seconds=$(bc -l <<<"$(now) - $start")
  ours_cpu=$(awk -v t="$clock_ticks" '{printf "%.3f", ($14 + $15) / t}' "/proc/$pid/stat")
  ours_rss=$(peak_kb "$pid")
  ours_total=$(metric_sum accesslog_http_requests_total)
  ours_errors=$(metric_sum sidecar_exporter_log_parse_errors_total)
  ours_snapshots=$(curl -s "http://127.0.0.1:$port/api/v1/status" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["history"]["snapshots"])')
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

# Busy and total jiffies of the whole machine (/proc/stat), to say how loaded it was.
machine_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# median and spread of the numbers on stdin: "median (min – max)".
summarise() { sort -g | awk -v f="$1" '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf f " (" f " – " f ")", m, v[1], v[NR]}'; }

sampler_bench() {
  local round variant expected="" busy0 total0 busy1 total1 load0
  read -r busy0 total0 < <(machine_jiffies)
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  : >"$work/runs.tsv"
  echo
  echo "status sampler benchmark: $lines lines ($size_mb MiB), $rounds rounds, one core (taskset -c 0)"
  printf '%-6s %-22s %8s %12s %8s %10s %10s\n' round sampler seconds lines/s "CPU s" "peak RSS" snapshots
  for round in $(seq "$rounds"); do
    # Alternate which goes first, so that a drift in the machine's load hits both alike.
    local order=(off on)
    ((round % 2 == 0)) && order=(on off)
    for variant in "${order[@]}"; do
      if [[ $variant == on ]]; then
        run_ours --status.sample-interval-ms="$sample_ms"
      else
        run_ours --status.sample-interval-ms=0
      fi
      [[ -z $expected ]] && expected=$ours_total
      check_counts "$expected"
      if [[ $variant == on ]] && ((ours_snapshots == 0)); then
        echo "the sampler took no snapshot during the run: raise COPIES or lower SAMPLE_MS" >&2
        exit 1
      fi
      local rate
      rate=$(bc -l <<<"$lines/$ours_seconds")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$variant" "$rate" "$ours_cpu" "$ours_rss" \
        "$ours_snapshots" >>"$work/runs.tsv"
      printf '%-6s %-22s %8.2f %12.0f %8.2f %8.1fMB %10d\n' "$round" \
        "$([[ $variant == on ]] && echo "every $sample_ms ms" || echo off)" "$ours_seconds" \
        "$rate" "$ours_cpu" "$(bc -l <<<"$ours_rss/1024")" "$ours_snapshots"
    done
  done
  read -r busy1 total1 < <(machine_jiffies)
  echo
  printf '%-22s %-28s %-24s %-24s\n' sampler "lines/s, median (min – max)" "CPU s" "peak RSS, MB"
  for variant in off on; do
    printf '%-22s %-28s %-24s %-24s\n' "$([[ $variant == on ]] && echo "every $sample_ms ms" || echo off)" \
      "$(awk -v v=$variant '$2 == v {print $3}' "$work/runs.tsv" | summarise %.0f)" \
      "$(awk -v v=$variant '$2 == v {print $4}' "$work/runs.tsv" | summarise %.2f)" \
      "$(awk -v v=$variant '$2 == v {print $5 / 1024}' "$work/runs.tsv" | summarise %.1f)"
  done
  # Per round, on / off: the ratio of runs made back to back.
  # Per round: the ratios and the extra CPU per snapshot, with / without.
  awk '{v[$1 " " $2] = $3; c[$1 " " $2] = $4; n[$1 " " $2] = $6}
       END {for (k in v) if (k ~ / on$/) {r = k; sub(/ on$/, "", r);
         print v[k] / v[r " off"], c[k] / c[r " off"], 1000 * (c[k] - c[r " off"]) / n[k]}}' \
    "$work/runs.tsv" >"$work/ratios"
  echo "ratio with / without the sampler, per round: lines/s $(cut -d' ' -f1 "$work/ratios" | summarise %.3f), CPU s $(cut -d' ' -f2 "$work/ratios" | summarise %.3f)"
  local per_snapshot
  per_snapshot=$(cut -d' ' -f3 "$work/ratios" | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
  printf 'extra CPU per snapshot: %s ms; at the shipped interval (one per 5 s) that is %.4f %% of one core\n' \
    "$(cut -d' ' -f3 "$work/ratios" | summarise %.3f)" "$(bc -l <<<"$per_snapshot / 5000 * 100")"
  # The exporters' own CPU out of the machine's busy time leaves what other processes took.
  local ours_ticks
  ours_ticks=$(awk -v t="$clock_ticks" '{s += $4} END {printf "%d", s * t}' "$work/runs.tsv")
  printf 'machine (%d cores, shared): load average %s before, %s after; CPUs %.0f %% busy during the runs, %.0f %% of it by other processes than the exporters measured\n' \
    "$(nproc)" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(bc -l <<<"100 * ($busy1 - $busy0) / ($total1 - $total0)")" \
    "$(bc -l <<<"100 * ($busy1 - $busy0 - $ours_ticks) / ($total1 - $total0)")"
}

check_counts() {
  # The log has one truncated line (no closing quote on the user agent): it must be rejected,
  # so every copy counts the same requests and reports the rest as parse errors.
  if ((ours_read != lines || ours_total + ours_errors != lines || ours_total != $1)); then
    echo "MISMATCH: lines=$lines read=$ours_read ours=$ours_total+$ours_errors expected=$1" >&2
    exit 1
  fi
}

if ((sampler_mode)); then
  sampler_bench
  exit 0
fi

run_ours
echo
echo "access-log benchmark: $lines lines ($size_mb MiB, combined + request time), one core each"
printf '%-18s %10s %12s %14s %16s\n' "" seconds lines/s "peak RSS" "requests counted"
printf '%-18s %10.2f %12.0f %12.1fMB %16d\n' sidecar-exporter "$ours_seconds" \
  "$(bc -l <<<"$lines/$ours_seconds")" "$(bc -l <<<"$ours_rss/1024")" "$ours_total"
printf '%-18s %10.2f %12.0f %12.1fMB %16d\n' mtail "$mtail_seconds" \
  "$(bc -l <<<"$lines/$mtail_seconds")" "$(bc -l <<<"$(cat "$work/mtail.maxrss")/1024")" "$mtail_total"
printf 'ratio: %.1fx mtail lines/s (both timed from process start)\n' \
  "$(bc -l <<<"$mtail_seconds/$ours_seconds")"
# The log has one truncated line (no closing quote on the user agent): both must reject
# it, so both count the same requests and ours reports the rest as parse errors.
echo "lines read: $ours_read; parse errors: $ours_errors (the truncated line of each copy)"
if ((ours_read != lines || ours_total != mtail_total || ours_total + ours_errors != lines)); then
  echo "MISMATCH: lines=$lines read=$ours_read ours=$ours_total+$ours_errors mtail=$mtail_total" >&2
  exit 1
fi
