#!/usr/bin/env bash
# Benchmark (not a test): lines lost to copytruncate. A writer appends RATE lines/s (default 50k)
# to an access log while it is copytruncated ROTATIONS times (default 10) one second apart, as
# logrotate does it (shift access.log.N up, copy access.log to access.log.1, truncate access.log to
# 0); sidecar-exporter and mtail (the peer, from Debian) tail it in the same run. Two runs:
#   copy: the copy stays next to the log (logrotate's default): the exporter reads what it had
#         not read yet from the copy, so it should lose nothing;
#   none: the copy goes to another directory (logrotate's olddir): what was not read before the
#         truncation is lost, and counted in sidecar_exporter_log_truncations_without_copy_total.
# The rotation runs in the writer between two batches, so logrotate itself loses no line (bytes
# written between its copy and its truncation): every line lost is lost by the tailer.
# Prints, per run, lines written and counted by each and the loss in lines and percent.
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${RATE:-50000}
rotations=${ROTATIONS:-10}

source scripts/lib.sh
build_bench sidecar-exporter
start_session sidecar-copytruncate

run() {  # mode: copy or none
  local mode=$1 dir=$work/$1
  mkdir -p "$dir/old"
  local log=$dir/access.log
  touch "$log"
  cat >"$dir/config.yaml" <<CONF
collectors:
  - type: access_log
    name: bench
    paths: ['$log']
    log_format: '$access_log_format'
    from_beginning: true
CONF
  start_exporter_and_mtail "$dir/config.yaml" "$log" "$dir/mtail.log"
  local port=$ours_port ours=$ours_pid peer=$mtail_pid

  python3 - "$log" "$rate" "$rotations" "$mode" "$dir/old" >"$dir/written" <<'PY'
import os, shutil, sys, time
log, rate, rotations, mode, olddir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
batch = max(1, rate // 100)
start = time.monotonic()
next_tick, next_rotation, done, written = start, start + 1, 0, 0
fd = os.open(log, os.O_WRONLY | os.O_APPEND)
while done < rotations or time.monotonic() < next_rotation:
    os.write(fd, "".join('10.0.0.%d - - [10/Oct/2023:13:55:36 +0000] "GET /item/%d HTTP/1.1" %d 612 "-" "bench" 0.%03d\n'
                         % (n % 250, n, 200 if n % 10 else 404, n % 997)
                         for n in range(written, written + batch)).encode())
    written += batch
    if done < rotations and time.monotonic() >= next_rotation:
        target = os.path.dirname(log) if mode == "copy" else olddir
        base = os.path.join(target, os.path.basename(log))
        for n in range(rotations, 0, -1):
            if os.path.exists("%s.%d" % (base, n)):
                os.replace("%s.%d" % (base, n), "%s.%d" % (base, n + 1))
        shutil.copyfile(log, base + ".1")
        os.truncate(log, 0)
        done += 1
        next_rotation += 1
    next_tick += 0.01
    time.sleep(max(0, next_tick - time.monotonic()))
print(written)
PY
  local written counted peer_counted without_copy truncations
  written=$(cat "$dir/written")
  for _ in $(seq 100); do
    counted=$(sum_metric "http://127.0.0.1:$port/metrics" accesslog_http_requests_total)
    ((counted >= written)) && break
    sleep 0.1
  done
  sleep 1  # mtail polls
  peer_counted=$(sum_metric "http://127.0.0.1:$mtail_port/metrics" accesslog_http_requests_total)
  truncations=$(sum_metric "http://127.0.0.1:$port/metrics" sidecar_exporter_log_truncations_total)
  without_copy=$(sum_metric "http://127.0.0.1:$port/metrics" \
    sidecar_exporter_log_truncations_without_copy_total)
  printf '%-5s | %9d | %9d %8d %7.3f%% | %9d %8d %7.3f%% | %d / %d\n' "$mode" "$written" \
    "$counted" $((written - counted)) "$(bc -l <<<"100 * ($written - $counted) / $written")" \
    "$peer_counted" $((written - peer_counted)) \
    "$(bc -l <<<"100 * ($written - $peer_counted) / $written")" "$truncations" "$without_copy"
  kill "$ours" "$peer"
}

echo "$rotations copytruncates 1 s apart at $rate lines/s"
printf '%-5s | %9s | %-27s | %-27s | %s\n' copy written "sidecar-exporter" mtail \
  "truncations / without copy"
printf '%-5s | %9s | %9s %8s %8s | %9s %8s %8s |\n' "" "" counted lost "" counted lost ""
run copy
run none
