#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, end-to-end (real nginx,
# promtool) and deploy artefacts. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [[ -x scripts/deploy-deps.sh ]]; then scripts/deploy-deps.sh "${BUILD_DIR:-build}/deploy-node"; fi
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 --timeout 900
