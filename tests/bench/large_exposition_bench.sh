#!/usr/bin/env bash
# Benchmark (not a test): the scrape path on a large exposition. An access log collector with
# `labels: [method, status, path]` filled up to its 2,000-series limit exposes ~32k samples
# (~3.6 MB of text); wrk scrapes it many times, first with one connection (sequential scrapes),
# then with several (concurrent scrapes), with and without gzip. Prints the wall time and the CPU
# time per scrape, and resident memory before the first scrape, after each phase and at its peak,
# against issue 12's bounds: <= 8 ms per scrape, RSS <= idle + 2x the exposition size, however
# many scrapes and scrapers. No peer: no other exporter serves this exposition.
# Options (environment): DURATION per phase with an "s" (default 10s), CONNECTIONS for the
# concurrent phase (default 8), SERIES (default 2000), BUILD_DIR (an existing build to use as is
# instead of building build-bench for Release), CALLGRIND_SCRAPES (default 10; 0 skips it):
# scrapes made under valgrind's callgrind to count the instructions per scrape, a figure that
# the load of the machine does not change.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${DURATION:-10s}
connections=${CONNECTIONS:-8}
series=${SERIES:-2000}

source scripts/lib.sh
if [[ -n ${BUILD_DIR:-} ]]; then
  binary=$BUILD_DIR/sidecar-exporter
else
  build_bench sidecar-exporter
  binary=build-bench/sidecar-exporter
fi
start_session sidecar-large-exposition

# `series` distinct (method, status, path) label sets, each seen a few times, with request times.
python3 - "$series" >"$work/access.log" <<'PY'
import random, sys
random.seed(12)
n = int(sys.argv[1]); methods = ("GET", "POST", "PUT", "DELETE"); statuses = ("200", "201", "304", "404", "500")
lines = []
for i in range(n):
    method, status = methods[i % 4], statuses[(i // 4) % 5]
    path = f"/api/v1/resources/{i // 20}/items"
    for _ in range(3):
        lines.append(f'127.0.0.1 - - [29/Nov/2026:10:00:00 +0000] "{method} {path} HTTP/1.1" {status} '
                     f'{random.randint(0, 100000)} "-" "bench" {random.random() * 3:.3f}\n')
random.shuffle(lines)
sys.stdout.write("".join(lines))
PY

cat >"$work/config.yaml" <<CONF
collectors:
  - type: access_log
    name: bench
    paths: ['$work/access.log']
    format: nginx
    log_format: '$access_log_format'
    labels: [method, status, path]
    from_beginning: true
CONF
port=$(free_port)
"$binary" --config.file="$work/config.yaml" --web.listen-address="127.0.0.1:$port" \
  --log.level=warn &
ours_pid=$!
pids+=($ours_pid)
wait_port "$port"
url="http://127.0.0.1:$port/metrics"

# Wait until the tailer has read the whole file (its descriptor's offset at the file's size),
# without scraping /metrics before the idle figure is taken.
size=$(stat -c %s "$work/access.log")
for _ in $(seq 600); do
  offset=0
  for fd in /proc/$ours_pid/fd/*; do
    [[ $(readlink "$fd") == "$work/access.log" ]] || continue
    offset=$(awk '/^pos:/ {print $2}' "/proc/$ours_pid/fdinfo/${fd##*/}")
  done
  ((offset >= size)) && break
  sleep 0.1
done
sleep 1
idle_kb=$(rss_kb $ours_pid)

curl -sf "$url" >"$work/metrics.prom"
bytes=$(stat -c %s "$work/metrics.prom")
samples=$(grep -vc '^#' "$work/metrics.prom")
bound_kb=$((idle_kb + 2 * bytes / 1024))

# Resets the peak (VmHWM) so that each phase's own peak is read.
reset_peak() { echo 5 >"/proc/$ours_pid/clear_refs" 2>/dev/null || true; }
seconds=${duration%s}
results=()
max_peak_kb=0
phase() {  # label connections [wrk header args...]
  local label=$1 conns=$2
  shift 2
  reset_peak
  local t0 out rps cpu
  t0=$(cpu_ticks $ours_pid)
  out=$(wrk -t1 -c"$conns" -d"$duration" --latency "$@" "$url")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  cpu=$(bc -l <<<"($(cpu_ticks $ours_pid) - $t0) * 1000 / $(getconf CLK_TCK) / ($rps * $seconds)")
  local p50 p99
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local peak
  peak=$(peak_kb $ours_pid)
  ((peak > max_peak_kb)) && max_peak_kb=$peak
  results+=("$(printf '%-34s %9.0f %10.2fms %10.2fms %9s %9s %9d %9d' "$label" \
    "$(bc -l <<<"$rps * $seconds")" "$(bc -l <<<"1000 / $rps * $conns")" "$cpu" "$p50" "$p99" \
    "$(rss_kb $ours_pid)" "$peak")")
}
phase "sequential (1 connection)" 1
phase "sequential, gzip" 1 -H "Accept-Encoding: gzip"
phase "concurrent ($connections connections)" "$connections"
phase "concurrent, gzip" "$connections" -H "Accept-Encoding: gzip"
# A few more rounds: memory must not creep with the number of scrapes.
phase "sequential again" 1
phase "concurrent again" "$connections"
final_kb=$(rss_kb $ours_pid)

echo
echo "large exposition: $samples samples, $bytes bytes (access log, $series series of" \
  "method/status/path); wrk for $duration per phase, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-34s %9s %12s %12s %9s %9s %9s %9s\n' "" "scrapes" "wall/scrape" "CPU/scrape" \
  "p50" "p99" "RSS KiB" "peak KiB"
printf '%s\n' "${results[@]}"
echo "RSS: idle $idle_kb KiB, after all phases $final_kb KiB, peak of every phase $max_peak_kb KiB;" \
  "bound idle + 2 x exposition = $bound_kb KiB"
printf 'target: <= 8 ms per scrape (CPU per sequential scrape above), RSS <= %d KiB after the phases: %s, at their peak: %s\n' \
  "$bound_kb" "$( ((final_kb <= bound_kb)) && echo met || echo MISSED)" \
  "$( ((max_peak_kb <= bound_kb)) && echo met || echo MISSED)"
callgrind_scrapes=${CALLGRIND_SCRAPES:-10}
if ((callgrind_scrapes > 0)); then
  echo "instructions per scrape (callgrind, $callgrind_scrapes sequential scrapes):" \
    "$(callgrind_per_scrape "$binary" "$work/config.yaml" "$callgrind_scrapes" \
      "$(wc -l <"$work/access.log")")"
fi
