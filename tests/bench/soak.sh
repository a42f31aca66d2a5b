#!/usr/bin/env bash
# Soak benchmark (not a test): sidecar-exporter and mtail (the peer, from Debian) tail the same
# access log for SOAK_SECONDS (default 600) while a writer appends 20k lines/s, the log is
# rotated by rename every 30 s (the writer reopens, as nginx does on USR1), /metrics is scraped
# 20 times a second and the exporter's config is reloaded (SIGHUP) every minute. Prints RSS, open
# fds and threads of both over time, then checks: the exporter's RSS grew by less than 1 MB after
# the warm-up (the first 60 s), and it counted exactly the lines written.
# Options (environment): SOAK_SECONDS (60 to 3600), SOAK_RATE (lines/s, default 20000).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${SOAK_SECONDS:-600}
rate=${SOAK_RATE:-20000}
if ((seconds < 60 || seconds > 3600)); then
  echo "SOAK_SECONDS must be within 60..3600" >&2
  exit 2
fi

source scripts/lib.sh
build_bench sidecar-exporter
start_session sidecar-soak
log=$work/access.log
touch "$log"

write_config() {  # $1: 0 or 1, an extra collector that comes and goes with each reload
  cat >"$work/config.yaml" <<CONF
collectors:
  - type: access_log
    name: soak
    paths: ['$log']
    log_format: '$access_log_format'
    from_beginning: true
    position_file: '$work/positions'
CONF
  if (($1)); then
    printf "  - {type: access_log, name: other, paths: ['%s/other.log']}\n" "$work" >>"$work/config.yaml"
  fi
}
write_config 0

start_exporter_and_mtail "$work/config.yaml" "$log" "$work/mtail.log"
port=$ours_port ours=$ours_pid peer=$mtail_pid

# The writer: 20k lines/s in batches every 10 ms, rotating by rename every 30 s; prints the total.
python3 - "$log" "$rate" "$seconds" >"$work/written" <<'PY' &
import os, sys, time
log, rate, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
batch = max(1, rate // 100)
start = time.monotonic()
next_tick, next_rotation, generation, written = start, start + 30, 0, 0
out = open(log, "a")
while time.monotonic() - start < seconds:
    out.write("".join('10.0.0.%d - - [10/Oct/2023:13:55:36 +0000] "GET /item/%d HTTP/1.1" %d 612 "-" "soak" 0.%03d\n'
                      % (n % 250, n, 200 if n % 10 else 404, n % 997) for n in range(written, written + batch)))
    out.flush()
    written += batch
    if time.monotonic() >= next_rotation:
        generation += 1
        os.rename(log, "%s.%d" % (log, generation))
        out.close()
        out = open(log, "a")
        next_rotation += 30
    next_tick += 0.01
    time.sleep(max(0, next_tick - time.monotonic()))
print(written)
PY
writer=$!
pids+=($writer)

# Scraper: 20/s.
(while :; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" || true; sleep 0.05; done) &
pids+=($!)

sample() {  # pid → "rss_kb fds threads"
  printf '%s %s %s' "$(rss_kb "$1")" \
    "$(ls "/proc/$1/fd" | wc -l)" "$(awk '/^Threads/ {print $2}' "/proc/$1/status")"
}
printf '%6s | %-28s | %-28s | %s\n' "" "sidecar-exporter" "mtail" ""
printf '%6s | %9s %6s %8s | %9s %6s %8s | %s\n' seconds "RSS KiB" fds threads "RSS KiB" fds threads \
  "lines counted"
warm_rss=
start=$(date +%s)
reload=0
for ((t = 0; t <= seconds; t += 10)); do
  sleep $((t == 0 ? 0 : 10))
  if ((t > 0 && t % 60 == 0)); then
    reload=$((1 - reload))
    write_config "$reload"
    kill -HUP "$ours"
  fi
  read -r rss fds threads <<<"$(sample "$ours")"
  read -r peer_rss peer_fds peer_threads <<<"$(sample "$peer")"
  ((t == 60)) && warm_rss=$rss
  if ((t % 30 == 0)); then
    printf '%6d | %9d %6d %8d | %9d %6d %8d | %d\n' "$t" "$rss" "$fds" "$threads" "$peer_rss" \
      "$peer_fds" "$peer_threads" "$(sum_metric "http://127.0.0.1:$port/metrics" accesslog_http_requests_total)"
  fi
done
wait "$writer"
written=$(cat "$work/written")
counted=0
for _ in $(seq 100); do
  counted=$(sum_metric "http://127.0.0.1:$port/metrics" accesslog_http_requests_total)
  ((counted >= written)) && break
  sleep 0.1
done
peer_counted=$(sum_metric "http://127.0.0.1:$mtail_port/metrics" accesslog_http_requests_total)
read -r rss fds threads <<<"$(sample "$ours")"
growth=$((rss - warm_rss))
echo
echo "written $written lines in $seconds s; counted: sidecar-exporter $counted, mtail $peer_counted"
echo "sidecar-exporter RSS after warm-up: $warm_rss KiB -> $rss KiB (growth $growth KiB)"
status=0
if ((counted != written)); then
  echo "MISMATCH: sidecar-exporter counted $counted of $written lines" >&2
  status=1
fi
if ((growth >= 1024)); then
  echo "RSS grew by $growth KiB after warm-up (limit 1024)" >&2
  status=1
fi
exit $status
