#!/usr/bin/env bash
# Builds the container image from ./Dockerfile without a Docker engine and without any registry,
# then runs the image's binary and checks that /metrics and /healthz answer.
#
#   tests/deploy/image_test.sh SOURCE_DIR WORK_DIR
#
# How the image is built:
#   1. debootstrap --variant=minbase bookworm makes a root filesystem from the Debian mirror this
#      machine's apt uses (/etc/apt/sources.list and sources.list.d); the same apt sources are
#      written into it so that `apt-get install` works inside the build. The root filesystem is
#      cached as a tarball in WORK_DIR/cache, keyed by mirror and sources, so reruns skip it.
#   2. `buildah from scratch` + copy + `buildah commit` import it twice, as debian:bookworm and,
#      with documentation and apt lists stripped, debian:bookworm-slim: the names the Dockerfile
#      uses.
#   3. `buildah bud --isolation chroot --storage-driver vfs --pull=never --layers` builds the
#      Dockerfile. Storage lives in WORK_DIR/cache/containers; the package stages (build-deps,
#      runtime-deps) stay tagged there as the layer cache, everything else dangling is pruned at
#      the end (DEPLOY_IMAGE_CLEAN=1 deletes the whole storage); working containers are removed.
#   4. The image is run with `buildah run` as its USER, on 127.0.0.1 and an ephemeral port.
#   5. tests/deploy/nginx/Dockerfile, the main container of the pod tests (pod_test.sh, which
#      runs the images with podman from the same storage), is built on the same base.
#
# Needs root (debootstrap, buildah's chroot isolation), buildah, debootstrap, curl, jq, python3:
# scripts/deploy-deps.sh installs them.
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
for tool in buildah debootstrap curl jq python3; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/deploy-deps.sh"
done

mkdir -p "$cache"
runroot=$(mktemp -d "$work/runroot.XXXXXX")
tmp=$(mktemp -d "$work/tmp.XXXXXX")
bh=(buildah --root "$cache/containers/storage" --runroot "$runroot" --storage-driver vfs)
export BUILDAH_ISOLATION=chroot
containers=()
exporter_pid=

cleanup() {
  local rc=$?
  if [[ -n $exporter_pid ]] && kill -0 "$exporter_pid" 2>/dev/null; then
    kill -TERM "$exporter_pid" 2>/dev/null || true
    wait "$exporter_pid" 2>/dev/null || true
  fi
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
key=$( (echo "v1 $suite minbase $mirror"; cat "$sources_out") | sha256sum | cut -c1-16)
rootfs_tar=$cache/rootfs-$suite-minbase-$key.tar
if [[ ! -f $rootfs_tar ]]; then
  log "debootstrap --variant=minbase $suite from $mirror (cold cache)"
  rootfs=$tmp/rootfs
  if ! debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
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
  log "debootstrap done, cached as $(basename "$rootfs_tar")"
else
  log "base rootfs from cache: $(basename "$rootfs_tar")"
fi

# --- 3. import as debian:bookworm and debian:bookworm-slim -------------------------------------
import_base() {  # name, slim(0|1)
  local name=$1 slim=$2 have c mnt
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
  if [[ $slim == 1 ]]; then
    # What Debian's -slim images leave out: documentation, manuals, translations.
    rm -rf "$mnt"/usr/share/doc/* "$mnt"/usr/share/man/* "$mnt"/usr/share/info/* \
      "$mnt"/usr/share/locale/* "$mnt"/usr/share/lintian
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
      >"$mnt/etc/dpkg/dpkg.cfg.d/90sidecar-slim"
  fi
  "${bh[@]}" umount "$c" >/dev/null
  "${bh[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --label "io.sidecar-exporter.base-key=$key" "$c"
  "${bh[@]}" commit --quiet --rm "$c" "$name" >/dev/null
  containers=("${containers[@]/$c/}")
}
import_base localhost/debian:bookworm 0
import_base localhost/debian:bookworm-slim 1

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
      -f "$file" -t "$tag" "$@" "$context" >"$tmp/bud.log" 2>&1; then
    tail -n 40 "$tmp/bud.log" >&2
    fail "buildah bud -t $tag $* failed"
  fi
}
# The package stages are tagged so that pruning dangling images at the end keeps them: the next
# run reuses them and only compiles.
bud localhost/sidecar-exporter-cache:build-deps --target build-deps
bud localhost/sidecar-exporter-cache:runtime-deps --target runtime-deps
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
log "image built in $((SECONDS - t_build))s"
# The main container for tests/deploy/pod_test.sh: Debian's nginx on the same base, non-root.
bud_file "$src/tests/deploy/nginx/Dockerfile" "$src/tests/deploy/nginx" "$nginx_image"
log "nginx image for the pod tests built"

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
if chroot "$mnt" ldd /usr/local/bin/sidecar-exporter | grep -q 'not found'; then
  chroot "$mnt" ldd /usr/local/bin/sidecar-exporter >&2
  fail "shared libraries missing in the runtime image"
fi
for unwanted in usr/bin/g++ usr/bin/cmake usr/include/prometheus; do
  [[ ! -e $mnt/$unwanted ]] || fail "build tool /$unwanted leaked into the runtime image"
done
log "runtime image has every shared library the binary links, and no build tools"

# --- 6. run it --------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A status collector pointed at a port nobody listens on: the exporter must still serve, with
# nginx_up 0. The file lives in the container's /tmp.
cat >"$mnt/tmp/image-test.yaml" <<EOF
global:
  timeout: 2s
collectors:
  - type: nginx_status
    name: nginx
    url: http://127.0.0.1:9/stub_status
EOF
chmod 0644 "$mnt/tmp/image-test.yaml"
log "running the image's entrypoint as $user on 127.0.0.1:$port"
"${bh[@]}" run --isolation chroot --user "$user" "$c" -- \
  /usr/local/bin/sidecar-exporter --config.file=/tmp/image-test.yaml \
  --web.listen-address="127.0.0.1:$port" >"$tmp/exporter.log" 2>&1 &
exporter_pid=$!

ok=0
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then ok=1; break; fi
  kill -0 "$exporter_pid" 2>/dev/null || break
  sleep 0.1
done
if ((ok == 0)); then
  cat "$tmp/exporter.log" >&2
  fail "/healthz did not answer within 10 s"
fi
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

image_size=$("${bh[@]}" images --format '{{.Size}}' "$image" | head -n 1)
log "image $image: $image_size in storage, root filesystem $((rootfs_size / 1024 / 1024)) MiB"
log "PASS in $((SECONDS - t_start))s"
