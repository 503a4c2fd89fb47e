// agent-checks.test.mjs — checks on agents (docs/checks.md, "Checks on agents"), on loopback:
// the heartbeat answer's checks_version, the assignments an agent fetches by its TAGS and SITE,
// the round trip assignment → fetch → run → report with real agents, the per-runner states and
// locations of the check view, the quorum (one failing location of two is a WARNING naming it,
// both make it CRITICAL), a runner that stops reporting dropped from the count, and the
// validation of result batches (400 naming the member).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { request, adminGet, heartbeat, hb } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

function writeChecks(srv, text) {
  const dir = path.join(srv.dataDir, 'checks.d');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '.agents.tmp'), text);
  fs.renameSync(path.join(dir, '.agents.tmp'), path.join(dir, 'agents.yaml'));
}

function agentRequest(srv, p, { method = 'GET', body } = {}) {
  return request(srv.url + p, { method, body, headers: { Authorization: `Bearer ${srv.apiKey}` } });
}

async function check(srv, name) {
  const res = await adminGet(srv, `/api/v1/checks/${name}`);
  return res.status === 200 ? res.json : null;
}

async function listener() {
  const server = net.createServer((s) => s.on('error', () => {}).end('hello\n')); // probes may reset
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

scenario('the heartbeat answers a checks_version to an agent that asks, and the assignments follow its tags', async (ctx) => {
  const srv = await ctx.server();
  writeChecks(srv, [
    'checks:',
    '  - {name: eu-tcp, type: tcp, target: "127.0.0.1:9", interval: 1s, run_on: {tags: {region: eu}}}',
    '  - {name: fra-tcp, type: tcp, target: "127.0.0.1:9", interval: 1s, run_on: {tags: {site: fra1}}}',
    '  - {name: us-tcp, type: tcp, target: "127.0.0.1:9", interval: 1s, run_on: {tags: {region: us}}}',
    '  - {name: server-tcp, type: tcp, target: "127.0.0.1:9", interval: 1s}',
    '',
  ].join('\n'));
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks')).json.checks.length === 4, 2000, { message: 'the checks load' });

  // Not yet seen: its tags are unknown.
  assert.equal((await agentRequest(srv, '/api/v1/agent/checks/ac-1')).status, 404);
  const body = hb('ac-1', { site: 'fra1', tags: 'region=eu,role=gpu', checks: true });
  let res = await heartbeat(srv, body);
  assert.ok(res.status === 204 || res.status === 200, `first heartbeat: ${res.status}`);
  res = await heartbeat(srv, body);
  assert.equal(res.status, 200, res.text);
  const version = res.json.checks_version;
  assert.match(version, /^[0-9a-f]+-[0-9a-f]{8}$/);
  // An old agent (no "checks") still gets 204.
  assert.equal((await heartbeat(srv, hb('ac-old'))).status, 204);

  const got = await agentRequest(srv, '/api/v1/agent/checks/ac-1');
  assert.equal(got.status, 200, got.text);
  assert.equal(got.json.version, version);
  assert.deepEqual(got.json.checks.map((c) => c.name), ['eu-tcp', 'fra-tcp']);
  assert.deepEqual(got.json.checks[0].run_on, { tags: { region: 'eu' } });
  // The admin's key is not the agent key.
  assert.equal((await request(srv.url + '/api/v1/agent/checks/ac-1')).status, 401);

  // Other tags: another version.
  res = await heartbeat(srv, { ...body, tags: 'region=us' });
  assert.equal(res.status, 200);
  assert.notEqual(res.json.checks_version, version);
  assert.deepEqual((await agentRequest(srv, '/api/v1/agent/checks/ac-1')).json.checks.map((c) => c.name), ['fra-tcp', 'us-tcp']);

  // Bad tags: 400 naming the member.
  res = await heartbeat(srv, { ...body, tags: 'region' });
  assert.equal(res.status, 400);
  assert.equal(res.json.field, 'tags');
  assert.match(res.json.error, /TAGS: expected NAME=VALUE pairs separated by commas.*got "region"/);
});

scenario('result batches are validated whole: 400 naming the member, nothing applied', async (ctx) => {
  const srv = await ctx.server();
  const post = (body) => agentRequest(srv, '/api/v1/checks/results/ac-2', { method: 'POST', body });
  let res = await post({ results: [{ check: 'x', state: 'ok' }, { check: 'x', state: 'down' }] });
  assert.equal(res.status, 400);
  assert.equal(res.json.field, 'results[1].state');
  assert.equal(res.json.error, 'results[1].state: expected ok, warning, critical or unknown');
  res = await post({ results: [{ check: 'x', state: 'ok', latency_ms: -1 }] });
  assert.equal(res.json.field, 'results[0].latency_ms');
  res = await post({ results: [{ check: 'x', state: 'critical', path: { hops: 'no' } }] });
  assert.equal(res.status, 400);
  assert.equal(res.json.field, 'results[0].path');
  res = await post({ result: [] });
  assert.equal(res.status, 400);
  assert.equal(res.json.field, 'results');
  // A check it does not run: ignored, counted.
  res = await post({ results: [{ check: 'nothing-here', state: 'ok', latency_ms: 1 }] });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { accepted: 0, ignored: 1 });
  assert.equal((await request(srv.url + '/api/v1/checks/results/ac-2', { method: 'POST', body: { results: [] } })).status, 401);
});

scenario('agents fetch, run and report: per-runner states and locations, the quorum, a stale runner dropped', async (ctx) => {
  const srv = await ctx.server();
  const target = await listener();
  ctx.closers.push(() => new Promise((r) => target.close(r)));
  const port = target.address().port;
  writeChecks(srv, [
    'checks:',
    `  - {name: banner, type: tcp, target: "127.0.0.1:${port}", interval: 500ms, run_on: {tags: {region: eu}}}`,
    // fails where the agent's SITE is fra1: one location of two
    '  - name: only-ams',
    '    type: exec',
    '    command: [sh, -c, "test \\"$SITE\\" = ams1"]',
    '    interval: 500ms',
    '    fail_threshold: 1',
    '    run_on: {tags: {region: eu}}',
    // fails everywhere
    '  - {name: closed, type: tcp, target: "127.0.0.1:9", interval: 500ms, fail_threshold: 1, run_on: {tags: {region: eu}}}',
    '',
  ].join('\n'));
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks')).json.checks.length === 3, 2000, { message: 'the checks load' });
  const fra = ctx.agent('ac-fra', { server: srv, env: { SITE: 'fra1', TAGS: 'region=eu', METRICS_INTERVAL: '0', DIAG_MTR_ROUNDS: '1', DIAG_MTR_MAX_HOPS: '2' } });
  ctx.agent('ac-ams', { server: srv, env: { SITE: 'ams1', TAGS: 'region=eu,role=gpu', METRICS_INTERVAL: '0', DIAG_MTR_ROUNDS: '1', DIAG_MTR_MAX_HOPS: '2' } });

  let k;
  await waitFor(async () => (k = await check(srv, 'banner')).runners.filter((r) => r.state === 'ok').length === 2, 10000, { message: 'banner ok on both agents' });
  assert.equal(k.state, 'ok');
  const byLoc = Object.fromEntries(k.runners.map((r) => [r.location, r]));
  assert.deepEqual(Object.keys(byLoc).sort(), ['ams1', 'fra1']);
  assert.equal(byLoc.fra1.agent, 'ac-fra');
  assert.deepEqual(byLoc.ams1.tags, { site: 'ams1', region: 'eu', role: 'gpu' });
  assert.equal(byLoc.fra1.last_result.state, 'ok');
  assert.equal(byLoc.fra1.stale, false);

  await waitFor(async () => (k = await check(srv, 'only-ams')).state === 'warning', 10000, { message: 'only-ams is a WARNING (1 of 2 fail)' });
  assert.match(k.message, /^only-ams is unreachable from fra1 only \(1 of 2 locations fine\)/);

  await waitFor(async () => (k = await check(srv, 'closed')).state === 'critical', 10000, { message: 'closed is CRITICAL (both fail)' });
  assert.match(k.message, /^127\.0\.0\.1:9 is unreachable from every location: /);

  // fra1 stops: its runner goes stale (3 intervals, at least 5 s) and only ams1 counts: OK.
  await fra.stop();
  await waitFor(async () => (k = await check(srv, 'only-ams')).state === 'ok', 12000, { message: 'only-ams OK once fra1 is stale' });
  const fraRunner = k.runners.find((r) => r.location === 'fra1');
  assert.equal(fraRunner.stale, true);
  assert.equal(fraRunner.state, 'unknown');
  // each change is a check_state event of the agents' runners, the last one back to ok
  const evs = (await adminGet(srv, '/api/v1/events?type=check_state&worker=only-ams')).json.events;
  assert.ok(evs.length >= 2, JSON.stringify(evs));
  assert.ok(evs.every((e) => e.details.runner === 'agents'), JSON.stringify(evs));
  assert.equal(evs[0].details.to, 'ok');
  assert.ok(evs.some((e) => e.details.to === 'warning' && /^only-ams is unreachable from fra1\b/.test(e.details.message)), JSON.stringify(evs));
});
