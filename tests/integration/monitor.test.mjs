// monitor.test.mjs — `faultline monitor` against real sshd instances on loopback (generated host
// and user keys, root logins by key): several nodes, one that cannot be reached, one answering
// with an older version and a skewed clock, one that never answers; every alert rule (states a
// test machine cannot produce, such as OOM kills or a WireGuard mesh, come from report fixtures
// printed by a stand-in `faultline` on the node); the views and their JSON; the LLM report
// checked against docs/monitor-report.schema.json; nodes-file errors; --server mode.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, REPO_ROOT, makeTempDir, runFaultline } from './lib/faultline.mjs';
import { scenario } from './lib/scenario.mjs';
import { waitFor } from './lib/wait.mjs';
import { validate as validateSchema } from './lib/json-schema.mjs';
import { healthyReport } from './lib/report-fixture.mjs';
import { TEST_SSH_OPTIONS, closeSshMasters, fakeFaultline, makeSshKeys, nodesYaml, startSshd } from './lib/sshd.mjs';

const SCHEMA = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'docs/monitor-report.schema.json'), 'utf8'));
const REPORT_SCHEMA = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'docs/report.schema.json'), 'utf8'));
// The real `faultline report` on a node, its reachability targets off (no internet in the suites).
const REAL_FAULTLINE = `REPORT_TARGETS=none ${BIN}`;

let dir, keys, sshds, nodeBase;

function node(name, sshd, report, opts = {}) {
  return { ...nodeBase, port: sshd.port, name, env: opts.env ?? 'lab', role: opts.role, faultline: fakeFaultline(dir, name, report, opts) };
}

function monitor(args, { nodes, extra = '', env = {}, timeoutMs = 20000 } = {}) {
  const file = path.join(dir, `nodes-${Math.random().toString(36).slice(2)}.yaml`);
  if (nodes) fs.writeFileSync(file, nodesYaml(nodes, extra));
  return runFaultline(['monitor', ...args, ...(nodes ? ['--config', file] : [])], {
    env: { HOME: dir, XDG_RUNTIME_DIR: dir, ...env },
    timeoutMs,
  });
}

function json(r) {
  assert.equal(r.sanitizer, null, r.sanitizer ?? '');
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

const pick = (alerts, node) => alerts.filter((a) => a.node === node).map(({ severity, subsystem, message }) => ({ severity, subsystem, message }));

before(async () => {
  dir = makeTempDir('faultline-monitor-');
  keys = makeSshKeys(dir);
  sshds = [await startSshd(dir, keys), await startSshd(dir, keys), await startSshd(dir, keys)];
  nodeBase = { host: '127.0.0.1', user: 'root', identity_file: keys.userKey, ssh_options: TEST_SSH_OPTIONS };
});

after(async () => {
  closeSshMasters(path.join(dir, 'faultline-ssh'));
  for (const s of sshds ?? []) await s.stop();
});

describe('monitor over ssh', () => {
  test('a cluster of three sshd nodes, one on an old version with a skewed clock, one unreachable: alerts, exit 1', async () => {
    const real = (name, sshd, role) => ({ ...nodeBase, port: sshd.port, name, env: 'lab', role, faultline: REAL_FAULTLINE });
    const nodes = [
      real('alpha', sshds[0], 'server'),
      real('beta', sshds[1]),
      node('old', sshds[2], healthyReport('old', { version: '0.0.9' }), { skewMs: 60000 }),
      { ...nodeBase, name: 'gone', port: 1, env: 'lab' },
      node('elsewhere', sshds[0], healthyReport('elsewhere'), { env: 'prod' }),
    ];
    const r = await monitor(['alerts', '--env', 'lab', '--json'], { nodes });
    const { alerts } = json(r);
    assert.equal(r.code, 1, r.stderr);
    // The real nodes may show info alerts of this machine (zombies); nothing worse.
    assert.deepEqual(alerts.filter((a) => a.severity !== 'info').map((a) => [a.severity, a.subsystem, a.node]), [
      ['critical', 'ssh', 'gone'],
      ['warning', 'clock', 'old'],
      ['warning', 'version', 'old'],
    ]);
    assert.equal(alerts[0].message, 'unreachable: ssh exited with status 255: ssh: connect to host 127.0.0.1 port 1: Connection refused');
    assert.match(alerts[1].message, /^clock (59|60)\.\d s ahead of the other nodes' \(threshold 5 s\)$/);
    assert.equal(alerts[2].message, 'runs faultline 0.0.9, older than 0.1.0 on 2 other nodes');

    const cluster = json(await monitor(['cluster', '--env', 'lab', '--json'], { nodes }));
    assert.equal(cluster.environment, 'lab');
    assert.deepEqual(cluster.nodes.map((n) => [n.name, n.status, n.version]), [
      ['alpha', 'healthy', '0.1.0'],
      ['beta', 'healthy', '0.1.0'],
      ['old', 'warning', '0.0.9'],
      ['gone', 'unreachable', null],
    ]);
    assert.equal(cluster.nodes[0].role, 'server');
    assert.equal(typeof cluster.nodes[0].mem_used_pct, 'number');
    // What the real nodes answered is `faultline report --json` by its own schema.
    const nodeView = json(await monitor(['node', '--env', 'lab', '--node', 'beta', '--json'], { nodes }));
    assert.equal(nodeView.nodes[0].report.hostname.length > 0, true);
    assert.deepEqual(validateSchema(REPORT_SCHEMA, nodeView.nodes[0].report), []);

    const table = await monitor(['--env', 'lab'], { nodes });
    assert.equal(table.code, 1);
    assert.match(table.stdout, /^4 nodes: 2 healthy, 1 unreachable; 1 critical, 2 warning, \d+ info alerts \(\d+\.\d s\)\n/);
    assert.match(table.stdout, /\nalpha +healthy +server +0\.1\.0 +\d+\.\d\d +\d+\.\d +\d+\.\d +0 +0 +\d+\n/);
    assert.match(table.stdout, /\ngone +unreachable /);
  });

  test('report: the LLM-ready JSON holds to docs/monitor-report.schema.json', async () => {
    const nodes = [
      node('r1', sshds[0], healthyReport('r1')),
      node('r2', sshds[1], healthyReport('r2', { system: { ...healthyReport('r2').system, mem_used_pct: 97 } })),
      { ...nodeBase, name: 'r3', port: 1, env: 'lab' },
    ];
    const r = await monitor(['report', '--env', 'lab'], { nodes });
    const doc = json(r);
    assert.equal(r.code, 1);
    assert.deepEqual(validateSchema(SCHEMA, doc), []);
    assert.equal(doc.meta.environment, 'lab');
    assert.equal(doc.meta.node_count, 3);
    assert.equal(doc.meta.healthy_count, 1);
    assert.deepEqual([doc.summary.critical_alerts, doc.summary.warning_alerts, doc.summary.info_alerts, doc.summary.unreachable_nodes], [1, 1, 0, 1]);
    assert.deepEqual(doc.nodes.map((n) => [n.name, n.status]), [['r1', 'healthy'], ['r2', 'warning'], ['r3', 'unreachable']]);
    assert.equal(doc.nodes[0].report.hostname, 'r1');
    assert.equal(doc.nodes[2].report, null);
    assert.ok(doc.nodes[0].collection_ms > 0 && doc.nodes[0].collection_ms < 10000);
    // The checker itself refuses a broken document.
    assert.notDeepEqual(validateSchema(SCHEMA, { ...doc, meta: { ...doc.meta, node_count: 'three' } }), []);
  });

  test('every per-node rule, with its severity and message', async () => {
    const base = healthyReport('sick');
    const sick = healthyReport('sick', {
      system: { ...base.system, mem_used_pct: 95.5, swap_used_pct: 40, oom_kills: 2,
        disks: [...base.system.disks, { mountpoint: '/var', device: '/dev/vdb', fstype: 'ext4', size_gb: 100, used_gb: 90, used_pct: 90 }] },
      services: {
        units: [{ ...base.services.units[0], name: 'api.service', restarts: 7, restart_loop: true, active_state: 'activating', sub_state: 'auto-restart' }],
        failed_units: ['db.service'],
      },
      processes: { ...base.processes, zombie_count: 3 },
      network: { ...base.network, internet_reachable: false },
      tls: { endpoints: [
        { endpoint: 'example.test:443', days_left: 5, not_after: '2026-12-05T00:00:00Z', error: null },
        { endpoint: 'old.test:443', days_left: -2, not_after: '2026-11-28T00:00:00Z', error: null },
      ] },
    });
    const r = await monitor(['alerts', '--json'], { nodes: [node('sick', sshds[0], sick)] });
    assert.equal(r.code, 1);
    assert.deepEqual(pick(json(r).alerts, 'sick'), [
      { severity: 'critical', subsystem: 'system', message: '2 OOM kills since boot' },
      { severity: 'critical', subsystem: 'services', message: 'unit db.service failed' },
      { severity: 'critical', subsystem: 'tls', message: 'certificate of old.test:443 expired 2 days ago' },
      { severity: 'warning', subsystem: 'system', message: 'memory 95.5% used (threshold 90%)' },
      { severity: 'warning', subsystem: 'system', message: 'disk /var 90.0% used (threshold 85%)' },
      { severity: 'warning', subsystem: 'services', message: 'unit api.service is in a restart loop (7 restarts)' },
      { severity: 'warning', subsystem: 'network', message: 'internet unreachable (no configured target answered)' },
      { severity: 'warning', subsystem: 'tls', message: 'certificate of example.test:443 expires in 5 days (threshold 14)' },
      { severity: 'info', subsystem: 'system', message: 'swap 40.0% used (threshold 30%)' },
      { severity: 'info', subsystem: 'processes', message: '3 zombie processes' },
    ]);
  });

  test('thresholds: from the nodes file', async () => {
    const base = healthyReport('t');
    const report = healthyReport('t', { system: { ...base.system, mem_used_pct: 95, swap_used_pct: 20 } });
    const extra = 'thresholds:\n  mem_used_pct: 96\n  swap_used_pct: 10\n';
    const r = await monitor(['alerts', '--json'], { nodes: [node('t', sshds[0], report)], extra });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(pick(json(r).alerts, 't'), [{ severity: 'info', subsystem: 'system', message: 'swap 20.0% used (threshold 10%)' }]);
  });

  test('WireGuard: handshakes, and peer symmetry across nodes (each has N-1 peers)', async () => {
    const wg = (name, key, peers) =>
      healthyReport(name, {
        network: { ...healthyReport(name).network, wireguard: { interfaces: [{ name: 'wg0', public_key: key, listen_port: 51820, peers }] } },
      });
    const peer = (key, age) => ({ public_key: key, endpoint: '192.0.2.1:51820', allowed_ips: ['10.0.0.0/32'], latest_handshake_age_s: age });
    const nodes = [
      node('wg-a', sshds[0], wg('wg-a', 'KEYA', [peer('KEYB', 30), peer('KEYC', 400)])),
      node('wg-b', sshds[1], wg('wg-b', 'KEYB', [peer('KEYA', 20), peer('KEYC', null)])),
      node('wg-c', sshds[2], wg('wg-c', 'KEYC', [peer('KEYA', 10)])),
    ];
    const r = await monitor(['mesh', '--json'], { nodes });
    const doc = json(r);
    assert.equal(r.code, 1);
    assert.deepEqual(doc.interfaces.map((i) => [i.node, i.name, i.peers.length]), [['wg-a', 'wg0', 2], ['wg-b', 'wg0', 2], ['wg-c', 'wg0', 1]]);
    assert.deepEqual(doc.alerts.map((a) => [a.severity, a.node, a.message]), [
      ['critical', 'wg-b', 'wg0: peer KEYC... never completed a handshake'],
      ['warning', 'wg-a', 'wg0: peer KEYC... last handshake 400 s ago (threshold 180 s)'],
      ['warning', 'wg-c', 'has 1 WireGuard peer, expected 2 (one per other node in the mesh)'],
      ['warning', 'wg-c', 'lacks wg-b as a WireGuard peer, while wg-b has it as one'],
    ]);
    const text = await monitor(['mesh'], { nodes });
    assert.match(text.stdout, /\nwg-b +wg0 +KEYC\.\.\. +192\.0\.2\.1:51820 +never\n/);
  });

  test('a node that never answers is cut at MONITOR_TIMEOUT; the others are not held back', async () => {
    const nodes = [node('slow', sshds[0], healthyReport('slow'), { sleepS: 30 }), node('quick', sshds[1], healthyReport('quick'))];
    const t0 = Date.now();
    const r = await monitor(['alerts', '--json', '--monitor-timeout', '2'], { nodes });
    const took = Date.now() - t0;
    assert.equal(r.code, 1);
    assert.deepEqual(pick(json(r).alerts, 'slow'), [{ severity: 'critical', subsystem: 'ssh', message: 'unreachable: no answer within 2 s' }]);
    assert.deepEqual(pick(json(r).alerts, 'quick'), []);
    assert.ok(took < 8000, `took ${took} ms`);
  });

  test('node and service views, --node picks one node by name or host', async () => {
    const nodes = [node('n1', sshds[0], healthyReport('n1')), node('n2', sshds[1], healthyReport('n2'))];
    const one = json(await monitor(['node', '--node', 'n2', '--json'], { nodes }));
    assert.deepEqual(one.nodes.map((n) => [n.name, n.status, n.report.hostname]), [['n2', 'healthy', 'n2']]);
    const text = await monitor(['node', '--node', 'n1'], { nodes });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^== n1 \(127\.0\.0\.1\): healthy, \d+ ms\n  version 0\.1\.0, kernel 6\.1\.0/);
    assert.match(text.stdout, /\n  unit faultline-agent\.service +active\/running, 0 restarts\n/);
    const units = json(await monitor(['service', '--json'], { nodes }));
    assert.deepEqual(units.units.map((u) => [u.node, u.name, u.active_state]), [['n1', 'faultline-agent.service', 'active'], ['n2', 'faultline-agent.service', 'active']]);
    const table = await monitor(['service'], { nodes });
    assert.match(table.stdout, /\nfaultline-agent\.service +n2 +active +running +0 no\n/);
  });
});

describe('monitor: usage and the nodes file', () => {
  test('errors name the file, line and column; exit 2', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'nodes:\n  - host: 127.0.0.1\n    port: seventy\n');
    let r = await runFaultline(['monitor', '--config', file], { env: { HOME: dir } });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), `faultline monitor: ${file}:3:11: nodes[0].port: expected a port number from 1 to 65535, got "seventy"`);
    fs.writeFileSync(file, 'nodes:\n  - name: x\n');
    r = await runFaultline(['monitor', '--config', file], { env: { HOME: dir } });
    assert.equal(r.stderr.trim(), `faultline monitor: ${file}:2:5: nodes[0]: host: required, not set`);
    fs.writeFileSync(file, 'nodes:\n  - host: a\nthresholds:\n  mem_used_pct: lots\n');
    r = await runFaultline(['monitor', '--config', file], { env: { HOME: dir } });
    assert.equal(r.stderr.trim(), `faultline monitor: ${file}:4:17: thresholds.mem_used_pct: expected a number from 0 to 100, got "lots"`);
    fs.writeFileSync(file, 'nodes:\n  - host: a\n    colour: red\n');
    r = await runFaultline(['monitor', '--config', file], { env: { HOME: dir } });
    assert.match(r.stderr, /:3:5: nodes\[0\]\.colour: unknown key "colour"/);
    fs.writeFileSync(file, 'nodes:\n  - host: a\n    env: prod\n');
    r = await runFaultline(['monitor', '--config', file, '--env', 'lab'], { env: { HOME: dir } });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), `faultline monitor: ${file}: no nodes with env lab (expected a nodes: list with host: entries)`);
    r = await runFaultline(['monitor', 'sideways', '--config', file], { env: { HOME: dir } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown view "sideways" \(expected live, cluster, node, service, mesh, alerts or report\)/);
    r = await runFaultline(['monitor'], { env: { HOME: path.join(dir, 'nohome') } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nohome\/\.config\/faultline\/nodes\.yaml: no nodes file \(give --config FILE, or --server URL\)/);
  });

  test('the default nodes file is ~/.config/faultline/nodes.yaml', async () => {
    const home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, '.config/faultline'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config/faultline/nodes.yaml'), nodesYaml([node('homed', sshds[0], healthyReport('homed'))]));
    const r = await runFaultline(['monitor', 'alerts'], { env: { HOME: home, XDG_RUNTIME_DIR: dir } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'no alerts\n');
  });
});

describe('monitor --server', () => {
  /** A real server with w3's report pushed first, then (2 s later by the server's clock) w1's and w2's. */
  async function serverWithReports(ctx) {
    const srv = await ctx.server();
    const push = async (name, report) => {
      const res = await fetch(`${srv.url}/api/v1/reports/${name}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${srv.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(report),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return JSON.parse(text).received;
    };
    const first = Date.parse(await push('w3', { ...healthyReport('w3'), timestamp_ms: Date.now() }));
    await waitFor(() => Date.now() - first > 2100, 5000);
    for (const w of ['w1', 'w2']) await push(w, { ...healthyReport(w), timestamp_ms: Date.now() });
    return srv;
  }

  scenario('reads the reports agents pushed, with the admin password from the environment; an old report is named', async (ctx) => {
    const srv = await serverWithReports(ctx);
    const extra = 'thresholds:\n  report_age_s: 2\n';
    fs.writeFileSync(path.join(dir, 'thresholds.yaml'), extra);
    const r = await monitor(['alerts', '--json', '--server', srv.url, '--config', path.join(dir, 'thresholds.yaml')], {
      env: { FAULTLINE_ADMIN_USER: srv.adminUser, FAULTLINE_ADMIN_PASSWORD: srv.adminPass },
    });
    assert.equal(r.code, 0, r.stderr);
    const { alerts } = json(r);
    assert.deepEqual(alerts.map((a) => [a.severity, a.subsystem, a.node]), [['warning', 'report', 'w3']]);
    assert.match(alerts[0].message, /^last report 2s older than the newest \(threshold 2s\)$/);
    const cluster = json(await monitor(['cluster', '--json', '--server', srv.url], {
      env: { FAULTLINE_ADMIN_USER: srv.adminUser, FAULTLINE_ADMIN_PASSWORD: srv.adminPass },
    }));
    assert.deepEqual(cluster.nodes.map((n) => [n.name, n.status]).sort(), [['w1', 'healthy'], ['w2', 'healthy'], ['w3', 'healthy']]);
    // Only the password set: the user is admin, as for faultline silence and cfg.
    assert.equal(srv.adminUser, 'admin');
    const onlyPass = await monitor(['cluster', '--json', '--server', srv.url], { env: { FAULTLINE_ADMIN_PASSWORD: srv.adminPass } });
    assert.equal(onlyPass.code, 0, onlyPass.stderr);
    assert.equal(json(onlyPass).nodes.length, 3);
  });

  scenario('user:password in the URL; --node keeps one worker; a refused password is a critical alert', async (ctx) => {
    const srv = await serverWithReports(ctx);
    const withPass = srv.url.replace('http://', `http://${srv.adminUser}:${encodeURIComponent(srv.adminPass)}@`);
    const doc = json(await monitor(['report', '--node', 'w2', '--server', `${withPass}/`]));
    assert.deepEqual(validateSchema(SCHEMA, doc), []);
    assert.deepEqual(doc.nodes.map((n) => [n.name, n.status, n.report.hostname]), [['w2', 'healthy', 'w2']]);
    const r = await monitor(['alerts', '--json', '--server', srv.url.replace('http://', 'http://admin:wrong@')]);
    assert.equal(r.code, 1);
    assert.deepEqual(json(r).alerts, [{ severity: 'critical', subsystem: 'server', node: 'server', message: `GET ${srv.url}/api/v1/reports: HTTP 401 (admin user and password: see FAULTLINE_ADMIN_USER)` }]);
    const bad = await monitor(['--server', 'ftp://x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--server: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/);
  });
});
