// strict-input.test.mjs — input an attacker (or a broken agent) sends is refused with a 400 that
// names the field, never accepted half-understood and never answered "internal error": times
// that do not exist or overflow, one record id with two contents, repeated members, bytes that
// are not UTF-8 (in unknown members and query strings too). The HTML pages cannot be framed and
// run nothing but their own styles. After each attack the server still answers a heartbeat.
import assert from 'node:assert/strict';
import { scenario } from '../integration/lib/scenario.mjs';
import { request, heartbeat, hb, adminGet, adminJson } from '../integration/lib/http.mjs';

const TIME_RULE = 'expected an ISO 8601 time with a zone ("2026-11-21T10:00:00.123Z") from 2000 to 2099';
const rec = (id, time, extra = '') => `{"kind":"metric","id":"${id}","time":${JSON.stringify(time)}${extra}}`;
const chunk = (...records) => `{"name":"sec-1","records":[${records.join(',')}]}`;

function post(srv, path, body) {
  return request(srv.url + path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${srv.apiKey}`, 'Content-Type': 'application/json' },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'), // latin1: every \xNN is one byte
    timeoutMs: 3000,
  });
}

async function stillServing(srv) {
  assert.equal((await heartbeat(srv, hb('sec-alive'))).status, 204);
}

const BACKLOG_ATTACKS = [
  ['a day that does not exist', chunk(rec('m-1', '2026-02-30T10:00:00Z')),
    { error: `records[0].time: ${TIME_RULE}, got "2026-02-30T10:00:00Z"`, field: 'records[0].time', record: { index: 0, id: 'm-1' } }],
  ['a leap second', chunk(rec('m-1', '2026-11-21T10:00:00Z'), rec('m-2', '2026-11-21T23:59:60Z')),
    { error: `records[1].time: ${TIME_RULE}, got "2026-11-21T23:59:60Z"`, field: 'records[1].time', record: { index: 1, id: 'm-2' } }],
  ['a time without a zone', chunk(rec('m-1', '2026-11-21T10:00:00.123')),
    { error: `records[0].time: ${TIME_RULE}, got "2026-11-21T10:00:00.123"`, field: 'records[0].time', record: { index: 0, id: 'm-1' } }],
  ['seconds that overflow', chunk(rec('m-1', '9223372036854775807')),
    { error: `records[0].time: ${TIME_RULE}, got "9223372036854775807"`, field: 'records[0].time', record: { index: 0, id: 'm-1' } }],
  ['a year out of range', chunk(rec('m-1', '1969-12-31T23:59:59Z')),
    { error: `records[0].time: ${TIME_RULE}, got "1969-12-31T23:59:59Z"`, field: 'records[0].time', record: { index: 0, id: 'm-1' } }],
  ['one id, two contents', chunk(rec('m-1', '2026-11-21T10:00:00Z', ',"ok":true'), rec('m-1', '2026-11-21T10:00:00Z', ',"ok":false')),
    { error: 'records[1].id: "m-1" is already the id of records[0], whose content differs', field: 'records[1].id', record: { index: 1, id: 'm-1' } }],
  ['a repeated member in a record', chunk(rec('m-1', '2026-11-21T10:00:00Z', ',"kind":"diagnostic"')),
    { error: 'records[0].kind: member given twice', field: 'records[0].kind', record: { index: 0, id: 'm-1' } }],
  ['a repeated name', '{"name":"sec-1","name":"sec-2","records":[]}',
    { error: 'name: member given twice', field: 'name' }],
  ['a byte that is not UTF-8 in an unknown member', chunk(rec('m-1', '2026-11-21T10:00:00Z', ',"note":{"deep":["\xff"]}')),
    { error: 'records[0].note.deep[0]: expected UTF-8 text, got the byte 0xFF at offset 102', field: 'records[0].note.deep[0]', record: { index: 0, id: 'm-1' } }],
  ['a surrogate encoded in UTF-8', chunk(rec('m-1', '2026-11-21T10:00:00Z', ',"x":"\xed\xa0\x80"')),
    { error: 'records[0].x: expected UTF-8 text, got the byte 0xED at offset 90', field: 'records[0].x', record: { index: 0, id: 'm-1' } }],
  ['an overlong slash', '{"name":"sec\xc0\xaf1","records":[]}',
    { error: 'name: expected UTF-8 text, got the byte 0xC0 at offset 12', field: 'name' }],
];

scenario('backlog: impossible times, conflicting ids, repeated members and bad UTF-8 are refused naming the field and the record', async (ctx) => {
  const srv = await ctx.server();
  for (const [what, body, expected] of BACKLOG_ATTACKS) {
    const res = await post(srv, '/api/v1/backlog', body);
    assert.equal(res.status, 400, `${what}: ${res.text}`);
    assert.deepEqual(res.json, expected, what);
  }
  assert.deepEqual((await adminJson(srv, '/admin/api/diagnostics')).diagnostics, [], 'nothing stored');
  await stillServing(srv);
});

const HEARTBEAT_ATTACKS = [
  ['a byte that is not UTF-8 in the name', '{"name":"a\xff"}',
    { error: 'name: expected UTF-8 text, got the byte 0xFF at offset 10', field: 'name' }],
  ['a byte that is not UTF-8 in an unknown member', '{"name":"sec-2","extra":{"note":["ok","\xc3"]}}',
    { error: 'extra.note[1]: expected UTF-8 text, got the byte 0xC3 at offset 39', field: 'extra.note[1]' }],
  ['a byte that is not UTF-8 in an unknown key', '{"name":"sec-2","k\xe9y":1}',
    { error: 'k\\xE9y: expected UTF-8 text, got the byte 0xE9 at offset 18', field: 'k\\xE9y' }],
  ['a long name cut inside a character', `{"name":"${'a'.repeat(39)}\xc3\xa9"}`,
    { error: `name: expected letters, digits or ._-:()@+, got "${'a'.repeat(39)}\\xC3"`, field: 'name' }],
];

scenario('heartbeat: bad UTF-8 anywhere is a 400 naming the member, never "internal error"', async (ctx) => {
  const srv = await ctx.server();
  for (const [what, body, expected] of HEARTBEAT_ATTACKS) {
    const res = await post(srv, '/api/v1/heartbeat', body);
    assert.equal(res.status, 400, `${what}: ${res.text}`);
    assert.deepEqual(res.json, expected, what);
  }
  const status = await adminJson(srv, '/admin/api/status');
  assert.deepEqual(status.workers, [], 'no worker was created');
  await stillServing(srv);
});

scenario('query strings: bad UTF-8 in a parameter is a 400 naming it', async (ctx) => {
  const srv = await ctx.server();
  let res = await adminGet(srv, '/admin/api/events?limit=%FF');
  assert.equal(res.status, 400);
  assert.deepEqual(res.json, { error: 'limit: expected a number from 1 to 1000, got "\\xFF"', field: 'limit' });
  res = await adminGet(srv, '/admin/api/diagnostics?since=%C3%28');
  assert.equal(res.status, 400);
  assert.deepEqual(res.json, { error: 'since: expected an ISO 8601 time with Z or a +HH:MM offset, got "\\xC3("', field: 'since' });
  await stillServing(srv);
});

const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

scenario('HTML pages: cannot be framed, run no script, leak no referrer', async (ctx) => {
  const srv = await ctx.server();
  for (const res of [await request(srv.url + '/'), await adminGet(srv, '/admin'), await adminGet(srv, '/admin/')]) {
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['content-security-policy'], CSP);
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.doesNotMatch(res.text, /<script/i);
  }
  // JSON answers keep their own headers only.
  const api = await adminGet(srv, '/admin/api/status');
  assert.equal(api.headers['content-security-policy'], undefined);
});

scenario('public page: "0 systems", "1 system", "2 systems monitored"', async (ctx) => {
  const srv = await ctx.server();
  const count = async () => /<h1 id="count">([^<]*)<\/h1>/.exec((await request(srv.url + '/')).text)?.[1];
  assert.equal(await count(), '0 systems monitored');
  assert.equal((await heartbeat(srv, hb('pub-1'))).status, 204);
  assert.equal(await count(), '1 system monitored');
  assert.equal((await heartbeat(srv, hb('pub-2'))).status, 204);
  assert.equal(await count(), '2 systems monitored');
});
