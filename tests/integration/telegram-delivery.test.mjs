// telegram-delivery.test.mjs — the outbox: Telegram failing (502) for a while, Telegram asking to
// slow down (429 retry_after), and the server killed (-9) while messages are pending. Every
// message must arrive (at least once), in order, after the fake recovers.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { events, heartbeat, hb, workerStatus } from './lib/http.mjs';
import { waitFor, sleep } from './lib/wait.mjs';

const FAIL_TIMEOUT_S = 1.5;

async function setup(ctx, tgOpts) {
  const tg = await ctx.telegram(tgOpts);
  const srv = await ctx.server({
    env: { FAIL_TIMEOUT: String(FAIL_TIMEOUT_S), TELEGRAM_TOKEN: tg.token, CHAT_ID: '-100555', TELEGRAM_API_URL: tg.url },
  });
  return { tg, srv };
}

function waitEvent(srv, worker, kind, timeoutMs, afterId = 0) {
  return waitFor(
    async () => (await events(srv, { limit: 50 })).find((e) => e.worker === worker && e.kind === kind && e.id > afterId),
    timeoutMs,
    { intervalMs: 100, message: `a "${kind}" event for ${worker}` },
  );
}

const attemptsFor = (tg, prefix) => tg.attempts.filter((a) => (a.text ?? '').startsWith(prefix));

scenario('Telegram failing with 502 for a while: DOWN and UP arrive, in order, after it recovers', async (ctx) => {
  const { tg, srv } = await setup(ctx, { mode: 'fail502' });
  const name = 'flaky-tg-box';
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  const down = await waitEvent(srv, name, 'down', (FAIL_TIMEOUT_S + 2) * 1000);
  const downPrefix = `🔴 ${name} is DOWN`;
  // The server must retry: wait for a second failed attempt of the DOWN message.
  await waitFor(() => attemptsFor(tg, downPrefix).length >= 2, 4000, {
    message: () => `a retry of the DOWN message (attempts: ${JSON.stringify(tg.attempts.map((a) => [a.status, a.text?.slice(0, 30)]))})`,
  });
  // Worker comes back while Telegram is still down: the UP message queues behind DOWN.
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await waitEvent(srv, name, 'up', 3000, down.id);
  await sleep(1000);
  const failedBefore = tg.attempts.length;
  const firstAttempt = tg.attempts[0].time;
  const failingFor = (Date.now() - firstAttempt) / 1000;
  // Backoff from 1 s doubling: a few attempts, not a busy loop.
  assert.ok(failedBefore <= Math.ceil(failingFor) + 2, `${failedBefore} attempts in ${failingFor.toFixed(1)} s of failures: no backoff?`);
  const downAttempts = attemptsFor(tg, downPrefix);
  const gap = downAttempts[1].time - downAttempts[0].time;
  assert.ok(gap >= 800, `the first retry came ${gap} ms after the first attempt (backoff starts at 1 s)`);
  assert.equal(tg.messages.length, 0);

  tg.setMode('ok');
  const downMsg = await tg.waitForMessage((m) => m.text.startsWith(downPrefix), 10000);
  const upMsg = await tg.waitForMessage((m) => m.text.startsWith(`🟢 ${name} is UP`), 10000);
  // Delivered at the next retry the backoff planned (1 s after the first failure, then
  // doubling), not before it; late by at most a few seconds of a loaded machine, far from the
  // 5-minute cap.
  const failures = downAttempts.filter((a) => a.status === 502);
  const planned = failures.at(-1).time + 1000 * 2 ** (failures.length - 1);
  assert.ok(
    downMsg.time >= planned - 150 && downMsg.time <= planned + 5000,
    `delivered ${downMsg.time - planned} ms from the retry planned after ${failures.length} failures`,
  );
  assert.ok(tg.messages.indexOf(downMsg) < tg.messages.indexOf(upMsg), 'DOWN delivered before UP (alone or in one digest)');
  assert.match(upMsg.text, /after\b[\s\S]*\bdown/i);
});

scenario('Telegram 429 retry_after is honoured, then the message is delivered', async (ctx) => {
  const RETRY_AFTER = 2; // longer than the first 1 s backoff, so honouring it is visible
  const { tg, srv } = await setup(ctx, { retryAfter: RETRY_AFTER });
  tg.failNext(1, '429');
  const name = 'ratelimited-box';
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await waitEvent(srv, name, 'down', (FAIL_TIMEOUT_S + 2) * 1000);
  await tg.waitForMessage((m) => m.text.startsWith(`🔴 ${name} is DOWN`), 8000);
  const tries = attemptsFor(tg, `🔴 ${name} is DOWN`);
  assert.equal(tries[0].status, 429, 'first attempt was answered 429');
  const gap = (tries[1].time - tries[0].time) / 1000;
  assert.ok(gap >= RETRY_AFTER - 0.1, `retried ${gap.toFixed(2)} s after a 429 asking for ${RETRY_AFTER} s`);
  assert.ok(gap <= RETRY_AFTER + 3, `retried only ${gap.toFixed(2)} s after the 429`);
  assert.deepEqual(tries.map((a) => a.status), [429, 200], 'two attempts in all, the second delivered');
});

scenario('Telegram 429 with retry_after 1 (as Telegram sends it): delivered', async (ctx) => {
  const { tg, srv } = await setup(ctx, { retryAfter: 1 });
  tg.failNext(2, '429');
  const name = 'ratelimited-box-2';
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await waitEvent(srv, name, 'down', (FAIL_TIMEOUT_S + 2) * 1000);
  await tg.waitForMessage((m) => m.text.startsWith(`🔴 ${name} is DOWN`), 8000);
  const tries = attemptsFor(tg, `🔴 ${name} is DOWN`);
  assert.deepEqual(tries.map((a) => a.status), [429, 429, 200]);
  for (let i = 1; i < tries.length; i++) assert.ok(tries[i].time - tries[i - 1].time >= 900, 'waited ≥ 1 s after each 429');
});

scenario('pending outbox survives kill -9: messages arrive after a restart with Telegram working', async (ctx) => {
  const { tg, srv } = await setup(ctx, { mode: 'fail502' });
  const name = 'outbox-box';
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  const down = await waitEvent(srv, name, 'down', (FAIL_TIMEOUT_S + 2) * 1000);
  // Back up through an agent, which keeps heartbeating across the restart.
  ctx.agent(name, { server: srv });
  await waitEvent(srv, name, 'up', 3000, down.id);
  await waitFor(() => attemptsFor(tg, `🔴 ${name} is DOWN`).length >= 1, 3000, { message: 'a failed DOWN attempt' });
  assert.equal(tg.messages.length, 0);

  await srv.kill9();
  tg.setMode('ok');
  const srv2 = await ctx.restart(srv);
  const downMsg = await tg.waitForMessage((m) => m.text.startsWith(`🔴 ${name} is DOWN`), 6000, 'the pending DOWN message after the restart');
  const upMsg = await tg.waitForMessage((m) => m.text.startsWith(`🟢 ${name} is UP`), 6000, 'the pending UP message after the restart');
  assert.ok(downMsg.message_id < upMsg.message_id, 'DOWN before UP');
  // The restart created no new events for a worker whose agent kept running. (Its GPU count
  // may differ from the stand-in heartbeat's: a gpu_lost or gpu_back event is no state change.)
  await sleep(FAIL_TIMEOUT_S * 1000 + 500);
  const evs = (await events(srv2, { type: 'up,down' })).filter((e) => e.worker === name);
  assert.deepEqual(evs.map((e) => e.kind), ['up', 'down', 'up']);
  assert.equal((await workerStatus(srv2, name)).state, 'up');
  assert.equal(tg.messagesAbout(name).filter((m) => m.text.includes('is DOWN')).length, 1, 'no second DOWN message');
});


scenario('the event is stored before its message is sent: kill -9 while the message is in flight', async (ctx) => {
  const { tg, srv } = await setup(ctx);
  const name = 'stored-first-box';
  let killed = false;
  tg.onAttempt = async (a) => {
    if (killed || !(a.text ?? '').startsWith(`🔴 ${name} is DOWN`)) return;
    killed = true;
    // The server is waiting for Telegram's answer: it dies before it hears it.
    await srv.kill9();
  };
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await waitFor(() => killed && !srv.alive, (FAIL_TIMEOUT_S + 3) * 1000, { message: 'the DOWN message in flight (server killed)' });
  tg.onAttempt = null;
  const srv2 = await ctx.restart(srv);
  const evs = (await events(srv2)).filter((e) => e.worker === name);
  assert.deepEqual(evs.map((e) => e.kind), ['down', 'up'], 'the DOWN event was committed before the message went out');
  assert.equal((await workerStatus(srv2, name)).state, 'down');
  // At least once: the unacknowledged message is sent again after the restart.
  // (The fake counts the answer that went to the killed server as delivered: one, then the resend.)
  await waitFor(() => tg.messagesAbout(name).length >= 2, 6000, { message: 'the DOWN message sent again after the restart' });
  assert.ok(tg.messagesAbout(name).every((m) => m.text.startsWith(`🔴 ${name} is DOWN`)));
});
