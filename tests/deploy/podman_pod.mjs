// Prepares rendered Kubernetes YAML for `podman kube play` (podman 4.3), changing one field
// only: podman 4.3 does not know native sidecars (init containers with restartPolicy: Always,
// Kubernetes >= 1.29) and would run them to completion before the main containers. Each such
// init container becomes an ordinary container, without restartPolicy. Everything else
// is passed through unchanged. Prints each conversion on stderr.
// The container goes last, as in the classic-sidecar overlay: podman gives a new emptyDir to the
// user of the first container that mounts it (it ignores fsGroup), and the main container is the
// one that writes the log volume.
//
//   node tests/deploy/podman_pod.mjs NODE_DIR <in.yaml >out.yaml
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const nodeDir = process.argv[2] && resolve(process.argv[2]);
if (!nodeDir) {
  console.error("usage: podman_pod.mjs NODE_DIR <in.yaml >out.yaml");
  process.exit(2);
}
const YAML = createRequire(join(nodeDir, "node_modules", "noop.js"))("yaml");

const docs = YAML.parseAllDocuments(readFileSync(0, "utf8"));
const out = [];
for (const doc of docs) {
  if (doc.errors.length) {
    console.error(`podman_pod: YAML error: ${doc.errors.join("; ")}`);
    process.exit(1);
  }
  const obj = doc.toJS();
  if (!obj) continue;
  const spec = obj.kind === "Pod" ? obj.spec : obj.spec?.template?.spec;
  const native = (spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  if (native.length) {
    spec.initContainers = spec.initContainers.filter((c) => !native.includes(c));
    if (!spec.initContainers.length) delete spec.initContainers;
    for (const c of native) {
      delete c.restartPolicy;
      console.error(`podman_pod: ${obj.kind}/${obj.metadata.name}: native sidecar ${c.name} ` +
        "(init container, restartPolicy: Always) played as an ordinary container");
    }
    spec.containers = [...spec.containers, ...native];
  }
  out.push(YAML.stringify(obj));
}
process.stdout.write(out.join("---\n"));
