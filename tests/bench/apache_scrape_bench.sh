#!/usr/bin/env bash
# Benchmark (not a test): sidecar-exporter's apache_status against prometheus-apache-exporter,
# the exporter users would pick instead, watching the same real Apache (event MPM, mod_status,
# started from a config in a temp dir) in the same run. wrk drives each /metrics endpoint in turn
# with the same load; the script prints scrapes/s with one and with CONNECTIONS scrapers, CPU per
# scrape of each exporter, and the ratios. Targets: >= 2x its scrapes/s at 16 connections, <= half
# its CPU per scrape.
# Options (environment): DURATION in seconds with an "s" (default 10s), CONNECTIONS (default 16),
# THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
threads=${THREADS:-2}

source scripts/lib.sh
build_bench sidecar-exporter
start_session sidecar-apache-bench
chmod 755 "$work"  # Apache's children run as nobody when we are root

apache2=$(PATH=$PATH:/usr/sbin:/sbin command -v apache2)
modules=$(dirname "$(dirname "$apache2")")/lib/apache2/modules
apache_port=$(free_port)
user=
if [[ $(id -u) -eq 0 ]]; then user=$'User nobody\nGroup nogroup'; fi
mkdir -p "$work/htdocs" "$work/logs"
cat >"$work/httpd.conf" <<CONF
ServerRoot $work
PidFile $work/httpd.pid
DefaultRuntimeDir $work
Mutex file:$work
ErrorLog $work/logs/error.log
$user
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule status_module $modules/mod_status.so
Listen 127.0.0.1:$apache_port
ServerName 127.0.0.1
DocumentRoot $work/htdocs
<Location /server-status>
  SetHandler server-status
</Location>
CONF
# Its own session: Apache's parent signals its whole process group when it stops.
setsid "$apache2" -f "$work/httpd.conf" -DFOREGROUND &
pids+=($!)
wait_port "$apache_port"
scrape_uri="http://127.0.0.1:$apache_port/server-status?auto"

ours_port=$(free_port)
printf 'collectors:\n  - {type: apache_status, name: apache, url: "%s"}\n' "$scrape_uri" >"$work/config.yaml"
build-bench/sidecar-exporter --config.file="$work/config.yaml" \
  --web.listen-address="127.0.0.1:$ours_port" --log.level=warn &
ours_pid=$!
pids+=($ours_pid)

theirs_port=$(free_port)
prometheus-apache-exporter --scrape_uri="$scrape_uri" \
  --telemetry.address="127.0.0.1:$theirs_port" >"$work/theirs.log" 2>&1 &
theirs_pid=$!
pids+=($theirs_pid)
wait_port "$ours_port"
wait_port "$theirs_port"

curl -sf "http://127.0.0.1:$ours_port/metrics" | grep -q '^apache_up 1'
curl -sf "http://127.0.0.1:$theirs_port/metrics" | grep -q '^apache_up 1'

run_wrk() {  # port threads connections
  wrk -t"$2" -c"$3" -d"$duration" "http://127.0.0.1:$1/metrics" | awk '/^Requests\/sec/ {print $2}'
}
seconds=${duration%s}
# CPU per scrape (us) of the exporter process alone, measured over a whole run.
measure() {  # pid port threads connections -> "scrapes/s cpu_us"
  local t0 rps
  t0=$(cpu_ticks "$1")
  rps=$(run_wrk "$2" "$3" "$4")
  echo "$rps $(bc -l <<<"($(cpu_ticks "$1") - $t0) * 1000000 / $(getconf CLK_TCK) / ($rps * $seconds)")"
}
read -r theirs_seq theirs_cpu < <(measure $theirs_pid "$theirs_port" 1 1)
read -r ours_seq ours_cpu < <(measure $ours_pid "$ours_port" 1 1)
read -r theirs_rps theirs_cpu_c < <(measure $theirs_pid "$theirs_port" "$threads" "$connections")
read -r ours_rps ours_cpu_c < <(measure $ours_pid "$ours_port" "$threads" "$connections")

echo
echo "Apache scrape benchmark: same Apache $("$apache2" -v | awk -F/ '/version/ {print $2}'), wrk for $duration per run, $(nproc) cores"
printf '%-28s %14s %12s %16s %14s\n' exporter "scrapes/s c=1" "CPU/scrape" \
  "scrapes/s c=$connections" "CPU/scrape c=$connections"
printf '%-28s %14.0f %10.0fus %16.0f %12.0fus\n' sidecar-exporter "$ours_seq" "$ours_cpu" \
  "$ours_rps" "$ours_cpu_c"
printf '%-28s %14.0f %10.0fus %16.0f %12.0fus\n' prometheus-apache-exporter "$theirs_seq" \
  "$theirs_cpu" "$theirs_rps" "$theirs_cpu_c"
printf 'ratio (ours / theirs): scrapes/s %.2fx at c=1, %.2fx at c=%s; CPU per scrape %.2fx at c=1, %.2fx at c=%s\n' \
  "$(bc -l <<<"$ours_seq/$theirs_seq")" "$(bc -l <<<"$ours_rps/$theirs_rps")" "$connections" \
  "$(bc -l <<<"$ours_cpu/$theirs_cpu")" "$(bc -l <<<"$ours_cpu_c/$theirs_cpu_c")" "$connections"
