// gpu-alerts.test.mjs — a machine that reports fewer GPUs than before is told, and so is their
// return, for faultline's own agents (POST /api/v1/heartbeat with "gpus") as for the
// uptime-rca-bot's clients (uptime-bot.test.mjs); GPU_ALERTS=0 turns it off; a machine switched
// from the bot's client to faultline's agent keeps its identity and GPU count.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { adminJson, events, heartbeat, hb, request } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const CHAT = '-100';

function telegramEnv(tg, extra = {}) {
  return { TELEGRAM_TOKEN: tg.token, CHAT_ID: CHAT, TELEGRAM_API_URL: tg.url, ...extra };
}

async function beat(srv, name, gpus) {
  const r = await heartbeat(srv, hb(name, { gpus }));
  assert.equal(r.status, 204, r.text);
}

scenario('an agent reporting 4 → 3 GPUs is told "lost a GPU", 3 → 4 its return, 4 → 2 "lost 2 GPUs"', async (ctx) => {
  const tg = await ctx.telegram();
  const srv = await ctx.server({ env: telegramEnv(tg) });
  await beat(srv, 'gpu-box-1', 4);
  await beat(srv, 'gpu-box-1', 4);
  await beat(srv, 'gpu-box-1', 3);
  const lost = await tg.waitForMessage((m) => m.text.includes('gpu-box-1 lost'), 8000);
  assert.match(lost.text, /^🟠 gpu-box-1 lost a GPU: 4 → 3\nAt \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC from 127\.0\.0\.1\.$/);
  assert.equal(String(lost.chat_id), CHAT);
  await beat(srv, 'gpu-box-1', 4);
  const back = await tg.waitForMessage((m) => m.text.includes('gpu-box-1 has'), 8000);
  assert.match(back.text, /^🟢 gpu-box-1 has its GPU back: 3 → 4\nAt /);
  await beat(srv, 'gpu-box-1', 2);
  const two = await tg.waitForMessage((m) => m.text.includes('lost 2 GPUs'), 8000);
  assert.match(two.text, /^🟠 gpu-box-1 lost 2 GPUs: 4 → 2\nAt /);

  const evs = await events(srv, { type: 'gpu_lost,gpu_back' });
  assert.deepEqual(
    evs.map((e) => [e.worker, e.kind, e.details.from, e.details.to, e.details.gpu_error]).reverse(),
    [
      ['gpu-box-1', 'gpu_lost', 4, 3, false],
      ['gpu-box-1', 'gpu_back', 3, 4, false],
      ['gpu-box-1', 'gpu_lost', 4, 2, false],
    ],
  );
  // Pacing (3 s per group chat) may keep the worker waiting past FAIL_TIMEOUT: count GPU news only.
  assert.equal(tg.messages.filter((m) => /lost|GPUs? back/.test(m.text)).length, 3, 'a new worker and an unchanged count are not told');
});

scenario('GPU_ALERTS=0: the count is kept, nothing is recorded or told', async (ctx) => {
  const tg = await ctx.telegram();
  const srv = await ctx.server({ env: telegramEnv(tg, { GPU_ALERTS: '0' }) });
  await beat(srv, 'gpu-box-2', 4);
  await beat(srv, 'gpu-box-2', 3);
  const bot = await request(`${srv.url}/ping/gpu-box-2(GPU_ERR)?api_key=${srv.apiKey}`);
  assert.equal(bot.status, 200);
  // A marker after the changes: once its UP is stored, an event before it would be too.
  await beat(srv, 'marker-box', 1);
  await waitFor(async () => (await events(srv)).some((e) => e.worker === 'marker-box'), 3000, { message: 'the marker UP' });
  assert.deepEqual((await events(srv)).map((e) => [e.worker, e.kind]), [
    ['marker-box', 'up'],
    ['gpu-box-2', 'up'],
  ]);
  const w = (await adminJson(srv, '/admin/api/status')).workers.find((x) => x.name === 'gpu-box-2');
  assert.deepEqual([w.gpus, w.gpu_error], [null, true]);
  assert.equal(tg.attempts.length, 0);
});

scenario('a machine moved from the bot client to the agent keeps its identity, history and GPU count', async (ctx) => {
  const tg = await ctx.telegram();
  const srv = await ctx.server({ env: telegramEnv(tg) });
  const bot = await request(`${srv.url}/ping/brickbox-43(4)?api_key=${srv.apiKey}`);
  assert.equal(bot.status, 200);
  await beat(srv, 'brickbox-43', 4);
  let w = (await adminJson(srv, '/admin/api/status')).workers;
  assert.deepEqual(w.map((x) => [x.name, x.gpus, x.version]), [['brickbox-43', 4, '0.0.1-test']]);
  await beat(srv, 'brickbox-43', 3);
  const lost = await tg.waitForMessage((m) => m.text.includes('lost a GPU'), 3000);
  assert.match(lost.text, /^🟠 brickbox-43 lost a GPU: 4 → 3\n/);
  const evs = await events(srv);
  assert.deepEqual(evs.map((e) => e.kind).reverse(), ['up', 'gpu_lost'], 'one UP: the switch is no new machine');
  w = (await adminJson(srv, '/admin/api/status')).workers;
  assert.equal(w.length, 1);
});
