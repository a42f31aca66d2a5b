#!/usr/bin/env bash
# Installs, from Debian's archive, whatever the build, the demo and the tests need and the
# machine lacks, plus any packages named as arguments. Idempotent: packages already present are
# not touched. Works as root, or through sudo otherwise.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang-format
  prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev libre2-dev libyaml-cpp-dev
  libsimdjson-dev zlib1g-dev catch2 libssl-dev libcrypt-dev ccache
  # real peers for the demo, the tests and the benchmarks
  nginx prometheus prometheus-nginx-exporter prometheus-process-exporter mtail wrk curl procps bc
  python3 redis-server prometheus-blackbox-exporter openssl apache2-utils
  apache2 prometheus-apache-exporter php8.2-fpm prometheus-node-exporter
  prometheus-exporter-exporter python3-prometheus-client tinyproxy
  # a real browser for the status page test (headless)
  chromium
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  [[ -z $p ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# Package maintainer scripts would start system services (nginx, prometheus); the demo and tests
# start their own on ephemeral ports, so keep the system ones from being launched.
policy=/usr/sbin/policy-rc.d
had_policy=0
[[ -e $policy ]] && had_policy=1
if ((had_policy == 0)); then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod +x "$policy"
fi
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
if ((had_policy == 0)); then "${sudo_cmd[@]}" rm -f "$policy"; fi
