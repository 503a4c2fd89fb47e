// disk-full.test.mjs — DATA_DIR on a full file system (a 4 MiB tmpfs, mounted in the suite's
// private mount namespace and filled with a file): a heartbeat that changes a state gets 503 with
// Retry-After within 2 s (an agent keeps trying), the admin pages keep answering,
// /admin/api/status marks the state "recorded": false; once the file is removed, the queued
// events are written with no action, and a stop while the disk is full logs how many writes were
// not stored and what each carried.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from '../integration/lib/scenario.mjs';
import { makeTempDir } from '../integration/lib/faultline.mjs';
import { adminGet, events, heartbeat, hb, request, workerStatus } from '../integration/lib/http.mjs';
import { waitFor } from '../integration/lib/wait.mjs';

const TMPFS_SIZE = '4m';
const RETRY_AFTER_S = '5'; // EVENTS_RETRY_AFTER_S in src/server/events.h
const HEARTBEAT_REFUSED = 'event store unavailable; heartbeat not recorded';

const skip =
  process.env.FAULTLINE_IT_PRIVATE_MOUNTS !== '1'
    ? 'needs the private mount namespace of tests/run-integration'
    : process.getuid?.() !== 0
      ? 'needs root to mount a tmpfs'
      : false;

/** A tmpfs of TMPFS_SIZE, unmounted when the test ends. */
function tinyTmpfs(t) {
  const dir = makeTempDir('faultline-full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'tmpfs', dir]);
  t.after(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

/** Writes a file until the file system has no byte left; returns its path. */
function fill(dir) {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          fs.writeSync(fd, chunk);
        } catch (err) {
          if (err.code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  assert.throws(() => fs.writeFileSync(path.join(dir, 'probe'), 'x'.repeat(8192)), { code: 'ENOSPC' });
  return file;
}

async function timed(promise) {
  const start = Date.now();
  const res = await promise;
  return { res, ms: Date.now() - start };
}

function assertRefused(res, what) {
  assert.equal(res.status, 503, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.headers['retry-after'], RETRY_AFTER_S, `${what}: Retry-After`);
  assert.deepEqual(res.json, { error: HEARTBEAT_REFUSED }, what);
}

scenario('disk full: 503 with Retry-After within 2 s, admin reads answer, unrecorded states marked, recovery without action', { skip }, async (ctx, t) => {
  const dir = tinyTmpfs(t);
  const srv = await ctx.server({ dataDir: path.join(dir, 'data'), env: { FAIL_TIMEOUT: '60' } });
  assert.equal((await heartbeat(srv, hb('df-before'))).status, 204);
  const filler = fill(dir);

  // A state change: answered 503 within 2 s, with Retry-After.
  const first = await timed(heartbeat(srv, hb('df-new'), { timeoutMs: 5000 }));
  assertRefused(first.res, 'first heartbeat of df-new');
  assert.ok(first.ms < 2000, `answered in ${first.ms} ms`);

  // The admin pages answer from what is on disk, while the write keeps failing.
  const page = await timed(adminGet(srv, '/admin', { timeoutMs: 2000 }));
  assert.equal(page.res.status, 200);
  assert.ok(page.res.text.includes('df-before'), '/admin shows the worker on disk');
  const ev = await timed(adminGet(srv, '/admin/api/events', { timeoutMs: 2000 }));
  assert.equal(ev.res.status, 200);
  assert.deepEqual(ev.res.json.events.map((e) => `${e.worker}:${e.kind}`), ['df-before:up'], 'only the event on disk');

  // The status shows the state held in memory, marked as not recorded yet.
  const st = await workerStatus(srv);
  const byName = Object.fromEntries(st.workers.map((w) => [w.name, w]));
  assert.equal(byName['df-new'].state, 'up');
  assert.equal(byName['df-new'].recorded, false);
  assert.equal(byName['df-before'].recorded, true);

  // The agent's next heartbeat is refused the same way while the event is not on disk, and so
  // is the uptime-rca-bot's ping of a new worker (its state change) and its repeat.
  assertRefused(await heartbeat(srv, hb('df-new')), 'repeated heartbeat');
  const ping = () => request(`${srv.url}/ping/df-ping(2)?api_key=${srv.apiKey}`, { timeoutMs: 5000 });
  const pinged = await timed(ping());
  assertRefused(pinged.res, 'first ping of df-ping');
  assert.ok(pinged.ms < 2000, `ping answered in ${pinged.ms} ms`);
  assertRefused(await ping(), 'repeated ping');
  // A real agent that starts now is told 503 and keeps trying after the Retry-After (capped at
  // its PING_INTERVAL), without counting a network failure or diagnosing its path.
  const agent = ctx.agent('df-agent', { server: srv, env: { PING_INTERVAL: '10', FAIL_TIMEOUT: '10' } });
  const agentRetry = '5.0'; // the server's Retry-After: 5, under the agent's PING_INTERVAL of 10 s
  const busy = /heartbeat not recorded, the server is busy \(HTTP 503: \{"error":"event store unavailable; heartbeat not recorded"\}\); retrying in (\d+\.\d) s/g;
  await waitFor(() => agent.stderr.match(busy)?.length >= 2, 10000, {
    message: 'the agent sees 503 twice',
  });
  const delays = [...agent.stderr.matchAll(busy)].map((m) => m[1]);
  assert.deepEqual(new Set(delays), new Set([agentRetry]), 'retry after min(Retry-After, PING_INTERVAL)');
  assert.doesNotMatch(agent.stderr, /heartbeat failed|diagnos/);

  // Room again: the queued event is written (the store retries at most 5 s apart), nothing else to do.
  fs.unlinkSync(filler);
  await waitFor(async () => (await events(srv)).some((e) => e.worker === 'df-new' && e.kind === 'up'), 10000, {
    intervalMs: 100,
    message: 'the df-new UP event on disk after the space came back',
  });
  assert.equal((await workerStatus(srv, 'df-new')).recorded, true);
  assert.equal((await heartbeat(srv, hb('df-new'))).status, 204);
  await waitFor(() => /heartbeat recorded again after \d+ busy answers/.test(agent.stderr), 10000, {
    message: 'the agent gets through once there is room',
  });
  assert.deepEqual(
    (await events(srv)).map((e) => `${e.worker}:${e.kind}`).sort(),
    ['df-agent:up', 'df-before:up', 'df-new:up', 'df-ping:up'],
    'each event once',
  );
  assert.equal((await workerStatus(srv, 'df-agent')).recorded, true);
});

scenario('disk full at a stop: the writes not stored are counted and logged with their content', { skip }, async (ctx, t) => {
  const dir = tinyTmpfs(t);
  const srv = await ctx.server({ dataDir: path.join(dir, 'data'), env: { FAIL_TIMEOUT: '60' } });
  assert.equal((await heartbeat(srv, hb('df-kept'))).status, 204);
  fill(dir);
  for (const name of ['df-lost-1', 'df-lost-2']) assertRefused(await heartbeat(srv, hb(name)), name);

  await srv.stop({ graceMs: 20000 });
  const log = srv.logs;
  const summary = /store: ([^\n]*); stopping, so (\d+) writes are not stored \(([^)]*)\); each follows as "store: not stored: \.\.\."/.exec(log);
  assert.ok(summary, `the count line in the log:\n${log}`);
  assert.match(summary[1], /full/, 'says why');
  assert.match(summary[3], /(^|, )event append: 2(,|$)/, `two events among them: ${summary[3]}`);
  const lines = log.split('\n').filter((l) => /\sstore: not stored: event append \{/.test(l));
  assert.equal(lines.length, 2, lines.join('\n'));
  const records = lines.map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  assert.deepEqual(records.map((r) => `${r.event.worker}:${r.event.kind}:${r.worker.state}`).sort(), ['df-lost-1:up:up', 'df-lost-2:up:up']);
  for (const r of records) assert.deepEqual(r.messages, []);
  const total = Number(summary[2]);
  assert.equal(log.split('\n').filter((l) => /\sstore: not stored: /.test(l)).length, total, 'one line per write');
});
