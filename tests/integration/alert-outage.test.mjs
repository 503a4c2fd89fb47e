// alert-outage.test.mjs — a webhook that answers 503 for two minutes (FAULTLINE_TEST_OUTAGE_MS,
// default 120000): every message arrives once it recovers, and the attempts in the fake's log
// are spaced by the outbox's growing backoff (1 s doubling, plus up to a quarter of jitter).
// Runs about 2.5 minutes: alone in its file so the other alert tests need not wait for it.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { serverWith } from './lib/config-server.mjs';
import { heartbeat, hb } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

async function gpuLosses(srv, prefix, n) {
  for (let i = 0; i < n; i++) assert.equal((await heartbeat(srv, hb(`${prefix}-${i}`, { gpus: 4 }))).status, 204);
  await Promise.all(Array.from({ length: n }, (_, i) => heartbeat(srv, hb(`${prefix}-${i}`, { gpus: 3 }))));
}

scenario('a webhook answering 503 for a while: everything arrives afterwards, the backoff shows in its log', { timeout: 400000 }, async (ctx) => {
  const outageMs = Number(process.env.FAULTLINE_TEST_OUTAGE_MS ?? 120000);
  const web = await ctx.hook();
  web.failFor(outageMs, 503);
  const srv = await serverWith(ctx, `channels:\n  - {name: hook, type: webhook, url: '${web.url}'}\n`, { FAIL_TIMEOUT: '600' });
  await gpuLosses(srv, 'outage', 5);
  await waitFor(() => new Set(web.accepted.map((r) => r.json.name)).size === 5, outageMs + 330000, { intervalMs: 500, message: '5 delivered after the outage' });
  const failed = web.requests.filter((r) => r.status === 503).map((r) => r.time);
  assert.ok(failed.length >= 4 && failed.length <= 12, `${failed.length} attempts in ${outageMs} ms: backoff, not a busy loop`);
  for (let i = 2; i < failed.length; i++) {
    const before = failed[i - 1] - failed[i - 2], gap = failed[i] - failed[i - 1];
    assert.ok(gap >= before * 1.4 || gap >= 290000, `attempt gaps grow: ${before} ms then ${gap} ms`);
  }
});
