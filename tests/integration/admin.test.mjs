// admin.test.mjs — the admin pages and API behind HTTP Basic (ADMIN_USER/ADMIN_PASS): contents of
// /admin, /admin/api/status, /admin/api/worker/NAME, /admin/api/events; 401 for bad credentials;
// 403 "admin disabled" without ADMIN_PASS.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { heartbeat, hb, request, basicAuth, adminGet, adminJson, events } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/; // docs/api.md: UTC, with milliseconds

async function populated(ctx, env = {}) {
  const srv = await ctx.server({ env: { FAIL_TIMEOUT: '1.5', ...env } });
  assert.equal((await heartbeat(srv, hb('adm-gone-box', { gpus: 1, version: '0.9.0', uptime_s: 10 }))).status, 204);
  await waitFor(async () => (await events(srv)).some((e) => e.kind === 'down'), 5000, { message: 'adm-gone-box DOWN' });
  const b1 = hb('adm-box-1', { gpus: 8, version: '3.1.4', uptime_s: 4242, site: 'dc-west' });
  const b2 = hb('brickbox-43(4)', { gpus: 4, version: '3.1.5', uptime_s: 7 });
  assert.equal((await heartbeat(srv, b1)).status, 204);
  assert.equal((await heartbeat(srv, b2)).status, 204);
  // Keep these two up for the rest of the test.
  ctx.pulse(srv, b1);
  ctx.pulse(srv, b2);
  return srv;
}

scenario('GET /admin/api/status lists every worker with its details', async (ctx) => {
  const srv = await populated(ctx);
  const st = await adminJson(srv, '/admin/api/status');
  assert.equal(st.total, 3);
  assert.equal(st.workers.length, 3);
  const w = st.workers.find((x) => x.name === 'adm-box-1');
  assert.ok(w, JSON.stringify(st));
  assert.equal(w.state, 'up');
  assert.equal(w.ip, '127.0.0.1');
  assert.equal(w.gpus, 8);
  assert.equal(w.version, '3.1.4');
  assert.equal(typeof w.uptime_s, 'number');
  assert.ok(w.uptime_s >= 4242 && w.uptime_s < 4242 + 30, `uptime_s ${w.uptime_s}`);
  assert.match(w.last_seen, ISO_UTC);
  assert.ok(Math.abs(Date.parse(w.last_seen) - Date.now()) < 10000, `last_seen ${w.last_seen} is now`);
  const gone = st.workers.find((x) => x.name === 'adm-gone-box');
  assert.equal(gone.state, 'down');
  assert.equal(gone.gpus, 1);
  const res = await adminGet(srv, '/admin/api/status');
  assert.match(String(res.headers['content-type']), /application\/json/);
});

scenario('GET /admin shows workers (name, state, last seen, IP, GPUs, version) and recent events', async (ctx) => {
  const srv = await populated(ctx);
  const res = await adminGet(srv, '/admin');
  assert.equal(res.status, 200, res.text.slice(0, 300));
  assert.match(String(res.headers['content-type']), /text\/html/);
  const html = res.text;
  for (const s of ['adm-box-1', 'adm-gone-box', 'brickbox-43(4)', '127.0.0.1', '3.1.4', '3.1.5', '0.9.0'])
    assert.ok(html.includes(s), `/admin shows "${s}"`);
  assert.match(html, /\bdown\b/i, 'shows the DOWN state/event');
  assert.match(html, /\bup\b/i, 'shows the UP state/event');
});

scenario('GET /admin/api/worker/NAME → the worker and its events; unknown → 404 JSON', async (ctx) => {
  const srv = await populated(ctx);
  const body = await adminJson(srv, '/admin/api/worker/adm-gone-box');
  assert.equal(body.worker.name, 'adm-gone-box');
  assert.equal(body.worker.state, 'down');
  assert.equal(body.worker.ip, '127.0.0.1');
  assert.ok(Array.isArray(body.events));
  assert.deepEqual(body.events.map((e) => e.kind), ['down', 'up'], 'its events, newest first');
  for (const e of body.events) {
    assert.equal(e.worker, 'adm-gone-box');
    assert.match(e.time, ISO_UTC);
  }
  // Names with parentheses, raw and percent-encoded.
  for (const path of ['/admin/api/worker/brickbox-43(4)', '/admin/api/worker/brickbox-43%284%29']) {
    const b = await adminJson(srv, path);
    assert.equal(b.worker.name, 'brickbox-43(4)', path);
    assert.equal(b.worker.gpus, 4);
  }
  const res = await adminGet(srv, '/admin/api/worker/nobody-by-that-name');
  assert.equal(res.status, 404);
  assert.equal(typeof res.json?.error, 'string', `JSON error body: ${res.text}`);
});

scenario('GET /admin/api/events: limit, type filter, newest first, ISO times', async (ctx) => {
  const srv = await populated(ctx);
  const all = await events(srv, { limit: 100 });
  assert.equal(all.length, 4, JSON.stringify(all));
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].id > all[i].id, 'newest first');
  for (const e of all) {
    assert.match(e.time, ISO_UTC);
    assert.ok(['up', 'down'].includes(e.kind));
    assert.equal(typeof e.details, 'object');
    assert.ok(e.details !== null && !Array.isArray(e.details));
  }
  assert.deepEqual((await events(srv, { limit: 2 })).map((e) => e.id), all.slice(0, 2).map((e) => e.id));
  const downs = await events(srv, { type: 'down' });
  assert.deepEqual(downs.map((e) => e.worker), ['adm-gone-box']);
  assert.equal((await events(srv, { type: 'up' })).length, 3);
  assert.equal((await events(srv, { type: 'down,up' })).length, 4);
});

const BAD_CREDENTIALS = [
  { what: 'wrong password', auth: (s) => basicAuth(s.adminUser, s.adminPass + 'x') },
  { what: 'wrong user', auth: (s) => basicAuth('root', s.adminPass) },
  { what: 'empty password', auth: (s) => basicAuth(s.adminUser, '') },
  { what: 'password prefix', auth: (s) => basicAuth(s.adminUser, s.adminPass.slice(0, -1)) },
  { what: 'no credentials', auth: () => undefined },
];

scenario('bad admin credentials → 401 with WWW-Authenticate: Basic', async (ctx, t) => {
  // 12 wrong attempts from one address: above the default throttle (tests/security has that).
  const srv = await populated(ctx, { AUTH_MAX_FAILURES: '100' });
  for (const c of BAD_CREDENTIALS) {
    for (const path of ['/admin', '/admin/api/status', '/admin/api/events', '/admin/api/worker/adm-box-1']) {
      await t.test(`${c.what}: ${path}`, async () => {
        const a = c.auth(srv);
        const res = await request(srv.url + path, { headers: a ? { Authorization: a } : {} });
        assert.equal(res.status, 401);
        assert.match(String(res.headers['www-authenticate']), /^Basic /i);
        assert.ok(!res.text.includes('adm-box-1'));
      });
    }
  }
});

scenario('ADMIN_USER changes the login name', async (ctx) => {
  const srv = await ctx.server({ env: { ADMIN_USER: 'ops', ADMIN_PASS: 's3cret-ops' } });
  assert.equal((await adminGet(srv, '/admin/api/status', { user: 'ops', pass: 's3cret-ops' })).status, 200);
  assert.equal((await adminGet(srv, '/admin/api/status', { user: 'admin', pass: 's3cret-ops' })).status, 401);
});

scenario('without ADMIN_PASS the admin pages answer 403 "admin disabled"', async (ctx, t) => {
  const srv = await ctx.server({ env: { ADMIN_PASS: null } });
  assert.equal((await heartbeat(srv, hb('noadmin-box'))).status, 204);
  for (const path of ['/admin', '/admin/api/status', '/admin/api/events', '/admin/api/worker/noadmin-box']) {
    for (const auth of [undefined, basicAuth('admin', ''), basicAuth('admin', 'anything')]) {
      await t.test(`${path} ${auth ? 'with' : 'without'} credentials`, async () => {
        const res = await request(srv.url + path, { headers: auth ? { Authorization: auth } : {} });
        assert.equal(res.status, 403, res.text.slice(0, 200));
        assert.match(res.text, /ADMIN_PASS/, 'says to set ADMIN_PASS');
        assert.ok(!res.text.includes('noadmin-box'));
      });
    }
  }
  const pub = await request(srv.url + '/');
  assert.equal(pub.status, 200);
  assert.match(pub.text.replace(/<[^>]*>/g, ''), /\b1\s+systems?\s+monitored/i);
});
