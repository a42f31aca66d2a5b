#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, end-to-end (real nginx,
# promtool), deploy artefacts (manifests, rules, dashboards against a real Prometheus, the
# container image), a short fuzzing run of the parsers, then the unit and end-to-end tests again
# with an ASan+UBSan build of the exporter, and once more with a ThreadSanitizer build
# (SIDECAR_TSAN=0 leaves that out).
# Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}

# A sanitised unit_tests binary run as two processes, each given half of the test cases (Catch2's
# --input-file): through ctest, every one of the ~230 test cases would pay the sanitiser's start-up
# in a process of its own, more than the tests take. A failure prints that half's whole output.
run_unit_tests_in_two_processes() {
  local binary=$1 dir half status=0
  dir=$(mktemp -d)
  # Catch2 v2 exits with the number of test cases listed.
  "$binary" --list-test-names-only | sed '/^$/d' >"$dir/all" || true
  [[ -s $dir/all ]] || { echo "FAILED: $binary lists no test cases" >&2; return 1; }
  # Names as test specs: commas, brackets, wildcards and quotes escaped, or they select others.
  sed 's/[][\\,*~"]/\\&/g' "$dir/all" | awk 'NR % 2 == 1' >"$dir/names-0"
  sed 's/[][\\,*~"]/\\&/g' "$dir/all" | awk 'NR % 2 == 0' >"$dir/names-1"
  for half in 0 1; do
    timeout 900 "$binary" --input-file "$dir/names-$half" >"$dir/log-$half" 2>&1 &
    echo $! >"$dir/pid-$half"
  done
  for half in 0 1; do
    if wait "$(cat "$dir/pid-$half")"; then
      tail -n 2 "$dir/log-$half"
    else
      cat "$dir/log-$half"
      echo "FAILED: $binary, half $half of $(wc -l <"$dir/all") test cases" >&2
      status=1
    fi
  done
  rm -rf "$dir"
  return "$status"
}

scripts/install-deps.sh
if [[ -x scripts/deploy-deps.sh ]]; then scripts/deploy-deps.sh "$build_dir/deploy-node"; fi

# Debug info as line tables only: backtraces and sanitizer reports keep their file:line, and the
# three builds below compile about a third faster than with full -g (no variables for gdb).
line_tables="-O2 -g1 -DNDEBUG"
# Through ccache: the image test (tests/deploy/image_test.sh) builds the Dockerfile with this cache
# mounted, and its build stage compiles the same sources with the same compiler and flags, so it
# reuses these objects instead of compiling the exporter once more (about 5 minutes on 2 cores).
# Paths are hashed relative to the source folder, the compiler by its content (the image's is
# another copy of the same Debian package); ccache also hashes the locale variables, which the
# image build does not set.
export CCACHE_DIR=${CCACHE_DIR:-$PWD/$build_dir/ccache} CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1 \
  CCACHE_COMPILERCHECK=content
env -u LANG -u LC_ALL -u LC_CTYPE -u LC_MESSAGES \
  scripts/build.sh -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$line_tables" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache

# The sanitised builds used after the tests below compile meanwhile, in the background at the
# lowest CPU priority: the tests mostly wait on servers and timers, so the builds take the CPU
# they leave idle without slowing them down. One clang build with ASan+UBSan gives both the
# fuzzers and a sanitised exporter with its unit tests; ThreadSanitizer (GCC's) needs its own.
asan_dir=$build_dir-asan
tsan_dir=$build_dir-tsan
# SIDECAR_TSAN=0 leaves ThreadSanitizer out (its build and runs take about 6 minutes on 2 cores).
tsan=1
[[ ${SIDECAR_TSAN:-1} == 0 ]] && tsan=0
# One background job builds ASan first, then TSan, and records the ASan build's exit status when
# it ends: the fuzzers and the ASan runs start on it while the TSan build goes on.
sanitizer_logs=$(mktemp -d)
(
  export FUZZ_BUILD_DIR="$asan_dir" FUZZ_ALSO_BUILD="sidecar-exporter unit_tests"
  status=0
  nice -n 19 tests/fuzz/run.sh --build-only >"$sanitizer_logs/asan" 2>&1 || status=$?
  echo "$status" >"$sanitizer_logs/asan.status"
  [[ $status == 0 ]] || exit "$status"
  if [[ $tsan == 1 ]]; then
    BUILD_DIR="$tsan_dir" BUILD_TARGETS="sidecar-exporter unit_tests" nice -n 19 \
      scripts/build.sh -DSIDECAR_SANITIZE=thread -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$line_tables" \
      >"$sanitizer_logs/tsan" 2>&1
  fi
) &
sanitizer_builds=$!
# A failing test stops this script: the builds behind it are stopped too, compilers and all.
kill_tree() {
  local child
  for child in $(pgrep -P "$1"); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
trap 'kill_tree "$sanitizer_builds"' EXIT

ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900

while [[ ! -s $sanitizer_logs/asan.status ]] && kill -0 "$sanitizer_builds" 2>/dev/null; do
  sleep 1
done
if [[ $(cat "$sanitizer_logs/asan.status" 2>/dev/null) != 0 ]]; then
  tail -n 60 "$sanitizer_logs/asan"
  echo "FAILED: the ASan+UBSan build of $asan_dir (its output above)" >&2
  exit 1
fi

# Garbage from the main container must never crash us: log lines in every format, stub_status
# pages, config files... through clang's libFuzzer, briefly (built above).
FUZZ_BUILD_DIR="$asan_dir" FUZZ_ALSO_BUILD="sidecar-exporter unit_tests" \
  tests/fuzz/run.sh "${FUZZ_SECONDS:-10}"

# The sanitised code, run: the unit tests built with it, then the end-to-end tests of the ordinary
# build driving the sanitised exporter binary against the real peers (SIDECAR_EXPORTER_BIN), so
# those tests are not compiled a second time. A finding aborts the process, failing its test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_unit_tests_in_two_processes "$asan_dir/tests/unit_tests"
SIDECAR_EXPORTER_BIN="$(realpath "$asan_dir")/sidecar-exporter" SIDECAR_EXPORTER_SANITIZER=address \
  ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900 -L e2e
unset ASAN_OPTIONS UBSAN_OPTIONS

# Data races: the same two runs under ThreadSanitizer (GCC's; it cannot share a
# build with ASan). A race makes the process exit at once (halt_on_error), so its test fails.
if [[ $tsan == 1 ]]; then
  if ! wait "$sanitizer_builds"; then
    tail -n 60 "$sanitizer_logs/tsan"
    echo "FAILED: the ThreadSanitizer build of $tsan_dir (its output above)" >&2
    exit 1
  fi
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
  run_unit_tests_in_two_processes "$tsan_dir/tests/unit_tests"
  SIDECAR_EXPORTER_BIN="$(realpath "$tsan_dir")/sidecar-exporter" SIDECAR_EXPORTER_SANITIZER=thread \
    ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900 -L e2e
fi
