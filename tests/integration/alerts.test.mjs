// alerts.test.mjs — the state machine end to end with real agents: an agent killed → DOWN event
// and one Telegram message within FAIL_TIMEOUT + 1.5 s (not before FAIL_TIMEOUT − PING_INTERVAL);
// the agent back → UP event and message "after ... down". Events via /admin/api/events.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { events, workerStatus, adminJson } from './lib/http.mjs';
import { waitFor, sleep } from './lib/wait.mjs';

const FAIL_TIMEOUT_S = 1.5;
const PING_S = 0.3;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/; // docs/api.md: UTC, with milliseconds
const CHAT = '-1009876543';

async function setup(ctx, extraEnv = {}) {
  const tg = await ctx.telegram();
  const srv = await ctx.server({
    env: { FAIL_TIMEOUT: String(FAIL_TIMEOUT_S), TELEGRAM_TOKEN: tg.token, CHAT_ID: CHAT, TELEGRAM_API_URL: tg.url, ...extraEnv },
  });
  return { tg, srv };
}

/** Polls events until one of kind for worker appears; returns [event, time first seen]. */
async function waitEvent(srv, worker, kind, timeoutMs, after = 0) {
  const ev = await waitFor(
    async () => (await events(srv, { limit: 50 })).find((e) => e.worker === worker && e.kind === kind && e.id > after),
    timeoutMs,
    { intervalMs: 100, message: `a "${kind}" event for ${worker}` },
  );
  return [ev, Date.now()];
}

scenario('agent killed → DOWN event and one Telegram message within FAIL_TIMEOUT + 1.5 s; back → UP', async (ctx, t) => {
  const { tg, srv } = await setup(ctx);
  const name = 'gpu-down-1';
  const agent = ctx.agent(name, { server: srv });
  const [upEv] = await waitEvent(srv, name, 'up', 5000);
  // Let it heartbeat a few times so "last seen" is fresh.
  await sleep(800);
  assert.equal((await workerStatus(srv, name)).state, 'up');

  const killedAt = Date.now();
  agent.signal('SIGTERM');
  const ex = await agent.waitExit(2000);
  assert.ok(ex, 'agent exits within 2 s of SIGTERM');
  assert.equal(ex.code, 0, 'agent exit status after SIGTERM');
  agent.expectedExit = true;

  const [downEv, seenAt] = await waitEvent(srv, name, 'down', (FAIL_TIMEOUT_S + 1.5) * 1000 + 500, upEv.id);
  const latency = (seenAt - killedAt) / 1000;
  assert.ok(latency <= FAIL_TIMEOUT_S + 1.5, `DOWN seen ${latency.toFixed(2)} s after the kill (limit ${FAIL_TIMEOUT_S + 1.5})`);
  assert.ok(latency >= FAIL_TIMEOUT_S - PING_S - 0.2, `DOWN seen only ${latency.toFixed(2)} s after the kill: too early`);
  assert.match(downEv.time, ISO_UTC);
  assert.ok(downEv.details && typeof downEv.details === 'object' && !Array.isArray(downEv.details), 'details is an object');

  const downMsg = await tg.waitForMessage((m) => m.text.startsWith(`🔴 ${name} is DOWN`), Math.max(0, killedAt + (FAIL_TIMEOUT_S + 1.5) * 1000 - Date.now()) + 100);
  const msgLatency = (downMsg.time - killedAt) / 1000;
  assert.ok(msgLatency <= FAIL_TIMEOUT_S + 1.5, `DOWN message ${msgLatency.toFixed(2)} s after the kill`);
  assert.match(downMsg.text, /127\.0\.0\.1/, 'DOWN message shows the last-seen IP');
  assert.equal(String(downMsg.chat_id), CHAT, 'sent to CHAT_ID');
  const downStatus = await workerStatus(srv, name);
  assert.equal(downStatus.state, 'down');
  // DOWN comes FAIL_TIMEOUT after the last heartbeat, at most 1 s late (both times as the server
  // tells them; a second of slack if it tells whole seconds only).
  const lastSeen = Date.parse(downStatus.last_seen);
  const rounding = /\.\d+Z$/.test(downStatus.last_seen) && /\.\d+Z$/.test(downEv.time) ? 50 : 1000;
  const late = (Date.parse(downEv.time) - lastSeen) / 1000;
  assert.ok(late >= FAIL_TIMEOUT_S - rounding / 1000, `DOWN ${late.toFixed(3)} s after the last heartbeat (FAIL_TIMEOUT ${FAIL_TIMEOUT_S})`);
  assert.ok(late <= FAIL_TIMEOUT_S + 1 + rounding / 1000, `DOWN ${late.toFixed(3)} s after the last heartbeat: over 1 s late`);

  // Back up.
  const restartedAt = Date.now();
  ctx.agent(name, { server: srv });
  const [upAgain, upSeen] = await waitEvent(srv, name, 'up', 5000, downEv.id);
  assert.ok(upSeen - restartedAt < 3000, 'UP within 3 s of the agent starting');
  const upMsg = await tg.waitForMessage((m) => m.text.startsWith(`🟢 ${name} is UP`), 4000);
  assert.match(upMsg.text, /127\.0\.0\.1/, 'UP message shows the IP');
  assert.match(upMsg.text, /after\b[\s\S]*\bdown/i, 'UP message says how long it was down ("after ... down")');
  assert.equal((await workerStatus(srv, name)).state, 'up');

  // Exactly one message each, and none for the first "up".
  await sleep(1200);
  const about = tg.messagesAbout(name).map((m) => m.text);
  assert.equal(about.length, 2, `exactly one DOWN and one UP message: ${JSON.stringify(about)}`);
  assert.ok(about[0].startsWith(`🔴 ${name} is DOWN`) && about[1].startsWith(`🟢 ${name} is UP`), `order: ${JSON.stringify(about)}`);

  // Event order and filters.
  const all = (await events(srv)).filter((e) => e.worker === name);
  assert.deepEqual(all.map((e) => e.kind), ['up', 'down', 'up'], 'newest first: up, down, up');
  assert.ok(all[0].id > all[1].id && all[1].id > all[2].id, 'ids descend');
  for (const e of all) assert.match(e.time, ISO_UTC);
  assert.ok(Date.parse(all[0].time) >= Date.parse(all[1].time));
  const downs = await events(srv, { type: 'down' });
  assert.ok(downs.length >= 1 && downs.every((e) => e.kind === 'down'), `type=down: ${JSON.stringify(downs)}`);
  const both = await events(srv, { type: 'down,up' });
  assert.equal(both.filter((e) => e.worker === name).length, 3);
  const one = await events(srv, { limit: 1 });
  assert.equal(one.length, 1);
  assert.equal(one[0].id, all[0].id, 'limit=1 gives the newest');
  assert.equal(upAgain.id, all[0].id);
});

scenario('two workers: only the dead one goes DOWN', async (ctx) => {
  const { tg, srv } = await setup(ctx);
  const a = ctx.agent('pair-alive', { server: srv });
  const b = ctx.agent('pair-dead', { server: srv });
  await waitEvent(srv, 'pair-alive', 'up', 5000);
  await waitEvent(srv, 'pair-dead', 'up', 5000);
  await b.kill9();
  await waitEvent(srv, 'pair-dead', 'down', (FAIL_TIMEOUT_S + 2) * 1000);
  await tg.waitForMessage((m) => m.text.startsWith('🔴 pair-dead is DOWN'), 3000);
  await sleep(FAIL_TIMEOUT_S * 1000);
  const evs = await events(srv);
  assert.equal(evs.filter((e) => e.worker === 'pair-alive' && e.kind === 'down').length, 0, 'no DOWN for the live agent');
  assert.equal(tg.messagesAbout('pair-alive').length, 0);
  const st = await adminJson(srv, '/admin/api/status');
  const states = Object.fromEntries(st.workers.map((w) => [w.name, w.state]));
  assert.deepEqual(states, { 'pair-alive': 'up', 'pair-dead': 'down' });
  assert.ok(a.alive);
});

scenario('agent keeps running while the server is away, and is seen once it comes', async (ctx) => {
  const { freePort } = await import('./lib/faultline.mjs');
  const port = await freePort();
  const agent = ctx.agent('patient-box', { port, apiKey: 'patient-key' });
  await sleep(1500);
  assert.ok(agent.alive, `agent exited while the server was away: ${JSON.stringify(agent.exit)}\n${agent.stderr}`);
  const srv = await ctx.server({ port, env: { API_KEY: 'patient-key' } });
  await waitEvent(srv, 'patient-box', 'up', 3000);
  const w = await workerStatus(srv, 'patient-box');
  assert.equal(w.ip, '127.0.0.1');
});
