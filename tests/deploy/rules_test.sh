#!/usr/bin/env bash
# Extracts spec.groups of k8s/monitoring/prometheusrule.yaml into a plain Prometheus rules file,
# then runs `promtool check rules` on it and `promtool test rules` on tests/deploy/rules_test.yaml
# (a firing and a not-firing case per alert, recording rules checked by value).
#
#   tests/deploy/rules_test.sh SOURCE_DIR NODE_DIR
set -euo pipefail
src=$(cd "${1:?usage: rules_test.sh SOURCE_DIR NODE_DIR}" && pwd)
node_dir=$(cd "${2:?usage: rules_test.sh SOURCE_DIR NODE_DIR}" && pwd)
command -v promtool >/dev/null || { echo "promtool not found: run scripts/deploy-deps.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

node "$src/tests/deploy/extract_rules.mjs" "$node_dir" \
  "$src/k8s/monitoring/prometheusrule.yaml" >"$tmp/sidecar-exporter.rules.yaml"
cp "$src/tests/deploy/rules_test.yaml" "$tmp/"
promtool check rules "$tmp/sidecar-exporter.rules.yaml"
promtool test rules "$tmp/rules_test.yaml"

# Every alert of the PrometheusRule has a unit test.
missing=0
for a in $(grep -oP '^\s*- alert: \K\S+' "$src/k8s/monitoring/prometheusrule.yaml"); do
  if ! grep -q "alertname: $a\$" "$tmp/rules_test.yaml"; then
    echo "FAIL: alert $a has no test in tests/deploy/rules_test.yaml" >&2
    missing=1
  fi
done
exit "$missing"
