// rca.test.mjs — root-cause analysis end to end (docs/rca.md): incidents and their classes
// (individual, network, widespread, server via the canaries), their Telegram messages, the
// backlog upload API, the follow-up diagnosis after an upload, and incidents kept over a restart.
// Every agent connects from 127.0.0.1, so groups are made with SITE tags. Workers that stay up
// (heartbeats from the test) keep the fleet large enough that the "80% of the fleet" server rule
// does not fire for the network and widespread outages.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { scenario } from './lib/scenario.mjs';
import { adminJson, adminGet, heartbeat, hb, request, workerStatus } from './lib/http.mjs';
import { waitFor, sleep } from './lib/wait.mjs';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/; // docs/api.md: UTC, with milliseconds
const CHAT = '-1001234567';
const FAIL_TIMEOUT_S = 1.5;

async function setup(ctx, env = {}) {
  const tg = await ctx.telegram();
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: tg.token, CHAT_ID: CHAT, TELEGRAM_API_URL: tg.url, ...env } });
  return { tg, srv };
}

async function incidents(srv, query = '') {
  const body = await adminJson(srv, `/admin/api/rca${query}`);
  assert.ok(Array.isArray(body.incidents), `/admin/api/rca has an "incidents" array: ${JSON.stringify(body).slice(0, 300)}`);
  return body.incidents;
}

const hasWorker = (inc, name) => Array.isArray(inc.workers) && inc.workers.some((w) => w.name === name);

/** Waits for an incident matching pred; returns it. */
function waitIncident(srv, pred, timeoutMs, what) {
  return waitFor(async () => (await incidents(srv)).find(pred), timeoutMs, { intervalMs: 150, message: what });
}

async function waitState(srv, names, state, timeoutMs) {
  await waitFor(
    async () => {
      const st = await workerStatus(srv);
      return names.every((n) => st.workers.find((w) => w.name === n)?.state === state);
    },
    timeoutMs,
    { intervalMs: 100, message: `workers ${names.join(', ')} all ${state}` },
  );
}

function startAgents(ctx, srv, specs) {
  return specs.map(([name, site]) => ctx.agent(name, { server: srv, env: site ? { SITE: site } : {} }));
}

/** Two workers that stay up (heartbeats from the test), so a 4-worker outage is < 80% of the fleet. */
async function bystanders(ctx, srv, prefix) {
  const names = [`${prefix}-steady-1`, `${prefix}-steady-2`];
  for (const n of names) ctx.pulse(srv, hb(n));
  await waitState(srv, names, 'up', 5000);
  return names;
}

const texts = (tg) => JSON.stringify(tg.messages.map((m) => m.text));

// ---- 1. individual -------------------------------------------------------------------------------

scenario('one agent killed → individual incident, per-worker DOWN/UP messages, incident closes', async (ctx) => {
  const { tg, srv } = await setup(ctx);
  const name = 'rca-solo-1';
  const agent = ctx.agent(name, { server: srv });
  await waitState(srv, [name], 'up', 5000);
  await sleep(500);
  await agent.kill9();

  const down = await tg.waitForMessage((m) => m.text.startsWith(`🔴 ${name} is DOWN`), (FAIL_TIMEOUT_S + 3) * 1000);
  assert.match(down.text, /127\.0\.0\.1/);
  const inc = await waitIncident(srv, (i) => hasWorker(i, name), 3000, `an incident with ${name}`);
  assert.equal(inc.classification, 'individual');
  assert.ok(Number.isInteger(inc.id) && inc.id > 0, `incident id ${inc.id}`);
  assert.match(inc.opened_at, ISO_UTC);
  assert.equal(inc.closed_at, null, 'open incident: closed_at null');
  assert.equal(inc.open, true);
  assert.equal(inc.workers.length, 1);
  assert.equal(inc.workers[0].name, name);
  assert.match(inc.workers[0].down_at, ISO_UTC);
  assert.equal(inc.workers[0].up_at, null);
  assert.equal(typeof inc.evidence, 'object');
  assert.equal(typeof inc.scope, 'object');
  await sleep(700);
  assert.equal(tg.messagesAbout(name).length, 1, `one message about ${name} while down: ${texts(tg)}`);
  assert.ok(!tg.messages.some((m) => /NETWORK ISSUE|WIDESPREAD|INDIVIDUAL:/.test(m.text)), `no incident message for an individual: ${texts(tg)}`);

  ctx.agent(name, { server: srv });
  const up = await tg.waitForMessage((m) => m.text.startsWith(`🟢 ${name} is UP`), 5000);
  assert.ok(up.time > down.time);
  const closed = await waitIncident(srv, (i) => i.id === inc.id && i.closed_at, 4000, `incident ${inc.id} closed`);
  assert.match(closed.closed_at, ISO_UTC);
  assert.equal(closed.open, false);
  assert.ok(Date.parse(closed.closed_at) >= Date.parse(closed.opened_at));
  assert.match(closed.workers[0].up_at, ISO_UTC);
  await sleep(500);
  assert.equal(tg.messages.length, 2, `exactly DOWN and UP: ${texts(tg)}`);
});

// ---- 2. network ----------------------------------------------------------------------------------

scenario('4 agents of site fra1 killed together → one NETWORK ISSUE message, no per-worker DOWN; back → one RESOLVED', async (ctx) => {
  const { tg, srv } = await setup(ctx, { RCA_THRESHOLD: '3', RCA_HOLD: '1' });
  const names = ['fra-1', 'fra-2', 'fra-3', 'fra-4'];
  const agents = startAgents(ctx, srv, names.map((n) => [n, 'fra1']));
  await bystanders(ctx, srv, 'net');
  await waitState(srv, names, 'up', 6000);
  await sleep(600);
  await Promise.all(agents.map((a) => a.kill9()));

  const msg = await tg.waitForMessage((m) => m.text.includes('NETWORK ISSUE'), (FAIL_TIMEOUT_S + 4) * 1000);
  assert.match(msg.text, /fra1|127\.0\.0\.1/, 'the message names the site or the address');
  assert.match(msg.text, /\b4 workers\b/, `counts 4 workers: ${msg.text}`);
  await waitState(srv, names, 'down', 3000);
  await sleep(1500); // room for stray per-worker messages
  assert.equal(tg.messages.filter((m) => m.text.includes('NETWORK ISSUE')).length, 1, `one NETWORK ISSUE message: ${texts(tg)}`);
  assert.ok(!tg.messages.some((m) => m.text.includes('is DOWN')), `no per-worker DOWN messages: ${texts(tg)}`);

  const inc = await waitIncident(srv, (i) => names.every((n) => hasWorker(i, n)), 3000, 'an incident with the 4 fra1 workers');
  assert.equal(inc.classification, 'network');
  assert.equal(inc.closed_at, null);
  const scope = JSON.stringify(inc.scope);
  assert.match(scope, /fra1/, `scope names site fra1: ${scope}`);
  assert.match(scope, /127\.0\.0\.1/, `scope keeps the address: ${scope}`);
  assert.ok(!names.some((n) => (inc.workers.find((w) => w.name === n) ?? {}).up_at), 'nobody back yet');

  const an = await adminJson(srv, '/admin/api/analysis');
  assert.equal(an.classification, 'network', `analysis: ${JSON.stringify(an).slice(0, 600)}`);
  assert.deepEqual([...(an.by_site?.fra1 ?? [])].sort(), names, `by_site.fra1: ${JSON.stringify(an.by_site)}`);
  assert.deepEqual([...(an.by_ip?.['127.0.0.1'] ?? [])].sort(), names, `by_ip: ${JSON.stringify(an.by_ip)}`);
  assert.ok(Array.isArray(an.groups) && an.groups.some((g) => g.site === 'fra1' && g.workers === 4), `groups: ${JSON.stringify(an.groups)}`);

  startAgents(ctx, srv, names.map((n) => [n, 'fra1']));
  const resolved = await tg.waitForMessage((m) => m.text.includes('RESOLVED'), 8000);
  assert.match(resolved.text, /fra1|127\.0\.0\.1/);
  const closed = await waitIncident(srv, (i) => i.id === inc.id && i.closed_at, 4000, `incident ${inc.id} closed`);
  assert.match(closed.closed_at, ISO_UTC);
  await sleep(1000);
  assert.equal(tg.messages.filter((m) => m.text.includes('RESOLVED')).length, 1, `one RESOLVED: ${texts(tg)}`);
  assert.ok(!tg.messages.some((m) => m.text.includes('is UP')), `no per-worker UP messages: ${texts(tg)}`);
});

// ---- 3. widespread -------------------------------------------------------------------------------

scenario('2 agents at site a and 2 at site b killed together → one WIDESPREAD message', async (ctx) => {
  const { tg, srv } = await setup(ctx, { RCA_THRESHOLD: '3', RCA_HOLD: '1' });
  const specs = [['wa-1', 'a'], ['wa-2', 'a'], ['wb-1', 'b'], ['wb-2', 'b']];
  const names = specs.map((s) => s[0]);
  const agents = startAgents(ctx, srv, specs);
  await bystanders(ctx, srv, 'wide');
  await waitState(srv, names, 'up', 6000);
  await sleep(600);
  await Promise.all(agents.map((a) => a.kill9()));

  const msg = await tg.waitForMessage((m) => m.text.includes('WIDESPREAD'), (FAIL_TIMEOUT_S + 4) * 1000);
  assert.match(msg.text, /\b4 workers\b/, msg.text);
  await waitState(srv, names, 'down', 3000);
  await sleep(1000);
  assert.equal(tg.messages.filter((m) => m.text.includes('WIDESPREAD')).length, 1, texts(tg));
  assert.ok(!tg.messages.some((m) => m.text.includes('is DOWN') || m.text.includes('NETWORK ISSUE')), texts(tg));
  const inc = await waitIncident(srv, (i) => names.every((n) => hasWorker(i, n)), 3000, 'an incident with the 4 workers');
  assert.equal(inc.classification, 'widespread');
  const an = await adminJson(srv, '/admin/api/analysis');
  assert.equal(an.classification, 'widespread');
  assert.deepEqual([...(an.by_site?.a ?? [])].sort(), ['wa-1', 'wa-2']);
  assert.deepEqual([...(an.by_site?.b ?? [])].sort(), ['wb-1', 'wb-2']);
});

// ---- 4. backlog API ------------------------------------------------------------------------------

function postBacklog(srv, body, { key = srv.apiKey, headers = {} } = {}) {
  const h = { 'Content-Type': 'application/json', ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  return request(srv.url + '/api/v1/backlog', { method: 'POST', headers: h, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

const iso = (ms) => new Date(ms).toISOString();

function assertError(res, status, field) {
  assert.equal(res.status, status, `status ${res.status}: ${res.text.slice(0, 300)}`);
  assert.ok(res.json && typeof res.json.error === 'string' && res.json.error.length > 0, `JSON error: ${res.text.slice(0, 300)}`);
  if (field !== undefined) assert.equal(res.json.field, field, `field in ${res.text.slice(0, 300)}`);
}

scenario('POST /api/v1/backlog: stored/duplicates, 400 naming the field, 401, 413; diagnostics and mtr in the admin API', async (ctx, t) => {
  const srv = await ctx.server();
  const name = 'bl-box-1';
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  const t0 = Date.now() - 120000;
  const chunk = {
    name,
    records: [
      { kind: 'metric', id: 'm-1-1', time: iso(t0), ok: false, latency_ms: 5000.2, status: null, error: 'timeout after 5000 ms' },
      { kind: 'diagnostic', id: 'd-1-1', time: iso(t0 + 1000), trigger: 'heartbeat failed', failures: 1, method: 'raw', gateway: null },
      { kind: 'metric', id: 'm-1-2', time: iso(t0 + 2000), ok: true, latency_ms: 3.1, status: 204, error: null },
    ],
  };

  await t.test('valid chunk → 200 stored 3; again → duplicates 3', async () => {
    let res = await postBacklog(srv, chunk);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { stored: 3, duplicates: 0 });
    res = await postBacklog(srv, chunk);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { stored: 0, duplicates: 3 });
  });

  const rec = (extra = {}) => ({ kind: 'metric', id: 'm-x-1', time: iso(t0), ok: false, ...extra });
  const bad = [
    ['missing name', { records: [rec()] }, 'name'],
    ['bad name', { name: 'no spaces allowed', records: [rec()] }, 'name'],
    ['empty records', { name, records: [] }, 'records'],
    ['records not an array', { name, records: {} }, 'records'],
  ];
  for (const [what, body, field] of bad) {
    await t.test(`${what} → 400 field ${field}`, async () => {
      assertError(await postBacklog(srv, body), 400, field);
    });
  }
  await t.test('non-JSON body → 400', async () => {
    assertError(await postBacklog(srv, '{"name": "x", records'), 400);
  });
  await t.test('no API key → 401; wrong key → 401', async () => {
    assertError(await postBacklog(srv, chunk, { key: null }), 401);
    assertError(await postBacklog(srv, chunk, { key: 'wrong-key' }), 401);
  });
  await t.test('over 1 MiB → 413; 200 KiB → 200 (not the heartbeat 8 KiB limit)', async () => {
    const huge = { name, records: [rec({ id: 'm-huge-1', pad: 'x'.repeat(1100 * 1024) })] };
    // Answered from the headers, and the client reads the answer (a lingering close, no reset).
    let res = await postBacklog(srv, huge);
    assert.equal(res.status, 413);
    assert.deepEqual(res.json, { error: 'body larger than 1048576 bytes' });
    const big = { name, records: [{ kind: 'diagnostic', id: 'd-big-1', time: iso(t0 + 3000), trigger: 'big', pad: 'y'.repeat(200 * 1024) }] };
    res = await postBacklog(srv, big);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.deepEqual(res.json, { stored: 1, duplicates: 0 });
  });
  // Nothing from the rejected uploads was stored.
  await t.test('GET /admin/api/diagnostics?worker= → the records newest first; since= filters; bad since → 400', async () => {
    const all = (await adminJson(srv, `/admin/api/diagnostics?worker=${name}`)).diagnostics;
    assert.ok(Array.isArray(all));
    assert.deepEqual(all.map((d) => d.record_id), ['d-big-1', 'm-1-2', 'd-1-1', 'm-1-1'], 'newest first, rejected uploads not stored');
    for (const d of all) {
      assert.equal(d.worker, name);
      assert.match(d.time, ISO_UTC);
      assert.ok(['metric', 'diagnostic'].includes(d.kind));
      assert.equal(typeof d.record, 'object');
      assert.equal(d.record.id, d.record_id);
    }
    const m1 = all.find((d) => d.record_id === 'm-1-1');
    assert.equal(m1.kind, 'metric');
    assert.equal(m1.record.ok, false);
    assert.equal(m1.record.error, 'timeout after 5000 ms');
    assert.equal(m1.time, iso(t0));
    assert.equal(all[0].record.pad.length, 200 * 1024, 'the 200 KiB record is stored whole');
    const since = (await adminJson(srv, `/admin/api/diagnostics?worker=${name}&since=${encodeURIComponent(iso(t0 + 1500))}`)).diagnostics;
    assert.deepEqual(since.map((d) => d.record_id), ['d-big-1', 'm-1-2']);
    const diagOnly = (await adminJson(srv, `/admin/api/diagnostics?worker=${name}&kind=diagnostic`)).diagnostics;
    assert.deepEqual(diagOnly.map((d) => d.record_id), ['d-big-1', 'd-1-1']);
    const badSince = await adminGet(srv, `/admin/api/diagnostics?worker=${name}&since=notatime`);
    assertError(badSince, 400, 'since');
    const other = (await adminJson(srv, '/admin/api/diagnostics?worker=nobody-here')).diagnostics;
    assert.deepEqual(other, []);
  });
  await t.test('GET /admin/api/worker/NAME: mtr null, then the latest diagnostic path', async () => {
    let w = await adminJson(srv, `/admin/api/worker/${name}`);
    assert.ok('mtr' in w, `worker reply has "mtr": ${JSON.stringify(w).slice(0, 300)}`);
    assert.equal(w.mtr, null, 'no path probe uploaded yet');
    const mtr = {
      target: '127.0.0.1', addr: '127.0.0.1', method: 'raw', rounds: 5, reached: true,
      hops: [{ ttl: 1, addr: '127.0.0.1', sent: 5, received: 5, loss_pct: 0, best_ms: 0.1, avg_ms: 0.1, worst_ms: 0.2 }],
    };
    const older = { ...mtr, hops: [{ ...mtr.hops[0], addr: '10.9.9.9' }] };
    const res = await postBacklog(srv, {
      name,
      records: [
        { kind: 'diagnostic', id: 'd-mtr-1', time: iso(t0 + 4000), trigger: 'x', mtr: older },
        { kind: 'diagnostic', id: 'd-mtr-2', time: iso(t0 + 5000), trigger: 'x', mtr },
        { kind: 'metric', id: 'm-mtr-3', time: iso(t0 + 6000), ok: false },
      ],
    });
    assert.deepEqual(res.json, { stored: 3, duplicates: 0 });
    w = await adminJson(srv, `/admin/api/worker/${name}`);
    assert.ok(w.mtr && typeof w.mtr === 'object', `mtr: ${JSON.stringify(w.mtr)}`);
    assert.equal(w.mtr.record_id, 'd-mtr-2', 'the latest diagnostic with a path');
    assert.equal(w.mtr.time, iso(t0 + 5000));
    assert.deepEqual(w.mtr.mtr, mtr);
  });
});

// A bad record must be answered 400 naming records[i].FIELD, and the server must live on.
// Server bug found while writing this (src/server/backlog.c): when parse_record() rejects
// records[i], parse_chunk() frees the records array (free_records(*recs, i), line 115) but leaves
// *recs pointing at it; ingest_backlog() then calls free_records(recs, 0) (line 176), which frees
// the array again: "free(): double free detected", SIGABRT, for ANY invalid record. This scenario
// restarts the server after each crash so that every case reports on its own.
scenario('POST /api/v1/backlog with a bad record → 400 naming records[i].field; the server survives', async (ctx, t) => {
  let srv = await ctx.server();
  const name = 'bl-bad-1';
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  const t0 = Date.now() - 60000;
  const rec = (extra = {}) => ({ kind: 'metric', id: 'm-x-1', time: iso(t0), ok: false, ...extra });
  const cases = [
    ['bad kind at records[1]', [rec(), rec({ id: 'm-x-2', kind: 'weird' })], 'records[1].kind'],
    ['missing kind', [rec({ kind: undefined })], 'records[0].kind'],
    ['bad time', [rec({ time: 'yesterday' })], 'records[0].time'],
    ['id too long', [rec({ id: 'm'.repeat(65) })], 'records[0].id'],
    ['id with a space', [rec({ id: 'm 1' })], 'records[0].id'],
    ['record not an object', [rec(), 7], 'records[1]'],
  ];
  for (const [what, records, field] of cases) {
    await t.test(`${what} → 400 field ${field}`, async () => {
      let res;
      let error;
      try {
        res = await postBacklog(srv, { name, records });
      } catch (err) {
        error = err;
      }
      const exited = !srv.alive || (await srv.waitExit(300)) !== null;
      if (exited) {
        srv = await ctx.restart(srv);
        assert.fail(
          `SERVER BUG: faultline server died (${error ? error.message : 'after answering ' + res.status}) on a backlog ` +
            `with an invalid ${field}: double free in src/server/backlog.c (parse_chunk frees the records array ` +
            `on a bad record, ingest_backlog frees it again)`,
        );
      }
      assert.ok(!error, `no answer: ${error?.message}`);
      assertError(res, 400, field);
    });
  }
  await t.test('nothing of the rejected chunks was stored', async () => {
    const got = (await adminJson(srv, `/admin/api/diagnostics?worker=${name}`)).diagnostics;
    assert.deepEqual(got, []);
  });
});

// ---- 5. follow-up --------------------------------------------------------------------------------

/** Records shaped like docs/rca.md: gateway OK, 8.8.8.8 unreachable, path lost after hop 3. */
function outageBacklog(name, fromMs) {
  const hop = (ttl, addr, ok) =>
    ok
      ? { ttl, addr, sent: 5, received: 5, loss_pct: 0, best_ms: ttl * 0.5, avg_ms: ttl * 0.6, worst_ms: ttl * 0.9 }
      : { ttl, addr: '', sent: 5, received: 0, loss_pct: 100, best_ms: null, avg_ms: null, worst_ms: null };
  const diag = (id, at, failures) => ({
    kind: 'diagnostic',
    id,
    time: iso(at),
    trigger: 'heartbeat failed: timeout after 5000 ms',
    failures,
    method: 'raw',
    gateway: { addr: '10.1.0.1', reachable: true, sent: 3, received: 3, loss_pct: 0, rtt_ms: 0.41 },
    external: [{ target: '8.8.8.8', addr: '8.8.8.8', reachable: false, sent: 3, received: 0, loss_pct: 100, rtt_ms: null }],
    server: { target: '127.0.0.1', addr: '127.0.0.1', sent: 10, received: 0, loss_pct: 100, rtt_min_ms: null, rtt_avg_ms: null, rtt_max_ms: null },
    tcp: { addr: '127.0.0.1', port: 5000, ok: false, reachable: false, connect_ms: null, error: 'timeout after 2000 ms' },
    dns: null,
    mtr: {
      target: '127.0.0.1', addr: '127.0.0.1', method: 'raw', rounds: 5, reached: false,
      hops: [hop(1, '10.1.0.1', true), hop(2, '100.64.0.1', true), hop(3, '198.51.100.1', true), hop(4, '', false), hop(5, '', false)],
    },
    mtr_file: 'mtr/x.json',
  });
  const metric = (id, at) => ({ kind: 'metric', id, time: iso(at), ok: false, latency_ms: 5000.1, status: null, error: 'timeout after 5000 ms' });
  return {
    name,
    records: [
      metric('m-fu-1', fromMs + 100),
      diag('d-fu-1', fromMs + 300, 1),
      metric('m-fu-2', fromMs + 600),
      metric('m-fu-3', fromMs + 900),
      diag('d-fu-2', fromMs + 1200, 3),
    ],
  };
}

scenario('backlog of a down worker → one "🔎 Follow-up" naming the last good hop; diagnosis in the incident; no repeat', async (ctx) => {
  const { tg, srv } = await setup(ctx);
  const name = 'fu-box-1';
  const stop = ctx.pulse(srv, hb(name));
  await waitState(srv, [name], 'up', 5000);
  await sleep(400);
  const stoppedAt = Date.now();
  await stop();
  await tg.waitForMessage((m) => m.text.startsWith(`🔴 ${name} is DOWN`), (FAIL_TIMEOUT_S + 3) * 1000);
  const inc = await waitIncident(srv, (i) => hasWorker(i, name), 3000, `incident with ${name}`);
  assert.equal(inc.classification, 'individual');

  const backlog = outageBacklog(name, stoppedAt);
  const lastSeen = Date.parse((await workerStatus(srv, name)).last_seen);
  assert.ok(Date.parse(backlog.records[0].time) > lastSeen, `records lie inside the outage (last heartbeat ${new Date(lastSeen).toISOString()})`);
  const res = await postBacklog(srv, backlog);
  assert.deepEqual(res.json, { stored: 5, duplicates: 0 });

  const fu = await tg.waitForMessage((m) => m.text.startsWith('🔎 Follow-up on incident #'), 10000);
  assert.match(fu.text, new RegExp(`^🔎 Follow-up on incident #${inc.id}\\b`), fu.text);
  assert.ok(fu.text.includes(name), `names the worker: ${fu.text}`);
  assert.ok(fu.text.includes('198.51.100.1'), `names the last good hop: ${fu.text}`);
  assert.match(fu.text, /hop 3/, fu.text);
  assert.match(fu.text, /gateway OK/, fu.text);
  assert.match(fu.text, /8\.8\.8\.8 unreachable/, fu.text);

  const withDiag = await waitIncident(srv, (i) => i.id === inc.id && i.evidence?.diagnosis?.text, 3000, 'evidence.diagnosis.text');
  assert.ok(withDiag.evidence.diagnosis.text.includes('198.51.100.1'), JSON.stringify(withDiag.evidence.diagnosis));
  assert.ok(Array.isArray(withDiag.evidence.diagnosis.workers) && withDiag.evidence.diagnosis.workers.some((w) => w.worker === name));

  // A later upload of new records with the same verdict sends nothing (docs/api.md, "Follow-up").
  // The marker, a pass later (a pass starts 3 s after an upload): an upload that changes the
  // verdict sends a correction; a repeat of the unchanged follow-up would have come before it.
  const renamed = (b, suffix) => ({ ...b, records: b.records.map((r) => ({ ...r, id: `${r.id}-${suffix}` })) });
  const again = await postBacklog(srv, renamed(backlog, 'again'));
  assert.deepEqual(again.json, { stored: 5, duplicates: 0 });
  await sleep(4000);
  const template = backlog.records.find((r) => r.kind === 'diagnostic');
  const lost = (ttl) => ({ ttl, addr: '', sent: 5, received: 0, loss_pct: 100, best_ms: null, avg_ms: null, worst_ms: null });
  const gatewayDown = Array.from({ length: 6 }, (_, i) => ({
    ...template,
    id: `d-gw-${i}`,
    time: iso(stoppedAt + 1500 + i * 100),
    gateway: { addr: '10.1.0.1', reachable: false, sent: 3, received: 0, loss_pct: 100, rtt_ms: null },
    mtr: { ...template.mtr, hops: [lost(1), lost(2), lost(3)] },
  }));
  const changed = await postBacklog(srv, { name, records: gatewayDown });
  assert.deepEqual(changed.json, { stored: 6, duplicates: 0 });
  const edit = await waitFor(() => tg.edits[0], 10000, { message: () => `a correction of the follow-up (messages: ${texts(tg)})` });
  assert.equal(edit.message_id, fu.message_id, 'the correction edits the follow-up');
  assert.match(edit.text, new RegExp(`^🔎 Correction to the follow-up on incident #${inc.id}\\b`), edit.text);
  const fus = tg.messages.filter((m) => m.text.startsWith('🔎'));
  assert.deepEqual(fus.map((m) => m.text), [fu.text], `no repeat of the unchanged follow-up: ${texts(tg)}`);
  assert.equal(tg.edits.length, 1, `one correction: ${JSON.stringify(tg.edits.map((e) => e.text))}`);

  // The worker comes back: its incident closes and the diagnosis stays in the evidence.
  ctx.pulse(srv, hb(name));
  const closed = await waitIncident(srv, (i) => i.id === inc.id && i.closed_at, 5000, 'incident closed');
  assert.ok(closed.evidence?.diagnosis?.text, `diagnosis kept after close: ${JSON.stringify(closed.evidence).slice(0, 400)}`);
});

/** Failed heartbeats only, no diagnosis: what an agent uploads when its diagnoses did not run. */
function heartbeatsOnlyBacklog(name, fromMs) {
  const metric = (id, at) => ({ kind: 'metric', id, time: iso(at), ok: false, latency_ms: 5000.1, status: null, error: 'timeout after 5000 ms' });
  return { name, records: [metric('m-hb-1', fromMs + 100), metric('m-hb-2', fromMs + 600)] };
}

/** Stops the heartbeats of names at once; resolves once each got its DOWN message. */
async function stopAll(tg, stops, names) {
  await Promise.all(stops.map((stop) => stop()));
  const at = Date.now();
  for (const n of names) await tg.waitForMessage((m) => m.text.startsWith(`🔴 ${n} is DOWN`), (FAIL_TIMEOUT_S + 3) * 1000);
  return at;
}

scenario('the follow-up waits for every worker or RCA_FOLLOWUP_WAIT after the close; never one without diagnostics', async (ctx) => {
  const { tg, srv } = await setup(ctx, { RCA_FOLLOWUP_WAIT: '3' });
  const all = ['fw-a', 'fw-b', 'fw-c', 'fw-quiet'];
  const stops = Object.fromEntries(all.map((n) => [n, ctx.pulse(srv, hb(n))]));
  await waitState(srv, all, 'up', 5000);

  // An incident whose only upload holds failed heartbeats and no diagnosis: no follow-up.
  const quietAt = await stopAll(tg, [stops['fw-quiet']], ['fw-quiet']);
  const quiet = await waitIncident(srv, (i) => hasWorker(i, 'fw-quiet'), 3000, 'the incident of fw-quiet');
  assert.deepEqual((await postBacklog(srv, heartbeatsOnlyBacklog('fw-quiet', quietAt))).json, { stored: 2, duplicates: 0 });
  ctx.pulse(srv, hb('fw-quiet'));
  await waitIncident(srv, (i) => i.id === quiet.id && i.closed_at, 5000, 'the fw-quiet incident closed');

  // Three workers in one incident: two upload while it lasts, the third never does. The
  // follow-up waits for the third until RCA_FOLLOWUP_WAIT after the incident closed.
  const names = ['fw-a', 'fw-b', 'fw-c'];
  const downAt = await stopAll(tg, names.map((n) => stops[n]), names);
  const inc = await waitIncident(srv, (i) => names.every((n) => hasWorker(i, n)), 3000, 'one incident with fw-a, fw-b and fw-c');
  assert.deepEqual((await postBacklog(srv, outageBacklog('fw-a', downAt))).json, { stored: 5, duplicates: 0 });
  assert.deepEqual((await postBacklog(srv, heartbeatsOnlyBacklog('fw-b', downAt))).json, { stored: 2, duplicates: 0 });
  for (const n of names) ctx.pulse(srv, hb(n));
  const closed = await waitIncident(srv, (i) => i.id === inc.id && i.closed_at, 5000, 'the incident closed');
  const fu = await tg.waitForMessage((m) => m.text.startsWith('🔎 Follow-up'), 15000);
  assert.ok(fu.time >= Date.parse(closed.closed_at) + 3000, `sent ${fu.time - Date.parse(closed.closed_at)} ms after the close, not before RCA_FOLLOWUP_WAIT`);
  assert.match(fu.text, new RegExp(`^🔎 Follow-up on incident #${inc.id} \\(individual\\):\nno fault point shared by the paths of 2 agents\n`));
  // fw-a's two diagnoses lie 0.9 s apart: too short for "for Ns"; fw-c uploaded nothing.
  assert.equal(
    fu.text.split('\n').slice(2).join('\n'),
    'fw-a: gateway OK, 8.8.8.8 unreachable, loss began after hop 3 (198.51.100.1) → upstream ISP\n' +
      'fw-b: 2 failed heartbeats, no diagnostics → cause unknown',
  );
  // fw-quiet's wait ended before this one's: it would have been sent by now.
  const fus = tg.messages.filter((m) => m.text.startsWith('🔎'));
  assert.deepEqual(fus.map((m) => m.text), [fu.text], `one follow-up, none for incident #${quiet.id}: ${texts(tg)}`);
});

// ---- 6. canaries ---------------------------------------------------------------------------------

const CANARY_IF = 'fl-canary0';
const CANARY_ADDR = '192.0.2.1';

function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** An interface of our own carrying the canary's address (dummy where the kernel has it). */
function makeCanaryInterface() {
  try {
    ip('link', 'add', CANARY_IF, 'type', 'dummy');
  } catch {
    ip('link', 'add', CANARY_IF, 'type', 'bridge');
  }
  ip('addr', 'add', `${CANARY_ADDR}/32`, 'dev', CANARY_IF);
  ip('link', 'set', CANARY_IF, 'up');
}

scenario('canaries fail → nobody counted DOWN, one server incident; they answer again → it closes and DOWN detection works again', async (ctx, t) => {
  try {
    makeCanaryInterface();
  } catch (err) {
    t.skip(`cannot create ${CANARY_IF} here (needs root in the suite's network namespace): ${err.message}`);
    return;
  }
  t.after(() => {
    try {
      ip('link', 'del', CANARY_IF);
    } catch {}
  });
  const { tg, srv } = await setup(ctx, { RCA_CANARIES: CANARY_ADDR, RCA_CANARY_INTERVAL: '0.5' });
  const names = ['can-1', 'can-2', 'can-3'];
  const agents = startAgents(ctx, srv, names.map((n) => [n]));
  await waitState(srv, names, 'up', 6000);
  await waitFor(async () => (await adminJson(srv, '/admin/api/analysis')).server_canaries?.guarding === true, 5000, {
    message: 'server_canaries.guarding true',
  });

  // A link going down keeps its local address answering; removing the address makes the canary
  // unreachable (no route in this namespace).
  ip('addr', 'del', `${CANARY_ADDR}/32`, 'dev', CANARY_IF);
  await Promise.all(agents.map((a) => a.kill9()));
  const killedAt = Date.now();

  const cut = await tg.waitForMessage((m) => m.text.includes('monitor itself lost connectivity'), (FAIL_TIMEOUT_S + 5) * 1000);
  assert.match(cut.text, /not counted as down/);
  const inc = await waitIncident(srv, (i) => i.classification === 'server' && !i.closed_at, 3000, 'an open server incident');
  while (Date.now() < killedAt + (FAIL_TIMEOUT_S + 2.5) * 1000) await sleep(100);
  const st = await workerStatus(srv);
  assert.equal(st.counts.down, 0, `nobody counted down while cut off: ${JSON.stringify(st.counts)}`);
  assert.ok(!tg.messages.some((m) => m.text.includes('is DOWN')), `no DOWN messages: ${texts(tg)}`);
  const an = await adminJson(srv, '/admin/api/analysis');
  assert.equal(an.server_canaries.cut_off, true, JSON.stringify(an.server_canaries));
  const incNow = (await incidents(srv)).find((i) => i.id === inc.id);
  assert.ok(names.every((n) => hasWorker(incNow, n)), `server incident lists the unreachable workers: ${JSON.stringify(incNow.workers)}`);

  ip('addr', 'add', `${CANARY_ADDR}/32`, 'dev', CANARY_IF);
  const restoredAt = Date.now();
  const closed = await waitIncident(srv, (i) => i.id === inc.id && i.closed_at, 4000, `server incident ${inc.id} closed`);
  assert.match(closed.closed_at, ISO_UTC);
  // A fresh FAIL_TIMEOUT from the recovery (which comes after restoredAt): nobody down before it.
  while (Date.now() < restoredAt + (FAIL_TIMEOUT_S - 0.3) * 1000) {
    const s = await workerStatus(srv);
    assert.equal(s.counts.down, 0, `down ${(Date.now() - restoredAt) / 1000} s after the canary came back: less than FAIL_TIMEOUT`);
    await sleep(100);
  }
  // The agents are dead: DOWN detection works again.
  await waitState(srv, names, 'down', (FAIL_TIMEOUT_S + 5) * 1000);
  await tg.waitForMessage((m) => m.text.includes('RESOLVED'), 3000);
});

// ---- 7. incidents survive a restart --------------------------------------------------------------

scenario('server restart keeps incidents; the restored one closes when its worker comes back', async (ctx) => {
  const { tg, srv } = await setup(ctx);
  const name = 'rs-box-1';
  const stop = ctx.pulse(srv, hb(name));
  await waitState(srv, [name], 'up', 5000);
  await stop();
  await tg.waitForMessage((m) => m.text.startsWith(`🔴 ${name} is DOWN`), (FAIL_TIMEOUT_S + 3) * 1000);
  const inc = await waitIncident(srv, (i) => hasWorker(i, name), 3000, `incident with ${name}`);

  await srv.stop();
  const srv2 = await ctx.restart(srv);
  const after = await incidents(srv2);
  const kept = after.find((i) => i.id === inc.id);
  assert.ok(kept, `incident ${inc.id} still listed after the restart: ${JSON.stringify(after).slice(0, 400)}`);
  assert.equal(kept.classification, 'individual');
  assert.equal(kept.opened_at, inc.opened_at);
  assert.equal(kept.closed_at, null);
  assert.ok(hasWorker(kept, name));

  ctx.pulse(srv2, hb(name));
  const closed = await waitIncident(srv2, (i) => i.id === inc.id && i.closed_at, 5000, `restored incident ${inc.id} closed`);
  assert.match(closed.closed_at, ISO_UTC);
  const fresh = await incidents(srv2);
  assert.equal(fresh.filter((i) => i.id === inc.id).length, 1);
});
