#!/usr/bin/env bash
# Benchmark (not a test): sidecar-exporter against nginx-prometheus-exporter, the exporter users
# would pick instead, watching the same real nginx in the same run. wrk drives each /metrics
# endpoint in turn with the same load; the script prints scrapes/s, CPU per scrape and resident
# memory (idle and after the load with CONNECTIONS concurrent scrapers) of each, and the ratios
# to nginx-prometheus-exporter.
# Two builds of ours: the native one (Debian's shared libraries, what development uses) and,
# when `ctest -R deploy/image` has built the container image, the image's entrypoint binary
# (static HTTP-only libcurl, no OpenSSL; see Dockerfile), run from the image's root filesystem
# by the image's dynamic loader with the image's libraries only.
# Targets (issue 12), for the image's binary: idle RSS <= 6 MB and <= 0.6x, loaded RSS <= 0.6x,
# CPU per scrape <= 0.5x nginx-prometheus-exporter's; the image <= 30 MB compressed.
# Options (environment): DURATION in seconds with an "s" (default 10s), CONNECTIONS (default 16),
# THREADS (default 2), DEPLOY_CACHE_DIR (the image test's storage, default
# build/deploy-image/cache).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
threads=${THREADS:-2}
image_cache=${DEPLOY_CACHE_DIR:-build/deploy-image/cache}
image=localhost/sidecar-exporter:deploy-test
image_name="sidecar-exporter (image)"
peer=nginx-prometheus-exporter

source scripts/lib.sh
build_bench sidecar-exporter
start_session sidecar-bench

start_nginx_exporters
names=(sidecar-exporter)
declare -A port=([sidecar-exporter]=$ours_port [$peer]=$theirs_port)
declare -A pid=([sidecar-exporter]=$ours_pid [$peer]=$theirs_pid)

# The image's binary, on the same nginx, from the image's root filesystem.
image_root=
image_compressed=
if command -v buildah >/dev/null && [[ -d $image_cache/containers/storage ]]; then
  bh=(buildah --root "$(cd "$image_cache" && pwd)/containers/storage" --runroot "$work/runroot"
    --storage-driver vfs)
  if container=$("${bh[@]}" from --pull=never "$image" 2>/dev/null); then
    image_root=$("${bh[@]}" mount "$container")
    trap '_end_session; "${bh[@]}" umount "$container" >/dev/null; "${bh[@]}" rm "$container" >/dev/null' EXIT
  fi
fi
if [[ -n $image_root ]]; then
  # What a registry stores and a node pulls: the root filesystem as a gzip archive.
  image_compressed=$(tar -C "$image_root" --numeric-owner -cf - . | gzip -6 | wc -c)
  port[$image_name]=$(free_port)
  "$image_root/lib64/ld-linux-x86-64.so.2" --library-path "$image_root/usr/lib/x86_64-linux-gnu" \
    "$image_root/usr/local/bin/sidecar-exporter" --config.file="$work/config.yaml" \
    --log.level=warn --web.listen-address="127.0.0.1:${port[$image_name]}" \
    >"$work/image.log" 2>&1 &
  pid[$image_name]=$!
  pids+=(${pid[$image_name]})
  names+=("$image_name")
  wait_port "${port[$image_name]}"
  curl -sf "http://127.0.0.1:${port[$image_name]}/metrics" | grep -q '^nginx_up 1'
else
  echo "scrape_bench: no image in $image_cache (ctest -R deploy/image builds it): image binary left out" >&2
fi
names+=("$peer")

sleep 1
declare -A idle anon seq cpu rps loaded
for n in "${names[@]}"; do
  idle[$n]=$(rss_kb "${pid[$n]}")
  anon[$n]=$(anon_kb "${pid[$n]}")
done

run_wrk() {  # port threads connections
  wrk -t"$2" -c"$3" -d"$duration" "http://127.0.0.1:$1/metrics" | awk '/^Requests\/sec/ {print $2}'
}
seconds=${duration%s}
for n in "${names[@]}"; do
  # One scraper at a time: the cost of a single scrape, nothing shared. CPU per scrape in us.
  t0=$(cpu_ticks "${pid[$n]}")
  seq[$n]=$(run_wrk "${port[$n]}" 1 1)
  cpu[$n]=$(bc -l <<<"($(cpu_ticks "${pid[$n]}") - $t0) * 1000000 / $(getconf CLK_TCK) / (${seq[$n]} * $seconds)")
  # Concurrent scrapers: concurrent scrapes share one collection here.
  rps[$n]=$(run_wrk "${port[$n]}" "$threads" "$connections")
  loaded[$n]=$(rss_kb "${pid[$n]}")
done

mb() { bc -l <<<"$1/1024"; }
echo
echo "scrape benchmark: same nginx, wrk for $duration per run, $(nproc) cores"
printf '%-26s %14s %12s %16s %10s %10s %12s\n' exporter "scrapes/s c=1" "CPU/scrape" \
  "scrapes/s c=$connections" "idle RSS" "idle anon" "loaded RSS"
for n in "${names[@]}"; do
  printf '%-26s %14.0f %10.0fus %16.0f %8.1fMB %8.1fMB %10.1fMB\n' "$n" "${seq[$n]}" "${cpu[$n]}" \
    "${rps[$n]}" "$(mb "${idle[$n]}")" "$(mb "${anon[$n]}")" "$(mb "${loaded[$n]}")"
done
for n in "${names[@]}"; do
  [[ $n == "$peer" ]] && continue
  printf 'ratio %s / %s: scrapes/s %.2fx at c=1, %.2fx at c=%s; CPU per scrape %.2fx; idle RSS %.2fx, idle anon %.2fx, loaded RSS %.2fx\n' \
    "$n" "$peer" "$(bc -l <<<"${seq[$n]}/${seq[$peer]}")" "$(bc -l <<<"${rps[$n]}/${rps[$peer]}")" \
    "$connections" "$(bc -l <<<"${cpu[$n]}/${cpu[$peer]}")" \
    "$(bc -l <<<"${idle[$n]}/${idle[$peer]}")" "$(bc -l <<<"${anon[$n]}/${anon[$peer]}")" \
    "$(bc -l <<<"${loaded[$n]}/${loaded[$peer]}")"
done

# The image binary against the targets.
[[ -n $image_root ]] || exit 0
verdict() { if (($(bc -l <<<"$1"))); then echo met; else echo MISSED; fi; }
n=$image_name
idle_mb=$(mb "${idle[$n]}")
idle_x=$(bc -l <<<"${idle[$n]}/${idle[$peer]}")
loaded_x=$(bc -l <<<"${loaded[$n]}/${loaded[$peer]}")
cpu_x=$(bc -l <<<"${cpu[$n]}/${cpu[$peer]}")
image_mb=$(bc -l <<<"$image_compressed/1000000")
echo
echo "targets for the image's binary (issue 12):"
printf '  idle RSS        %5.1f MB  <= 6 MB   %s\n' "$idle_mb" "$(verdict "$idle_mb <= 6")"
printf '  idle RSS        %5.2fx    <= 0.6x   %s\n' "$idle_x" "$(verdict "$idle_x <= 0.6")"
printf '  loaded RSS      %5.2fx    <= 0.6x   %s\n' "$loaded_x" "$(verdict "$loaded_x <= 0.6")"
printf '  CPU per scrape  %5.2fx    <= 0.5x   %s\n' "$cpu_x" "$(verdict "$cpu_x <= 0.5")"
printf '  image           %5.1f MB  <= 30 MB compressed   %s\n' "$image_mb" "$(verdict "$image_mb <= 30")"
