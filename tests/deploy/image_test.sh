#!/usr/bin/env bash
# Builds the container image from ./Dockerfile without a Docker engine and without any registry,
# then runs it: /metrics and /healthz, its footprint, and TLS both ways through its second binary.
#
#   tests/deploy/image_test.sh SOURCE_DIR WORK_DIR
#
# How the image is built:
#   1. debootstrap --variant=minbase bookworm makes a root filesystem from the Debian mirror this
#      machine's apt uses (/etc/apt/sources.list and sources.list.d); the same apt sources are
#      written into it so that `apt-get install` works inside the build. The root filesystem is
#      cached as a tarball in WORK_DIR/cache, keyed by mirror and sources, so reruns skip it.
#      Packages this machine's apt already downloaded (its Dir::Cache::archives) are hard-linked
#      into WORK_DIR/cache/debs, which debootstrap and every `apt-get install` of the build use
#      as their package cache (mounted at /var/cache/apt/archives, outside the layers): apt checks
#      each against the mirror's hashes and downloads only what is missing or newer.
#   2. `buildah from scratch` + copy + `buildah commit` import it as debian:bookworm, the name the
#      Dockerfile builds on (and the nginx image below too).
#   3. `buildah bud --isolation chroot --storage-driver vfs --pull=never --layers` builds the
#      Dockerfile. Storage lives in WORK_DIR/cache/containers; the stage of packages and the
#      static libcurl and simdjson (build-deps) stays tagged there as the layer cache, all else
#      dangling is pruned at the end (DEPLOY_IMAGE_CLEAN=1 deletes the whole storage); working
#      containers are removed.
#   4. The image is checked (every library its two binaries load is in it, no shell or build
#      tools, at most 30 MB as a gzip archive) and run with `buildah run` as its USER, on
#      127.0.0.1 and an ephemeral port: the entrypoint with the image's default configuration
#      (issue 12's footprint: no TLS or curl library mapped, idle RSS at most 6 MB), then with
#      configurations that need TLS, which it hands to sidecar-exporter-tls: an http_probe of a
#      real nginx serving https with a self-signed certificate, and TLS on /metrics.
#   5. tests/deploy/nginx/Dockerfile, the main container of the pod tests (pod_test.sh, which
#      runs the images with podman from the same storage), is built on the same base.
#
# Needs root (debootstrap, buildah's chroot isolation), buildah, debootstrap, curl, jq, python3,
# openssl and nginx: scripts/deploy-deps.sh and scripts/install-deps.sh install them.
set -euo pipefail

src=$(cd "${1:?usage: image_test.sh SOURCE_DIR WORK_DIR}" && pwd)
work=${2:?usage: image_test.sh SOURCE_DIR WORK_DIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)
cache=${DEPLOY_CACHE_DIR:-$work/cache}
image=localhost/sidecar-exporter:deploy-test
nginx_image=localhost/sidecar-exporter-test-nginx:deploy-test
suite=bookworm
t_start=$SECONDS

log() { printf 'image_test: [%4ds] %s\n' $((SECONDS - t_start)) "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "needs root (debootstrap and buildah's chroot isolation)"
for tool in buildah debootstrap curl jq python3 openssl nginx; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/deploy-deps.sh"
done

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)  # debootstrap's --cache-dir must be absolute
runroot=$(mktemp -d "$work/runroot.XXXXXX")
tmp=$(mktemp -d "$work/tmp.XXXXXX")
bh=(buildah --root "$cache/containers/storage" --runroot "$runroot" --storage-driver vfs)
export BUILDAH_ISOLATION=chroot
containers=()
exporter_pid=
nginx_pid=

cleanup() {
  local rc=$?
  if [[ -n $exporter_pid ]] && kill -0 "$exporter_pid" 2>/dev/null; then
    kill -TERM "$exporter_pid" 2>/dev/null || true
    wait "$exporter_pid" 2>/dev/null || true
  fi
  if [[ -n $nginx_pid ]]; then kill -TERM "$nginx_pid" 2>/dev/null || true; fi
  for c in "${containers[@]}"; do
    "${bh[@]}" umount "$c" >/dev/null 2>&1 || true
    "${bh[@]}" rm "$c" >/dev/null 2>&1 || true
  done
  "${bh[@]}" rmi --prune >/dev/null 2>&1 || true
  if [[ ${DEPLOY_IMAGE_CLEAN:-0} == 1 ]]; then
    "${bh[@]}" rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$cache/containers"
  fi
  rm -rf "$runroot" "$tmp"
  exit "$rc"
}
trap cleanup EXIT

# --- 1. apt sources and mirror of this machine ------------------------------------------------
# Keeps the Debian entries (signed by Debian's archive keyring, or unsigned) for deb packages,
# from both one-line and deb822 files, so the image's apt reaches the same mirror as the host's.
sources_out=$tmp/debian.sources
: >"$sources_out"
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] || continue
  awk -v RS= -v ORS='\n\n' '
    /(^|\n)Types:[^\n]*deb([ \t]|\n|$)/ && /(^|\n)Suites:/ &&
    (!/Signed-By:/ || /debian-archive-keyring/) && !/(^|\n)Enabled: *no/' "$f" >>"$sources_out"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f $f ]] || continue
  grep -E '^[[:space:]]*deb[[:space:]]' "$f" | grep -vE 'signed-by=' |
    awk '{ if ($2 ~ /^\[/) { while ($2 !~ /\]$/) { $2=""; $0=$0; $1=$1 } $2=""; $0=$0; $1=$1 }
           uri=$2; suite=$3; comps=""; for (i=4;i<=NF;i++) comps=comps " " $i;
           printf "Types: deb\nURIs: %s\nSuites: %s\nComponents:%s\n\n", uri, suite, comps }' \
      >>"$sources_out" || true
done
# The mirror for debootstrap: the first URI of an entry whose Suites has the plain suite name.
mirror=$(awk -v RS= -v suite="$suite" '
  { uri=""; ok=0; n=split($0, l, "\n");
    for (i=1;i<=n;i++) {
      if (l[i] ~ /^URIs:/) { split(l[i], u, /[ \t]+/); uri=u[2] }
      if (l[i] ~ /^Suites:/) { m=split(l[i], s, /[ \t]+/); for (j=2;j<=m;j++) if (s[j]==suite) ok=1 }
    }
    if (ok && uri != "") { print uri; exit } }' "$sources_out")
if [[ -z $mirror ]]; then
  mirror=http://deb.debian.org/debian
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n\n' \
    "$mirror" "$suite" "$suite" >"$sources_out"
fi
log "mirror: $mirror"

# --- 2. base root filesystem (debootstrap), cached -------------------------------------------
# The package cache shared with the build: hard links to this machine's downloaded packages (same
# file system only: a copy would cost more than the download it saves).
debs=$cache/debs
mkdir -p "$debs/partial"
host_archives=
eval "$(apt-config shell host_archives Dir::Cache::archives/d 2>/dev/null)" || true
if [[ -n $host_archives && -d $host_archives ]]; then
  find "$host_archives" -maxdepth 1 -name '*.deb' -exec ln -f -t "$debs" {} + 2>/dev/null || true
fi
log "package cache: $(find "$debs" -maxdepth 1 -name '*.deb' | wc -l) packages from ${host_archives:-nowhere}"
t_phase=$SECONDS
key=$( (echo "v1 $suite minbase $mirror"; cat "$sources_out") | sha256sum | cut -c1-16)
rootfs_tar=$cache/rootfs-$suite-minbase-$key.tar
if [[ ! -f $rootfs_tar ]]; then
  log "debootstrap --variant=minbase $suite from $mirror (cold cache)"
  rootfs=$tmp/rootfs
  if ! debootstrap --variant=minbase --cache-dir="$debs" "$suite" "$rootfs" "$mirror" \
      >"$tmp/debootstrap.log" 2>&1; then
    tail -n 30 "$tmp/debootstrap.log" >&2
    fail "debootstrap failed"
  fi
  rm -f "$rootfs/etc/apt/sources.list"
  cp "$sources_out" "$rootfs/etc/apt/sources.list.d/debian.sources"
  # Like Debian's official images: no recommends, and no services started by maintainer scripts.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$rootfs/etc/apt/apt.conf.d/90sidecar-no-recommends"
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
  rm -f "$cache"/rootfs-$suite-minbase-*.tar
  tar -C "$rootfs" --numeric-owner -cf "$rootfs_tar.part" .
  mv "$rootfs_tar.part" "$rootfs_tar"
  rm -rf "$rootfs"
  log "debootstrap done in $((SECONDS - t_phase))s, cached as $(basename "$rootfs_tar")"
else
  log "base rootfs from cache: $(basename "$rootfs_tar")"
fi

# --- 3. import as debian:bookworm ---------------------------------------------------------------
t_phase=$SECONDS
import_base() {  # name
  local name=$1 have c mnt
  have=$("${bh[@]}" inspect --type image --format \
    '{{index .OCIv1.Config.Labels "io.sidecar-exporter.base-key"}}' "$name" 2>/dev/null || true)
  if [[ $have == "$key" ]]; then
    log "base image $name up to date"
    return
  fi
  log "importing base image $name"
  c=$("${bh[@]}" from --pull=never scratch)
  containers+=("$c")
  mnt=$("${bh[@]}" mount "$c")
  tar -C "$mnt" --numeric-owner -xf "$rootfs_tar"
  "${bh[@]}" umount "$c" >/dev/null
  "${bh[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --label "io.sidecar-exporter.base-key=$key" "$c"
  "${bh[@]}" commit --quiet --rm "$c" "$name" >/dev/null
  containers=("${containers[@]/$c/}")
}
import_base localhost/debian:bookworm
log "base image ready in $((SECONDS - t_phase))s"

# --- 4. build the Dockerfile ------------------------------------------------------------------
revision=$(git -C "$src" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
log "buildah bud (chroot isolation, vfs storage, --pull=never, --layers) of $src/Dockerfile"
t_build=$SECONDS
bud() {  # tag, extra args...
  bud_file "$src/Dockerfile" "$src" "$@"
}
bud_file() {  # Dockerfile, context, tag, extra args...
  local file=$1 context=$2 tag=$3
  shift 3
  if ! "${bh[@]}" bud --isolation chroot --pull=never --layers --quiet \
      --build-arg "REVISION=$revision" --build-arg BUILD_JOBS=2 \
      --volume "$debs:/var/cache/apt/archives" \
      -f "$file" -t "$tag" "$@" "$context" >"$tmp/bud.log" 2>&1; then
    tail -n 40 "$tmp/bud.log" >&2
    fail "buildah bud -t $tag $* failed"
  fi
}
# The package stages are tagged so that pruning dangling images at the end keeps them: the next
# run reuses them and only compiles.
t_phase=$SECONDS
bud localhost/sidecar-exporter-cache:build-deps --target build-deps
log "stage build-deps (packages, static libcurl and simdjson) ready in $((SECONDS - t_phase))s"
t_phase=$SECONDS
# The test build's compiler cache (CCACHE_DIR, set by scripts/test.sh), when there is one: the
# build stage compiles the same sources with the same flags and reuses its objects.
ccache_volume=()
ccache_counts() {  # hits misses so far (in scripts/test.sh nothing else compiles through it meanwhile)
  ccache --print-stats 2>/dev/null | awk '/^(direct|preprocessed)_cache_hit\t/ {h += $2}
    /^cache_miss\t/ {m += $2} END {print h + 0, m + 0}'
}
if [[ -n ${CCACHE_DIR:-} && -d $CCACHE_DIR ]] && command -v ccache >/dev/null; then
  ccache_volume=(--volume "$CCACHE_DIR:/ccache")
  read -r hits_before misses_before < <(ccache_counts)
fi
bud "$image" "${ccache_volume[@]}"
if [[ ${#ccache_volume[@]} -gt 0 ]]; then
  read -r hits misses < <(ccache_counts)
  log "compiler cache $CCACHE_DIR mounted at /ccache: $((hits - hits_before)) objects reused, $((misses - misses_before)) compiled"
fi
log "stage build (compile, link both binaries) and the image in $((SECONDS - t_phase))s"
# The main container for tests/deploy/pod_test.sh: Debian's nginx on the same base, non-root.
t_phase=$SECONDS
bud_file "$src/tests/deploy/nginx/Dockerfile" "$src/tests/deploy/nginx" "$nginx_image" \
  --build-arg DEBIAN_RUNTIME_IMAGE=localhost/debian:bookworm
log "nginx image for the pod tests built in $((SECONDS - t_phase))s; all images in $((SECONDS - t_build))s"

# --- 5. check the image's configuration -------------------------------------------------------
cfg=$("${bh[@]}" inspect --type image "$image" | jq '.OCIv1.config')
user=$(jq -r '.User' <<<"$cfg")
entrypoint=$(jq -c '.Entrypoint' <<<"$cfg")
[[ $user =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || fail "USER must be a non-root numeric uid, got '$user'"
[[ $entrypoint == '["/usr/local/bin/sidecar-exporter"]' ]] || fail "unexpected ENTRYPOINT $entrypoint"
jq -e '.ExposedPorts | has("10113/tcp")' <<<"$cfg" >/dev/null || fail "port 10113 not exposed"
for l in title version revision description; do
  jq -e --arg l "org.opencontainers.image.$l" '.Labels[$l] | length > 0' <<<"$cfg" >/dev/null ||
    fail "missing OCI label org.opencontainers.image.$l"
done
log "config ok: USER $user, ENTRYPOINT $entrypoint, EXPOSE 10113, OCI labels"

c=$("${bh[@]}" from --pull=never "$image")
containers+=("$c")
mnt=$("${bh[@]}" mount "$c")
rootfs_size=$(du -sb "$mnt" | cut -f1)
# The image has no ldd (no shell): its own dynamic loader lists what each binary loads.
for bin in sidecar-exporter sidecar-exporter-tls; do
  if ! chroot "$mnt" /lib64/ld-linux-x86-64.so.2 --list "/usr/local/bin/$bin" >"$tmp/ldd.txt" 2>&1 ||
      grep -q 'not found' "$tmp/ldd.txt"; then
    cat "$tmp/ldd.txt" >&2
    fail "shared libraries of /usr/local/bin/$bin missing in the runtime image"
  fi
  log "$bin loads $(grep -c '=>' "$tmp/ldd.txt") shared libraries"
done
for unwanted in usr/bin/g++ usr/bin/cmake usr/include/prometheus bin/sh usr/bin/apt-get; do
  [[ ! -e $mnt/$unwanted ]] || fail "/$unwanted leaked into the runtime image"
done
# What a registry stores and a node pulls: the layer as a gzip archive.
compressed=$(tar -C "$mnt" --numeric-owner -cf - . | gzip -6 | wc -c)
((compressed <= 30 * 1000 * 1000)) ||
  fail "image is $((compressed / 1000 / 1000)) MB as a gzip archive, more than 30 MB"
log "runtime image has every shared library the binaries link, no shell or build tools," \
  "$(awk -v b="$compressed" 'BEGIN { printf "%.1f", b / 1e6 }') MB compressed"

# --- 6. run it --------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The process `buildah run` started (a descendant of it) whose executable is /usr/local/bin/NAME.
process_of() {  # PID NAME
  local pid=$1 name=$2 child exe
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  if [[ $exe == */usr/local/bin/$name ]]; then
    echo "$pid"
    return 0
  fi
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    process_of "$child" "$name" && return 0
  done
  return 1
}
start_exporter() {  # BINARY ARGS...: runs it in the image as its USER, output in exporter.log
  local bin=$1
  shift
  "${bh[@]}" run --isolation chroot --user "$user" "$c" -- "/usr/local/bin/$bin" "$@" \
    --web.listen-address="127.0.0.1:$port" >"$tmp/exporter.log" 2>&1 &
  exporter_pid=$!
}
stop_exporter() {
  kill -TERM "$exporter_pid" 2>/dev/null || true
  wait "$exporter_pid" || true
  exporter_pid=
}
wait_for_url() {  # URL CURL_ARGS...: true once it answers 2xx (10 s at most)
  local url=$1 i
  shift
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; then return 0; fi
    kill -0 "$exporter_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The image's own command and configuration (k8s/base/config.yaml: nginx's status and access log,
# the log volume) with nothing else in the pod: it must serve (nginx_up 0), map no TLS or curl
# library, and stay within issue 12's idle memory bound.
log "running the image's entrypoint with its default configuration as $user on 127.0.0.1:$port"
start_exporter sidecar-exporter --config.file=/etc/sidecar-exporter/config.yaml
wait_for_url "http://127.0.0.1:$port/healthz" ||
  { cat "$tmp/exporter.log" >&2; fail "/healthz did not answer within 10 s"; }
pid=$(process_of "$exporter_pid" sidecar-exporter) || fail "no sidecar-exporter process under buildah run"
sleep 2
tls_libraries=$(awk '$6 ~ /(libssl|libcrypto|libcurl\.so|libgnutls|libnettle|libgssapi)/ {print $6}' \
  "/proc/$pid/maps" | sort -u | tr '\n' ' ')
[[ -z $tls_libraries ]] || fail "the lean binary maps $tls_libraries with no TLS configured"
idle_kb=$(rss_kb "$pid")
idle_limit_kb=$((6 * 1024))
((idle_kb <= idle_limit_kb)) ||
  fail "idle resident memory ${idle_kb} kB with the default configuration, above issue 12's 6 MB"
log "default configuration: $(awk '$6 ~ /\.so/ {print $6}' "/proc/$pid/maps" | sort -u | wc -l)" \
  "shared libraries mapped, none for TLS; idle RSS ${idle_kb} kB (bound ${idle_limit_kb} kB)"
stop_exporter

# A status collector pointed at a port nobody listens on: nginx_up 0. The file lives in the
# container's /tmp.
cat >"$mnt/tmp/image-test.yaml" <<EOF
global:
  timeout: 2s
collectors:
  - type: nginx_status
    name: nginx
    url: http://127.0.0.1:9/stub_status
EOF
chmod 0644 "$mnt/tmp/image-test.yaml"
start_exporter sidecar-exporter --config.file=/tmp/image-test.yaml
wait_for_url "http://127.0.0.1:$port/healthz" ||
  { cat "$tmp/exporter.log" >&2; fail "/healthz did not answer within 10 s"; }
curl -fsS "http://127.0.0.1:$port/metrics" >"$tmp/metrics.txt" || fail "/metrics did not answer"
for m in sidecar_exporter_build_info nginx_up; do
  grep -q "^$m" "$tmp/metrics.txt" || { head -n 40 "$tmp/metrics.txt" >&2; fail "$m missing from /metrics"; }
done
grep -qE '^nginx_up(\{[^}]*\})? 0' "$tmp/metrics.txt" || fail "nginx_up should be 0 with no nginx"
grep -qF "revision=\"$revision\"" "$tmp/metrics.txt" ||
  fail "sidecar_exporter_build_info does not carry the revision $revision the image was built from"
if command -v promtool >/dev/null; then
  # Exit 3 is lint only (nginx-prometheus-exporter's counter names lack _total); 1 is a parse error.
  rc=0
  promtool check metrics <"$tmp/metrics.txt" >&2 || rc=$?
  ((rc == 0 || rc == 3)) || fail "promtool check metrics: the exposition does not parse"
fi
log "/healthz and /metrics answer ($(grep -vc '^#' "$tmp/metrics.txt") samples)"
stop_exporter

# TLS to the main container: a real nginx on the loopback (the container shares the host's
# network) serving https with a self-signed certificate, probed with that certificate as the CA.
# The entrypoint hands the configuration to sidecar-exporter-tls and logs why.
command -v nginx >/dev/null || fail "nginx not found (scripts/install-deps.sh installs it)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$mnt/tmp/image-test.key" \
  -out "$mnt/tmp/image-test.crt" 2>/dev/null || fail "openssl could not make a test certificate"
chmod 0644 "$mnt/tmp/image-test.key" "$mnt/tmp/image-test.crt"
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $mnt/tmp/image-test.crt;
    ssl_certificate_key $mnt/tmp/image-test.key;
    location = /healthz { return 200 "ok\n"; }
  }
}
EOF
nginx -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null --cacert "$mnt/tmp/image-test.crt" \
    "https://127.0.0.1:$nginx_port/healthz" 2>/dev/null && break
  sleep 0.1
done
cat >"$mnt/tmp/image-test-https.yaml" <<EOF
collectors:
  - type: http_probe
    name: app_tls
    url: https://127.0.0.1:$nginx_port/healthz
    tls: {ca_file: /tmp/image-test.crt}
EOF
chmod 0644 "$mnt/tmp/image-test-https.yaml"
start_exporter sidecar-exporter --config.file=/tmp/image-test-https.yaml
wait_for_url "http://127.0.0.1:$port/healthz" ||
  { cat "$tmp/exporter.log" >&2; fail "the https configuration did not serve"; }
curl -fsS "http://127.0.0.1:$port/metrics" >"$tmp/metrics-https.txt" || fail "/metrics did not answer"
if ! grep -qE '^probe_success\{[^}]*\} 1$' "$tmp/metrics-https.txt" ||
    ! grep -qE '^probe_http_ssl\{[^}]*\} 1$' "$tmp/metrics-https.txt"; then
  grep '^probe_' "$tmp/metrics-https.txt" >&2 || true
  cat "$tmp/exporter.log" >&2
  fail "the https probe of nginx did not succeed"
fi
grep -q 'running sidecar-exporter-tls.*image-test-https.yaml:4:10: collectors\[0\]\.url is an https:// URL' "$tmp/exporter.log" ||
  { cat "$tmp/exporter.log" >&2; fail "the entrypoint did not log why it runs sidecar-exporter-tls"; }
pid=$(process_of "$exporter_pid" sidecar-exporter-tls) || fail "no sidecar-exporter-tls process after the re-exec"
sleep 1
log "https:// source: the entrypoint ran sidecar-exporter-tls (and logged why), whose probe of" \
  "nginx's self-signed https succeeded; RSS $(rss_kb "$pid") kB"
stop_exporter
kill -TERM "$nginx_pid" 2>/dev/null || true
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=

# TLS on /metrics (--web.config.file with tls_server_config): the entrypoint runs
# sidecar-exporter-tls, which serves /metrics over HTTPS only.
printf 'tls_server_config:\n  cert_file: /tmp/image-test.crt\n  key_file: /tmp/image-test.key\n' \
  >"$mnt/tmp/image-test-web.yml"
chmod 0644 "$mnt/tmp/image-test-web.yml"
start_exporter sidecar-exporter --config.file=/tmp/image-test.yaml \
  --web.config.file=/tmp/image-test-web.yml
wait_for_url "https://127.0.0.1:$port/metrics" --cacert "$mnt/tmp/image-test.crt" ||
  { cat "$tmp/exporter.log" >&2; fail "/metrics not served over HTTPS"; }
curl -fsS --cacert "$mnt/tmp/image-test.crt" -o "$tmp/metrics-tls.txt" "https://127.0.0.1:$port/metrics" ||
  fail "/metrics over HTTPS failed"
grep -q '^nginx_up' "$tmp/metrics-tls.txt" || fail "nginx_up missing from /metrics over HTTPS"
! curl -fsS -o /dev/null "http://127.0.0.1:$port/metrics" 2>/dev/null ||
  fail "plain HTTP answered with TLS configured"
grep -q 'running sidecar-exporter-tls.*image-test-web.yml:1:1: tls_server_config' "$tmp/exporter.log" ||
  { cat "$tmp/exporter.log" >&2; fail "the entrypoint did not log why it runs sidecar-exporter-tls"; }
pid=$(process_of "$exporter_pid" sidecar-exporter-tls) || fail "no sidecar-exporter-tls process after the re-exec"
sleep 1
log "TLS on /metrics: served by sidecar-exporter-tls over HTTPS only; RSS $(rss_kb "$pid") kB"
stop_exporter

image_size=$("${bh[@]}" images --format '{{.Size}}' "$image" | head -n 1)
log "image $image: $image_size in storage, root filesystem $((rootfs_size / 1024 / 1024)) MiB"
log "PASS in $((SECONDS - t_start))s"
