// checks-restart.test.mjs — what a server restart (same DATA_DIR) keeps of the active checks
// (docs/checks.md, "Enabling and disabling" and "Checks on agents"): a file check disabled
// through the API stays disabled and does not run, enabled again it runs; a file's own
// `enabled` edited clears the API's word; an agent's results are accepted after the restart
// before its next heartbeat (its labels were kept), by raw requests and with a real agent; an
// agent logs the results the server ignored.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { request, adminGet, basicAuth, heartbeat, hb } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

function writeChecks(srv, text) {
  const dir = path.join(srv.dataDir, 'checks.d');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '.restart.tmp'), text);
  fs.renameSync(path.join(dir, '.restart.tmp'), path.join(dir, 'restart.yaml'));
}

function adminPost(srv, p) {
  return request(srv.url + p, { method: 'POST', headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
}

function agentPost(srv, p, body) {
  return request(srv.url + p, { method: 'POST', body, headers: { Authorization: `Bearer ${srv.apiKey}` } });
}

async function check(srv, name) {
  const res = await adminGet(srv, `/api/v1/checks/${name}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function listener(t) {
  const server = net.createServer((s) => s.on('error', () => {}).end('hello\n')); // probes may reset
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return `127.0.0.1:${server.address().port}`;
}

scenario('a file check disabled through the API stays disabled across a restart; enabled, it runs after the next', async (ctx, t) => {
  const target = await listener(t);
  const srv = await ctx.server();
  const file = (extra = '') => [
    'checks:',
    `  - {name: paused, type: tcp, target: "${target}", interval: 200ms${extra}}`,
    `  - {name: marker, type: tcp, target: "${target}", interval: 200ms}`,
    '',
  ].join('\n');
  writeChecks(srv, file());
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/paused')).json?.runs >= 1, 3000, { message: 'paused runs' });

  const off = await adminPost(srv, '/api/v1/checks/paused/disable');
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.enabled, false);
  assert.equal(off.json.enabled_by, 'api');
  assert.equal(off.json.override.enabled, false);
  assert.equal(off.json.override.by, 'admin');
  assert.match(off.json.override.time, /^\d{4}-\d\d-\d\dT/);

  await srv.stop();
  const srv2 = await ctx.restart(srv);
  let k = await check(srv2, 'paused');
  assert.equal(k.enabled, false);
  assert.equal(k.enabled_by, 'api');
  assert.equal(k.source, 'file');
  // does not run: the marker check, scheduled alike, ran three times meanwhile
  await waitFor(async () => (await check(srv2, 'marker')).runs >= 3, 3000, { message: 'marker ran after the restart' });
  assert.equal((await check(srv2, 'paused')).runs, 0);

  const on = await adminPost(srv2, '/api/v1/checks/paused/enable');
  assert.equal(on.status, 200, on.text);
  assert.equal(on.json.enabled, true);
  assert.equal(on.json.enabled_by, 'definition'); // what the file says: no override left
  assert.equal(on.json.override, null);
  await srv2.stop();
  const srv3 = await ctx.restart(srv);
  await waitFor(async () => (await check(srv3, 'paused')).runs >= 1, 3000, { message: 'paused runs after the next restart' });
  k = await check(srv3, 'paused');
  assert.equal(k.enabled, true);
  assert.equal(k.state, 'ok');

  // the file says enabled: false, the API enables it: the API's word holds across a restart ...
  writeChecks(srv3, file(', enabled: false'));
  await waitFor(async () => (await check(srv3, 'paused')).enabled === false, 2000, { message: 'the file disables paused' });
  assert.equal((await adminPost(srv3, '/api/v1/checks/paused/enable')).status, 200);
  await srv3.stop();
  const srv4 = await ctx.restart(srv);
  k = await check(srv4, 'paused');
  assert.equal(k.enabled, true);
  assert.equal(k.enabled_by, 'api');
  // ... until the file's enabled changes
  writeChecks(srv4, file(', enabled: true'));
  await waitFor(async () => (await check(srv4, 'paused')).enabled_by === 'definition', 2000, { message: 'the edit clears the override' });
  assert.equal((await check(srv4, 'paused')).enabled, true);
  assert.equal((await adminPost(srv4, '/api/v1/checks/nope/disable')).status, 404);
});

scenario('after a restart, an agent\'s batch is accepted before its next heartbeat', async (ctx) => {
  const srv = await ctx.server();
  writeChecks(srv, 'checks:\n  - {name: eu-tcp, type: tcp, target: "127.0.0.1:9", interval: 1h, run_on: {tags: {region: eu}}}\n');
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/eu-tcp')).status === 200, 2000, { message: 'the check loads' });
  const body = hb('rs-1', { site: 'fra1', tags: 'region=eu', checks: true });
  const first = await heartbeat(srv, body);
  assert.ok(first.status === 200 || first.status === 204, first.text);
  const batch = { results: [{ check: 'eu-tcp', state: 'critical', latency_ms: 1, message: 'connection refused' }] };
  let res = await agentPost(srv, '/api/v1/checks/results/rs-1', batch);
  assert.deepEqual(res.json, { accepted: 1, ignored: 0 });

  await srv.stop();
  const srv2 = await ctx.restart(srv);
  res = await agentPost(srv2, '/api/v1/checks/results/rs-1', batch); // no heartbeat since the start
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { accepted: 1, ignored: 0 });
  const runner = (await check(srv2, 'eu-tcp')).runners.find((r) => r.agent === 'rs-1');
  assert.equal(runner.location, 'fra1');
  assert.equal(runner.last_result.message, 'connection refused');
  // an agent the server never heard of is still ignored
  res = await agentPost(srv2, '/api/v1/checks/results/rs-unknown', batch);
  assert.deepEqual(res.json, { accepted: 0, ignored: 1 });
});

scenario('a real agent\'s results are taken after a server restart, long before its next heartbeat', async (ctx, t) => {
  const target = await listener(t);
  const env = { FAIL_TIMEOUT: '60' }; // the agent heartbeats every 20 s: not DOWN meanwhile
  const srv = await ctx.server({ env });
  writeChecks(srv, `checks:\n  - {name: from-eu, type: tcp, target: "${target}", interval: 300ms, run_on: {tags: {region: eu}}}\n`);
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/from-eu')).status === 200, 2000, { message: 'the check loads' });
  const agent = ctx.agent('rs-agent', { server: srv, env: { SITE: 'ams1', TAGS: 'region=eu', PING_INTERVAL: '20', METRICS_INTERVAL: '0' } });
  await waitFor(async () => (await check(srv, 'from-eu')).runners?.some((r) => r.agent === 'rs-agent' && r.state === 'ok'), 10000, { message: 'the agent runs from-eu' });

  await srv.stop();
  const restarted = Date.now();
  const srv2 = await ctx.restart(srv);
  let runner;
  await waitFor(async () => {
    runner = (await check(srv2, 'from-eu')).runners?.find((r) => r.agent === 'rs-agent');
    return runner && Date.parse(runner.last_result.time) >= restarted;
  }, 5000, { message: 'a result of the agent taken after the restart' });
  assert.equal(runner.last_result.state, 'ok');
  assert.equal(runner.location, 'ams1');
  assert.ok(Date.now() - restarted < 15000, 'well before its next heartbeat');
  assert.doesNotMatch(agent.stderr, /the server ignored/);
  // the check leaves the files: until the agent's next heartbeat tells it so, its results are
  // ignored, and the agent says it
  writeChecks(srv2, 'checks: []\n');
  await waitFor(async () => (await adminGet(srv2, '/api/v1/checks/from-eu')).status === 404, 2000, { message: 'from-eu removed' });
  await waitFor(() => /agent: the server ignored \d+ of \d+ check results/.test(agent.stderr), 5000, { message: 'the agent logs the ignored results' });
});
