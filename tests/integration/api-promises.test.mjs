// api-promises.test.mjs — what docs/api.md and docs/configuration.md promise that no other suite
// checks: the headers of every answer and HEAD, the ways to send the key, the heartbeat's limits,
// event details, status fields and order, query parameters and their 400s, the backlog's 500
// records, "204 only after the UP event is committed", Telegram's 425 and the caps of
// retry_after and of the backoff, the bot token kept out of the logs, .env parsing, DATA_DIR's
// mode and a port in use.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { adminGet, adminJson, basicAuth, events, heartbeat, hb, request, workerStatus } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function assertError(res, status, error, field) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  const want = field === undefined ? { error } : { error, field };
  assert.deepEqual(res.json, want);
}

// ---- every answer: no-store, nosniff; HEAD ------------------------------------------------------

scenario('every answer carries Cache-Control: no-store and X-Content-Type-Options: nosniff', async (ctx, t) => {
  const srv = await ctx.server();
  const answers = {
    'GET / (200 HTML)': () => request(srv.url + '/'),
    'POST /api/v1/heartbeat (204)': () => heartbeat(srv, hb('hdr-box')),
    'POST /api/v1/heartbeat without a key (401)': () => heartbeat(srv, hb('hdr-box'), { auth: 'none' }),
    'GET /api/v1/heartbeat (405)': () => request(srv.url + '/api/v1/heartbeat'),
    'GET /nowhere (404)': () => request(srv.url + '/nowhere'),
    'GET /admin (200 HTML)': () => adminGet(srv, '/admin'),
    'GET /admin/api/status (200 JSON)': () => adminGet(srv, '/admin/api/status'),
    'GET /admin/api/events?limit=0 (400)': () => adminGet(srv, '/admin/api/events?limit=0'),
  };
  for (const [what, send] of Object.entries(answers)) {
    await t.test(what, async () => {
      const res = await send();
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    });
  }
});

scenario('HEAD on a GET path answers as GET does, without a body', async (ctx, t) => {
  const srv = await ctx.server();
  assert.equal((await heartbeat(srv, hb('head-box'))).status, 204);
  for (const [p, auth] of [['/', false], ['/admin', true], ['/admin/api/status', true], ['/admin/api/worker/head-box', true]]) {
    await t.test(p, async () => {
      const headers = auth ? { Authorization: basicAuth(srv.adminUser, srv.adminPass) } : {};
      const get = await request(srv.url + p, { headers });
      const head = await request(srv.url + p, { method: 'HEAD', headers });
      assert.equal(get.status, 200);
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-type'], get.headers['content-type']);
      assert.equal(head.raw.length, 0, 'no body');
    });
  }
  await t.test('HEAD without credentials on an admin path → 401', async () => {
    const head = await request(srv.url + '/admin/api/status', { method: 'HEAD' });
    assert.equal(head.status, 401);
  });
});

// ---- the key: Bearer in any case, X-API-Key as the fallback ------------------------------------

scenario('the API key: "Bearer" in any case; X-API-Key when Authorization is not Bearer', async (ctx, t) => {
  const srv = await ctx.server();
  const send = (name, headers) => heartbeat(srv, hb(name), { auth: 'none', headers });
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
    await t.test(`Authorization: ${scheme} KEY → 204`, async () => {
      assert.equal((await send(`case-${scheme}`, { Authorization: `${scheme} ${srv.apiKey}` })).status, 204);
    });
  }
  await t.test('Authorization: Basic ... and X-API-Key: KEY → 204 (the fallback)', async () => {
    const res = await send('fallback-box', { Authorization: basicAuth('x', 'y'), 'X-API-Key': srv.apiKey });
    assert.equal(res.status, 204, res.text);
  });
  await t.test('a wrong Bearer key is not rescued by a right X-API-Key → 401 invalid API key', async () => {
    const res = await send('both-box', { Authorization: 'Bearer wrong', 'X-API-Key': srv.apiKey });
    assertError(res, 401, 'invalid API key');
  });
  await t.test('no key → 401 missing API key', async () => {
    assertError(await send('none-box', {}), 401, 'missing API key');
  });
  await t.test('only the accepted names were stored', async () => {
    const names = (await workerStatus(srv)).workers.map((w) => w.name);
    assert.deepEqual(names, ['case-BEARER', 'case-BeArEr', 'case-bearer', 'fallback-box']);
  });
});

// ---- heartbeat limits ---------------------------------------------------------------------------

scenario('heartbeat limits: gpus 0-4096, uptime_s up to 10^11, 512 JSON values, null as absent', async (ctx, t) => {
  const srv = await ctx.server();
  await t.test('gpus 4096 → 204; 4097 → 400', async () => {
    assert.equal((await heartbeat(srv, hb('lim-gpus', { gpus: 4096 }))).status, 204);
    assertError(await heartbeat(srv, hb('lim-gpus', { gpus: 4097 })), 400, 'gpus: expected a whole number from 0 to 4096', 'gpus');
    assertError(await heartbeat(srv, hb('lim-gpus', { gpus: -1 })), 400, 'gpus: expected a whole number from 0 to 4096', 'gpus');
    assert.equal((await workerStatus(srv, 'lim-gpus')).gpus, 4096);
  });
  await t.test('uptime_s 10^11 → 204, fraction dropped; -1 → 400', async () => {
    assert.equal((await heartbeat(srv, hb('lim-up', { uptime_s: 1e11 }))).status, 204);
    assert.equal((await workerStatus(srv, 'lim-up')).uptime_s, 1e11);
    assert.equal((await heartbeat(srv, hb('lim-up', { uptime_s: 12.9 }))).status, 204);
    assert.equal((await workerStatus(srv, 'lim-up')).uptime_s, 12);
    assertError(await heartbeat(srv, hb('lim-up', { uptime_s: -1 })), 400, 'uptime_s: expected a number of seconds, 0 or more', 'uptime_s');
  });
  await t.test('512 JSON values → 204; 513 → 400 too many values', async () => {
    // Every key and value counts: the object, 5 keys, 4 values, an ignored array and its n items.
    const body = (n) => JSON.stringify({ ...hb('lim-values'), extra: Array(n).fill(0) });
    assert.equal((await heartbeat(srv, body(501))).status, 204);
    assertError(await heartbeat(srv, body(502)), 400, 'body: expected a JSON object, got too many values');
  });
  await t.test('null is the same as leaving a member out; site "" is accepted', async () => {
    const res = await heartbeat(srv, { name: 'lim-null', gpus: null, version: null, uptime_s: null, site: null });
    assert.equal(res.status, 204, res.text);
    const w = await workerStatus(srv, 'lim-null');
    assert.deepEqual([w.gpus, w.version, w.uptime_s, w.site], [0, '', 0, null]);
    assert.equal((await heartbeat(srv, hb('lim-site', { site: '' }))).status, 204);
  });
  await t.test('a repeated member → 400 naming it', async () => {
    const res = await heartbeat(srv, '{"name":"lim-dup","gpus":1,"gpus":2}');
    assertError(res, 400, 'body: duplicate member "gpus"');
  });
});

// ---- events, status -----------------------------------------------------------------------------

scenario('event details (up from unknown, down, up from down) and status fields, sorted by name', async (ctx) => {
  const srv = await ctx.server({ env: { FAIL_TIMEOUT: '1' } });
  assert.equal((await heartbeat(srv, hb('ev-b', { gpus: 3, version: '9.9', uptime_s: 5, site: 'fra1' }))).status, 204);
  assert.equal((await heartbeat(srv, hb('ev-a'))).status, 204);
  const down = await waitFor(async () => (await events(srv)).find((e) => e.worker === 'ev-b' && e.kind === 'down'), 5000, {
    message: 'ev-b DOWN',
  });
  assert.equal((await heartbeat(srv, hb('ev-b', { gpus: 3, site: 'fra1' }))).status, 204);
  const evs = (await events(srv)).filter((e) => e.worker === 'ev-b');
  assert.deepEqual(evs.map((e) => e.kind), ['up', 'down', 'up']);
  const [back, , first] = evs;
  assert.ok(evs[0].id > evs[1].id && evs[1].id > evs[2].id, 'newest first');
  for (const e of evs) assert.match(e.time, ISO_MS);
  assert.deepEqual(Object.keys(first.details).sort(), ['from', 'ip', 'last_seen']);
  assert.equal(first.details.from, 'unknown');
  assert.equal(first.details.ip, '127.0.0.1');
  assert.deepEqual(Object.keys(down.details).sort(), ['from', 'ip', 'last_seen', 'silent_s']);
  assert.equal(down.details.from, 'up');
  // At least FAIL_TIMEOUT (1 s), give or take the millisecond between the wall clock it is
  // measured on and the monotonic clock of the deadline.
  assert.ok(down.details.silent_s >= 0.998 && down.details.silent_s < 3, `silent_s ${down.details.silent_s}`);
  assert.equal(down.details.last_seen, first.details.last_seen);
  assert.deepEqual(Object.keys(back.details).sort(), ['down_s', 'from', 'ip', 'last_seen']);
  assert.equal(back.details.from, 'down');
  const downFor = (Date.parse(back.time) - Date.parse(down.time)) / 1000;
  assert.ok(Math.abs(back.details.down_s - downFor) < 0.011, `down_s ${back.details.down_s}, events ${downFor} s apart`);

  // ev-a's heartbeat came just after ev-b's: its DOWN may come a few ms after ev-b's.
  await waitFor(async () => (await events(srv)).find((e) => e.worker === 'ev-a' && e.kind === 'down'), 5000, { message: 'ev-a DOWN' });
  const st = await workerStatus(srv);
  assert.deepEqual(st.workers.map((w) => w.name), ['ev-a', 'ev-b'], 'sorted by name');
  assert.equal(st.total, 2);
  for (const k of ['counts', 'fail_timeout_s', 'server_time', 'total', 'workers']) assert.ok(k in st, `status has "${k}"`);
  assert.deepEqual(st.counts, { up: 1, down: 1, unknown: 0 });
  assert.equal(st.fail_timeout_s, 1);
  assert.match(st.server_time, ISO_MS);
  const b = st.workers[1];
  for (const k of ['first_seen', 'gpus', 'ip', 'last_seen', 'name', 'site', 'state', 'state_since', 'uptime_s', 'version'])
    assert.ok(k in b, `workers[] has "${k}"`);
  assert.equal(b.state_since, back.time);
  assert.equal(b.first_seen, first.time);
  assert.deepEqual([b.gpus, b.version, b.uptime_s, b.site], [3, '0.0.1-test', 1234, 'fra1'], 'replaced by the last heartbeat');
});

// ---- query parameters ---------------------------------------------------------------------------

scenario('query parameters of events, rca and diagnostics, and their 400s naming the parameter', async (ctx, t) => {
  const srv = await ctx.server();
  for (const n of ['q-a', 'q-b', 'q-c']) assert.equal((await heartbeat(srv, hb(n))).status, 204);
  const all = await events(srv);
  await t.test('events: worker, since (ISO and Unix seconds), unknown parameters ignored', async () => {
    const one = (await adminJson(srv, '/admin/api/events?worker=q-b&colour=blue')).events;
    assert.deepEqual(one.map((e) => e.worker), ['q-b']);
    const since = all.find((e) => e.worker === 'q-b').time;
    const later = (await adminJson(srv, `/admin/api/events?since=${since}`)).events;
    assert.deepEqual(later.map((e) => e.worker).sort(), all.filter((e) => e.time >= since).map((e) => e.worker).sort());
    const future = Math.floor(Date.now() / 1000) + 3600;
    assert.deepEqual((await adminJson(srv, `/admin/api/events?since=${future}`)).events, []);
  });
  const BAD = [
    ['/admin/api/events?limit=0', 'limit: expected a number from 1 to 1000, got "0"', 'limit'],
    ['/admin/api/events?limit=1001', 'limit: expected a number from 1 to 1000, got "1001"', 'limit'],
    ['/admin/api/events?type=flap', 'type: expected a list of up,down,gpu_lost,gpu_back,alert_failed, got "flap"', 'type'],
    ['/admin/api/events?since=yesterday', 'since: expected an ISO 8601 time with Z or a +HH:MM offset, got "yesterday"', 'since'],
    ['/admin/api/events?since=2026-11-21', 'since: expected an ISO 8601 time with Z or a +HH:MM offset, got "2026-11-21"', 'since'],
    ['/admin/api/rca?limit=0', 'limit: expected a number from 1 to 1000, got "0"', 'limit'],
    ['/admin/api/rca?since=yesterday', 'since: expected an ISO 8601 time with Z or a +HH:MM offset, got "yesterday"', 'since'],
    ['/admin/api/diagnostics?kind=log', 'kind: expected metric or diagnostic', 'kind'],
    ['/admin/api/diagnostics?until=yesterday', 'until: expected an ISO 8601 time with Z or a +HH:MM offset, got "yesterday"', 'until'],
    ['/admin/api/diagnostics?limit=5000', 'limit: expected a number from 1 to 1000, got "5000"', 'limit'],
  ];
  for (const [p, error, field] of BAD) {
    await t.test(`${p} → 400`, async () => {
      assertError(await adminGet(srv, p), 400, error, field);
    });
  }
  await t.test('limit=1 answers one', async () => {
    assert.equal((await adminJson(srv, '/admin/api/events?limit=1')).events.length, 1);
  });
});

// ---- backlog: 500 records -----------------------------------------------------------------------

scenario('POST /api/v1/backlog takes 500 records and refuses 501', async (ctx) => {
  const srv = await ctx.server();
  const records = (n, prefix) =>
    Array.from({ length: n }, (_, i) => ({ kind: 'metric', id: `${prefix}-${i}`, time: new Date(Date.now() - 60000 + i).toISOString(), ok: false }));
  const post = (body) =>
    request(srv.url + '/api/v1/backlog', { method: 'POST', headers: { Authorization: `Bearer ${srv.apiKey}` }, body });
  const ok = await post({ name: 'bl-box', records: records(500, 'm') });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { stored: 500, duplicates: 0 });
  assertError(await post({ name: 'bl-box', records: records(501, 'n') }), 400, 'records: expected an array of 1 to 500 records', 'records');
  const kept = (await adminJson(srv, '/admin/api/diagnostics?worker=bl-box&limit=1000')).diagnostics;
  assert.equal(kept.length, 500, 'nothing of the refused chunk was stored');
});

// ---- 204 only after the UP event is committed ---------------------------------------------------

scenario('a first heartbeat answered 204 is on disk: kill -9 at once, the UP event is there after a restart', async (ctx) => {
  const srv = await ctx.server();
  const names = ['commit-1', 'commit-2', 'commit-3'];
  for (const n of names) assert.equal((await heartbeat(srv, hb(n))).status, 204);
  await srv.kill9();
  const srv2 = await ctx.restart(srv);
  const evs = await events(srv2);
  assert.deepEqual(evs.map((e) => `${e.worker}:${e.kind}`).sort(), names.map((n) => `${n}:up`));
});

// ---- Telegram: 425 is retried, retry_after capped at a day; the token never in a log -----------

function outboxRows(srv) {
  const out = execFileSync('sqlite3', ['-json', path.join(srv.dataDir, 'faultline.db'), 'SELECT id, status, attempts, next_attempt_ms, last_error FROM outbox ORDER BY id'], {
    encoding: 'utf8',
  });
  return out.trim() ? JSON.parse(out) : [];
}

scenario('Telegram: 425 is retried; a retry_after beyond a day waits a day; the token is redacted', async (ctx) => {
  const tg = await ctx.telegram({ token: '4242:SECRET-token-value', retryAfter: 10 ** 9 });
  const srv = await ctx.server({
    env: { FAIL_TIMEOUT: '1', TELEGRAM_TOKEN: tg.token, CHAT_ID: '-1001', TELEGRAM_API_URL: tg.url, LOG_LEVEL: 'debug' },
  });
  // 425 once: retried (docs/api.md, "Outbox and retries"), then delivered.
  tg.failNext(1, '425');
  assert.equal((await heartbeat(srv, hb('tg-early'))).status, 204);
  await tg.waitForMessage((m) => m.text.startsWith('🔴 tg-early is DOWN'), 8000);
  assert.deepEqual(tg.attempts.map((a) => a.status), [425, 200]);

  // 429 with retry_after 10^9 s: the next attempt is a day away, not 31 years.
  tg.failNext(1, '429');
  assert.equal((await heartbeat(srv, hb('tg-flood'))).status, 204);
  const row = await waitFor(() => outboxRows(srv).find((r) => r.attempts === 1 && r.status !== 'sent'), 8000, {
    message: 'the 429-ed message waiting in the outbox',
  });
  const wait = row.next_attempt_ms - Date.now();
  assert.ok(wait > 86400e3 - 60e3 && wait <= 86400e3, `next attempt in ${wait} ms (a day is 86400000)`);

  const logs = srv.stderr;
  assert.ok(!logs.includes('SECRET-token-value'), 'the bot token is in the log');
  assert.match(logs, /<redacted>/);
  assert.ok(!JSON.stringify(outboxRows(srv)).includes('SECRET-token-value'), 'the bot token is in the outbox');
});

scenario('Telegram backoff: doubling stops at 5 minutes', async (ctx) => {
  const tg = await ctx.telegram({ mode: 'fail502' });
  const srv = await ctx.server({ env: { FAIL_TIMEOUT: '1', TELEGRAM_TOKEN: tg.token, CHAT_ID: '-1001', TELEGRAM_API_URL: tg.url } });
  assert.equal((await heartbeat(srv, hb('tg-capped'))).status, 204);
  await waitFor(() => outboxRows(srv).find((r) => r.attempts === 1), 8000, { message: 'a first failed attempt in the outbox' });
  // As if it had failed 12 times: the 13th failure would wait 2^12 s without the cap.
  await srv.kill9();
  execFileSync('sqlite3', [path.join(srv.dataDir, 'faultline.db'), "UPDATE outbox SET attempts = 12, next_attempt_ms = 0 WHERE status != 'sent'"]);
  const srv2 = await ctx.restart(srv);
  const row = await waitFor(() => outboxRows(srv2).find((r) => r.attempts === 13), 8000, { message: 'the 13th failed attempt' });
  const wait = row.next_attempt_ms - Date.now();
  assert.ok(wait > 300e3 - 10e3 && wait <= 300e3, `next attempt in ${wait} ms (5 minutes is 300000)`);
});

// ---- settings: .env, DATA_DIR, a port in use ----------------------------------------------------

scenario('.env: export, quotes, comments, spaces, lower-case names and unknown names', async (ctx) => {
  const cwd = ctx.tmpdir('faultline-dotenv-');
  fs.writeFileSync(
    path.join(cwd, '.env'),
    [
      '# a comment line',
      '',
      'export API_KEY="key # with a hash"   # after the quote: ignored',
      "ADMIN_PASS='p#ss $HOME'",
      'ADMIN_USER=adm#in',
      '  fail_timeout =  7 # seconds',
      'SOMETHING_ELSE=not ours',
    ].join('\n') + '\n',
  );
  const srv = await ctx.server({ cwd, env: { API_KEY: null, ADMIN_PASS: null, FAIL_TIMEOUT: null } });
  const res = await heartbeat(srv, hb('dotenv-box'), { key: 'key # with a hash' });
  assert.equal(res.status, 204, res.text);
  const st = await adminGet(srv, '/admin/api/status', { user: 'adm#in', pass: 'p#ss $HOME' });
  assert.equal(st.status, 200, st.text);
  assert.equal(st.json.fail_timeout_s, 7);
});

scenario('DATA_DIR and its missing parents are created with mode 0700', async (ctx) => {
  const base = ctx.tmpdir('faultline-datadir-');
  const dataDir = path.join(base, 'a', 'b', 'data');
  await ctx.server({ dataDir: base, env: { DATA_DIR: dataDir } });
  for (const d of [path.join(base, 'a'), path.join(base, 'a', 'b'), dataDir]) {
    assert.equal((fs.statSync(d).mode & 0o777).toString(8), '700', d);
  }
});

scenario('a port in use: exit 1 with the documented line', async (ctx) => {
  const first = await ctx.server();
  const r = await ctx.run(['server'], {
    env: { API_KEY: 'k', LISTEN_ADDR: '127.0.0.1', SERVER_PORT: String(first.port), DATA_DIR: 'data' },
    timeoutMs: 5000,
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`error server: cannot listen on 127\\.0\\.0\\.1 port ${first.port} \\(in use, or not an address here\\?\\)`));
});
