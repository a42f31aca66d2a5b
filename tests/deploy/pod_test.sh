#!/usr/bin/env bash
# Runs the manifests' pods for real with podman (`podman kube play`): the exporter image and an
# nginx image built by tests/deploy/image_test.sh (same Debian base), in one pod with a shared
# network namespace, ConfigMaps and an emptyDir. Played: k8s/pod-with-sidecar.yaml, the rendered
# k8s/overlays/classic-sidecar, and the rendered component sample (a user's Deployment with
# k8s/components/sidecar-exporter added; podman plays Pods and Deployments, so the sample's
# StatefulSet is only rendered and validated, by manifests_test.mjs). Then, from the host through
# the pods' published ports:
#   - traffic to nginx; /metrics shows its exact access-log counts, read over the emptyDir, and
#     nginx_up 1 from stub_status over the pod's localhost;
#   - /healthz and /readyz answer 200; the status page lists both collectors;
#   - each container runs as its non-root uid/gid, with a read-only root filesystem where the
#     manifest asks for one (read from the processes' /proc entries, not from podman's view);
#   - stopping nginx's container turns nginx_up to 0 while /readyz stays 200;
#   - stopping the pod stops the exporter with exit code 0 within its grace period, and
#     `podman kube down` removes it.
#
#   tests/deploy/pod_test.sh SOURCE_DIR IMAGE_WORK_DIR NODE_DIR
#
# IMAGE_WORK_DIR is image_test.sh's WORK_DIR: its container storage holds the images.
# What podman 4.3 does differently from a kubelet, and therefore what this does not check:
#   - native sidecars (init containers with restartPolicy: Always) are unknown to it: that one
#     field is converted (tests/deploy/podman_pod.mjs: the container becomes the first ordinary
#     one), so start and stop order are not checked; nothing else in the manifests is changed;
#   - fsGroup is ignored; podman hands a new emptyDir to the user of the first container that
#     mounts it instead: the pod is created, then nginx is started before the exporter;
#   - probes become podman healthchecks run by systemd timers, absent here: not exercised;
#   - images: the manifests' names (sidecar-exporter:0.1.0, nginxinc/nginx-unprivileged:1.27)
#     are tagged locally onto the images built here; nothing is pulled.
#
# Needs root, podman, runc and catatonit (scripts/deploy-deps.sh). Run through ctest:
# -R deploy/pod (deploy/image runs first). POD_TEST_KEEP=1 keeps the events log and rendered
# manifests in IMAGE_WORK_DIR/pod.*.
set -euo pipefail

usage="usage: pod_test.sh SOURCE_DIR IMAGE_WORK_DIR NODE_DIR"
src=$(cd "${1:?$usage}" && pwd)
image_work=$(cd "${2:?$usage}" && pwd)
node_dir=$(cd "${3:?$usage}" && pwd)
cache=${DEPLOY_CACHE_DIR:-$image_work/cache}
exporter_image=localhost/sidecar-exporter:deploy-test
nginx_image=localhost/sidecar-exporter-test-nginx:deploy-test
t_start=$SECONDS

log() { printf 'pod_test: [%4ds] %s\n' $((SECONDS - t_start)) "$*" >&2; }
fail() {
  log "FAIL: $*"
  dump_logs
  exit 1
}

[[ $(id -u) -eq 0 ]] || { log "FAIL: needs root (rootful podman with runc)"; exit 1; }
for tool in podman runc curl jq node kubectl; do
  command -v "$tool" >/dev/null || { log "FAIL: $tool not found: run scripts/deploy-deps.sh"; exit 1; }
done
[[ -d $cache/containers/storage ]] || { log "FAIL: no image storage in $cache: run deploy/image first"; exit 1; }

# The image storage is image_test.sh's. Podman keeps its database next to it and insists on the
# same run-time directories each time: they live in the cache too (pods, containers and volumes
# are removed at the end). crun cannot use this machine's hybrid cgroup layout, and setting
# rlimits is not permitted here: runc, cgroupfs, no default ulimits.
tmp=$(mktemp -d "$image_work/pod.XXXXXX")
state=$cache/podman
# Podman refuses a runroot longer than 50 characters (its sockets live there), and a checkout's
# build tree can be deeper than that: the runroot is under /run, named after the cache so that
# each cache keeps its own, the same one on every run.
runroot=/run/sidecar-exporter-pod-test-$(printf '%s' "$cache" | sha256sum | cut -c1-12)
mkdir -p "$state/cni" "$state/tmp" "$state/volumes" "$runroot"
# Podman's database records the directories it was first run with and refuses others. All it
# holds of a run (pods, containers, volumes) is removed at the run's end, so a database left by a
# cache with another runroot is dropped rather than refused.
rm -f "$cache/containers/storage/libpod/bolt_state.db"
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$tmp/events.log"
runtime = "runc"
tmp_dir = "$state/tmp"
volume_path = "$state/volumes"
[network]
network_config_dir = "$state/cni"
EOF
# No registry: short names resolve to the local images only.
printf 'unqualified-search-registries = []\nshort-name-mode = "permissive"\n' >"$tmp/registries.conf"
export CONTAINERS_CONF=$tmp/containers.conf CONTAINERS_REGISTRIES_CONF=$tmp/registries.conf
pm=(podman --root "$cache/containers/storage" --runroot "$runroot" --storage-driver vfs)
played=()

dump_logs() {
  local c
  for c in $("${pm[@]}" ps -a --format '{{.Names}}' 2>/dev/null); do
    printf -- '--- podman logs %s\n' "$c" >&2
    "${pm[@]}" logs --tail 30 "$c" >&2 2>&1 || true
  done
}

cleanup() {
  local rc=$? f
  for f in "${played[@]}"; do "${pm[@]}" kube down "$f" >/dev/null 2>&1 || true; done
  "${pm[@]}" pod rm --all --force >/dev/null 2>&1 || true
  "${pm[@]}" volume prune --force >/dev/null 2>&1 || true
  "${pm[@]}" rmi localhost/sidecar-exporter:0.1.0 localhost/nginxinc/nginx-unprivileged:1.27 \
    >/dev/null 2>&1 || true
  [[ -n ${POD_TEST_KEEP:-} ]] || rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

for image in "$exporter_image" "$nginx_image"; do
  "${pm[@]}" image exists "$image" || fail "$image not in $cache: run deploy/image first"
done
"${pm[@]}" tag "$exporter_image" localhost/sidecar-exporter:0.1.0
"${pm[@]}" tag "$nginx_image" localhost/nginxinc/nginx-unprivileged:1.27
log "images: $exporter_image as sidecar-exporter:0.1.0, $nginx_image (Debian's nginx, uid 101) as nginxinc/nginx-unprivileged:1.27"

# --- helpers ----------------------------------------------------------------------------------
get() {  # URL -> body on stdout; fails on non-2xx
  curl -fsS --max-time 5 "$1"
}
status_of() {  # URL -> HTTP status code
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true
}
# The value of the series NAME{LABELS} (labels given exactly as the exposition prints them).
sample() {  # METRICS_FILE 'name{labels}'
  awk -v s="$2" '$1 == s { print $2; found=1 } END { if (!found) print "absent" }' "$1"
}
container_pid() { "${pm[@]}" inspect --format '{{.State.Pid}}' "$1"; }
# Where a container port of the pod answers on the host: its published port on 127.0.0.1, or,
# when podman published none, the pod's address on podman's bridge.
address_of() {  # POD CONTAINER_PORT
  local infra mapping ip
  infra=$("${pm[@]}" pod inspect --format '{{.InfraContainerID}}' "$1")
  mapping=$("${pm[@]}" port "$infra" "$2/tcp" 2>/dev/null | head -n 1 || true)
  if [[ -n $mapping ]]; then
    echo "127.0.0.1:${mapping##*:}"
    return
  fi
  ip=$("${pm[@]}" inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$infra")
  [[ -n $ip ]] || fail "pod $1: port $2 neither published nor reachable on a bridge address"
  echo "$ip:$2"
}
wait_for() {  # SECONDS DESCRIPTION COMMAND...: retries COMMAND every 0.2 s
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail "$what: not within ${limit}s"
}
# uid and gid of a process as the kernel sees them, and whether its root is mounted read-only.
check_process() {  # CONTAINER UID GID READ_ONLY(0|1)
  local pid uid gid root_opts
  pid=$(container_pid "$1")
  [[ $pid -gt 0 ]] || fail "$1 is not running"
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
  gid=$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")
  [[ $uid == "$2" && $gid == "$3" ]] || fail "$1 runs as $uid:$gid, manifest says $2:$3"
  root_opts=$(awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | tail -n 1)
  if [[ $4 == 1 ]]; then
    [[ ,$root_opts, == *,ro,* ]] || fail "$1: root filesystem mounted '$root_opts', not read-only"
  fi
  log "$1: pid $pid runs as $uid:$gid, root filesystem $root_opts"
}

# play_and_check WHAT YAML POD MAIN EXPORTER MAIN_PORT STUB_COLLECTOR LOG_COLLECTOR MAIN_RO
#   MAIN_UID: plays YAML, checks the pod POD (containers MAIN and EXPORTER, as podman names
#   them), then takes it down.
play_and_check() {
  local what=$1 yaml=$2 pod=$3 main=$4 exporter=$5 main_port=$6 stub=$7 access=$8 main_ro=$9
  local main_uid=${10} web metrics m t0 died rc elapsed grace
  log "$what: podman kube play"
  local out
  # Created first, then started nginx before the exporter: podman ignores fsGroup and hands a new
  # emptyDir to the user of the container that mounts it first, which must be the writer.
  if ! out=$("${pm[@]}" kube play --start=false "$yaml" 2>&1); then
    printf '%s\n' "$out" >&2
    fail "$what: podman kube play failed"
  fi
  played+=("$yaml")
  "${pm[@]}" start "$main" >/dev/null 2>"$tmp/start.log" || { cat "$tmp/start.log" >&2; fail "$what: $main does not start"; }
  "${pm[@]}" start "$exporter" >/dev/null 2>"$tmp/start.log" || { cat "$tmp/start.log" >&2; fail "$what: $exporter does not start"; }
  web=$(address_of "$pod" "$main_port")
  metrics=$(address_of "$pod" 10113)
  log "$what: nginx on $web, exporter on $metrics"
  wait_for 20 "$what: exporter's /readyz" get "http://$metrics/readyz"
  wait_for 20 "$what: nginx" get "http://$web/"

  # Traffic: 5 HEAD / (200), 3 PUT / (405), 2 DELETE of a missing page (405), methods nothing
  # else sends: the published ports are the host's 8080 and 10113, where stray clients (a kubectl
  # looking for an API server on localhost:8080) may add GETs. nginx logs each request to the
  # emptyDir; the exporter reads it there.
  local i
  for i in 1 2 3 4 5; do [[ $(curl -s -o /dev/null -w '%{http_code}' -I "http://$web/") == 200 ]] || fail "$what: HEAD / not 200"; done
  for i in 1 2 3; do [[ $(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://$web/") == 405 ]] || fail "$what: PUT / not 405"; done
  for i in 1 2; do [[ $(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://$web/missing") == 405 ]] || fail "$what: DELETE not 405"; done
  m=$tmp/metrics.txt
  count() { sample "$m" "accesslog_http_requests_total{collector=\"$access\",method=\"$1\",status=\"$2\"}"; }
  want() {
    get "http://$metrics/metrics" >"$m" && [[ $(count HEAD 200) == 5 && $(count PUT 405) == 3 && $(count DELETE 405) == 2 ]]
  }
  if ! wait_for_quiet 10 want; then
    grep -E '^(accesslog_http_requests_total|sidecar_exporter_log_)' "$m" >&2 || true
    fail "$what: access-log counts over the emptyDir are not exactly 5 HEAD 200, 3 PUT 405, 2 DELETE 405"
  fi
  # Every line read was counted once: the requests series add up to the lines read.
  local file lines total
  file=$(log_file_of "$m" "$access")
  lines=$(sample "$m" "sidecar_exporter_log_lines_read_total{collector=\"$access\",file=\"$file\"}")
  total=$(awk '/^accesslog_http_requests_total\{/ { n += $2 } END { print n + 0 }' "$m")
  [[ $lines == "$total" && $(count GET 200) -ge 1 ]] ||
    fail "$what: $lines lines read, $total requests counted (our readiness GET included)"
  [[ $(sample "$m" "sidecar_exporter_log_parse_errors_total{collector=\"$access\",file=\"$file\"}") == 0 ]] ||
    fail "$what: parse errors in the access log"
  [[ $(sample "$m" nginx_up) == 1 ]] || fail "$what: nginx_up is $(sample "$m" nginx_up), want 1 (stub_status over the pod's localhost)"
  log "$what: /metrics: exactly 5 HEAD 200, 3 PUT 405, 2 DELETE 405 from $file on the shared emptyDir, $lines lines in all; nginx_up 1"

  [[ $(status_of "http://$metrics/healthz") == 200 ]] || fail "$what: /healthz not 200"
  [[ $(status_of "http://$metrics/readyz") == 200 ]] || fail "$what: /readyz not 200"
  local page
  page=$(get "http://$metrics/")
  for c in "$stub" "$access"; do
    grep -qF "<tr><td>$c</td>" <<<"$page" || fail "$what: status page does not list collector $c"
  done
  log "$what: /healthz 200, /readyz 200, status page lists $stub and $access"

  check_process "$exporter" 65532 65532 1
  check_process "$main" "$main_uid" "$main_uid" "$main_ro"

  # nginx goes away: the exporter reports it and stays ready (a pod is Ready only when all its
  # containers are).
  "${pm[@]}" stop --time 10 "$main" >/dev/null
  get "http://$metrics/metrics" >"$m"
  [[ $(sample "$m" nginx_up) == 0 ]] || fail "$what: nginx_up is $(sample "$m" nginx_up) with nginx stopped"
  [[ $(status_of "http://$metrics/readyz") == 200 ]] || fail "$what: /readyz not 200 with nginx stopped"
  [[ $(status_of "http://$metrics/healthz") == 200 ]] || fail "$what: /healthz not 200 with nginx stopped"
  log "$what: nginx stopped: nginx_up 0, /readyz and /healthz still 200"

  # Shutdown: SIGTERM, then SIGKILL after the grace period. podman 4.3's `kube down` sends
  # SIGKILL at once (containers/podman#22397, fixed in 5.1), so the pod is stopped first with
  # `podman pod stop`, which honours each container's stop timeout as a kubelet would
  # terminationGracePeriodSeconds; then `kube down` removes it.
  grace=$("${pm[@]}" inspect --format '{{.Config.StopTimeout}}' "$exporter")
  t0=$(date +%s.%N)
  "${pm[@]}" pod stop "$pod" >/dev/null || fail "$what: podman pod stop failed"
  elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  "${pm[@]}" kube down "$yaml" >/dev/null || fail "$what: podman kube down failed"
  played=("${played[@]/$yaml/}")
  died=$(jq -c --arg n "$exporter" 'select(.Name == $n and .Status == "died")' "$tmp/events.log" | tail -n 1)
  [[ -n $died ]] || fail "$what: no 'died' event for $exporter"
  rc=$(jq -r '.ContainerExitCode // 0' <<<"$died")
  [[ $rc == 0 ]] || fail "$what: the exporter exited with $rc on SIGTERM, want 0"
  awk -v e="$elapsed" -v g="$grace" 'BEGIN { exit !(e < g) }' ||
    fail "$what: stopping took ${elapsed}s, beyond the grace period of ${grace}s"
  log "$what: pod stopped in ${elapsed}s (stop timeout ${grace}s): exporter exited 0; kube down removed it"
}
wait_for_quiet() {  # SECONDS COMMAND...: like wait_for, but returns 1 instead of failing
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}
log_file_of() {  # METRICS_FILE COLLECTOR -> the file label of its lines-read series
  sed -n "s/^sidecar_exporter_log_lines_read_total{collector=\"$2\",file=\"\\([^\"]*\\)\"}.*/\\1/p" "$1" | head -n 1
}

# --- the manifests ----------------------------------------------------------------------------
convert() {  # IN OUT: native sidecars become ordinary containers (podman 4.3), nothing else
  node "$src/tests/deploy/podman_pod.mjs" "$node_dir" <"$1" >"$2" 2> >(sed 's/^/pod_test: /' >&2)
}

convert "$src/k8s/pod-with-sidecar.yaml" "$tmp/pod-with-sidecar.yaml"
play_and_check "pod-with-sidecar.yaml" "$tmp/pod-with-sidecar.yaml" web web-nginx \
  web-sidecar-exporter 8080 nginx nginx_access 1 101

render() {  # KUSTOMIZATION OUT
  kubectl kustomize "$1" >"$2" 2>"$tmp/kustomize.log" || { cat "$tmp/kustomize.log" >&2; fail "kubectl kustomize $1"; }
}
# A Deployment plays as one pod named <deployment>-pod-0.
render "$src/k8s/overlays/classic-sidecar" "$tmp/classic.rendered.yaml"
convert "$tmp/classic.rendered.yaml" "$tmp/classic.yaml"
play_and_check "overlays/classic-sidecar" "$tmp/classic.yaml" web-pod-0 web-pod-0-nginx \
  web-pod-0-sidecar-exporter 8080 nginx nginx_access 1 101

# A user's Deployment with k8s/components/sidecar-exporter added: their nginx on 8081, logging
# to /var/log/shop, root filesystem writable (not ours to harden).
render "$src/tests/deploy/component-sample/native" "$tmp/component.rendered.yaml"
convert "$tmp/component.rendered.yaml" "$tmp/component.yaml"
play_and_check "component on the shop Deployment" "$tmp/component.yaml" shop-pod-0 \
  shop-pod-0-storefront shop-pod-0-sidecar-exporter 8081 shop shop_access 0 101

log "PASS in $((SECONDS - t_start))s"
