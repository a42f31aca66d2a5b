# Helpers shared by the demo and the benchmarks; source it, don't run it.
#   start_session NAME   makes $work (a temp dir) and arranges that every pid added to `pids`
#                        is killed and $work removed when the script exits.
#   free_port            prints a TCP port free on 127.0.0.1 a moment ago.
#   wait_port PORT       waits (up to 10 s) until something accepts connections on it.
#   start_nginx ...      a real nginx on loopback (see below).
#   build_bench TARGET   installs what is missing and builds TARGET in the Release tree
#                        build-bench (the benchmarks' binaries).
#   wait_lines_read PORT LINES   scrapes 127.0.0.1:PORT every 10 ms (up to 60 s) until the
#                        exporter's sidecar_exporter_log_lines_read_total sums to LINES; prints
#                        the sum.
#   time_log_reading CONFIG LINES [BINARY]   starts BINARY (default build-bench/sidecar-exporter)
#                        pinned to core 0 with CONFIG and times it until it has read LINES log
#                        lines; sets port, ours_pid, ours_read, ours_seconds and ours_rss (peak,
#                        KiB).
#   now                  the time in seconds, with nanoseconds.
#   rss_kb PID, anon_kb PID   resident and private (anonymous) memory of a process, in KiB.
#   start_nginx_exporters     real nginx plus sidecar-exporter and nginx-prometheus-exporter on
#                        its stub_status (see below).
#   cpu_ticks PID, peak_kb PID   user + system clock ticks and peak resident memory (KiB).
#   sum_family NAME      the sum of every sample of NAME in the exposition on stdin.
#   access_log_format    the access log format start_nginx writes (combined + $request_time),
#                        for the benchmarks' access_log collectors.

pids=()
work=
access_log_format='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time'

start_session() {
  work=$(mktemp -d -t "$1-XXXXXX")
  trap _end_session EXIT
}

_end_session() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n $work ]] && rm -rf "$work"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  local _
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# start_nginx PORT ACCESS_LOG [LOCATIONS]: runs a real nginx from $work on 127.0.0.1:PORT with
# stub_status at /stub_status (loopback only), its access log at ACCESS_LOG ("off" for none) in
# the format the examples use (combined + $request_time), `/` answering 200, plus LOCATIONS
# (nginx config text). Adds its pid to `pids` and waits until it listens.
start_nginx() {
  local port=$1 access_log=$2 locations=${3:-}
  local log_directive="access_log $access_log main;"
  [[ $access_log == off ]] && log_directive="access_log off;"
  mkdir -p "$work/tmp"
  cat >"$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
$( ((EUID == 0)) && echo "user root root;  # workers can then reopen logs in our 0700 temp dir")
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 1024; }
http {
  log_format main '$access_log_format';
  $log_directive
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$port;
    location = /stub_status { stub_status; allow 127.0.0.1; deny all; access_log off; }
    $locations
    location / { return 200 "hello from nginx\n"; }
  }
}
CONF
  PATH=$PATH:/usr/sbin nginx -c "$work/nginx.conf" -p "$work" &
  pids+=($!)
  wait_port "$port"
}

build_bench() {
  scripts/install-deps.sh
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSIDECAR_BUILD_TESTS=ON >/dev/null
  cmake --build build-bench -j"$(nproc)" --target "$1" >/dev/null
}

wait_lines_read() {
  # Bash's /dev/tcp and one awk per scrape, not curl: on a small machine a hundred curl starts a
  # second take a good part of a core from the exporter being timed.
  local read=0
  for _ in $(seq 6000); do
    read=0
    # Until the exporter listens, the connection fails and the sum is 0.
    if exec 3<>"/dev/tcp/127.0.0.1/$1"; then
      printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
      read=$(sum_family sidecar_exporter_log_lines_read_total <&3)
      exec 3<&-
    fi 2>/dev/null
    ((read >= $2)) && break
    sleep 0.01
  done
  echo "$read"
}

now() { date +%s.%N; }

time_log_reading() {
  port=$(free_port)
  local start
  start=$(now)
  taskset -c 0 "${3:-build-bench/sidecar-exporter}" --config.file="$1" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn &
  ours_pid=$!
  pids+=("$ours_pid")
  ours_read=$(wait_lines_read "$port" "$2")
  ours_seconds=$(bc -l <<<"$(now) - $start")
  ours_rss=$(peak_kb "$ours_pid")
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
peak_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Private (anonymous) memory: what each extra pod costs once the shared libraries' pages are
# cached; a static Go binary has almost no shared pages, so RSS is its fair figure too.
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }

# start_nginx_exporters: a real nginx (no access log) and, on its stub_status, the build-bench
# sidecar-exporter and Debian's nginx-prometheus-exporter, each on a free port; returns once both
# answer nginx_up 1. Sets scrape_uri, ours_port, ours_pid, theirs_port and theirs_pid.
start_nginx_exporters() {
  local nginx_port
  nginx_port=$(free_port)
  start_nginx "$nginx_port" off
  scrape_uri="http://127.0.0.1:$nginx_port/stub_status"

  ours_port=$(free_port)
  printf 'collectors:\n  - {type: nginx_status, name: nginx, url: "%s"}\n' "$scrape_uri" \
    >"$work/config.yaml"
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
  # One scrape each so that both have loaded everything a scrape needs.
  curl -sf "http://127.0.0.1:$ours_port/metrics" | grep -q '^nginx_up 1'
  curl -sf "http://127.0.0.1:$theirs_port/metrics" | grep -q '^nginx_up 1'
}

# start_exporter_and_mtail CONFIG LOG MTAIL_OUTPUT: the build-bench sidecar-exporter with CONFIG
# and Debian's mtail with tests/bench/mtail's programs on LOG, each on a free port; returns once
# both listen. Sets ours_port, ours_pid, mtail_port and mtail_pid.
start_exporter_and_mtail() {
  ours_port=$(free_port)
  build-bench/sidecar-exporter --config.file="$1" --web.listen-address="127.0.0.1:$ours_port" \
    --log.level=warn &
  ours_pid=$!
  pids+=($ours_pid)
  mtail_port=$(free_port)
  mtail -progs tests/bench/mtail -logs "$2" -port "$mtail_port" -address 127.0.0.1 \
    -logtostderr >"$3" 2>&1 &
  mtail_pid=$!
  pids+=($mtail_pid)
  wait_port "$ours_port"
  wait_port "$mtail_port"
}

# sum_family NAME: the sum of every sample of NAME (with or without labels) on stdin.
sum_family() { awk -v m="$1" 'index($0, m "{") == 1 || $1 == m {s += $NF} END {printf "%d", s}'; }
# sum_metric URL NAME: the same over what URL serves.
sum_metric() { curl -s "$1" | sum_family "$2"; }

# callgrind_per_scrape BINARY CONFIG SCRAPES [LINES]: runs BINARY with CONFIG under valgrind's
# callgrind on a free port, waits until it listens (and, with LINES, until its log collectors
# have read that many lines), zeroes the counts, scrapes /metrics SCRAPES times one after the
# other and prints the instructions the whole process executed per scrape (gather, serialise,
# HTTP and the gate's relay): a measure that, unlike CPU time, other load on the machine does
# not change.
callgrind_per_scrape() {
  local binary=$1 config=$2 scrapes=$3 lines=${4:-} port pid out
  port=$(free_port)
  out="$work/callgrind.$port"
  valgrind --tool=callgrind --compress-strings=no --callgrind-out-file="$out" "$binary" --config.file="$config" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn >"$out.log" 2>&1 &
  pid=$!
  pids+=($pid)
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  if [[ -n $lines ]]; then
    for _ in $(seq 600); do
      (($(sum_metric "http://127.0.0.1:$port/metrics" sidecar_exporter_log_lines_read_total) >= lines)) && break
      sleep 0.2
    done
  fi
  curl -sf "http://127.0.0.1:$port/metrics" >/dev/null  # everything a scrape loads is loaded
  callgrind_control -z "$pid" >/dev/null 2>&1
  for _ in $(seq "$scrapes"); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; done
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  # The dump made by -d is the first one numbered (the last is written at exit).
  awk -v n="$scrapes" '/^totals:/ {printf "%d", $2 / n; exit}' "$out.1"
}
