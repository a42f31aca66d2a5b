#!/bin/sh
# Builds and runs the access-log parse benchmark against the libraries of an existing build dir.
#
#   tests/bench/parse_bench.sh [build dir] [copies]
#
# The build dir must have built sidecar_collectors (any target that depends on it will do),
# preferably with -DCMAKE_BUILD_TYPE=Release. The 1M-line files (about 230 MiB each) go to $TMPDIR
# and are removed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build-formats}
copies=${2:-100}
data=${SIDECAR_SHARED_DATA_DIR:-$repo/../shared/data}
tmp=${TMPDIR:-/tmp}

[ -f "$build/libsidecar_collectors.a" ] || {
  echo "no $build/libsidecar_collectors.a: cmake --build $build --target sidecar_collectors" >&2
  exit 1
}

${CXX:-g++} -std=c++20 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$repo" \
  "$here/parse_bench.cc" "$build/libsidecar_collectors.a" \
  $(pkg-config --libs re2) -lsimdjson -lprometheus-cpp-core -lpthread \
  -o "$tmp/parse_bench.$$"
trap 'rm -f "$tmp/parse_bench.$$" "$tmp/parse_bench.$$.log" "$tmp/parse_bench.$$.log.timed"' EXIT
# One core, as in the target.
taskset -c 0 "$tmp/parse_bench.$$" "$data/apache_combined_10k.log" "$tmp/parse_bench.$$.log" \
  "$copies"
