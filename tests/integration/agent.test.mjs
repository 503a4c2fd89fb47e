// agent.test.mjs — what `faultline agent NAME` sends, watched at a fake server: a heartbeat at
// start and every PING_INTERVAL, authenticated, with name, gpus, version, uptime_s (and site);
// it never exits while the server is away or failing; SIGTERM → exit 0 promptly.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { runFaultline } from './lib/faultline.mjs';
import { sleep, waitFor } from './lib/wait.mjs';

const KEY = 'agent-test-key-123';

scenario('agent: first heartbeat at once, then one every PING_INTERVAL, with the right body', async (ctx) => {
  const fake = await ctx.ingest();
  const version = (await runFaultline(['--version'])).stdout.trim().replace(/^faultline /, '');
  const startedAt = Date.now();
  const agent = ctx.agent('agent-body-box', { port: fake.port, apiKey: KEY, env: { SITE: 'dc-north' } });
  const reqs = await fake.waitForRequests(1, 3000);
  assert.ok(reqs[0].time - startedAt < 2000, `first heartbeat ${reqs[0].time - startedAt} ms after start`);
  await fake.waitForRequests(8, 5000);
  const first = fake.requests[0];
  assert.equal(first.method, 'POST');
  assert.equal(first.path, '/api/v1/heartbeat');
  // docs/configuration.md: the agent sends its key as "Authorization: Bearer API_KEY".
  assert.equal(first.headers.authorization, `Bearer ${KEY}`, `authenticated with the key: ${JSON.stringify(first.headers)}`);
  assert.equal(first.headers['x-api-key'], undefined);
  assert.match(String(first.headers['content-type']), /application\/json/);
  for (const r of fake.requests) {
    assert.ok(r.json, `JSON body: ${r.text}`);
    assert.equal(r.json.name, 'agent-body-box');
    assert.ok(Number.isInteger(r.json.gpus) && r.json.gpus >= 0, `gpus ${r.json.gpus}`);
    assert.equal(r.json.version, version);
    assert.equal(typeof r.json.uptime_s, 'number');
    assert.ok(r.json.uptime_s >= 0);
    assert.equal(r.json.site, 'dc-north');
  }
  const gaps = fake.requests.slice(1, 8).map((r, i) => r.time - fake.requests[i].time).sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)];
  assert.ok(median >= 200 && median <= 600, `median gap ${median} ms for PING_INTERVAL 0.3 (gaps ${gaps})`);
  assert.ok(agent.alive);
});

scenario('agent: keeps going while the server answers 500 or is gone, resumes when it is back', async (ctx) => {
  const fake = await ctx.ingest();
  const agent = ctx.agent('agent-patient-box', { port: fake.port, apiKey: KEY });
  await fake.waitForRequests(2, 3000);
  fake.setStatus(500);
  const n500 = fake.requests.length;
  await fake.waitForRequests(n500 + 3, 3000);
  await fake.stop();
  await sleep(1500);
  assert.ok(agent.alive, `agent exited while the server was away: ${JSON.stringify(agent.exit)}\n${agent.stderr}`);
  fake.setStatus(204);
  const nGone = fake.requests.length;
  await fake.listen();
  await fake.waitForRequests(nGone + 2, 4000);
  assert.ok(agent.alive);
});

scenario('agent: 401 from the server is logged, the agent keeps running', async (ctx) => {
  const fake = await ctx.ingest({ status: 401 });
  const agent = ctx.agent('agent-401-box', { port: fake.port, apiKey: KEY });
  await fake.waitForRequests(3, 4000);
  assert.ok(agent.alive);
  await waitFor(() => /agent: heartbeat failed: HTTP 401: \{"error":"fake says no"\}\n/.test(agent.stderr), 2000, {
    message: 'agent logs the 401 with the answer',
  });
});

scenario('agent: SIGTERM → exit 0 within 2 s', async (ctx) => {
  const fake = await ctx.ingest();
  const agent = ctx.agent('agent-term-box', { port: fake.port, apiKey: KEY, env: { PING_INTERVAL: '30' } });
  await fake.waitForRequests(1, 3000);
  const t0 = Date.now();
  agent.signal('SIGTERM');
  const ex = await agent.waitExit(2000);
  agent.expectedExit = true;
  assert.ok(ex, 'exited within 2 s');
  assert.equal(ex.code, 0);
  assert.ok(Date.now() - t0 < 2000);
});
