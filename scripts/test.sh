#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, end-to-end (real nginx,
# promtool), deploy artefacts (manifests, rules, dashboards against a real Prometheus, the
# container image), a short fuzzing run of the parsers, then the unit and end-to-end tests again
# in an ASan+UBSan build. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
scripts/install-deps.sh
if [[ -x scripts/deploy-deps.sh ]]; then scripts/deploy-deps.sh "$build_dir/deploy-node"; fi

scripts/build.sh
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900

# Garbage from the main container must never crash us: log lines in every format, stub_status
# pages and config files through clang's libFuzzer with ASan+UBSan, briefly.
tests/fuzz/run.sh "${FUZZ_SECONDS:-15}"

# The same code under AddressSanitizer and UndefinedBehaviorSanitizer: the end-to-end tests then
# run the sanitised exporter binary against real nginx.
BUILD_DIR="$build_dir-asan" BUILD_TYPE=Debug scripts/build.sh -DSIDECAR_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$build_dir-asan" --output-on-failure -j2 --timeout 900 -L 'unit|e2e'
