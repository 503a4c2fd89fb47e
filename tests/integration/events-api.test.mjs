// events-api.test.mjs — the v1 event API (docs/api.md): GET /api/v1/events with its filters and
// exact errors, and the live stream GET /api/v1/events/stream: a client sees a worker_down as it
// is recorded, another resumes after Last-Event-ID from the store, a client that stops reading
// neither delays the others nor grows without bound (it is dropped with a last comment).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { scenario } from './lib/scenario.mjs';
import { request, basicAuth, heartbeat, hb } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

function admin(srv, p, headers = {}) {
  return request(srv.url + p, { headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass), ...headers } });
}

/** Opens the stream; .events (parsed), .comments, .text grow as they arrive. */
function openStream(srv, p = '/api/v1/events/stream', headers = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(srv.url + p);
    const s = { events: [], comments: [], text: '', status: 0, headers: {} };
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, agent: false, headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass), Accept: 'text/event-stream', ...headers } },
      (res) => {
        s.status = res.statusCode;
        s.headers = res.headers;
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          s.text += chunk;
          pending += chunk;
          let i;
          while ((i = pending.indexOf('\n\n')) >= 0) {
            const block = pending.slice(0, i);
            pending = pending.slice(i + 2);
            if (block.startsWith(':')) {
              s.comments.push(block.slice(1).trim());
              continue;
            }
            const f = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
            s.events.push({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) });
          }
        });
        res.on('end', () => (s.ended = true));
        res.on('error', () => (s.ended = true));
        resolve(s);
      },
    );
    req.on('error', reject);
    req.end();
    s.close = () => req.destroy();
  });
}

scenario('GET /api/v1/events: types, since (ISO or ms), limit, count; errors name the parameter', async (ctx) => {
  const srv = await ctx.server({ env: { FAIL_TIMEOUT: '1' } });
  const t0 = Date.now();
  for (const name of ['ev-a', 'ev-b']) assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await waitFor(async () => (await admin(srv, '/api/v1/events?type=worker_down')).json.count === 2, 8000, { message: 'two worker_down events' });
  const all = (await admin(srv, '/api/v1/events')).json;
  assert.equal(all.count, 4);
  assert.equal(all.events.length, 4);
  assert.deepEqual(all.events.map((e) => e.type).sort(), ['worker_down', 'worker_down', 'worker_up', 'worker_up']);
  for (const e of all.events) assert.equal(e.type, `worker_${e.kind}`);
  const downs = (await admin(srv, '/api/v1/events?type=worker_down')).json;
  assert.deepEqual(downs.events.map((e) => e.worker).sort(), ['ev-a', 'ev-b']);
  assert.equal((await admin(srv, '/api/v1/events?type=worker_up,worker_down&limit=3')).json.count, 3);
  assert.equal((await admin(srv, '/api/v1/events?type=down')).json.count, 2, 'the stored names work too');
  const lastDown = downs.events[0];
  const sinceMs = Date.parse(lastDown.time);
  assert.ok(sinceMs >= t0);
  const fromMs = (await admin(srv, `/api/v1/events?since=${sinceMs}`)).json;
  assert.ok(fromMs.events.every((e) => Date.parse(e.time) >= sinceMs) && fromMs.events.some((e) => e.id === lastDown.id));
  const fromIso = (await admin(srv, `/api/v1/events?since=${encodeURIComponent(lastDown.time)}`)).json;
  assert.deepEqual(fromIso, fromMs);
  assert.equal((await admin(srv, `/api/v1/events?since=${Date.now() + 60000}`)).json.count, 0);

  const bad = [
    ['?type=worker_sideways', 'type', 'type: expected a list of worker_up,worker_down,gpu_lost,gpu_back,check_state,alert_failed, got "worker_sideways"'],
    ['?since=yesterday', 'since', 'since: expected an ISO 8601 time or ms since the epoch, got "yesterday"'],
    ['?limit=0', 'limit', 'limit: expected a number from 1 to 1000, got "0"'],
  ];
  for (const [q, field, error] of bad) {
    const r = await admin(srv, '/api/v1/events' + q);
    assert.equal(r.status, 400, q);
    assert.deepEqual(r.json, { error, field });
  }
  assert.equal((await request(srv.url + '/api/v1/events')).status, 401);
  assert.equal((await request(srv.url + '/api/v1/events/stream')).status, 401);
});

scenario('GET /api/v1/events/stream: live worker_down, resume after Last-Event-ID, a stalled client stalls no one', async (ctx) => {
  const srv = await ctx.server({ env: { FAIL_TIMEOUT: '1' } });
  const live = await openStream(srv);
  assert.equal(live.status, 200);
  assert.match(String(live.headers['content-type']), /^text\/event-stream/);
  await waitFor(() => live.comments.includes('live'), 3000, { message: 'the stream opened' });
  const onlyDowns = await openStream(srv, '/api/v1/events/stream?type=worker_down');
  await waitFor(() => onlyDowns.comments.includes('live'), 3000);

  // A client that sends its request and never reads.
  const stalled = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => stalled.on('connect', r));
  stalled.write(`GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: ${basicAuth(srv.adminUser, srv.adminPass)}\r\n\r\n`);
  stalled.pause();

  assert.equal((await heartbeat(srv, hb('sse-box'))).status, 204);
  const up = await waitFor(() => live.events.find((e) => e.event === 'worker_up' && e.data.worker === 'sse-box'), 3000, { message: 'worker_up live' });
  const down = await waitFor(() => live.events.find((e) => e.event === 'worker_down' && e.data.worker === 'sse-box'), 5000, { message: 'worker_down live' });
  assert.equal(down.data.type, 'worker_down');
  assert.equal(down.data.id, down.id);
  assert.ok(down.id > up.id);
  const stored = (await admin(srv, '/api/v1/events?type=worker_down')).json.events[0];
  assert.deepEqual(down.data, stored);
  await waitFor(() => onlyDowns.events.length === 1, 3000);
  assert.deepEqual(onlyDowns.events.map((e) => e.id), [down.id]);

  // Resume after the UP: the DOWN comes from the store, then live events follow.
  const resumed = await openStream(srv, '/api/v1/events/stream', { 'Last-Event-ID': String(up.id) });
  await waitFor(() => resumed.events.length >= 1, 3000, { message: 'the missed event' });
  assert.deepEqual(resumed.events.map((e) => e.id), [down.id]);
  assert.equal((await heartbeat(srv, hb('sse-box'))).status, 204);
  const back = await waitFor(() => resumed.events.find((e) => e.id > down.id), 3000, { message: 'a live event after the replay' });
  assert.equal(back.event, 'worker_up');
  await waitFor(() => live.events.some((e) => e.id === back.id), 3000);
  assert.deepEqual(resumed.events.map((e) => e.id), live.events.filter((e) => e.id > up.id).map((e) => e.id), 'no event twice, none missed');

  // The stalled client: many events later, the others still get each one, and it is dropped.
  const many = 1500;
  const before = live.events.length;
  const batch = [];
  for (let i = 0; i < many; i++) {
    batch.push(heartbeat(srv, hb(`sse-many-${i}`)));
    if (batch.length === 50) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  await waitFor(() => live.events.length >= before + many, 20000, { message: `${many} worker_up events live` });
  await waitFor(() => /events: dropped a stream client at 127\.0\.0\.1/.test(srv.stderr), 20000, { message: 'the stalled client dropped' });
  assert.ok(!live.ended && !resumed.ended);
  // Reading again, it gets what was buffered, the last comment, and the end of the stream.
  let got = '';
  stalled.setEncoding('utf8');
  stalled.on('data', (c) => (got += c));
  const closed = new Promise((r) => stalled.on('end', r));
  stalled.resume();
  await waitFor(() => got.includes(': dropped: this client read too slowly\n\n'), 10000, { message: 'the last comment' });
  assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(got.endsWith(': dropped: this client read too slowly\n\n\r\n0\r\n\r\n'), JSON.stringify(got.slice(-120)));
  await closed;
  stalled.destroy();
  for (const s of [live, onlyDowns, resumed]) s.close();
});

scenario('GET /api/v1/events/stream: errors name the parameter', async (ctx) => {
  const srv = await ctx.server();
  const r = await admin(srv, '/api/v1/events/stream?type=nope');
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, { error: 'type: expected a list of worker_up,worker_down,gpu_lost,gpu_back,check_state,alert_failed, got "nope"', field: 'type' });
  const id = await admin(srv, '/api/v1/events/stream', { 'Last-Event-ID': 'abc' });
  assert.equal(id.status, 400);
  assert.deepEqual(id.json, { error: 'Last-Event-ID: expected an event id, got "abc"', field: 'Last-Event-ID' });
});

scenario('GET /api/v1/events/stream: a heartbeat comment every 15 s; the server stops cleanly with streams open', async (ctx) => {
  const srv = await ctx.server();
  const s = await openStream(srv);
  await waitFor(() => s.comments.includes('live'), 3000);
  const opened = Date.now();
  await waitFor(() => s.comments.includes('heartbeat'), 20000, { intervalMs: 200, message: 'a heartbeat comment' });
  const after = Date.now() - opened;
  // The timer runs from the server's start, a little before the stream opened.
  assert.ok(after <= 15500, `first heartbeat after ${after} ms`);
  assert.ok(after >= 13000, `first heartbeat after ${after} ms`);
  const head = await request(srv.url + '/api/v1/events/stream', { method: 'HEAD', headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
  assert.equal(head.status, 200);
  // SIGTERM with streams open: they end, and the server exits 0 (ctx's stop checks status and sanitizers).
  const resumed = await openStream(srv, '/api/v1/events/stream', { 'Last-Event-ID': '1' });
  await waitFor(() => resumed.comments.includes('resumed'), 3000);
  await srv.stop();
  await waitFor(() => s.ended && resumed.ended, 3000, { message: 'the streams ended' });
});
