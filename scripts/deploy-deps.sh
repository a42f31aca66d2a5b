#!/usr/bin/env bash
# Installs what the deploy tests (tests/deploy, ctest label `deploy`) need, from Debian's archive
# and the npm registry only; nothing is downloaded from anywhere else.
#
#   scripts/deploy-deps.sh [NODE_DIR]
#
# Debian packages: buildah and debootstrap (daemonless image build from a base made from Debian's
# archive), podman, runc and catatonit (the pod test plays the manifests' pods), prometheus
# (promtool and the server for the dashboard test), nginx and curl (real peer and traffic), jq.
# npm packages (tests/deploy/package.json, exact versions) go into NODE_DIR,
# default build/deploy-node, never into the system. kubectl (for `kubectl kustomize`) is taken
# from the machine when present; otherwise Debian's kubernetes-client (1.20) is installed: the
# kustomizations use only fields its bundled kustomize understands, except the components of
# k8s/components, which need kubectl >= 1.21 (the manifest test says SKIP for them there).
#
# Idempotent: installed packages are not touched, and npm runs only when package.json changed.
# Works as root, or through sudo otherwise.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
node_dir=${1:-${DEPLOY_NODE_DIR:-$repo/build/deploy-node}}

packages=(buildah podman runc catatonit debootstrap prometheus nginx curl jq nodejs npm ca-certificates)
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
# node and npm may come from elsewhere than Debian (a newer build); use them if they run.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  packages=("${packages[@]/nodejs/}")
  packages=("${packages[@]/npm/}")
fi
"$repo/scripts/install-deps.sh" "${packages[@]}"

# npm packages, local to the build tree. No lock file is written: versions are exact in
# package.json, and a lock file would only add download addresses to the tree.
mkdir -p "$node_dir"
manifest=$repo/tests/deploy/package.json
stamp=$node_dir/.deploy-deps.sha256
want=$(sha256sum "$manifest" | cut -d' ' -f1)
if [[ ! -d $node_dir/node_modules || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "deploy-deps: npm install into $node_dir" >&2
  cp "$manifest" "$node_dir/package.json"
  (cd "$node_dir" && npm install --no-audit --no-fund --no-package-lock --omit=dev \
     --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
fi
echo "deploy-deps: ok (node modules in $node_dir)" >&2
