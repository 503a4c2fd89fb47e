// prometheus-files.test.mjs — the shipped Prometheus and Grafana files are what Prometheus
// accepts: packaging/prometheus/prometheus.yml passes `promtool check config`, alerts.yml
// `promtool check rules` and its unit tests alerts.test.yml `promtool test rules`, and every
// PromQL expression of packaging/grafana/faultline.json parses (each is written into a rules
// file as a recording rule and checked by `promtool check rules`). The metric names they query
// are the ones docs/metrics.md lists. Needs promtool (Debian's prometheus package).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, makeTempDir, removeTempDir } from './lib/faultline.mjs';

const PROM_DIR = path.join(REPO_ROOT, 'packaging/prometheus');
const DASHBOARD = path.join(REPO_ROOT, 'packaging/grafana/faultline.json');
const METRICS_DOC = path.join(REPO_ROOT, 'docs/metrics.md');
// What the issue asks the rules to cover, by alert name.
const REQUIRED_ALERTS = [
  'FaultlineWorkerDown', 'FaultlineWorkerNotPushing', 'FaultlineDiskAlmostFull', 'FaultlineMemoryLow',
  'FaultlineGpuHot', 'FaultlineGpuThrottled', 'FaultlineOutboxBackingUp',
];

function promtool(args, cwd) {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60000 });
  if (r.error) {
    throw new Error(`promtool could not be run (${r.error.message}); install Debian's prometheus package (scripts/install-deps --test)`);
  }
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function withTempDir(fn) {
  const dir = makeTempDir('faultline-prom-');
  try {
    return fn(dir);
  } finally {
    removeTempDir(dir);
  }
}

// ---- the dashboard's expressions ------------------------------------------------------------

// Grafana's variables, replaced by values that keep the expression's shape: intervals by a
// duration, our own variables (only ever used in regex matchers) by a regex.
function substituteVariables(expr) {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '5m')
    .replace(/\$__interval|\$\{__interval\}/g, '1m')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{\w+(:\w+)?\}|\$\w+|\[\[\w+\]\]/g, '.*');
}

// Every PromQL expression of a dashboard: each panel's targets (rows' nested panels too) and
// the series selector of each `label_values(SELECTOR, LABEL)` variable. Returns [{where, expr}].
function dashboardExpressions(dashboard) {
  const found = [];
  const walk = (panels) => {
    for (const p of panels || []) {
      for (const t of p.targets || []) {
        if (t.expr !== undefined) found.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
      }
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list || []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((.*),\s*\w+\)$/.exec(q);
    if (!m) throw new Error(`variable ${v.name}: query ${JSON.stringify(q)} is not label_values(SELECTOR, LABEL)`);
    found.push({ where: `variable ${v.name}`, expr: m[1] });
  }
  return found;
}

// Writes the expressions as recording rules (JSON is YAML) and runs promtool check rules.
function checkExpressions(exprs, dir) {
  const rules = exprs.map((e, i) => ({ record: `faultline_dashboard:expr_${i}`, expr: substituteVariables(e.expr) }));
  const file = path.join(dir, 'dashboard-rules.yml');
  fs.writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }, null, 2));
  return promtool(['check', 'rules', file], dir);
}

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));

test('every PromQL expression of the Grafana dashboard passes promtool check rules', () => {
  const exprs = dashboardExpressions(dashboard);
  assert.ok(exprs.length >= 40, `only ${exprs.length} expressions found in the dashboard`);
  withTempDir((dir) => {
    const r = checkExpressions(exprs, dir);
    assert.equal(r.code, 0, `promtool check rules on the dashboard's expressions:\n${r.out}`);
    assert.match(r.out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  });
});

test('the extraction catches an expression that does not parse', () => {
  const broken = {
    panels: [{ type: 'row', title: 'r', panels: [{ title: 'bad', targets: [{ refId: 'A', expr: 'rate(node_load1{worker=~"$worker"}[$__rate_interval]' }] }] }],
    templating: { list: [] },
  };
  withTempDir((dir) => {
    const r = checkExpressions(dashboardExpressions(broken), dir);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /faultline_dashboard:expr_0/);
  });
});

test('the dashboard has a fleet overview, a row per worker, GPU rows and a worker variable', () => {
  const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
  assert.equal(vars.worker?.type, 'query');
  assert.equal(vars.worker.multi, true);
  assert.equal(vars.worker.includeAll, true);
  const rows = dashboard.panels.filter((p) => p.type === 'row');
  assert.deepEqual(rows.map((r) => r.title), ['Fleet overview', 'Worker $worker', 'GPUs', 'faultline server']);
  assert.equal(rows[1].repeat, 'worker');
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  // Every query goes to the data source the importer picks.
  for (const p of dashboard.panels.filter((q) => q.type !== 'row')) {
    assert.equal(p.datasource?.uid, '${datasource}', `panel "${p.title}"`);
  }
});

// ---- Prometheus' own files -------------------------------------------------------------------

test('prometheus.yml passes promtool check config, with its rule file', () => {
  withTempDir((dir) => {
    const text = fs.readFileSync(path.join(PROM_DIR, 'prometheus.yml'), 'utf8');
    // promtool checks that the token file exists: point it at one in the temp dir.
    const shipped = 'credentials_file: /etc/prometheus/faultline.token';
    assert.ok(text.includes(shipped), `prometheus.yml reads the token from ${shipped}`);
    fs.writeFileSync(path.join(dir, 'faultline.token'), 'token\n');
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), text.replace(shipped, `credentials_file: ${dir}/faultline.token`));
    fs.copyFileSync(path.join(PROM_DIR, 'alerts.yml'), path.join(dir, 'alerts.yml'));
    const r = promtool(['check', 'config', 'prometheus.yml'], dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: 1 rule files found/);
    assert.match(r.out, /SUCCESS: \d+ rules found/);
  });
});

test('alerts.yml passes promtool check rules and has every alert the fleet needs', () => {
  const r = promtool(['check', 'rules', 'alerts.yml'], PROM_DIR);
  assert.equal(r.code, 0, r.out);
  const text = fs.readFileSync(path.join(PROM_DIR, 'alerts.yml'), 'utf8');
  const names = [...text.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]);
  assert.match(r.out, new RegExp(`SUCCESS: ${names.length} rules found`));
  for (const a of REQUIRED_ALERTS) assert.ok(names.includes(a), `alerts.yml has ${a}`);
});

test('alerts.test.yml: promtool test rules passes, and every alert has a test', () => {
  const r = promtool(['test', 'rules', 'alerts.test.yml'], PROM_DIR);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
  const alerts = fs.readFileSync(path.join(PROM_DIR, 'alerts.yml'), 'utf8');
  const tests = fs.readFileSync(path.join(PROM_DIR, 'alerts.test.yml'), 'utf8');
  for (const m of alerts.matchAll(/^\s*- alert: (\w+)$/gm)) {
    assert.match(tests, new RegExp(`alertname: ${m[1]}$`, 'm'), `a test for ${m[1]}`);
  }
});

test('every metric the dashboard and the alerts query is documented in docs/metrics.md', () => {
  const doc = fs.readFileSync(METRICS_DOC, 'utf8');
  const NAME = /\b(?:faultline|node|DCGM)_\w+/g;
  const documented = new Set(doc.match(NAME));
  const alerts = fs.readFileSync(path.join(PROM_DIR, 'alerts.yml'), 'utf8').replace(/^\s*#.*$/gm, '');
  const sources = [...dashboardExpressions(dashboard).map((e) => e.expr), alerts];
  const used = new Set(sources.flatMap((s) => s.match(NAME) || []));
  assert.ok(used.size >= 30, `only ${used.size} metric names found`);
  for (const name of used) {
    // A histogram's or summary's series are documented under the family's name.
    const family = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(documented.has(name) || documented.has(family), `${name} is used but not in docs/metrics.md`);
  }
});
