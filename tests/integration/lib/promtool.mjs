// promtool.mjs — `promtool check metrics` (Debian's prometheus package) on a text in Prometheus
// exposition format. Its remarks on the names that dashboards expect, which faultline keeps on
// purpose (node_exporter's node_memory_MemTotal_bytes, dcgm-exporter's modelName and UUID labels
// and its ECC counters without a _total suffix), are left out; anything else it says, a parse
// error included, is returned.
import { spawnSync } from 'node:child_process';

const EXPECTED = [
  /^node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$/,
  /^DCGM_FI_DEV_[A-Z_]+ label names should be written in 'snake_case' not 'camelCase'$/,
  /^DCGM_FI_DEV_ECC_[A-Z_]+ counter metrics should have "_total" suffix$/,
];

/** True when promtool is installed (scripts/install-deps --test installs it). */
export function havePromtool() {
  return spawnSync('promtool', ['--version']).status === 0;
}

/** promtool's unexpected remarks on text, one per line; [] when it is clean. */
export function promtoolProblems(text, { alsoExpected = [] } = {}) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw r.error;
  const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
  return lines.filter((l) => ![...EXPECTED, ...alsoExpected].some((re) => re.test(l)));
}
