#!/usr/bin/env bash
# Benchmark (not a test): merging the main container's own /metrics (`type: prometheus`) against
# Debian's prometheus-exporter-exporter proxying the same endpoint, the tool users would pick to
# expose an app's metrics through another port. The endpoint is a real nginx serving a generated
# 10k-series exposition (counters with labels, histograms, gauges: ~1 MB). wrk drives, with one
# connection, the endpoint itself, exporter-exporter's /proxy and the sidecar's /metrics in turn;
# the script prints scrapes/s and CPU per scrape of each proxy, and the time each adds to a
# scrape over fetching the endpoint directly. Target: the sidecar adds <= 2 ms per scrape.
# Options (environment): DURATION in seconds with an "s" (default 10s), SERIES (default 10000),
# BUILD_DIR (an existing build to use as is instead of configuring build-bench for Release),
# BEFORE (another sidecar-exporter binary, such as one built from an older commit, measured in
# the same run on the same endpoint and printed as "before"), CALLGRIND_SCRAPES (default 10; 0
# skips it): scrapes made under valgrind's callgrind to count the instructions per scrape, a
# figure that the load of the machine does not change. PIN=1 pins the proxies to one CPU and
# nginx and wrk to the other (see below).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${DURATION:-10s}
series=${SERIES:-10000}

build_dir=${BUILD_DIR:-build-bench}

scripts/install-deps.sh
if [[ -z ${BUILD_DIR:-} ]]; then
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSIDECAR_BUILD_TESTS=ON >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)" --target sidecar-exporter >/dev/null

source scripts/lib.sh
start_session sidecar-merge-bench

# ~10k series: 1/3 counters with two labels, 1/3 gauges, 1/3 histogram samples (11 buckets).
python3 - "$series" >"$work/app.prom" <<'PY'
import random, sys
random.seed(7)
n = int(sys.argv[1]); out = []; i = 0
while i < n:
    f = len(out)
    out.append(f"# HELP app_requests_{f}_total Requests of handler {f}.\n# TYPE app_requests_{f}_total counter\n")
    for code in ("200", "404", "500"):
        for method in ("GET", "POST"):
            out.append(f'app_requests_{f}_total{{code="{code}",method="{method}"}} {random.randint(0, 10**9)}\n'); i += 1
    out.append(f"# HELP app_queue_{f}_bytes Queue size {f}.\n# TYPE app_queue_{f}_bytes gauge\n")
    for shard in range(6):
        out.append(f'app_queue_{f}_bytes{{shard="{shard}"}} {random.random() * 1e6}\n'); i += 1
    out.append(f"# HELP app_latency_{f}_seconds Latency {f}.\n# TYPE app_latency_{f}_seconds histogram\n")
    total = 0
    for le in ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"):
        total += random.randint(0, 1000)
        out.append(f'app_latency_{f}_seconds_bucket{{le="{le}"}} {total}\n'); i += 1
    out.append(f"app_latency_{f}_seconds_sum {random.random() * total}\napp_latency_{f}_seconds_count {total}\n"); i += 2
sys.stdout.write("".join(out))
PY
samples=$(grep -vc '^#' "$work/app.prom")

nginx_port=$(free_port)
start_nginx "$nginx_port" off "location = /app-metrics { alias $work/app.prom; default_type \"text/plain; version=0.0.4\"; }"
endpoint="http://127.0.0.1:$nginx_port/app-metrics"

ours_port=$(free_port)
printf 'collectors:\n  - {type: prometheus, name: app, url: "%s", labels: {source: app}}\n' "$endpoint" >"$work/config.yaml"
"$build_dir"/sidecar-exporter --config.file="$work/config.yaml" \
  --web.listen-address="127.0.0.1:$ours_port" --log.level=warn &
ours_pid=$!
pids+=($ours_pid)

before_port=
if [[ -n ${BEFORE:-} ]]; then
  before_port=$(free_port)
  "$BEFORE" --config.file="$work/config.yaml" --web.listen-address="127.0.0.1:$before_port" \
    --log.level=warn &
  before_pid=$!
  pids+=($before_pid)
fi

theirs_port=$(free_port)
printf 'modules:\n  app:\n    method: http\n    http:\n      port: %s\n      path: /app-metrics\n' \
  "$nginx_port" >"$work/exporter-exporter.yml"
prometheus-exporter-exporter -config.file="$work/exporter-exporter.yml" \
  -web.listen-address="127.0.0.1:$theirs_port" >"$work/theirs.log" 2>&1 &
theirs_pid=$!
pids+=($theirs_pid)
wait_port "$ours_port"
wait_port "$theirs_port"
[[ -z $before_port ]] || wait_port "$before_port"

ours_url="http://127.0.0.1:$ours_port/metrics"
theirs_url="http://127.0.0.1:$theirs_port/proxy?module=app"
# Both serve every sample of the endpoint.
ours_samples=$(curl -sf "$ours_url" | grep -c 'source="app"')
theirs_samples=$(curl -sf "$theirs_url" | grep -vc '^#')
echo "endpoint: $samples samples, $(wc -c <"$work/app.prom") bytes; sidecar merged $ours_samples, exporter-exporter passed $theirs_samples"
[[ $ours_samples == "$samples" && $theirs_samples == "$samples" ]]

# PIN=1: each proxy on CPU 1, nginx and wrk on CPU 0. On 2 vCPUs the scheduler otherwise places
# the proxy's threads against wrk and nginx differently from run to run, and CPU per scrape of
# the same binary moved by half between runs.
wrk_cmd=(wrk)
if [[ ${PIN:-0} == 1 ]]; then
  for proxy in $ours_pid $theirs_pid ${before_pid:-}; do taskset -a -cp 1 "$proxy" >/dev/null; done
  for master in $(pgrep -f "$work/nginx.conf"); do
    for server in $master $(pgrep -P "$master"); do taskset -cp 0 "$server" >/dev/null; done
  done
  wrk_cmd=(taskset -c 0 wrk)
fi
run_wrk() { "${wrk_cmd[@]}" -t1 -c1 -d"$duration" "$1" | awk '/^Requests\/sec/ {print $2}'; }
seconds=${duration%s}
direct=$(run_wrk "$endpoint")
t0=$(cpu_ticks $theirs_pid)
theirs=$(run_wrk "$theirs_url")
theirs_cpu=$(bc -l <<<"($(cpu_ticks $theirs_pid) - $t0) * 1000 / $(getconf CLK_TCK) / ($theirs * $seconds)")
t0=$(cpu_ticks $ours_pid)
ours=$(run_wrk "$ours_url")
ours_cpu=$(bc -l <<<"($(cpu_ticks $ours_pid) - $t0) * 1000 / $(getconf CLK_TCK) / ($ours * $seconds)")
added() { bc -l <<<"1000 / $1 - 1000 / $direct"; }
if [[ -n $before_port ]]; then
  t0=$(cpu_ticks $before_pid)
  before=$(run_wrk "http://127.0.0.1:$before_port/metrics")
  before_cpu=$(bc -l <<<"($(cpu_ticks $before_pid) - $t0) * 1000 / $(getconf CLK_TCK) / ($before * $seconds)")
fi

echo
echo "merge benchmark: $samples-sample endpoint, one scraper, wrk for $duration per run, $(nproc) cores"
printf '%-30s %12s %12s %16s\n' "" "scrapes/s" "CPU/scrape" "added/scrape"
printf '%-30s %12.0f %12s %16s\n' "endpoint itself (nginx)" "$direct" "" ""
printf '%-30s %12.0f %10.2fms %14.2fms\n' "sidecar-exporter (merge)" "$ours" "$ours_cpu" "$(added "$ours")"
if [[ -n $before_port ]]; then
  printf '%-30s %12.0f %10.2fms %14.2fms\n' "sidecar-exporter, before" "$before" "$before_cpu" \
    "$(added "$before")"
fi
printf '%-30s %12.0f %10.2fms %14.2fms\n' "prometheus-exporter-exporter" "$theirs" "$theirs_cpu" "$(added "$theirs")"
printf 'ratio (ours / theirs): scrapes/s %.2fx, CPU per scrape %.2fx\n' \
  "$(bc -l <<<"$ours/$theirs")" "$(bc -l <<<"$ours_cpu/$theirs_cpu")"
callgrind_scrapes=${CALLGRIND_SCRAPES:-10}
if ((callgrind_scrapes > 0)); then
  printf 'instructions per scrape (callgrind, %d scrapes): sidecar-exporter %s' "$callgrind_scrapes" \
    "$(callgrind_per_scrape "$build_dir"/sidecar-exporter "$work/config.yaml" "$callgrind_scrapes")"
  [[ -z ${BEFORE:-} ]] ||
    printf ', before %s' "$(callgrind_per_scrape "$BEFORE" "$work/config.yaml" "$callgrind_scrapes")"
  echo
fi
