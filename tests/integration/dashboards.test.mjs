// dashboards.test.mjs — the public page shows only "N systems monitored", and no unauthenticated
// response (body or headers) ever carries a worker's name, version or site.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { heartbeat, hb, request, basicAuth, events } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const SECRETS = {
  names: ['secret-box-7f3a', 'hidden-node-9c2e', 'quiet-rig-41b0'],
  version: '7.7.7-leakcheck',
  site: 'site-zz9q',
};

// The count as a person reads it: markup removed ("<span>3</span> systems monitored" is fine).
const visibleText = (html) => html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, '');
const monitored = (html) => {
  const m = /(\d+)\s+systems?\s+monitored/i.exec(visibleText(html));
  return m ? Number(m[1]) : undefined;
};

scenario('GET / shows "N systems monitored" and nothing else about the workers', async (ctx) => {
  const srv = await ctx.server();
  let res = await request(srv.url + '/');
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /text\/html/);
  assert.equal(monitored(res.text), 0, `page says: ${res.text.slice(0, 300)}`);
  for (const [i, name] of SECRETS.names.entries()) {
    assert.equal((await heartbeat(srv, hb(name, { version: SECRETS.version, site: SECRETS.site }))).status, 204);
    res = await request(srv.url + '/');
    assert.equal(monitored(res.text), i + 1);
  }
  for (const s of [...SECRETS.names, SECRETS.version, SECRETS.site, '127.0.0.1']) assert.ok(!res.text.includes(s), `public page shows "${s}"`);
});

// Unauthenticated (or wrongly authenticated) requests: [method, path, headers, body, status].
const wrongBasic = { Authorization: basicAuth('admin', 'wrong-password') };
const PROBES = [
  { path: '/' , status: 200 },
  { path: '/index.html' },
  { path: '/admin', status: 401 },
  { path: '/admin/', status: 401 },
  { path: '/admin/api/status', status: 401 },
  { path: '/admin/api/events', status: 401 },
  { path: '/admin/api/events?limit=5&type=down,up', status: 401 },
  { path: `/admin/api/worker/${SECRETS.names[0]}`, status: 401 },
  { path: '/admin/api/worker/nobody-here', status: 401 },
  { path: '/admin/api/analysis' },
  { path: '/admin/api/rca' },
  { path: '/admin/api/diagnostics' },
  { path: '/nonexistent', status: 404 },
  { path: '/api/v1/heartbeat', status: 405 },
  { path: '/api/v1/workers' },
  { path: '//admin/api/status' },
  { path: '/./admin/api/status' },
  { path: '/admin/../admin/api/status' },
  { path: '/ADMIN/api/status' },
  { path: '/admin/api/status', headers: wrongBasic, status: 401 },
  { path: '/admin', headers: wrongBasic, status: 401 },
  { path: '/admin/api/events', headers: wrongBasic, status: 401 },
  { path: `/admin/api/worker/${SECRETS.names[1]}`, headers: wrongBasic, status: 401 },
  { path: '/admin/api/status', headers: { Authorization: basicAuth('root', '') }, status: 401 },
  { path: '/admin/api/status', headers: { Authorization: 'Basic !!!not-base64' }, status: 401 },
  { path: '/admin/api/status', headers: { Authorization: 'Bearer KEY' }, status: 401 },
  { method: 'POST', path: '/admin/api/status' },
  { method: 'POST', path: '/api/v1/heartbeat', headers: { Authorization: 'Bearer wrong' }, body: hb('leak-probe-box'), status: 401 },
  { method: 'POST', path: '/api/v1/heartbeat', body: { gpus: 1 }, status: 401 },
  { method: 'DELETE', path: '/' },
  { method: 'OPTIONS', path: '/admin/api/status' },
];

scenario('no unauthenticated response carries a worker name, version or site', async (ctx, t) => {
  const srv = await ctx.server();
  for (const name of SECRETS.names)
    assert.equal((await heartbeat(srv, hb(name, { version: SECRETS.version, site: SECRETS.site }))).status, 204);
  // One of them DOWN, so down-state texts exist too.
  await waitFor(async () => (await events(srv)).some((e) => e.kind === 'down'), 5000, { message: 'a DOWN event' });
  assert.equal((await heartbeat(srv, hb(SECRETS.names[1], { version: SECRETS.version, site: SECRETS.site }))).status, 204);

  for (const p of PROBES) {
    const method = p.method ?? 'GET';
    await t.test(`${method} ${p.path}${p.headers ? ' (' + Object.values(p.headers)[0].slice(0, 16) + '…)' : ''}`, async () => {
      const res = await request(srv.url + p.path, { method, headers: p.headers ?? {}, body: p.body });
      if (p.status) assert.equal(res.status, p.status, `status (body: ${res.text.slice(0, 200)})`);
      if (/admin/i.test(p.path)) assert.notEqual(res.status, 200, 'an admin path answered 200 without credentials');
      const everything = res.text + '\n' + res.rawHeaders.join('\n');
      for (const s of [...SECRETS.names, SECRETS.version, SECRETS.site, 'leak-probe-box'])
        assert.ok(!everything.includes(s), `response to ${method} ${p.path} contains "${s}":\n${everything.slice(0, 800)}`);
      if (res.status === 401 && p.path.startsWith('/admin'))
        assert.match(String(res.headers['www-authenticate']), /^Basic /i, 'a 401 on an admin path asks for Basic auth');
    });
  }
  await t.test('the refused heartbeat was not stored', async () => {
    const res = await request(srv.url + '/');
    assert.equal(monitored(res.text), 3);
  });
});
