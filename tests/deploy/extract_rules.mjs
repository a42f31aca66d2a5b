// Prints spec.groups of a PrometheusRule manifest as a plain Prometheus rules file.
//   node extract_rules.mjs NODE_DIR PROMETHEUSRULE_YAML [--interval=DURATION]
// --interval replaces every group's evaluation interval (tests evaluate every second).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const args = process.argv.slice(2);
const interval = args.find((a) => a.startsWith("--interval="))?.slice("--interval=".length);
const [nodeDir, file] = args.filter((a) => !a.startsWith("--"));
const YAML = createRequire(join(resolve(nodeDir), "node_modules", "noop.js"))("yaml");
const docs = YAML.parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS());
const groups = docs.filter((d) => d?.kind === "PrometheusRule").flatMap((d) => d.spec.groups);
if (!groups.length) {
  console.error(`${file}: no PrometheusRule with groups`);
  process.exit(1);
}
if (interval) for (const g of groups) g.interval = interval;
process.stdout.write(YAML.stringify({ groups }, { lineWidth: 0 }));
