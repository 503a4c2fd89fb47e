// checks.test.mjs — active checks on the server (docs/checks.md): a file in CHECKS_DIR is running
// within a second, an edit is live within a second, a bad file keeps the running checks and its
// errors (file, line, column, field) are listed by GET /api/v1/checks/errors; the check routes
// ask for the admin; filters, 404s and the enable/disable/run actions; API checks kept across a
// restart, a check's state too (a problem told before it is resolved after it); faultline cfg
// validate/export/sync. Against real targets: TCP listeners with a banner
// and an exec script.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { REPO_ROOT } from './lib/faultline.mjs';
import { request, adminGet, basicAuth } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

function checksDir(srv) {
  const dir = path.join(srv.dataDir, 'checks.d');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// Written whole then renamed into place, as editors save.
function writeCheckFile(dir, name, text) {
  const tmp = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, path.join(dir, name));
}

function adminPost(srv, p, body) {
  return request(srv.url + p, { method: 'POST', body, headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
}

async function checkErrors(srv) {
  const res = await adminGet(srv, '/api/v1/checks/errors');
  assert.equal(res.status, 200, res.text);
  return res.json.errors;
}

// The yaml block that follows `marker` in docs/checks.md.
function docExample(marker) {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs/checks.md'), 'utf8');
  const at = doc.indexOf(marker);
  assert.ok(at >= 0, `docs/checks.md has ${marker}`);
  const m = /```yaml\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(m, `a yaml block after ${marker}`);
  return m[1];
}

scenario('a bad file keeps the running checks and lists its errors with file, line, column and field', async (ctx) => {
  const srv = await ctx.server();
  const dir = checksDir(srv);
  writeCheckFile(dir, 'bad.yaml', 'checks:\n  - name: api\n    type: tcp\n    target: "127.0.0.1:9"\n    interval: 50ms\n    colour: red\n');
  const t0 = Date.now();
  let errors;
  await waitFor(async () => (errors = await checkErrors(srv)).length > 0, 1000, { message: 'errors listed within 1 s' });
  console.log(`checks: errors of a bad file listed after ${Date.now() - t0} ms`);
  const interval = errors.find((e) => e.field === 'checks[0].interval');
  assert.deepEqual(interval, {
    file: path.join(dir, 'bad.yaml'),
    line: 5,
    column: 5,
    field: 'checks[0].interval',
    message: '50ms is out of range (expected 100ms to 1y)',
  });
  const colour = errors.find((e) => e.field === 'checks[0].colour');
  assert.equal(colour.line, 6);
  assert.equal(colour.message, 'unknown member (expected a member of every check, or of tcp: target, send, expect, tls)');
  assert.deepEqual((await adminGet(srv, '/api/v1/checks')).json, { checks: [] });
  // fixed: the errors go
  writeCheckFile(dir, 'bad.yaml', 'checks: []\n');
  await waitFor(async () => (await checkErrors(srv)).length === 0, 1000, { message: 'errors gone within 1 s' });
});

scenario('the check routes ask for the admin; unknown check → 404, bad filter → 400', async (ctx) => {
  const srv = await ctx.server();
  for (const p of ['/api/v1/checks', '/api/v1/checks/x', '/api/v1/checks/errors']) {
    const res = await request(srv.url + p);
    assert.equal(res.status, 401, p);
  }
  const res = await request(srv.url + '/api/v1/checks/x/run', { method: 'POST' });
  assert.equal(res.status, 401);
  const missing = await adminGet(srv, '/api/v1/checks/nope');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { error: 'no such check', field: 'name' });
  assert.equal((await adminPost(srv, '/api/v1/checks/nope/run')).status, 404);
  assert.equal((await adminPost(srv, '/api/v1/checks/nope/frobnicate')).status, 404);
  const bad = await adminGet(srv, '/api/v1/checks?state=down');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json, { error: 'state: expected ok, warning, critical or unknown', field: 'state' });
});

scenario('the quick-start example of docs/checks.md: state in the API within 1 s, an edit live within 1 s', async (ctx, t) => {
  const srv = await ctx.server();
  const dir = checksDir(srv);
  // The example probes a TCP listener on 127.0.0.1:2222 that greets with a banner.
  const listener = net.createServer((s) => s.on('error', () => {}).end('SSH-2.0-OpenSSH_9.6\r\n')); // probes may reset
  await new Promise((resolve) => listener.listen(2222, '127.0.0.1', resolve));
  t.after(() => listener.close());
  const example = docExample('<!-- example: quick-start -->');
  const t0 = Date.now();
  writeCheckFile(dir, 'quick-start.yaml', example);
  let check;
  await waitFor(async () => {
    const res = await adminGet(srv, '/api/v1/checks/ssh');
    check = res.json;
    return res.status === 200 && check.state === 'ok';
  }, 1000 + 100, { message: 'ssh ok within 1 s' });
  console.log(`checks: the example was ok after ${Date.now() - t0} ms`);
  assert.equal(check.type, 'tcp');
  assert.equal(check.source, 'file');
  assert.ok(check.results.length >= 1);
  assert.equal(check.results[0].state, 'ok');
  assert.equal(typeof check.results[0].latency_ms, 'number');
  // what the probe saw last, as docs/checks.md shows it
  const { response_time_ms: rtt, ...last } = check.last_result;
  assert.equal(typeof rtt, 'number');
  assert.deepEqual(last, { type: 'tcp', addr: '127.0.0.1', connected: true,
    body: 'SSH-2.0-OpenSSH_9.6\r\n', cert_expires_in_ms: null });
  // edit: expect a banner the listener does not send → critical within 1 s
  writeCheckFile(dir, 'quick-start.yaml', example.replace('expect: "SSH-2.0"', 'expect: "SMTP"'));
  const t1 = Date.now();
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/ssh')).json.state === 'critical', 1000 + 100, { message: 'edit live within 1 s' });
  console.log(`checks: the edit was live after ${Date.now() - t1} ms`);
  const list = (await adminGet(srv, '/api/v1/checks?state=critical&type=tcp&tag=team=ops')).json.checks;
  assert.deepEqual(list.map((c) => c.name), ['ssh']);
  // disable: it stays defined and stops running; run: one run now
  assert.equal((await adminPost(srv, '/api/v1/checks/ssh/disable')).status, 200);
  const runs = (await adminGet(srv, '/api/v1/checks/ssh')).json.runs;
  assert.equal((await adminPost(srv, '/api/v1/checks/ssh/run')).status, 202);
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/ssh')).json.runs === runs + 1, 2000);
  assert.equal((await adminGet(srv, '/api/v1/checks/ssh')).json.enabled, false);
  assert.equal((await adminPost(srv, '/api/v1/checks/ssh/enable')).status, 200);
});

function adminSend(srv, method, p, body) {
  return request(srv.url + p, { method, body, headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
}

scenario('POST, PUT and DELETE /api/v1/checks refuse what is not a valid check, naming the field', async (ctx) => {
  const srv = await ctx.server();
  const notJson = await adminSend(srv, 'POST', '/api/v1/checks', '{"name": ');
  assert.equal(notJson.status, 400);
  assert.match(notJson.json.error, /^expected a check as JSON: /);
  const noName = await adminSend(srv, 'POST', '/api/v1/checks', { type: 'tcp', target: '127.0.0.1:9', interval: '30s' });
  assert.equal(noName.status, 400);
  assert.equal(noName.json.field, 'name');
  assert.equal(noName.json.error, 'name: missing (every check has a name)');
  assert.ok(Array.isArray(noName.json.errors));
  const otherName = await adminSend(srv, 'PUT', '/api/v1/checks/one', { name: 'two', type: 'tcp', target: '127.0.0.1:9' });
  assert.equal(otherName.status, 400);
  assert.deepEqual(otherName.json, { error: 'the name in the body is not the one in the path', field: 'name' });
  const missing = await adminSend(srv, 'DELETE', '/api/v1/checks/nope');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { error: 'no such check', field: 'name' });
  assert.equal((await request(srv.url + '/api/v1/checks', { method: 'POST', body: {} })).status, 401);
});

scenario('API checks: created, replaced, deleted, kept across a restart; a file check → 409 naming the file', async (ctx, t) => {
  const srv = await ctx.server();
  const dir = checksDir(srv);
  const listener = net.createServer((s) => s.on('error', () => {}).end('hello\r\n')); // probes may reset
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  t.after(() => listener.close());
  const target = `127.0.0.1:${listener.address().port}`;
  const created = await adminSend(srv, 'POST', '/api/v1/checks', { name: 'api-tcp', type: 'tcp', target, interval: '1s' });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.source, 'api');
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/api-tcp')).json.state === 'ok', 2000, { message: 'api-tcp ok' });
  const again = await adminSend(srv, 'POST', '/api/v1/checks', { name: 'api-tcp', type: 'tcp', target });
  assert.equal(again.status, 409);
  const replaced = await adminSend(srv, 'PUT', '/api/v1/checks/api-tcp', { type: 'tcp', target, interval: '2s', tags: { team: 'api' } });
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.json.interval_ms, 2000);
  // a file's check
  writeCheckFile(dir, 'file.yaml', `checks:\n  - {name: file-tcp, type: tcp, target: "${target}"}\n`);
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/file-tcp')).status === 200, 1000);
  for (const [method, body] of [['PUT', { type: 'tcp', target }], ['DELETE', undefined]]) {
    const res = await adminSend(srv, method, '/api/v1/checks/file-tcp', body);
    assert.equal(res.status, 409, method);
    assert.equal(res.json.file, path.join(dir, 'file.yaml'));
    assert.equal(res.json.error, `check file-tcp is defined in ${path.join(dir, 'file.yaml')}: change it there`);
  }
  // kept across a restart, and running again
  await srv.stop();
  const srv2 = await ctx.restart(srv);
  const kept = await adminGet(srv2, '/api/v1/checks/api-tcp');
  assert.equal(kept.status, 200);
  assert.equal(kept.json.source, 'api');
  assert.equal(kept.json.interval_ms, 2000);
  assert.deepEqual(kept.json.config.tags, { team: 'api' });
  await waitFor(async () => (await adminGet(srv2, '/api/v1/checks/api-tcp')).json.state === 'ok', 3000, { message: 'api-tcp ok after the restart' });
  assert.equal((await adminSend(srv2, 'DELETE', '/api/v1/checks/api-tcp')).status, 204);
  await srv2.stop();
  const srv3 = await ctx.restart(srv);
  assert.equal((await adminGet(srv3, '/api/v1/checks/api-tcp')).status, 404);
});

scenario('faultline cfg validate: every error with file:line:column: field, exit 1; a good directory exit 0', async (ctx) => {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'cfg-'));
  fs.writeFileSync(path.join(dir, 'a.yaml'), 'checks:\n  - name: one\n    type: tcp\n    target: "127.0.0.1:9"\n    interval: 5\n');
  fs.writeFileSync(path.join(dir, 'b.yml'), 'checks:\n  - name: one\n    type: tcp\n    target: "127.0.0.1:9"\n    fail_threshold: 0\n');
  const bad = await ctx.run(['cfg', 'validate', dir]);
  assert.equal(bad.code, 1, bad.stderr);
  const lines = bad.stdout.trim().split('\n');
  assert.ok(lines.includes(`${dir}/a.yaml:5:5: checks[0].interval: 5 is not a duration (expected a number and a unit: ms, s, m, h, d or y, e.g. 30s)`), bad.stdout);
  assert.ok(lines.includes(`${dir}/b.yml:5:5: checks[0].fail_threshold: 0 is not a count (expected a whole number 1 to 1000)`), bad.stdout);
  assert.match(bad.stderr, /error\(s\) in /);
  fs.rmSync(path.join(dir, 'a.yaml'));
  fs.rmSync(path.join(dir, 'b.yml'));
  const good = await ctx.run(['cfg', 'validate', dir]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.equal(good.stdout, `${dir}: 0 check(s), no errors\n`);
  const missing = await ctx.run(['cfg', 'validate', path.join(dir, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /not a directory/);
  const usage = await ctx.run(['cfg', 'sync', dir]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--server URL is required/);
  fs.rmSync(dir, { recursive: true, force: true });
});

scenario('faultline cfg export and sync: credentials from the URL or the environment, wrong ones refused', async (ctx) => {
  const srv = await ctx.server();
  const withCreds = srv.url.replace('http://', `http://${srv.adminUser}:${encodeURIComponent(srv.adminPass)}@`);
  const exported = await ctx.run(['cfg', 'export', '--server', withCreds]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(exported.stdout, 'checks: []\n');
  const env = { FAULTLINE_ADMIN_USER: srv.adminUser, FAULTLINE_ADMIN_PASSWORD: srv.adminPass };
  assert.equal((await ctx.run(['cfg', 'export', '--server', srv.url], { env })).code, 0);
  const wrong = await ctx.run(['cfg', 'export', '--server', srv.url], { env: { FAULTLINE_ADMIN_PASSWORD: 'wrong' } });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /\/api\/v1\/checks: 401/);
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'cfg-'));
  const dry = await ctx.run(['cfg', 'sync', dir, '--server', srv.url, '--dry-run'], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.stdout, '(dry run: nothing changed)\n');
  fs.rmSync(dir, { recursive: true, force: true });
});

scenario('faultline cfg sync pushes a directory as API checks, deletes the rest unless --nosync; export prints them', async (ctx, t) => {
  const srv = await ctx.server();
  const serverDir = checksDir(srv);
  const env = { FAULTLINE_ADMIN_USER: srv.adminUser, FAULTLINE_ADMIN_PASSWORD: srv.adminPass };
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'cfg-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeCheckFile(serverDir, 'on-server.yaml', 'checks:\n  - {name: on-server, type: tcp, target: "127.0.0.1:9"}\n');
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/on-server')).status === 200, 1000);
  const old = await adminSend(srv, 'POST', '/api/v1/checks', { name: 'old', type: 'tcp', target: '127.0.0.1:9' });
  assert.equal(old.status, 201, old.text);
  fs.writeFileSync(path.join(dir, 'a.yaml'), 'checks:\n  - name: pushed\n    type: tcp\n    target: "127.0.0.1:9"\n    interval: 30s\n');
  const dry = await ctx.run(['cfg', 'sync', dir, '--server', srv.url, '--dry-run'], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.stdout, 'create pushed\ndelete old\n(dry run: nothing changed)\n');
  assert.equal((await adminGet(srv, '/api/v1/checks/pushed')).status, 404);
  const keep = await ctx.run(['cfg', 'sync', dir, '--server', srv.url, '--nosync'], { env });
  assert.equal(keep.code, 0, keep.stderr);
  assert.equal(keep.stdout, 'create pushed\n');
  assert.equal((await adminGet(srv, '/api/v1/checks/old')).status, 200);
  const full = await ctx.run(['cfg', 'sync', dir, '--server', srv.url], { env });
  assert.equal(full.stdout, 'unchanged pushed\ndelete old\n');
  assert.equal((await adminGet(srv, '/api/v1/checks/old')).status, 404);
  fs.writeFileSync(path.join(dir, 'b.yaml'), 'checks:\n  - {name: on-server, type: tcp, target: "127.0.0.1:10"}\n');
  const conflict = await ctx.run(['cfg', 'sync', dir, '--server', srv.url], { env });
  assert.equal(conflict.code, 1);
  assert.match(conflict.stdout, /^conflict on-server: defined in .*on-server\.yaml on the server \(not changed\)$/m);
  const exported = await ctx.run(['cfg', 'export', '--server', srv.url], { env });
  assert.equal(exported.code, 0);
  assert.match(exported.stdout, /- name: pushed\n {2}type: tcp\n {2}target: 127\.0\.0\.1:9\n {2}interval: 30s\n/);
});

scenario('exec checks: Nagios exit codes decide (0 ok, 1 warning, 2 critical, 3 unknown), a hung script is cut at its timeout, check_tcp runs unchanged', async (ctx, t) => {
  const srv = await ctx.server();
  const dir = checksDir(srv);
  const scripts = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'exec-'));
  t.after(() => fs.rmSync(scripts, { recursive: true, force: true }));
  const script = (name, body) => {
    const p = path.join(scripts, name);
    fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return p;
  };
  const listener = net.createServer((s) => s.on('error', () => {}).end('hello\r\n'));
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  t.after(() => listener.close());
  const port = listener.address().port;
  const checks = [
    ['ex-ok', script('ok.sh', 'echo "OK - fine|time=0.01s;1;2;0"; exit 0'), 'ok', null],
    ['ex-warn', script('warn.sh', 'echo "WARNING - disk 81%"; exit 1'), 'warning', 'exit code 1: WARNING - disk 81%'],
    ['ex-crit', script('crit.sh', 'echo "CRITICAL - disk 97%"; exit 2'), 'critical', 'exit code 2: CRITICAL - disk 97%'],
    ['ex-unknown', script('unknown.sh', 'echo "UNKNOWN - no disk"; exit 3'), 'unknown', 'exit code 3: UNKNOWN - no disk'],
    ['ex-hang', script('hang.sh', 'sleep 30'), 'critical', null],
  ];
  let yaml = 'checks:\n';
  for (const [name, cmd] of checks) yaml += `  - {name: ${name}, type: exec, command: ["${cmd}"], interval: 1s, timeout: 300ms}\n`;
  yaml += `  - name: plugin-tcp\n    type: exec\n    command: [/usr/lib/nagios/plugins/check_tcp, -H, 127.0.0.1, -p, "${port}"]\n    interval: 1s\n    conditions:\n      - "[OUTPUT] contains \\"TCP OK\\""\n`;
  writeCheckFile(dir, 'exec.yaml', yaml);
  for (const [name, , state, message] of checks) {
    let c;
    await waitFor(async () => (c = (await adminGet(srv, `/api/v1/checks/${name}`)).json).results.length > 0 && c.state === state, 3000, { message: `${name} ${state}` });
    if (message) assert.equal(c.message, message, name);
  }
  const hang = (await adminGet(srv, '/api/v1/checks/ex-hang')).json;
  assert.ok(hang.results[0].latency_ms < 1000, `the hung script was cut at its timeout: ${JSON.stringify(hang.results[0])}`);
  assert.ok(hang.message, 'the hung script says why');
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/plugin-tcp')).json.state === 'ok', 3000, { message: 'check_tcp ok' });
  listener.close();
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/plugin-tcp')).json.state === 'critical', 3000, { message: 'check_tcp critical once the listener is gone' });
  // each change is a check_state event, also in the v1 events API under its type
  const evs = (await adminGet(srv, '/admin/api/events?limit=100')).json.events.filter((e) => e.kind === 'check_state' && e.worker === 'plugin-tcp');
  assert.deepEqual(evs.map((e) => `${e.details.from}->${e.details.to}`), ['ok->critical', 'unknown->ok']);
  const v1 = (await adminGet(srv, '/api/v1/events?type=check_state&worker=plugin-tcp')).json.events;
  assert.deepEqual(v1.map((e) => `${e.type} ${e.details.from}->${e.details.to}`), ['check_state ok->critical', 'check_state unknown->ok']);
});

scenario('every checks file in docs/checks.md reads without an error (faultline cfg validate)', async (ctx) => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs/checks.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.startsWith('checks:'));
  assert.ok(blocks.length >= 6, `${blocks.length} examples`);
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'doc-'));
  try {
    blocks.forEach((b, i) => fs.writeFileSync(path.join(dir, `example-${i}.yaml`), b.replaceAll('name: ', `name: e${i}-`)));
    const r = await ctx.run(['cfg', 'validate', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

scenario('an HTTP check against a real server: status, JSON body path and header conditions; each change told on Telegram', async (ctx, t) => {
  const tg = await ctx.telegram();
  // GROUP_WAIT short: each change is told alone (grouping: check-alerts.test.mjs)
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: tg.token, CHAT_ID: '42', TELEGRAM_API_URL: tg.url, GROUP_WAIT: '0.1' } });
  const dir = checksDir(srv);
  let health = { status: 200, body: { data: [{ state: 'up' }] } };
  const web = http.createServer((req, res) => {
    res.writeHead(health.status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(health.body));
  });
  await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
  t.after(() => web.close());
  const url = `http://127.0.0.1:${web.address().port}/health`;
  writeCheckFile(dir, 'web.yaml', `checks:
  - name: web-health
    type: http
    target: ${url}
    interval: 200ms
    conditions:
      - "[STATUS] == 200"
      - "[BODY].data[0].state == \\"up\\""
      - "[HEADER].Content-Type contains json"
      - warning: "[RESPONSE_TIME] < 5s"
`);
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/web-health')).json?.state === 'ok', 2000, { message: 'web-health ok' });
  health = { status: 503, body: { data: [{ state: 'down' }] } };
  let c;
  await waitFor(async () => (c = (await adminGet(srv, '/api/v1/checks/web-health')).json).state === 'critical', 2000, { message: 'web-health critical' });
  assert.equal(c.message, '[STATUS] == 200 failed: 503; [BODY].data[0].state == "up" failed: "down"');
  const down = await tg.waitForMessage((m) => m.text.startsWith('CRITICAL: web-health'), 3000);
  assert.equal(down.text, `CRITICAL: web-health (http ${url}): [STATUS] == 200 failed: 503; [BODY].data[0].state == "up" failed: "down"`);
  health = { status: 200, body: { data: [{ state: 'up' }] } };
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/web-health')).json.state === 'ok', 2000, { message: 'web-health ok again' });
  const up = await tg.waitForMessage((m) => m.text.startsWith('OK: web-health'), 3000);
  assert.match(up.text, new RegExp(`^OK: web-health \\(http ${url.replace(/[.]/g, '\\.')}\\) again after 0m \\d+s \\(was critical\\)$`));
  assert.equal(tg.messagesAbout('web-health').length, 2, 'the first ok is not news');
});

scenario('a restart keeps a check\'s state: a problem told before it is resolved when OK after it, and not told again', async (ctx, t) => {
  const tg = await ctx.telegram();
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: tg.token, CHAT_ID: '42', TELEGRAM_API_URL: tg.url, GROUP_WAIT: '0.1' } });
  let status = 503;
  const web = http.createServer((req, res) => res.writeHead(status).end());
  await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
  t.after(() => web.close());
  const url = `http://127.0.0.1:${web.address().port}/`;
  writeCheckFile(checksDir(srv), 'kept.yaml', `checks:\n  - {name: kept, type: http, target: "${url}", interval: 200ms, conditions: ["[STATUS] == 200"]}\n`);
  let before;
  await waitFor(async () => (before = (await adminGet(srv, '/api/v1/checks/kept')).json)?.state === 'critical', 2000, { message: 'kept critical' });
  await tg.waitForMessage((m) => m.text.startsWith('CRITICAL: kept'), 3000);
  await srv.stop();
  const srv2 = await ctx.restart(srv);
  const after = (await adminGet(srv2, '/api/v1/checks/kept')).json;
  assert.equal(after.state, 'critical');
  assert.equal(after.since, before.since);
  assert.equal(after.message, '[STATUS] == 200 failed: 503');
  status = 200;
  await waitFor(async () => (await adminGet(srv2, '/api/v1/checks/kept')).json.state === 'ok', 2000, { message: 'kept ok after the restart' });
  const up = await tg.waitForMessage((m) => m.text.startsWith('OK: kept'), 3000);
  assert.match(up.text, /^OK: kept \(http .*\) again after 0m \d+s \(was critical\)$/);
  assert.deepEqual(tg.messagesAbout('kept').map((m) => m.text.split(':')[0]), ['CRITICAL', 'OK']);
});
