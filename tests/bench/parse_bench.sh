#!/usr/bin/env bash
# Benchmark (not a test) of the access-log parsers alone: builds tests/bench/parse_bench.cc in a
# Release tree (build-bench), makes a 1M-line file from 100 copies of the real Apache log
# and runs parse + RequestMetrics::Observe on one core for the compiled combined formats and a
# user RE2 with five named groups, printing lines/s. Targets: >= 2M lines/s compiled formats,
# >= 500k lines/s for the RE2.
#   tests/bench/parse_bench.sh [copies]
set -euo pipefail
cd "$(dirname "$0")/../.."
copies=${1:-100}
data=tests/data/apache_combined_10k.log

source scripts/lib.sh
build_bench parse_bench
start_session sidecar-parsebench
taskset -c 0 build-bench/tests/parse_bench "$data" "$work/bench.log" "$copies"
