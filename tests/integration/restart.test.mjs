// restart.test.mjs — the server killed (-9) and restarted on the same DATA_DIR: events are kept,
// workers keep their state, live agents cause no false DOWN, and a worker whose agent died gets
// a fresh FAIL_TIMEOUT of grace after the restart before it goes DOWN.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { events, heartbeat, hb, workerStatus } from './lib/http.mjs';
import { waitFor, sleep } from './lib/wait.mjs';

const FAIL_TIMEOUT_S = 1.5;

function waitEvent(srv, worker, kind, timeoutMs, afterId = 0) {
  return waitFor(
    async () => (await events(srv, { limit: 100 })).find((e) => e.worker === worker && e.kind === kind && e.id > afterId),
    timeoutMs,
    { intervalMs: 100, message: `a "${kind}" event for ${worker}` },
  );
}

const pick = (e) => ({ id: e.id, time: e.time, worker: e.worker, kind: e.kind });

scenario('kill -9 and restart: events kept, states kept, no false DOWN, dead worker gets a fresh grace', async (ctx) => {
  const tg = await ctx.telegram();
  const srv = await ctx.server({
    env: { FAIL_TIMEOUT: String(FAIL_TIMEOUT_S), TELEGRAM_TOKEN: tg.token, CHAT_ID: '42', TELEGRAM_API_URL: tg.url },
  });
  // dead-box: one heartbeat, then DOWN before the restart.
  assert.equal((await heartbeat(srv, hb('rs-dead-box', { gpus: 3, version: '2.0.0' }))).status, 204);
  const live = ctx.agent('rs-live-box', { server: srv });
  const dying = ctx.agent('rs-dying-box', { server: srv });
  await waitEvent(srv, 'rs-live-box', 'up', 5000);
  await waitEvent(srv, 'rs-dying-box', 'up', 5000);
  await waitEvent(srv, 'rs-dead-box', 'down', (FAIL_TIMEOUT_S + 2) * 1000);
  await tg.waitForMessage((m) => m.text.startsWith('🔴 rs-dead-box is DOWN'), 3000);
  const before = (await events(srv, { limit: 1000 })).map(pick);
  assert.deepEqual(
    before.map((e) => `${e.worker}:${e.kind}`).sort(),
    ['rs-dead-box:down', 'rs-dead-box:up', 'rs-dying-box:up', 'rs-live-box:up'],
  );

  // dying-box's agent dies just before the server does; the server stays away longer than
  // FAIL_TIMEOUT, so a restart that trusted the old last-seen times would mark everything DOWN.
  await dying.kill9();
  await srv.kill9();
  await sleep(FAIL_TIMEOUT_S * 1000 + 500);
  assert.ok(live.alive, 'the live agent survived the server being away');
  const restartAt = Date.now();
  const srv2 = await ctx.restart(srv);

  const after = (await events(srv2, { limit: 1000 })).map(pick);
  for (const e of before) assert.deepEqual(after.find((x) => x.id === e.id), e, `event ${e.id} kept as it was`);

  const st = await workerStatus(srv2);
  const states = Object.fromEntries(st.workers.map((w) => [w.name, w.state]));
  assert.deepEqual(states, { 'rs-dead-box': 'down', 'rs-live-box': 'up', 'rs-dying-box': 'up' }, 'states right after the restart');
  assert.equal(st.total, 3);
  const dead = st.workers.find((w) => w.name === 'rs-dead-box');
  assert.equal(dead.gpus, 3);
  assert.equal(dead.version, '2.0.0');
  assert.equal(dead.ip, '127.0.0.1');

  // Grace: no DOWN for anyone until FAIL_TIMEOUT after the restart.
  const graceEnd = restartAt + FAIL_TIMEOUT_S * 1000 - 150;
  while (Date.now() < graceEnd) {
    const fresh = (await events(srv2, { limit: 100 })).filter((e) => !before.some((b) => b.id === e.id));
    assert.deepEqual(fresh.map(pick), [], `new events within FAIL_TIMEOUT of the restart (${Date.now() - restartAt} ms after it)`);
    await sleep(100);
  }
  // Then the dead agent's worker goes DOWN, and only it.
  const maxId = Math.max(...before.map((e) => e.id));
  const down = await waitEvent(srv2, 'rs-dying-box', 'down', Math.max(0, srv2.readyTime + (FAIL_TIMEOUT_S + 1.5) * 1000 - Date.now()) + 200, maxId);
  const downAfter = Date.parse(down.time) - restartAt;
  assert.ok(downAfter >= FAIL_TIMEOUT_S * 1000 - 150, `the DOWN event is ${downAfter} ms after the restart: no fresh grace`);
  await tg.waitForMessage((m) => m.text.startsWith('🔴 rs-dying-box is DOWN'), 3000);
  await sleep(800);
  const fresh = (await events(srv2, { limit: 100 })).filter((e) => e.id > maxId);
  assert.deepEqual(fresh.map((e) => `${e.worker}:${e.kind}`), ['rs-dying-box:down'], 'the only new event');
  assert.equal(tg.messagesAbout('rs-live-box').length, 0, 'no message about the live worker');
  assert.equal(tg.messagesAbout('rs-dead-box').length, 1, 'the dead worker is not announced again');
  assert.equal((await workerStatus(srv2, 'rs-live-box')).state, 'up');
  assert.ok(live.alive);
});

scenario('a clean stop (SIGTERM) and start keeps workers and events too', async (ctx) => {
  const srv = await ctx.server();
  assert.equal((await heartbeat(srv, hb('clean-rs-1'))).status, 204);
  assert.equal((await heartbeat(srv, hb('clean-rs-2'))).status, 204);
  const before = (await events(srv)).map(pick);
  assert.equal(before.length, 2);
  await srv.stop();
  const srv2 = await ctx.restart(srv);
  assert.deepEqual((await events(srv2)).map(pick), before);
  assert.equal((await workerStatus(srv2)).total, 2);
});
