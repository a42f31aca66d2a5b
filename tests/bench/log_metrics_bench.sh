#!/usr/bin/env bash
# Benchmark (not a test): the same jobs over nginx's error log through mtail (from Debian) and
# through sidecar-exporter's type: log_metrics, in one run, on the same 1M-line file made of
# copies of a real nginx error log (tests/data/nginx_error.log, written by nginx made to fail in
# tests/e2e/log_metrics_e2e_test.cc). Each pattern alone, then the three together:
#   level     the line's level, captured by the regex format (mtail: a named group)
#   timeouts  `match: 'upstream timed out'`, a plain string
#   connect   `match: 'connect\(\) (?:to \S+ )?failed .*while connecting to upstream'`
#   all       the three in one job
# mtail's program and our YAML are written from the same regular expressions. Both run pinned
# to one core. For each job it prints lines/s by the wall clock (from process start until every
# line is counted: mtail -one_shot exits, ours is scraped every 10 ms) and by CPU time (lines
# per second of the process's user + system time, i.e. what one core does however busy the
# machine is), the ratios, peak memory, and checks that both counted the same.
# Options (environment): LINES (default 1000000), JOBS (default "level timeouts connect all"),
# ROUNDS (default 1; with more, each figure is the median of the rounds), BUILD_DIR (an existing
# build to use as is instead of configuring build-bench for Release), CALLGRIND_LINES (default 0,
# which skips it): lines read under valgrind's callgrind to count the instructions per line of
# each job, a figure that the load of the machine does not change, BEFORE (another
# sidecar-exporter binary, such as one built from an older commit, whose instructions per line
# are counted too and printed as "before").
set -euo pipefail
cd "$(dirname "$0")/../.."
want=${LINES:-1000000}
jobs=${JOBS:-level timeouts connect all}
rounds=${ROUNDS:-1}
callgrind_lines=${CALLGRIND_LINES:-0}
data=tests/data/nginx_error.log

source scripts/lib.sh
if [[ -n ${BUILD_DIR:-} ]]; then
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target sidecar-exporter >/dev/null
else
  build_bench sidecar-exporter
fi
binary=${BUILD_DIR:-build-bench}/sidecar-exporter
start_session sidecar-errorbench

sample=$(wc -l <"$data")
copies=$(((want + sample - 1) / sample))
# One awk, not one cat per copy: the sample has 8 lines, so 1M lines are 125,000 copies.
awk -v n="$copies" '{line[NR] = $0} END {for (i = 0; i < n; i++) for (j = 1; j <= NR; j++) print line[j]}' \
  "$data" >"$work/error.log"
lines=$(wc -l <"$work/error.log")
size_mb=$(($(stat -c %s "$work/error.log") / 1048576))
cat "$work/error.log" >/dev/null # page cache warm for both

# The patterns, in mtail's spelling ('/' escaped, which RE2 reads as '/' too).
level_re='^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(?P<level>[a-z]+)\] \d+#\d+: '
timeouts_re='upstream timed out'
connect_re='connect\(\) (?:to \S+ )?failed .*while connecting to upstream'

# write_job JOB: $work/JOB/prog.mtail and $work/JOB.yaml; sets `families`.
write_job() {
  local job=$1 parts
  parts=$job
  [[ $job == all ]] && parts="level timeouts connect"
  mkdir -p "$work/$job"
  : >"$work/$job/prog.mtail"
  local format="" metrics="" part
  families=()
  for part in $parts; do
    case $part in
      level)
        families+=(nginx_error_log_lines_total)
        printf 'counter nginx_error_log_lines_total by level\n/%s/ {\n  nginx_error_log_lines_total[$level]++\n}\n' \
          "$level_re" >>"$work/$job/prog.mtail"
        format="    format: regex
    regex: '$level_re'"
        metrics+="
      - name: nginx_error_log_lines_total
        labels: [level]"
        ;;
      timeouts | connect)
        local name=nginx_error_log_upstream_timeouts_total re=$timeouts_re
        [[ $part == connect ]] && name=nginx_error_log_upstream_connect_failures_total re=$connect_re
        families+=("$name")
        printf 'counter %s\n/%s/ {\n  %s++\n}\n' "$name" "$re" "$name" >>"$work/$job/prog.mtail"
        metrics+="
      - name: $name
        match: '$re'"
        ;;
    esac
  done
  cat >"$work/$job.yaml" <<CONF
collectors:
  - type: log_metrics
    name: bench
    paths: ['$work/error.log']
    from_beginning: true
$format
    metrics:$metrics
CONF
}

# cpu_seconds PID: user + system time of every thread of PID so far, from the scheduler's
# nanosecond count (the 10 ms ticks of /proc/PID/stat are coarse for a run of 0.2 s).
cpu_seconds() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.4f", s / 1e9}'; }

# median VALUES...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }

# callgrind_per_line BINARY JOB: the instructions BINARY executes per line of JOB (the whole
# process: reading, splitting, the format, the metrics, and the scrapes that watch it), under
# callgrind. It starts on an empty log, its counts are zeroed once it listens, then
# CALLGRIND_LINES lines are appended and counted until it has read them all.
callgrind_per_line() {
  local binary=$1 job=$2 port pid out log="$work/callgrind.log" counted=0
  : >"$log"
  sed "s|$work/error.log|$log|" "$work/$job.yaml" >"$work/callgrind.yaml"
  port=$(free_port)
  out="$work/callgrind.$port"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$binary" \
    --config.file="$work/callgrind.yaml" --web.listen-address="127.0.0.1:$port" \
    --log.level=warn >"$out.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  callgrind_control -z "$pid" >/dev/null 2>&1
  head -n "$callgrind_lines" "$work/error.log" >>"$log"
  # Every half second: the scrapes are counted too, and must stay a small part.
  for _ in $(seq 1200); do
    counted=$(sum_metric "http://127.0.0.1:$port/metrics" sidecar_exporter_log_lines_read_total)
    ((counted >= callgrind_lines)) && break
    sleep 0.5
  done
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  if ((counted != callgrind_lines)); then
    echo "MISMATCH under callgrind in $job: read $counted of $callgrind_lines lines" >&2
    return 1
  fi
  # The dump made by -d is the first one numbered (the last is written at exit).
  awk -v n="$callgrind_lines" '/^totals:/ {printf "%d", $2 / n; exit}' "$out.1"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
declare -A result instructions instructions_before
for job in $jobs; do
  write_job "$job"
  ours_wall=() ours_cpu=() mtail_wall=() mtail_cpu=()
  for ((round = 0; round < rounds; round++)); do
    # mtail, one-shot: reads the file to its end, prints the metrics, exits.
    start=$(now)
    /usr/bin/time -f '%U %S %M' -o "$work/mtail.time" taskset -c 0 mtail -one_shot \
      -one_shot_format=prometheus -logs "$work/error.log" -progs "$work/$job" \
      -logtostderr >"$work/mtail.prom" 2>"$work/mtail.err"
    mtail_wall+=("$(bc -l <<<"$(now) - $start")")
    read -r user sys mtail_kb <"$work/mtail.time"
    mtail_cpu+=("$(bc -l <<<"$user + $sys")")

    # sidecar-exporter: tails the file from its beginning; timed until every line is counted.
    time_log_reading "$work/$job.yaml" "$lines" "$binary"
    curl -s "http://127.0.0.1:$port/metrics" >"$work/ours.prom"
    ours_wall+=("$ours_seconds")
    ours_cpu+=("$(cpu_seconds "$ours_pid")")
    kill "$ours_pid"
    wait "$ours_pid" 2>/dev/null || true

    for family in "${families[@]}"; do
      ours=$(sum_family "$family" <"$work/ours.prom")
      theirs=$(sum_family "$family" <"$work/mtail.prom")
      if ((ours != theirs || ours == 0)); then
        echo "MISMATCH in $job: $family ours $ours, mtail $theirs" >&2
        status=1
      fi
    done
    if ((ours_read != lines)); then
      echo "MISMATCH in $job: read $ours_read of $lines lines" >&2
      status=1
    fi
  done
  result[$job]="$(median "${ours_wall[@]}") $(median "${ours_cpu[@]}") $(median "${mtail_wall[@]}") $(median "${mtail_cpu[@]}") $ours_rss $mtail_kb"
  if ((callgrind_lines > 0)); then
    instructions[$job]=$(callgrind_per_line "$binary" "$job")
    [[ -z ${BEFORE:-} ]] || instructions_before[$job]=$(callgrind_per_line "$BEFORE" "$job")
  fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "error-log benchmark: $lines lines ($size_mb MiB, nginx error log), one core each, $rounds round(s)"
printf '%-9s %13s %13s %7s %13s %13s %7s %17s\n' job "ours wall/s" "mtail wall/s" ratio \
  "ours cpu/s" "mtail cpu/s" ratio "peak RSS ours/mtail"
for job in $jobs; do
  read -r ow oc mw mc orss mrss <<<"${result[$job]}"
  printf '%-9s %13.0f %13.0f %6.1fx %13.0f %13.0f %6.1fx %8.1f/%.1f MB\n' "$job" \
    "$(bc -l <<<"$lines / $ow")" "$(bc -l <<<"$lines / $mw")" "$(bc -l <<<"$mw / $ow")" \
    "$(bc -l <<<"$lines / $oc")" "$(bc -l <<<"$lines / $mc")" "$(bc -l <<<"$mc / $oc")" \
    "$(bc -l <<<"$orss / 1024")" "$(bc -l <<<"$mrss / 1024")"
done
echo "wall: lines / seconds from process start until done; cpu: lines / (user + system) seconds."
if ((callgrind_lines > 0)); then
  echo
  echo "instructions per line (callgrind, whole process, $callgrind_lines lines):"
  for job in $jobs; do
    printf '%-9s %7d' "$job" "${instructions[$job]}"
    [[ -z ${BEFORE:-} ]] || printf '   before %7d' "${instructions_before[$job]}"
    echo
  done
fi
((status == 0)) && echo "counts: equal in every job"
exit "$status"
