// Checks Grafana dashboards against a live Prometheus that scrapes the exporter:
//  - structure: current schema, every panel and target on the ${datasource} variable, variables
//    datasource / namespace / pod / collector;
//  - every metric name a query references is on the exporter's /metrics, or is a recording rule
//    of the PrometheusRule whose own metrics are (no panel may depend on a metric nobody emits);
//    the same for the alerts, which may also use `up` and the kubelet's volume statistics;
//  - every variable query returns values, and every panel query, with the variables filled in
//    as Grafana would, parses and returns data.
//
//   node dashboard_queries.mjs --prometheus=URL --metrics=FILE --rules=FILE --node-dir=DIR DASHBOARD.json...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join, resolve } from "node:path";

const opt = Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith("--")).map((a) => a.slice(2).split(/=(.*)/s).slice(0, 2)));
const dashboards = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const YAML = createRequire(join(resolve(opt["node-dir"]), "node_modules", "noop.js"))("yaml");

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) passed++;
  else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
}

// Metric names on /metrics (series names, so histograms give _bucket/_sum/_count).
const emitted = new Set(
  readFileSync(opt.metrics, "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/)[0]));
const rules = YAML.parse(readFileSync(opt.rules, "utf8")).groups.flatMap((g) => g.rules);
const recorded = new Map();
for (const r of rules.filter((r) => r.record)) recorded.set(r.record, [...(recorded.get(r.record) ?? []), r.expr]);

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"]);
function metricNames(expr) {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "") // label lists
    .replace(/\$\{?[a-zA-Z_]+\}?/g, ""); // variables
  const names = new Set();
  for (const m of s.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1].toLowerCase())) continue;
    if (/^\d/.test(m[1])) continue;
    names.add(m[1]);
  }
  return [...names];
}
function resolvesToEmitted(name, seen = new Set()) {
  if (emitted.has(name)) return true;
  if (!recorded.has(name) || seen.has(name)) return false; // seen: the rules on this path (cycles)
  const path = new Set([...seen, name]);
  return recorded.get(name).every((e) => metricNames(e).every((n) => resolvesToEmitted(n, path)));
}

async function api(path, params) {
  const res = await fetch(`${opt.prometheus}${path}?${new URLSearchParams(params)}`);
  const body = await res.json();
  return body;
}

function fill(expr, vars) {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, "1m")
    .replace(/\$__interval|\$\{__interval\}/g, "15s")
    .replace(/\$__range|\$\{__range\}/g, "5m")
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a, b) => (vars[a ?? b] ?? m));
}

// The alerts and recording rules, too, may only use what the exporter emits, besides what
// Prometheus and the kubelet provide.
const EXTERNAL = new Set(["up", "kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes"]);
for (const r of rules) {
  for (const n of metricNames(r.expr)) {
    check(EXTERNAL.has(n) || resolvesToEmitted(n), `rule ${r.alert ?? r.record} references ${n}, which the exporter does not emit`);
  }
}

for (const file of dashboards) {
  const d = JSON.parse(readFileSync(file, "utf8"));
  const where = basename(file);
  check(d.schemaVersion >= 39, `${where}: schemaVersion ${d.schemaVersion} is current (>= 39)`);
  check(d.uid && d.title, `${where}: has uid and title`);
  const vars = d.templating?.list ?? [];
  const ds = vars.find((v) => v.name === "datasource");
  check(ds?.type === "datasource" && ds.query === "prometheus", `${where}: datasource variable of type prometheus`);
  for (const n of ["namespace", "pod", "collector"]) check(vars.some((v) => v.name === n), `${where}: variable $${n}`);

  // Variables, resolved in order as Grafana does: label_values(selector, label).
  const values = {};
  for (const v of vars.filter((v) => v.type === "query")) {
    const q = fill(typeof v.query === "string" ? v.query : v.query.query, values);
    check(v.datasource?.uid === "${datasource}", `${where}: variable ${v.name} uses \${datasource}`);
    const m = q.match(/^label_values\((.*),\s*(\w+)\)$/s);
    check(m, `${where}: variable ${v.name} is label_values(...): ${q}`);
    if (!m) continue;
    for (const n of metricNames(m[1])) check(resolvesToEmitted(n), `${where}: variable ${v.name} uses ${n}, which the exporter does not emit`);
    const r = await api(`/api/v1/label/${m[2]}/values`, { "match[]": m[1] });
    check(r.status === "success" && r.data.length > 0, `${where}: variable ${v.name} (${q}) has values: ${JSON.stringify(r)}`);
    const got = r.data ?? [];
    values[v.name] = v.multi ? `(${got.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})` : got[0];
    console.log(`variable ${v.name} = ${values[v.name]}`);
  }

  const panels = (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== "row");
  check(panels.length > 0, `${where}: has panels`);
  for (const p of panels) {
    const pw = `${where}: panel "${p.title}"`;
    check(p.datasource?.uid === "${datasource}", `${pw} uses \${datasource}`);
    check((p.targets ?? []).length > 0, `${pw} has queries`);
    for (const t of p.targets ?? []) {
      check(t.datasource?.uid === "${datasource}", `${pw} ${t.refId} uses \${datasource}`);
      for (const n of metricNames(t.expr)) {
        check(resolvesToEmitted(n), `${pw} ${t.refId} references ${n}, which the exporter does not emit (and no recording rule makes from what it emits)`);
      }
      const q = fill(t.expr, values);
      check(!/\$/.test(q), `${pw} ${t.refId}: every variable filled in: ${q}`);
      const r = await api("/api/v1/query", { query: q });
      if (r.status !== "success") {
        check(false, `${pw} ${t.refId} does not run: ${r.error}: ${q}`);
        continue;
      }
      const n = r.data.result.length;
      const finite = r.data.result.filter((s) => Number.isFinite(Number(s.value[1]))).length;
      check(n > 0, `${pw} ${t.refId} returns no data: ${q}`);
      check(n === 0 || finite > 0, `${pw} ${t.refId} returns only NaN/Inf: ${q}`);
      console.log(`ok ${pw} ${t.refId}: ${n} series`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
