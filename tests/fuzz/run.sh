#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 60),
# seeded from the real Apache log in tests/data, JSON lines, a stub_status page, mod_status pages,
# FastCGI answers of PHP-FPM, the example configs, this machine's /proc files, the example web
# config, a few raw HTTP requests, a real Prometheus /metrics (tests/data/exposition), JSON
# status documents, the nginx_error preset's `match` patterns with real error-log lines (the
# match prefilter, checked against RE2), and anchored regex-format patterns with real lines (the
# format's own capture, checked against RE2).
# Crashes are left as <target>-crash-* files in the working directory and fail the script.
#   tests/fuzz/run.sh [SECONDS]
#   tests/fuzz/run.sh --build-only      (builds, fuzzes nothing: scripts/test.sh builds ahead)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
data=tests/data/apache_combined_10k.log

scripts/install-deps.sh clang libclang-rt-14-dev
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
# Each fuzz target with the folder of its seed corpus (filled below).
fuzz_targets=(log_line_fuzz:lines stub_status_fuzz:stub apache_status_fuzz:apache fastcgi_fuzz:fastcgi
  config_fuzz:config procfs_fuzz:procfs web_config_fuzz:web http_request_fuzz:requests
  probe_fuzz:probe exposition_fuzz:exposition json_fuzz:json log_metrics_fuzz:logmetrics
  regex_prefilter_fuzz:prefilter anchored_capture_fuzz:capture)
# FUZZ_ALSO_BUILD names more targets of the same sanitised build (scripts/test.sh adds the
# exporter and the unit tests): one compile of the code for both uses. Line tables are all the
# debug info crash reports need, and compile a third faster than full -g.
build_targets=()
for target in "${fuzz_targets[@]%%:*}" ${FUZZ_ALSO_BUILD:-}; do build_targets+=(--target "$target"); done
with_tests=OFF
[[ -n ${FUZZ_ALSO_BUILD:-} ]] && with_tests=ON
cmake -S . -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++ -DSIDECAR_FUZZ=ON \
  -DSIDECAR_BUILD_TESTS="$with_tests" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" "${build_targets[@]}" >/dev/null
[[ $seconds == --build-only ]] && exit 0

source scripts/lib.sh
start_session sidecar-fuzz
mkdir -p "$work/lines" "$work/stub" "$work/apache" "$work/fastcgi" "$work/config" "$work/procfs" \
  "$work/web" "$work/requests" "$work/probe" \
  "$work/exposition" "$work/json" "$work/logmetrics" "$work/prefilter" "$work/capture"
i=0
while IFS= read -r line && ((i < 200)); do
  printf '%s' "$line" >"$work/lines/apache-$i"
  i=$((i + 1))
done < <(awk 'NR % 50 == 1' "$data")
printf '{"remote_addr":"::1","request":"GET /a?b=1 HTTP/1.1","status":200,"body_bytes_sent":5,"request_time":0.01,"http_user_agent":"x\\u00e9"}' >"$work/lines/json"
printf 'Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n' >"$work/stub/nginx"
cp examples/*.yaml "$work/config/"
for file in stat status limits smaps_rollup io; do cat "/proc/self/$file" >"$work/procfs/$file" 2>/dev/null || true; done
cat /proc/stat >"$work/procfs/proc-stat"
cp tests/data/apache_status/*.txt "$work/apache/"
cp tests/data/php_fpm/* "$work/fastcgi/"
cp examples/web-config.yml "$work/web/"
printf 'tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS13\n' >"$work/web/tls"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0.5, *;q=0\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\nAuthorization: Basic YWxpY2U6cGE6c3MgdzByZA==\r\n\r\n' >"$work/requests/scrape"
printf 'HEAD /healthz?x=%%2F..%%00 HTTP/1.0\r\n\r\n' >"$work/requests/head"
printf 'POST /metrics HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc' >"$work/requests/post"
printf 'Nov 29 18:49:00 2027 GMT' >"$work/probe/openssl-time"
printf '2027-11-29 18:49:00 GMT' >"$work/probe/gnutls-time"
printf '^\\+(?P<word>\\w+)-(\\d+)$\n+PONG-12 ECHO $1 ${2} ${word} $$ $x ${' >"$work/probe/expect-send"
cp tests/data/exposition/*.prom "$work/exposition/"
printf '# TYPE requests counter\n# HELP requests Requests.\nrequests_total{code="200"} 7 # {trace_id="abc"} 1 1520879607.789\nrequests_created{code="200"} 1520430000.123\n# TYPE build info\nbuild_info{version="1.2"} 1\n# EOF\n' >"$work/exposition/openmetrics"
{ echo '$.components.*.status'; cat tests/data/json/actuator_health.json; } >"$work/json/actuator"
{ echo "\$.checks.*[*]['status']"; cat tests/data/json/health_check.json; } >"$work/json/check"

# log_metrics: the example config, then "---", then lines of a real nginx error log and logfmt.
{ cat examples/log-metrics.yaml; printf '\n---\n'; head -40 tests/data/nginx_error.log
  printf 'level=error msg="db timeout" duration=0.25 path=/api\nlevel=info msg=ok duration=1e-3\n'
} >"$work/logmetrics/log-metrics"

# The match prefilter against RE2: the nginx_error preset's patterns, each with real lines.
i=0
for pattern in 'upstream timed out' 'connect\(\) (?:to \S+ )?failed .*while connecting to upstream' \
  'worker process \d+ exited on signal' '(?i)client intended|Error'; do
  while IFS= read -r line; do
    printf '%s\n%s' "$pattern" "$line" >"$work/prefilter/$i"
    i=$((i + 1))
  done <tests/data/nginx_error.log
done

# The regex format's own capture against RE2: anchored patterns (the bench's, the nginx_error
# preset's, the README's and an access-log one), each with real lines.
head -20 "$data" >"$work/apache-head.log"
i=0
for pattern in '^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(?P<level>[a-z]+)\] \d+#\d+: ' \
  '^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>[a-z]+)\] (?P<pid>\d+)#\d+: ' \
  '^\S+ \S+ \[(?P<level>\w+)\] ' '^(?P<remote_addr>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d+) '; do
  for file in tests/data/nginx_error.log "$work/apache-head.log"; do
    while IFS= read -r line; do
      printf '%s\n%s' "$pattern" "$line" >"$work/capture/$i"
      i=$((i + 1))
    done <"$file"
  done
done

printf 'leak:libcrypto.so\n' >"$work/lsan.supp"

# One target per core at a time: each libFuzzer process is single-threaded. A finding is left in
# the working directory as <target>-crash-*, -timeout-* or -leak-* and fails the script.
fuzz_one() {
  local name=$1 corpus=$2
  # The request fuzzer's server leaves one 904-byte OpenSSL allocation (libcrypto's own state)
  # at exit, once per process and not per request: suppressed, libcrypto only.
  LSAN_OPTIONS=suppressions=$work/lsan.supp \
    "$build_dir"/tests/fuzz/"$name" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
    -artifact_prefix="./$name-" -print_final_stats=1 "$corpus" >"$work/$name.log" 2>&1 || true
  { echo "fuzzed $name for ${seconds}s"
    grep -E "^(stat::number_of_executed_units|Done|==.*ERROR|SUMMARY)" "$work/$name.log" || true
  }
}
running=0
for target in "${fuzz_targets[@]}"; do
  fuzz_one "${target%%:*}" "$work/${target##*:}" &
  if ((++running >= $(nproc))); then
    wait -n
    running=$((running - 1))
  fi
done
wait
if ls ./*-crash-* ./*-timeout-* ./*-leak-* 2>/dev/null; then
  echo "a fuzzer found a crash: the files above" >&2
  exit 1
fi
echo "no crash"
