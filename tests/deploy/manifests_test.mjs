// Renders every kustomization under k8s/ with `kubectl kustomize` and validates every object,
// rendered or standalone, offline against the Kubernetes and prometheus-operator schemas of the
// npm packages kubernetes-models and @kubernetes-models/prometheus-operator (types, required
// fields, enums, patterns; they do not reject unknown fields). Then checks what the schemas
// cannot: the sidecar's hardening and probes, native vs classic sidecar, that the monitors select
// the Service / pods and name existing ports, that the nginx and exporter configurations agree,
// and that pod-with-sidecar.yaml carries the same files as k8s/base. The components of
// k8s/components are rendered onto tests/deploy/component-sample, a user's app that is not ours:
// what they add, that the user's workloads keep everything of theirs, and that the exporter
// container is the same as k8s/base's.
//
//   node tests/deploy/manifests_test.mjs SOURCE_DIR NODE_DIR
//
// NODE_DIR is where scripts/deploy-deps.sh installed tests/deploy/package.json.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [src, nodeDir] = process.argv.slice(2).map((p) => p && resolve(p));
if (!src || !nodeDir) {
  console.error("usage: manifests_test.mjs SOURCE_DIR NODE_DIR");
  process.exit(2);
}
const modules = join(nodeDir, "node_modules");
const YAML = createRequire(join(modules, "noop.js"))("yaml");

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
}

// --- model lookup ------------------------------------------------------------------------------
async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  let file;
  if (group === "monitoring.coreos.com") {
    file = join(modules, "@kubernetes-models/prometheus-operator", group, version, `${kind}.js`);
  } else {
    file = join(modules, "kubernetes-models", group, version, `${kind}.js`);
  }
  try {
    statSync(file);
  } catch {
    return null;
  }
  const mod = await import(pathToFileURL(file).href);
  return mod[kind] ?? null;
}

async function validate(obj, where) {
  const what = `${where}: ${obj.kind}/${obj.metadata?.name}`;
  const Model = await modelFor(obj.apiVersion, obj.kind);
  check(Model !== null, `${what}: no schema for ${obj.apiVersion} ${obj.kind}`);
  if (!Model) return;
  try {
    new Model(obj).validate();
    check(true, what);
  } catch (e) {
    check(false, `${what}: ${e.message}`);
  }
}

// --- gather ------------------------------------------------------------------------------------
function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
const k8s = join(src, "k8s");
const files = walk(k8s).filter((f) => /\.ya?ml$/.test(f));
const rendered = {}; // kustomization dir (relative) -> objects
// A user's app that is not ours, with the components of k8s/components added to it.
const sample = join(src, "tests/deploy/component-sample");
const sampleKustomizations = ["workloads", "native", "classic"].map((d) => join(sample, d, "kustomization.yaml"));
const isKustomization = (f) => /kustomization\.ya?ml$/.test(f);
// Components (kind: Component) are rendered through the sample app that includes them.
const isComponent = (f) => isKustomization(f) && /^kind:\s*Component\s*$/m.test(readFileSync(f, "utf8"));
const kubectlVersion = (() => {
  try {
    return execFileSync("kubectl", ["version", "--client"], { encoding: "utf8" }).trim().replace(/\n/g, ", ");
  } catch {
    return "kubectl not runnable";
  }
})();
// Components need kustomize >= 3.7, bundled from kubectl 1.21 on; Debian's kubectl 1.20 lacks it.
const minor = Number(kubectlVersion.match(/Client Version: v?1\.(\d+)/)?.[1] ?? 0);
const knowsComponents = minor >= 21;

for (const f of [...files.filter((f) => isKustomization(f) && !isComponent(f)), ...sampleKustomizations]) {
  const dir = f.replace(/\/kustomization\.ya?ml$/, "");
  const rel = relative(src, dir);
  if (!knowsComponents && /component-sample\/(native|classic)$/.test(rel)) {
    console.log(`SKIP: kubectl kustomize ${rel}: components need kubectl >= 1.21 (${kubectlVersion})`);
    continue;
  }
  let out;
  try {
    out = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    check(true, `kubectl kustomize ${rel}`);
  } catch (e) {
    check(false, `kubectl kustomize ${rel} (${kubectlVersion}): ${e.stderr || e.message}`);
    continue;
  }
  rendered[rel] = YAML.parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
  for (const obj of rendered[rel]) await validate(obj, rel);
}

const standalone = {};
// Patches of components are fragments, checked through the rendered sample.
const isPatch = (f) => /k8s\/components\/.*\/(sidecar|pod)\.yaml$/.test(f);
for (const f of files.filter((f) => !isKustomization(f) && !isPatch(f))) {
  const rel = relative(src, f);
  const docs = YAML.parseAllDocuments(readFileSync(f, "utf8"));
  for (const d of docs) check(d.errors.length === 0, `${rel} parses as YAML: ${d.errors.join("; ")}`);
  const objs = docs.map((d) => d.toJS()).filter((o) => o && o.apiVersion && o.kind);
  standalone[rel] = objs;
  for (const obj of objs) await validate(obj, rel);
}

// --- semantic checks ---------------------------------------------------------------------------
const find = (objs, kind, name) => (objs ?? []).find((o) => o.kind === kind && (!name || o.metadata.name === name));
const podSpecOf = (o) => (o.kind === "Pod" ? o.spec : o.spec.template.spec);
const podLabelsOf = (o) => (o.kind === "Pod" ? o.metadata.labels : o.spec.template.metadata.labels);
const allContainers = (spec) => [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
const matches = (selector, labels) =>
  Object.entries(selector.matchLabels ?? {}).every(([k, v]) => (labels ?? {})[k] === v);

// The exporter container: native or classic sidecar, hardened, probes, port; the pod's
// prometheus.io/* annotations.
function checkExporter(o, where, { nativeSidecar }) {
  const spec = podSpecOf(o);
  const exporter = allContainers(spec).find((c) => c.name === "sidecar-exporter");
  check(exporter, `${where}: has a sidecar-exporter container`);
  if (!exporter) return null;
  const inInit = (spec.initContainers ?? []).includes(exporter);
  if (nativeSidecar) {
    check(inInit && exporter.restartPolicy === "Always", `${where}: exporter is a native sidecar (initContainers, restartPolicy Always)`);
  } else {
    check(!inInit && exporter.restartPolicy === undefined, `${where}: exporter is a classic sidecar (containers, no restartPolicy)`);
  }
  checkHardenedContainer(spec, exporter, `${where}: container ${exporter.name}`);
  check(exporter.securityContext?.runAsUser > 0, `${where}: exporter runs as a numeric non-root uid`);
  check(exporter.securityContext?.runAsNonRoot === true, `${where}: exporter runAsNonRoot`);
  const port = (exporter.ports ?? []).find((p) => p.name === "metrics");
  check(port?.containerPort === 10113, `${where}: exporter port 'metrics' is 10113`);
  check(exporter.livenessProbe?.httpGet?.path === "/healthz", `${where}: liveness probe on /healthz`);
  check(exporter.readinessProbe?.httpGet?.path === "/readyz", `${where}: readiness probe on /readyz`);
  check(exporter.startupProbe?.httpGet?.path === "/healthz", `${where}: startup probe on /healthz`);
  const ann = o.kind === "Pod" ? o.metadata.annotations : o.spec.template.metadata.annotations;
  check(ann?.["prometheus.io/scrape"] === "true" && ann?.["prometheus.io/port"] === "10113" && ann?.["prometheus.io/path"] === "/metrics",
    `${where}: prometheus.io/* annotations`);
  return exporter;
}

function checkHardenedContainer(spec, c, w) {
  const sc = c.securityContext ?? {};
  check(sc.runAsNonRoot === true || spec.securityContext?.runAsNonRoot === true, `${w} runAsNonRoot`);
  check(sc.readOnlyRootFilesystem === true, `${w} readOnlyRootFilesystem`);
  check(sc.allowPrivilegeEscalation === false, `${w} allowPrivilegeEscalation false`);
  check(JSON.stringify(sc.capabilities?.drop) === '["ALL"]', `${w} drops ALL capabilities`);
  check((sc.seccompProfile?.type ?? spec.securityContext?.seccompProfile?.type) === "RuntimeDefault", `${w} seccomp RuntimeDefault`);
  for (const r of ["cpu", "memory"]) {
    check(c.resources?.requests?.[r] && c.resources?.limits?.[r], `${w} ${r} request and limit`);
  }
}

// Our example pods: every container hardened, nginx and the exporter share /var/log/nginx.
function checkHardenedPod(o, where, { nativeSidecar }) {
  const spec = podSpecOf(o);
  const exporter = checkExporter(o, where, { nativeSidecar });
  if (!exporter) return;
  if (!nativeSidecar) check(!(spec.initContainers ?? []).length, `${where}: no init containers left`);
  check(spec.securityContext?.seccompProfile?.type === "RuntimeDefault", `${where}: pod seccomp RuntimeDefault`);
  check(spec.securityContext?.runAsNonRoot === true, `${where}: pod runAsNonRoot`);
  for (const c of allContainers(spec)) checkHardenedContainer(spec, c, `${where}: container ${c.name}`);
  // The log volume is shared: nginx writes it, the exporter reads it.
  const nginx = spec.containers.find((c) => c.name === "nginx");
  const logMount = (c) => (c?.volumeMounts ?? []).find((m) => m.mountPath === "/var/log/nginx");
  check(logMount(nginx) && logMount(exporter) && logMount(nginx).name === logMount(exporter).name,
    `${where}: nginx and exporter share the /var/log/nginx volume`);
  const vol = (spec.volumes ?? []).find((v) => v.name === logMount(exporter)?.name);
  check(vol?.emptyDir, `${where}: the log volume is an emptyDir`);
  check(logMount(exporter)?.readOnly === true, `${where}: exporter mounts the logs read-only`);
}

const base = rendered["k8s/base"];
const classic = rendered["k8s/overlays/classic-sidecar"];
const monitoring = rendered["k8s/monitoring"];
check(base && classic && monitoring, "k8s/base, k8s/overlays/classic-sidecar and k8s/monitoring render");
const deployment = find(base, "Deployment");
const service = find(base, "Service");
if (deployment) checkHardenedPod(deployment, "k8s/base Deployment", { nativeSidecar: true });
const classicDeployment = find(classic, "Deployment");
if (classicDeployment) checkHardenedPod(classicDeployment, "classic-sidecar Deployment", { nativeSidecar: false });
const processNs = find(rendered["k8s/overlays/process-namespace"], "Deployment");
check(processNs, "k8s/overlays/process-namespace renders a Deployment");
if (processNs) {
  checkHardenedPod(processNs, "process-namespace Deployment", { nativeSidecar: true });
  check(podSpecOf(processNs).shareProcessNamespace === true, "process-namespace: shareProcessNamespace is true");
  const cm = find(rendered["k8s/overlays/process-namespace"], "ConfigMap");
  const names = (rendered["k8s/overlays/process-namespace"] ?? []).filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name);
  const exporterCm = (rendered["k8s/overlays/process-namespace"] ?? []).find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("sidecar-exporter-config"));
  const mounted = podSpecOf(processNs).volumes.find((v) => v.name === "exporter-config")?.configMap?.name;
  check(cm && exporterCm && mounted === exporterCm.metadata.name, `process-namespace: the exporter mounts its generated ConfigMap (${names.join(", ")})`);
  const conf = YAML.parse(exporterCm?.data?.["config.yaml"] ?? "{}");
  const baseConf = YAML.parse(readFileSync(join(k8s, "base/config.yaml"), "utf8"));
  check(JSON.stringify(conf.collectors?.slice(0, baseConf.collectors.length)) === JSON.stringify(baseConf.collectors),
    "process-namespace: config.yaml holds k8s/base/config.yaml's collectors");
  check(conf.collectors?.some((c) => c.type === "process" && c.match?.comm === "nginx"), "process-namespace: a process collector matches nginx");
}
// The Apache and nginx + php-fpm overlays: every container hardened, the exporter a native
// sidecar; Apache's log, and php-fpm's socket, on emptyDirs the sidecar mounts (the log
// read-only; the socket read-write, as connecting to a Unix socket needs write permission).
function sharedVolume(o, where, containerName, mountPath, { exporterReadOnly }) {
  const spec = podSpecOf(o);
  const mountIn = (name) =>
    (allContainers(spec).find((c) => c.name === name)?.volumeMounts ?? []).find((m) => m.mountPath === mountPath);
  const app = mountIn(containerName);
  const exporter = mountIn("sidecar-exporter");
  check(app && exporter && app.name === exporter.name, `${where}: ${containerName} and the exporter share ${mountPath}`);
  check((spec.volumes ?? []).find((v) => v.name === exporter?.name)?.emptyDir, `${where}: ${mountPath} is an emptyDir`);
  check(Boolean(exporter?.readOnly) === exporterReadOnly, `${where}: the exporter mounts ${mountPath} ${exporterReadOnly ? "read-only" : "read-write"}`);
}
for (const [overlay, checks] of [
  ["k8s/overlays/apache", (o, w) => sharedVolume(o, w, "httpd", "/var/log/apache2", { exporterReadOnly: true })],
  ["k8s/overlays/php-fpm", (o, w) => {
    sharedVolume(o, w, "php-fpm", "/run/php", { exporterReadOnly: false });
    sharedVolume(o, w, "nginx", "/run/php", { exporterReadOnly: false });
    sharedVolume(o, w, "nginx", "/var/log/nginx", { exporterReadOnly: true });
  }],
]) {
  const d = find(rendered[overlay], "Deployment");
  check(d, `${overlay} renders a Deployment`);
  if (!d) continue;
  checkExporter(d, overlay, { nativeSidecar: true });
  const spec = podSpecOf(d);
  check(spec.securityContext?.runAsNonRoot === true, `${overlay}: pod runAsNonRoot`);
  for (const c of allContainers(spec)) checkHardenedContainer(spec, c, `${overlay}: container ${c.name}`);
  checks(d, overlay);
  const svc = find(rendered[overlay], "Service");
  check(svc && matches({ matchLabels: svc.spec.selector }, podLabelsOf(d)), `${overlay}: its Service selects its pods`);
}

const pod = find(standalone["k8s/pod-with-sidecar.yaml"], "Pod");
check(pod, "k8s/pod-with-sidecar.yaml has a Pod");
if (pod) checkHardenedPod(pod, "pod-with-sidecar.yaml Pod", { nativeSidecar: true });

if (deployment && service) {
  check(matches({ matchLabels: service.spec.selector }, podLabelsOf(deployment)), "Service selects the Deployment's pods");
  const sp = service.spec.ports.find((p) => p.name === "metrics");
  check(sp && sp.targetPort === "metrics", "Service has a port named metrics targeting the container port 'metrics'");
}
const sm = find(monitoring, "ServiceMonitor");
if (sm && service) {
  check(matches(sm.spec.selector, service.metadata.labels), "ServiceMonitor selects the Service");
  check(sm.spec.endpoints.every((e) => service.spec.ports.some((p) => p.name === e.port)), "ServiceMonitor endpoints name Service ports");
  check(sm.spec.endpoints.every((e) => e.relabelings?.some((r) => r.targetLabel === "job" && r.replacement === "sidecar-exporter")),
    "ServiceMonitor sets job=sidecar-exporter (used by the alerts)");
}
const pm = find(standalone["k8s/monitoring/podmonitor.yaml"], "PodMonitor");
check(pm, "k8s/monitoring/podmonitor.yaml has a PodMonitor");
if (pm && deployment) {
  check(matches(pm.spec.selector, podLabelsOf(deployment)), "PodMonitor selects the Deployment's pods");
  const ports = allContainers(podSpecOf(deployment)).flatMap((c) => c.ports ?? []).map((p) => p.name);
  check(pm.spec.podMetricsEndpoints.every((e) => ports.includes(e.port)), "PodMonitor endpoints name container ports");
}
check(find(monitoring, "PrometheusRule"), "k8s/monitoring renders a PrometheusRule");

// The tls overlay: the exporter reads a web config and the mounted TLS Secret; probes and the
// ServiceMonitor use HTTPS; the files the web config names are where the Secret is mounted.
const tls = rendered["k8s/overlays/tls"];
check(tls, "k8s/overlays/tls renders");
const tlsDeployment = find(tls, "Deployment");
if (tlsDeployment) {
  checkHardenedPod(tlsDeployment, "tls Deployment", { nativeSidecar: true });
  const spec = podSpecOf(tlsDeployment);
  const exporter = allContainers(spec).find((c) => c.name === "sidecar-exporter");
  const webArg = (exporter?.args ?? []).find((a) => a.startsWith("--web.config.file="));
  check(webArg, "tls: exporter gets --web.config.file");
  const mountOf = (volume) => (exporter?.volumeMounts ?? []).find((m) => m.name === volume?.name);
  const secretVolume = (spec.volumes ?? []).find((v) => v.secret?.secretName === "sidecar-exporter-tls");
  const secretMount = mountOf(secretVolume);
  check(secretMount?.readOnly && !secretMount.subPath, "tls: the TLS Secret is mounted whole (renewals reach the files), read-only");
  const webVolume = (spec.volumes ?? []).find((v) => v.configMap?.name?.startsWith("sidecar-exporter-web-config"));
  const webMount = mountOf(webVolume);
  const webConfigMap = find(tls, "ConfigMap", webVolume?.configMap?.name);
  const webFile = webArg?.split("=")[1];
  check(webMount && webFile === `${webMount.mountPath}/web-config.yml` && webConfigMap?.data?.["web-config.yml"],
    "tls: --web.config.file names the mounted web config");
  const webConfig = YAML.parse(webConfigMap?.data?.["web-config.yml"] ?? "{}");
  for (const key of ["cert_file", "key_file", "client_ca_file"]) {
    const file = webConfig.tls_server_config?.[key];
    check(secretMount && file?.startsWith(`${secretMount.mountPath}/`), `tls: web config ${key} (${file}) is in the mounted Secret`);
  }
  const mounts = (exporter?.volumeMounts ?? []).map((m) => m.mountPath);
  check(mounts.every((a) => mounts.every((b) => a === b || !b.startsWith(`${a}/`))), "tls: no mount nested in another (read-only ConfigMap mounts cannot hold mount points)");
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    check(exporter?.[probe]?.httpGet?.scheme === "HTTPS", `tls: ${probe} uses HTTPS`);
  }
}
const tlsMonitor = find(tls, "ServiceMonitor");
check(tlsMonitor?.spec.endpoints.every((e) => e.scheme === "https" && e.tlsConfig?.ca && e.tlsConfig?.cert && e.tlsConfig?.keySecret && e.tlsConfig?.serverName),
  "tls: ServiceMonitor scrapes with scheme https and a tlsConfig (CA, client certificate, serverName)");

// nginx.conf and the exporter configuration must describe the same log and stub_status.
const nginxConf = readFileSync(join(k8s, "base/nginx.conf"), "utf8");
const exporterConf = YAML.parse(readFileSync(join(k8s, "base/config.yaml"), "utf8"));
const lf = nginxConf.match(/log_format\s+sidecar\s+((?:'[^']*'\s*)+);/);
check(lf, "nginx.conf defines log_format sidecar");
const nginxFormat = lf ? [...lf[1].matchAll(/'([^']*)'/g)].map((m) => m[1]).join("") : "";
const accessLog = exporterConf.collectors.find((c) => c.type === "access_log");
check(accessLog && accessLog.log_format === nginxFormat, `exporter log_format equals nginx's log_format sidecar ('${nginxFormat}')`);
const logPath = nginxConf.match(/access_log\s+(\S+)\s+sidecar;/)?.[1];
check(accessLog && accessLog.paths.includes(logPath), `exporter tails nginx's access log ${logPath}`);
const stub = exporterConf.collectors.find((c) => c.type === "nginx_status");
const listen = nginxConf.match(/listen\s+(\d+);/)?.[1];
check(stub && stub.url === `http://127.0.0.1:${listen}/stub_status`, "exporter's stub_status URL is nginx's listen port on loopback");
check(/location = \/stub_status \{[^}]*stub_status;[^}]*allow 127\.0\.0\.1;[^}]*deny all;/s.test(nginxConf),
  "stub_status is restricted to loopback");

// pod-with-sidecar.yaml carries copies of the base files.
const podCms = standalone["k8s/pod-with-sidecar.yaml"] ?? [];
check(find(podCms, "ConfigMap", "nginx-config")?.data?.["nginx.conf"] === nginxConf, "pod-with-sidecar.yaml nginx.conf equals k8s/base/nginx.conf");
check(find(podCms, "ConfigMap", "sidecar-exporter-config")?.data?.["config.yaml"] === readFileSync(join(k8s, "base/config.yaml"), "utf8"),
  "pod-with-sidecar.yaml config.yaml equals k8s/base/config.yaml");

// The components on a user's Deployment and StatefulSet (tests/deploy/component-sample).
const strip = (c) => {
  const { restartPolicy, volumeMounts, ...rest } = c ?? {};
  return rest;
};
const userApp = rendered["tests/deploy/component-sample/workloads"];
const exporters = {};
for (const variant of ["native", "classic"]) {
  const out = rendered[`tests/deploy/component-sample/${variant}`];
  if (!out) {
    check(!knowsComponents, `tests/deploy/component-sample/${variant} renders`);
    continue;
  }
  const configMap = out.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("sidecar-exporter-config"));
  const logDir = configMap?.data?.["log-dir"];
  check(logDir === "/var/log/shop" && configMap?.data?.["config.yaml"], `${variant}: the user's sidecar-exporter-config with config.yaml and log-dir`);
  for (const kind of ["Deployment", "StatefulSet"]) {
    const o = find(out, kind);
    const before = find(userApp, kind);
    const where = `component ${variant} on ${kind}/${o?.metadata.name}`;
    check(o && before, `${where}: rendered`);
    if (!o || !before) continue;
    const exporter = checkExporter(o, where, { nativeSidecar: variant === "native" });
    if (!exporter) continue;
    exporters[`${variant} ${kind}`] = exporter;
    const spec = podSpecOf(o);
    const beforeSpec = podSpecOf(before);
    const main = spec.containers[0];
    check(main.name === beforeSpec.containers[0].name, `${where}: the user's main container stays first`);
    const mainLog = (main.volumeMounts ?? []).find((m) => m.name === "sidecar-exporter-logs");
    const exporterLog = (exporter.volumeMounts ?? []).find((m) => m.name === "sidecar-exporter-logs");
    check(mainLog?.mountPath === logDir && !mainLog.readOnly, `${where}: main container mounts the log volume read-write at log-dir ${logDir}`);
    check(exporterLog?.mountPath === logDir && exporterLog.readOnly === true, `${where}: exporter mounts the log volume read-only at log-dir`);
    const vol = (name) => (spec.volumes ?? []).find((v) => v.name === name);
    check(vol("sidecar-exporter-logs")?.emptyDir?.sizeLimit, `${where}: the log volume is a bounded emptyDir`);
    const cfg = vol("sidecar-exporter-config")?.configMap;
    check(cfg?.name === configMap?.metadata.name && JSON.stringify(cfg?.items) === '[{"key":"config.yaml","path":"config.yaml"}]',
      `${where}: the exporter's config volume is config.yaml of the generated ${configMap?.metadata.name}`);
    check((exporter.volumeMounts ?? []).some((m) => m.name === "sidecar-exporter-config" && m.mountPath === "/etc/sidecar-exporter"),
      `${where}: config mounted at /etc/sidecar-exporter`);
    check(podLabelsOf(o)["sidecar-exporter.io/scrape"] === "true", `${where}: pod label sidecar-exporter.io/scrape`);
    // Nothing of the user's is lost: containers, init containers, volumes, labels, annotations.
    const names = (list) => (list ?? []).map((x) => x.name).filter((n) => !n.startsWith("sidecar-exporter"));
    check(JSON.stringify(names(spec.containers)) === JSON.stringify(names(beforeSpec.containers)) &&
      JSON.stringify(names(spec.initContainers)) === JSON.stringify(names(beforeSpec.initContainers)) &&
      JSON.stringify(names(spec.volumes)) === JSON.stringify(names(beforeSpec.volumes)),
      `${where}: the user's containers, init containers and volumes are kept, in order`);
    check(beforeSpec.containers.every((c, i) => JSON.stringify(c.volumeMounts ?? []) ===
      JSON.stringify((spec.containers[i].volumeMounts ?? []).filter((m) => m.name !== "sidecar-exporter-logs"))),
      `${where}: the user's volume mounts are kept`);
    check(Object.entries(podLabelsOf(before)).every(([k, v]) => podLabelsOf(o)[k] === v) &&
      JSON.stringify(o.spec.selector) === JSON.stringify(before.spec.selector), `${where}: the user's labels and selector are kept`);
    const annBefore = before.spec.template.metadata.annotations ?? {};
    check(Object.entries(annBefore).every(([k, v]) => o.spec.template.metadata.annotations[k] === v), `${where}: the user's pod annotations are kept`);
  }
  const podMonitor = find(out, "PodMonitor");
  check(podMonitor, `${variant}: the podmonitor component adds a PodMonitor`);
  if (podMonitor) {
    for (const kind of ["Deployment", "StatefulSet"]) {
      const o = find(out, kind);
      if (o) check(matches(podMonitor.spec.selector, podLabelsOf(o)), `${variant}: PodMonitor selects the ${kind}'s pods`);
    }
    check(podMonitor.spec.podMetricsEndpoints.every((e) => e.port === "metrics" &&
      e.relabelings?.some((r) => r.targetLabel === "job" && r.replacement === "sidecar-exporter")),
      `${variant}: PodMonitor scrapes port metrics as job=sidecar-exporter`);
  }
}
// One exporter container everywhere: both variants, and the same as k8s/base's (but for the
// volume names and where it sits).
const baseExporter = deployment && allContainers(podSpecOf(deployment)).find((c) => c.name === "sidecar-exporter");
for (const [what, c] of Object.entries(exporters)) {
  check(JSON.stringify(strip(c)) === JSON.stringify(strip(baseExporter)), `component ${what}: exporter container equals k8s/base's`);
}

const objects = Object.values(rendered).flat().length + Object.values(standalone).flat().length;
console.log(`manifests: ${Object.keys(rendered).length} kustomizations rendered, ${objects} objects validated`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
