// heartbeat.test.mjs — POST /api/v1/heartbeat: authentication, validation, size limit. After every
// bad request the server must still take a good heartbeat (204), and nothing bad is stored.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { heartbeat, hb, request, workerStatus, events } from './lib/http.mjs';

async function assertStillServes(srv, name = 'still-alive-probe') {
  const r = await heartbeat(srv, hb(name));
  assert.equal(r.status, 204, `a good heartbeat after the bad request: ${r.status} ${r.text}`);
}

function assertJsonError(res, status, mention) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  assert.ok(res.json && typeof res.json === 'object', `JSON body, got: ${res.text.slice(0, 300)}`);
  assert.equal(typeof res.json.error, 'string', `"error" is a string: ${res.text}`);
  assert.ok(res.json.error.length > 0, 'error text is not empty');
  if (mention) assert.match(res.json.error, mention, `the error names the field`);
}

scenario('a good heartbeat with Bearer auth → 204, worker stored as up', async (ctx) => {
  const srv = await ctx.server();
  const r = await heartbeat(srv, hb('bearer-box-1', { gpus: 4, version: '1.2.3', uptime_s: 99 }));
  assert.equal(r.status, 204, r.text);
  const w = await workerStatus(srv, 'bearer-box-1');
  assert.ok(w, 'worker listed in /admin/api/status');
  assert.equal(w.state, 'up');
  assert.equal(w.gpus, 4);
  assert.equal(w.version, '1.2.3');
});

scenario('X-API-Key works as well as Bearer', async (ctx) => {
  const srv = await ctx.server();
  const r = await heartbeat(srv, hb('xkey-box-1'), { auth: 'x-api-key' });
  assert.equal(r.status, 204, r.text);
  assert.ok(await workerStatus(srv, 'xkey-box-1'), 'worker stored');
});

// Requests that must be refused with 401 and leave no trace.
const AUTH_CASES = [
  { what: 'wrong Bearer key', opts: (k) => ({ key: k + 'x' }) },
  { what: 'Bearer key missing its last character', opts: (k) => ({ key: k.slice(0, -1) }) },
  { what: 'wrong X-API-Key', opts: () => ({ key: 'nope', auth: 'x-api-key' }) },
  { what: 'no key at all', opts: () => ({ auth: 'none' }) },
  { what: 'empty Bearer', opts: () => ({ auth: 'none', headers: { Authorization: 'Bearer ' } }) },
  { what: 'Basic instead of Bearer', opts: (k) => ({ auth: 'none', headers: { Authorization: 'Basic ' + Buffer.from('x:' + k).toString('base64') } }) },
  { what: 'key in a different case', opts: (k) => ({ key: k.toUpperCase() }) },
];

scenario('wrong or missing key → 401 JSON and nothing stored', async (ctx, t) => {
  const srv = await ctx.server();
  let i = 0;
  for (const c of AUTH_CASES) {
    const name = `unauth-box-${++i}`;
    await t.test(c.what, async () => {
      const res = await heartbeat(srv, hb(name), c.opts(srv.apiKey));
      assertJsonError(res, 401);
      await assertStillServes(srv);
    });
  }
  await t.test('none of the refused names is in status or events', async () => {
    const st = await workerStatus(srv);
    const evs = await events(srv, { limit: 1000 });
    const text = JSON.stringify(st) + JSON.stringify(evs);
    assert.ok(!text.includes('unauth-box'), `refused worker stored: ${text.slice(0, 500)}`);
    assert.deepEqual(st.workers.map((w) => w.name), ['still-alive-probe']);
    assert.equal(st.total, 1);
  });
});

// Bad bodies: [what, body, status, field the error must name].
const long = 'n'.repeat(65);
const BAD_BODIES = [
  { what: 'not JSON', body: 'this is not json', status: 400 },
  { what: 'truncated JSON', body: '{"name":"trunc-box","gpus":', status: 400 },
  { what: 'a JSON array', body: '[{"name":"arr-box"}]', status: 400 },
  { what: 'a JSON string', body: '"arr-box"', status: 400 },
  { what: 'empty body', body: '', status: 400 },
  { what: 'missing name', body: { gpus: 1, version: '1.0.0', uptime_s: 5 }, status: 400, field: /name/ },
  { what: 'empty name', body: hb(''), status: 400, field: /name/ },
  { what: 'name of 65 characters', body: hb(long), status: 400, field: /name/, notStored: long },
  { what: 'name with a space', body: hb('bad name'), status: 400, field: /name/, notStored: 'bad name' },
  { what: 'name with a slash', body: hb('a/b'), status: 400, field: /name/, notStored: 'a/b' },
  { what: 'name with markup', body: hb('<b>x</b>'), status: 400, field: /name/, notStored: '<b>' },
  { what: 'name with a newline', body: hb('line\nbreak'), status: 400, field: /name/, notStored: 'line' },
  { what: 'name is a number', body: hb(12345), status: 400, field: /name/ },
  { what: 'gpus is a string', body: hb('types-box-1', { gpus: 'x' }), status: 400, field: /gpus/, notStored: 'types-box-1' },
  { what: 'gpus is fractional', body: hb('types-box-2', { gpus: 1.5 }), status: 400, field: /gpus/, notStored: 'types-box-2' },
  { what: 'uptime_s is a string', body: hb('types-box-3', { uptime_s: 'long' }), status: 400, field: /uptime_s/, notStored: 'types-box-3' },
  { what: 'version is a number', body: hb('types-box-4', { version: 7 }), status: 400, field: /version/, notStored: 'types-box-4' },
  { what: 'body over 8 KiB', body: JSON.stringify(hb('big-box', { pad: 'x'.repeat(9000) })), status: 413, notStored: 'big-box' },
];

scenario('malformed heartbeats → 4xx naming the field; the server keeps serving', async (ctx, t) => {
  const srv = await ctx.server();
  for (const c of BAD_BODIES) {
    await t.test(`${c.what} → ${c.status}`, async () => {
      const res = await heartbeat(srv, c.body, { headers: { 'Content-Type': 'application/json' } });
      assertJsonError(res, c.status, c.field);
      await assertStillServes(srv);
    });
  }
  await t.test('nothing from the bad bodies was stored', async () => {
    const st = await workerStatus(srv);
    const names = st.workers.map((w) => w.name);
    assert.deepEqual(names, ['still-alive-probe'], `workers: ${JSON.stringify(names)}`);
    for (const c of BAD_BODIES) if (c.notStored) assert.ok(!JSON.stringify(st).includes(c.notStored));
  });
});

scenario('a heartbeat of just under 8 KiB is accepted', async (ctx) => {
  const srv = await ctx.server();
  const body = JSON.stringify(hb('fat-box', { pad: 'x'.repeat(7000) }));
  assert.ok(body.length < 8192);
  const res = await heartbeat(srv, body);
  assert.equal(res.status, 204, res.text);
});

scenario('names with the characters of real hostnames are accepted', async (ctx) => {
  const srv = await ctx.server();
  for (const name of ['brickbox-43(4)', 'gpu_node.07', 'a', 'x'.repeat(64)]) {
    const res = await heartbeat(srv, hb(name));
    assert.equal(res.status, 204, `${name}: ${res.status} ${res.text}`);
  }
  const st = await workerStatus(srv);
  assert.equal(st.total, 4);
});

scenario('GET /api/v1/heartbeat → 405', async (ctx) => {
  const srv = await ctx.server();
  const res = await request(srv.url + '/api/v1/heartbeat');
  assert.equal(res.status, 405);
});

scenario('first heartbeat of a new worker is an "up" event and sends no Telegram message', async (ctx) => {
  const tg = await ctx.telegram();
  const srv = await ctx.server({ env: { FAIL_TIMEOUT: '10', TELEGRAM_TOKEN: tg.token, CHAT_ID: '-1001', TELEGRAM_API_URL: tg.url } });
  assert.equal((await heartbeat(srv, hb('fresh-box-1'))).status, 204);
  assert.equal((await heartbeat(srv, hb('fresh-box-1'))).status, 204);
  const evs = (await events(srv)).filter((e) => e.worker === 'fresh-box-1');
  assert.equal(evs.length, 1, `one event: ${JSON.stringify(evs)}`);
  assert.equal(evs[0].kind, 'up');
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(tg.attempts, [], 'no sendMessage for a new worker');
});
