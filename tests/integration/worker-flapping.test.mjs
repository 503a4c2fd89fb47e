// worker-flapping.test.mjs — a worker going DOWN and UP again and again (docs/alerting.md,
// "Flapping"): one "flapping" notice at the channel, its DOWNs and UPs recorded with
// "flapping": true and not sent, then, once it has stayed UP long enough, one "stable again"
// notice that resolves what was told.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { request, basicAuth, heartbeat, hb } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const FAIL_TIMEOUT_S = 1;

function admin(srv, p) {
  return request(srv.url + p, { headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
}

async function workerEvents(srv, worker) {
  const r = await admin(srv, '/api/v1/events?type=worker_down,worker_up&limit=1000');
  return r.json.events.filter((e) => e.worker === worker).sort((a, b) => a.id - b.id);
}

scenario('a worker that keeps going DOWN and UP: one flapping notice, quiet, then one stable notice', async (ctx) => {
  const web = await ctx.hook();
  const dir = ctx.tmpdir('faultline-flap-');
  const file = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(file, `channels:\n  - {name: ops, type: webhook, url: '${web.url}/ops'}\n`);
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: null, CHAT_ID: null, FAIL_TIMEOUT: String(FAIL_TIMEOUT_S) }, args: ['--config', file] });
  const name = 'flappy-1';
  const notice = (r) => r.json?.name === name && r.json?.subject === `${name} is flapping`;

  // Heartbeat, wait for the DOWN, heartbeat again: every change, about one a FAIL_TIMEOUT.
  let downs = 0;
  await waitFor(async () => {
    assert.equal((await heartbeat(srv, hb(name))).status, 204);
    downs++;
    await waitFor(async () => (await workerEvents(srv, name)).filter((e) => e.type === 'worker_down').length === downs,
      (FAIL_TIMEOUT_S + 2) * 1000, { intervalMs: 50, message: `DOWN ${downs}` });
    return web.accepted.find(notice);
  }, 40000, { intervalMs: 0, message: 'the flapping notice' });
  const flapAt = web.accepted.findIndex(notice);
  assert.equal(web.accepted[flapAt].json.severity, 'warning');
  assert.match(web.accepted[flapAt].json.text, new RegExp(`^FLAPPING: ${name} changed state in \\d+% of its last 20 observations \\(now (up|down) since \\S+\\); quiet until it is stable$`));

  // Two more cycles while it flaps: recorded as flapping, not sent.
  for (let i = 0; i < 2; i++) {
    assert.equal((await heartbeat(srv, hb(name))).status, 204);
    downs++;
    await waitFor(async () => (await workerEvents(srv, name)).filter((e) => e.type === 'worker_down').length === downs,
      (FAIL_TIMEOUT_S + 2) * 1000, { intervalMs: 50, message: `DOWN ${downs}` });
  }
  const evs = await workerEvents(srv, name);
  assert.equal(evs.at(-1).details.flapping, true);
  assert.equal(evs.at(-2).details.flapping, true); // the UP before it

  // It stays UP: heartbeats every 0.2 s until the stable notice (the marker: the channel sends in
  // order, so a DOWN, UP or second flapping notice told meanwhile would come before it).
  const stable = (r) => r.json?.name === name && r.json?.text?.startsWith('STABLE: ');
  const beat = setInterval(() => heartbeat(srv, hb(name)).catch(() => {}), 200);
  try {
    await web.waitFor(stable, 40000);
  } finally {
    clearInterval(beat);
  }
  const after = web.accepted.slice(flapAt).filter((r) => r.json?.name === name);
  assert.deepEqual(after.map((r) => [r.json.subject, r.json.resolve]), [[`${name} is flapping`, false], [`${name} is UP`, true]]);
  assert.match(after[1].json.text, new RegExp(`^STABLE: ${name} is no longer flapping; it is up since \\S+$`));
  assert.equal(web.accepted.filter(notice).length, 1);
});
