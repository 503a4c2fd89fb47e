// report.test.mjs — `faultline report [--json]` on this machine, with every target on loopback:
// the document holds docs/report.schema.json; a closed port is unreachable and listed under
// errors; a 3-day self-signed certificate (openssl) shows its days left; HTTP probes report their
// status; panic lines of a log are counted; the table view prints the same; agents push the same
// document to the server (REPORT_INTERVAL), which serves it at GET /api/v1/reports and
// /api/v1/reports/NAME (admin) and answers a bad body with 400 naming the member.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { scenario } from './lib/scenario.mjs';
import { REPO_ROOT, freePort, runFaultline } from './lib/faultline.mjs';
import { adminGet, request } from './lib/http.mjs';
import { validate } from './lib/json-schema.mjs';
import { waitFor } from './lib/wait.mjs';

const SCHEMA = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'docs/report.schema.json'), 'utf8'));
const DAY = 86400 * 1000;

function assertSchema(doc) {
  assert.deepEqual(validate(SCHEMA, doc), [], 'the report holds docs/report.schema.json');
}

/** A TLS listener on loopback with a self-signed certificate valid for `days` days. */
async function tlsEndpoint(ctx, days) {
  const dir = ctx.tmpdir('faultline-report-tls-');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', String(days), '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const end = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-enddate']).toString().trim().replace('notAfter=', '');
  const server = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (s) => s.end());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: server.address().port, notAfterMs: Date.parse(end) };
}

/** An HTTP service on loopback: /health answers 200, anything else 404. */
async function httpService() {
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/health' ? 200 : 404);
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

function errorsOf(doc, section) {
  return doc.errors.filter((e) => e.section === section).map((e) => e.error);
}

scenario('faultline report --json: the schema, loopback targets, a 3-day certificate, probes, logs', async (ctx) => {
  const tlsEnd = await tlsEndpoint(ctx, 3);
  const svc = await httpService();
  const open = net.createServer((s) => s.on('error', () => {}).end()); // a bare connect ends with a reset
  await new Promise((r) => open.listen(0, '127.0.0.1', r));
  const closed = await freePort();
  const dir = ctx.tmpdir('faultline-report-');
  const log = path.join(dir, 'app.log');
  fs.writeFileSync(log, 'start\nthread main panicked: panic: oops\nFATAL: cannot open\nok\n');
  try {
    const env = {
      REPORT_TARGETS: `127.0.0.1:${open.address().port},127.0.0.1:${closed}`,
      REPORT_TLS: `127.0.0.1:${tlsEnd.port}`,
      REPORT_PROBES: `web=http://127.0.0.1:${svc.address().port}/health,api=http://127.0.0.1:${svc.address().port}/missing`,
      REPORT_LOGS: log,
      REPORT_UNITS: 'ssh',
      SERVER_PORT: String(closed),
    };
    const started = Date.now();
    const r = await runFaultline(['report', '--json'], { env, timeoutMs: 15000 });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assertSchema(doc);
    assert.equal(`faultline ${doc.version}\n`, (await runFaultline(['--version'])).stdout);
    assert.ok(Math.abs(doc.timestamp_ms - started) < 5000, 'timestamp_ms is now');
    assert.equal(Date.parse(doc.timestamp), doc.timestamp_ms);
    const [up, down] = doc.network.targets;
    assert.deepEqual([up.target, up.reachable, up.error], [`127.0.0.1:${open.address().port}`, true, null]);
    assert.equal(typeof up.rtt_ms, 'number');
    assert.deepEqual([down.target, down.reachable, down.rtt_ms, down.error], [`127.0.0.1:${closed}`, false, null, 'connection refused']);
    assert.equal(doc.network.internet_reachable, true, 'one configured target answered');
    assert.deepEqual(errorsOf(doc, 'network').filter((e) => e.startsWith('127.0.0.1')), [`127.0.0.1:${closed}: connection refused`]);
    assert.ok(doc.network.listening_ports.some((p) => p.proto === 'tcp' && p.addr === '127.0.0.1' && p.port === open.address().port), 'the open port is listed');
    const [cert] = doc.tls.endpoints;
    assert.equal(cert.endpoint, `127.0.0.1:${tlsEnd.port}`);
    assert.equal(cert.error, null);
    assert.equal(cert.days_left, Math.floor((tlsEnd.notAfterMs - doc.timestamp_ms) / DAY));
    assert.equal(cert.days_left, 2, 'a certificate of 3 days, made seconds ago, has 2 whole days left');
    assert.equal(Date.parse(cert.not_after), tlsEnd.notAfterMs);
    const [web, api] = doc.probes;
    assert.deepEqual([web.name, web.ok, web.status, web.error], ['web', true, 200, null]);
    assert.deepEqual([api.name, api.ok, api.status, api.error], ['api', false, 404, 'HTTP 404']);
    assert.deepEqual(errorsOf(doc, 'probes'), ['api: HTTP 404']);
    assert.deepEqual(doc.processes.logs, [{ path: log, panic_count: 1, fatal_count: 1 }]);
    assert.equal(doc.processes.panic_count, 1);
    assert.equal(doc.faultline.server.url, `http://127.0.0.1:${closed}/`);
    assert.equal(doc.faultline.server.healthy, false);
    // No systemd in the test's namespace: an error, not a crash, and no units made up.
    if (!fs.existsSync('/run/systemd/system')) {
      assert.deepEqual(doc.services.units, []);
      assert.ok(errorsOf(doc, 'services').length >= 1, 'services: the missing system bus is an error');
    }
    assert.ok(doc.collect_ms < 3000, `collected in ${doc.collect_ms} ms`);

    const table = await runFaultline(['report'], { env, timeoutMs: 15000 });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`target 127\\.0\\.0\\.1:${closed}\\s+UNREACHABLE: connection refused\\n`));
    assert.match(table.stdout, new RegExp(`127\\.0\\.0\\.1:${tlsEnd.port}\\s+2 days left`));
    assert.match(table.stdout, /api\s+FAILED 404/);
    assert.match(table.stdout, /\n  zombies \d+  orphans \d+  panics 1\n/, 'every value of a line is its own');
    assert.match(table.stdout, new RegExp(`\\n  log ${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 1 panic, 1 fatal\\n`));
    assert.match(table.stdout, /errors \(\d+\)\n/);
  } finally {
    tlsEnd.server.close();
    svc.close();
    open.close();
  }
});

scenario('faultline report: a bad setting is a usage error naming it', async () => {
  const r = await runFaultline(['report', '--json'], { env: { REPORT_PROBES: 'web=ftp://x' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /REPORT_PROBES: expected at most 32 comma-separated NAME=URL entries.*got "web=ftp:\/\/x"/);
  assert.equal(r.stdout, '');
});

scenario('agents push their report; GET /api/v1/reports serves it; bad bodies get 400 naming the member', async (ctx) => {
  const srv = await ctx.server();
  const closed = await freePort();
  ctx.agent('report-box-1', { server: srv, env: { REPORT_INTERVAL: '1', REPORT_TARGETS: `127.0.0.1:${closed}`, REPORT_UNITS: 'ssh' } });
  let list;
  await waitFor(async () => {
    const res = await adminGet(srv, '/api/v1/reports');
    list = res.json;
    return res.status === 200 && list.reports.length === 1;
  }, 15000, { message: 'the agent pushed its report' });
  const [entry] = list.reports;
  assert.equal(entry.worker, 'report-box-1');
  assert.ok(Math.abs(Date.parse(entry.received) - Date.now()) < 10000);
  assertSchema(entry.report);
  assert.equal(entry.report.network.targets[0].target, `127.0.0.1:${closed}`);
  assert.equal(entry.report.network.internet_reachable, false);
  const one = await adminGet(srv, '/api/v1/reports/report-box-1');
  assert.equal(one.status, 200);
  assert.equal(one.json.worker, 'report-box-1');
  assertSchema(one.json.report);
  // A newer push replaces it.
  await waitFor(async () => (await adminGet(srv, '/api/v1/reports/report-box-1')).json.report.timestamp_ms > entry.report.timestamp_ms, 10000, { message: 'a second push replaced the first' });

  const missing = await adminGet(srv, '/api/v1/reports/no-such-box');
  assert.deepEqual([missing.status, missing.json], [404, { error: 'no report from this worker', field: 'name' }]);
  assert.equal((await request(`${srv.url}/api/v1/reports`)).status, 401, 'reading needs the admin');

  const push = (name, body, key = srv.apiKey) =>
    request(`${srv.url}/api/v1/reports/${name}`, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body });
  const bad = structuredClone(entry.report);
  bad.system.mem_used_pct = 'lots';
  let res = await push('report-box-2', JSON.stringify(bad));
  assert.deepEqual([res.status, res.json], [400, { error: 'system.mem_used_pct: expected a number, got "lots"', field: 'system.mem_used_pct' }]);
  delete bad.network;
  bad.system.mem_used_pct = 1;
  res = await push('report-box-2', JSON.stringify(bad));
  assert.deepEqual([res.status, res.json], [400, { error: 'network: required, missing', field: 'network' }]);
  res = await push('report-box-2', '{"timestamp": ');
  assert.equal(res.status, 400);
  assert.equal(res.json.field, 'body');
  assert.match(res.json.error, /^body: not JSON \(line 1, column \d+: /);
  res = await push('bad name!', JSON.stringify(entry.report));
  assert.deepEqual([res.status, res.json.field], [400, 'name']);
  res = await push('report-box-2', JSON.stringify(entry.report), 'wrong-key');
  assert.equal(res.status, 401);
  // Nothing refused was stored; a good body from anyone with the key is.
  assert.equal((await adminGet(srv, '/api/v1/reports/report-box-2')).status, 404);
  res = await push('report-box-2', JSON.stringify(entry.report));
  assert.equal(res.status, 200);
  assert.equal(res.json.worker, 'report-box-2');
  assert.equal((await adminGet(srv, '/api/v1/reports')).json.reports.map((r) => r.worker).join(','), 'report-box-1,report-box-2');
});
