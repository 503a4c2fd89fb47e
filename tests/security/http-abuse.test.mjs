// http-abuse.test.mjs — one anonymous client tries to exhaust or stall the server: bodies sent
// before the key is checked, connections held by the thousand, headers and bodies trickled,
// endless chunked bodies, ambiguous framing. Each test fails if its attack works again. The
// limits are scaled down through their settings (docs/configuration.md) so the tests stay short.
import { test, after } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import assert from 'node:assert/strict';

import { runFaultline, startServer } from '../integration/lib/faultline.mjs';
import { heartbeat, hb, request } from '../integration/lib/http.mjs';
import { connect, response, write, endedWithin, head, rssKb } from './lib/raw.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function server(env = {}) {
  const s = await startServer({ env: { RCA_CANARIES: 'none', ...env } });
  servers.push(s);
  return s;
}

function auth(s) {
  return { Authorization: `Bearer ${s.apiKey}` };
}

test('401 is answered from the headers: 200 bodies stalled one byte short without a key cost no memory', { timeout: 30000 }, async () => {
  const s = await server();
  const before = rssKb(s.pid);
  const socks = [];
  for (let i = 0; i < 200; i++) {
    const sock = await connect(s.port);
    socks.push(sock);
    await write(sock, head('POST', '/api/v1/backlog', { 'Content-Type': 'application/json', 'Content-Length': 1048576 }));
    await write(sock, Buffer.alloc(1048575, 0x20)); // one byte short of its length
  }
  const answers = await Promise.all(socks.map((sock) => response(sock, 10000)));
  for (const r of answers) {
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { error: 'missing API key' });
  }
  const grown = rssKb(s.pid) - before;
  assert.ok(grown < 32 * 1024, `the server grew by ${grown} kB for 200 unauthenticated bodies (limit 32 MB)`);
  for (const sock of socks) sock.destroy();
  const r = await heartbeat(s, hb('after-401-flood'));
  assert.equal(r.status, 204);
});

test('a connection answered before its body reads the answer, not a reset (413 from the headers)', { timeout: 30000 }, async () => {
  const s = await server();
  for (let i = 0; i < 5; i++) {
    const sock = await connect(s.port);
    const size = 4 * 1024 * 1024;
    await write(sock, head('POST', '/api/v1/heartbeat', { ...auth(s), 'Content-Type': 'application/json', 'Content-Length': size }));
    sock.write(Buffer.alloc(size, 0x20)); // the whole body, as a client that does not wait
    const r = await response(sock, 10000);
    assert.equal(r.status, 413);
    assert.deepEqual(r.json, { error: 'body larger than 8192 bytes' });
    sock.destroy();
  }
});

test('framing: two Content-Lengths, one with Transfer-Encoding, or a coding but chunked are refused (RFC 9112 6.3)', { timeout: 30000 }, async () => {
  const s = await server();
  const body = JSON.stringify(hb('framing'));
  const cases = [
    [[['Content-Length', body.length], ['Content-Length', body.length]], 'Content-Length given more than once'],
    [[['Content-Length', 5], ['Content-Length', body.length]], 'Content-Length given more than once'],
    [[['Content-Length', body.length], ['Transfer-Encoding', 'chunked']], 'Content-Length and Transfer-Encoding together'],
    [[['Transfer-Encoding', 'chunked'], ['Content-Length', body.length]], 'Content-Length and Transfer-Encoding together'],
  ];
  // libmicrohttpd reads only a single "chunked"; with any other coding it waited for the client
  // to close.
  const chunkedBody = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const codings = [
    [[['Transfer-Encoding', 'gzip']], 400, 'Transfer-Encoding: chunked must be the last coding'],
    [[['Transfer-Encoding', 'chunked, gzip']], 400, 'Transfer-Encoding: chunked must be the last coding'],
    [[['Transfer-Encoding', 'gzip, chunked']], 501, 'Transfer-Encoding: only chunked is supported'],
    [[['Transfer-Encoding', 'chunked'], ['Transfer-Encoding', 'chunked']], 501, 'Transfer-Encoding: only chunked is supported'],
  ];
  for (const [framing, status, error, field = 'Transfer-Encoding'] of [
    ...cases.map(([f, e]) => [f, 400, e, 'Content-Length']),
    ...codings,
  ]) {
    const sock = await connect(s.port);
    const headers = [['Authorization', `Bearer ${s.apiKey}`], ['Content-Type', 'application/json'], ...framing];
    const chunked = framing.some(([k, v]) => k === 'Transfer-Encoding' && /chunked/.test(v));
    await write(sock, head('POST', '/api/v1/heartbeat', headers) + (chunked ? chunkedBody : body));
    const r = await response(sock);
    assert.equal(r.status, status, `${JSON.stringify(framing)}: ${r.body}`);
    assert.deepEqual(r.json, { error, field });
    // The connection is closed: nothing after the ambiguous body is read as a request.
    assert.ok(await endedWithin(sock, 5000), `${JSON.stringify(framing)}: connection left open`);
  }
  const st = await request(`${s.url}/admin/api/worker/framing`, { headers: { Authorization: 'Basic ' + Buffer.from(`admin:${s.adminPass}`).toString('base64') } });
  assert.equal(st.status, 404, 'a refused heartbeat was recorded');
});

test('a chunked body is refused with 413 as soon as it passes the limit, not at its last chunk', { timeout: 30000 }, async () => {
  const s = await server();
  const sock = await connect(s.port);
  await write(sock, head('POST', '/api/v1/heartbeat', { ...auth(s), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }));
  const chunk = Buffer.from(`400\r\n${' '.repeat(1024)}\r\n`);
  let sent = 0;
  let answer = null;
  response(sock, 20000).then((r) => (answer = r), () => {});
  while (!answer && !sock.ended && sent < 20 * 1024 * 1024) {
    if (!(await write(sock, chunk))) break;
    sent += 1024;
    // Writes to loopback complete at once: let node read what came back, as a client would.
    await tick();
  }
  const r = answer ?? (await response(sock, 5000));
  assert.equal(r.status, 413);
  assert.deepEqual(r.json, { error: 'body larger than 8192 bytes' });
  assert.ok(sent < 4 * 1024 * 1024, `the server took ${sent} bytes of a chunked body before it refused it`);
});

test('bodies in flight are bounded by HTTP_BODY_MEMORY_MB: beyond it, 503 with Retry-After from the headers', { timeout: 30000 }, async () => {
  const s = await server({ HTTP_BODY_MEMORY_MB: '4' });
  const held = [];
  for (let i = 0; i < 4; i++) {
    const sock = await connect(s.port);
    held.push(sock);
    await write(sock, head('POST', '/api/v1/backlog', { ...auth(s), 'Content-Type': 'application/json', 'Content-Length': 1048576 }));
  }
  // Each of the four has its megabyte reserved once the server has read its headers; a
  // heartbeat through after them proves they were.
  assert.equal((await heartbeat(s, hb('marker'))).status, 204);
  const sock = await connect(s.port);
  await write(sock, head('POST', '/api/v1/backlog', { ...auth(s), 'Content-Type': 'application/json', 'Content-Length': 1048576 }));
  const r = await response(sock);
  assert.equal(r.status, 503);
  assert.equal(r.headers['retry-after'], '1');
  assert.deepEqual(r.json, { error: 'server busy: too many request bodies in flight' });
  for (const h of held) h.destroy();
  // Released with their connections: a large body fits again.
  const big = await request(`${s.url}/api/v1/backlog`, { method: 'POST', headers: auth(s), body: { records: [] } });
  assert.notEqual(big.status, 503, big.text);
});

test('slowloris: headers trickled a byte at a time are cut at HTTP_HEADER_TIMEOUT', { timeout: 30000 }, async () => {
  const s = await server({ HTTP_HEADER_TIMEOUT: '2' });
  const sock = await connect(s.port);
  const text = head('POST', '/api/v1/heartbeat', { ...auth(s), 'X-Padding': 'a'.repeat(200) });
  let i = 0;
  const trickle = setInterval(() => {
    if (!sock.destroyed && i < text.length) sock.write(text[i++]);
  }, 200);
  const ended = await endedWithin(sock, 8000);
  clearInterval(trickle);
  assert.ok(ended, 'a trickling connection was still open after 8 s (HTTP_HEADER_TIMEOUT 2)');
  assert.ok(ended.at >= 1900 && ended.at < 4500, `closed after ${ended.at} ms, expected 2 s to 4.5 s`);
  assert.ok(i < text.length, 'the whole head was sent before the close: the test proves nothing');
});

test('a kept-alive connection waiting for its next request is closed at HTTP_IDLE_TIMEOUT even if it trickles', { timeout: 30000 }, async () => {
  const s = await server({ HTTP_HEADER_TIMEOUT: '1', HTTP_IDLE_TIMEOUT: '3' });
  const sock = await connect(s.port);
  await write(sock, head('GET', '/'));
  const first = await response(sock);
  assert.equal(first.status, 200);
  const since = Date.now();
  // Past HTTP_HEADER_TIMEOUT but within HTTP_IDLE_TIMEOUT, a kept-alive connection is still open.
  const text = head('GET', '/', { 'X-Padding': 'a'.repeat(200) });
  let i = 0;
  const trickle = setInterval(() => {
    if (!sock.destroyed && i < text.length) sock.write(text[i++]);
  }, 200);
  const ended = await endedWithin(sock, 9000);
  clearInterval(trickle);
  assert.ok(ended, 'a trickling kept-alive connection was still open after 9 s (HTTP_IDLE_TIMEOUT 3)');
  const after = Date.now() - since;
  assert.ok(after >= 2900 && after < 5500, `closed ${after} ms after its first answer, expected 3 s to 5.5 s`);
});

test('a body slower than HTTP_MIN_BODY_RATE is cut after the grace', { timeout: 30000 }, async () => {
  const s = await server({ HTTP_HEADER_TIMEOUT: '1', HTTP_MIN_BODY_RATE: '1000' });
  const sock = await connect(s.port);
  await write(sock, head('POST', '/api/v1/heartbeat', { ...auth(s), 'Content-Type': 'application/json', 'Content-Length': 8000 }));
  const trickle = setInterval(() => {
    if (!sock.destroyed) sock.write(' ');
  }, 100); // 10 bytes a second
  const ended = await endedWithin(sock, 8000);
  clearInterval(trickle);
  assert.ok(ended, 'a body at 10 bytes/s was still being read after 8 s (HTTP_MIN_BODY_RATE 1000)');
  assert.ok(ended.at < 4000, `closed after ${ended.at} ms, expected within 4 s`);
  // A body at the rate is read in full.
  const ok = await heartbeat(s, hb('steady'));
  assert.equal(ok.status, 204);
});

test('one address holds at most HTTP_MAX_CONNECTIONS_PER_ADDR connections; others still get in', { timeout: 30000 }, async () => {
  const s = await server({ HTTP_MAX_CONNECTIONS_PER_ADDR: '16' });
  const held = [];
  for (let i = 0; i < 16; i++) held.push(await connect(s.port, { localAddress: '127.0.0.2' }));
  // The server has taken all 16 once an answer on a later connection comes back.
  assert.equal((await request(`${s.url}/`)).status, 200);
  const extra = await connect(s.port, { localAddress: '127.0.0.2' });
  const ended = await endedWithin(extra, 3000);
  assert.ok(ended, 'the 17th connection from 127.0.0.2 was kept');
  assert.equal(extra.received.length, 0);
  for (const h of held) assert.equal(h.ended, null, 'one of the first 16 connections was closed');
  const other = await connect(s.port, { localAddress: '127.0.0.3' });
  await write(other, head('POST', '/api/v1/heartbeat', { ...auth(s), 'Content-Type': 'application/json', 'Content-Length': JSON.stringify(hb('w3')).length }) + JSON.stringify(hb('w3')));
  assert.equal((await response(other)).status, 204);
  assert.match(s.stderr, /refused a connection from 127\.0\.0\.2: it holds 16 already/);
  for (const h of held) h.destroy();
  other.destroy();
});

test('when only HTTP_AGENT_RESERVE is left, agents still get in and strangers do not', { timeout: 30000 }, async () => {
  const s = await server({ HTTP_MAX_CONNECTIONS: '40', HTTP_AGENT_RESERVE: '8', HTTP_MAX_CONNECTIONS_PER_ADDR: '16' });
  const hbFrom = async (addr, name) => {
    const sock = await connect(s.port, { localAddress: addr });
    const body = JSON.stringify(hb(name));
    await write(sock, head('POST', '/api/v1/heartbeat', { ...auth(s), 'Content-Type': 'application/json', 'Content-Length': body.length }) + body);
    return sock;
  };
  // An agent at 127.0.0.4 proves the key once.
  const first = await hbFrom('127.0.0.4', 'agent4');
  assert.equal((await response(first)).status, 204);
  first.destroy();
  // Strangers at two addresses take the 32 connections outside the reserve.
  const held = [];
  for (const addr of ['127.0.0.2', '127.0.0.3'])
    for (let i = 0; i < 16; i++) held.push(await connect(s.port, { localAddress: addr }));
  await waitHeld(s, held);
  const stranger = await connect(s.port, { localAddress: '127.0.0.5' });
  assert.ok(await endedWithin(stranger, 3000), 'a stranger got a connection of the reserve');
  const agent = await hbFrom('127.0.0.4', 'agent4');
  assert.equal((await response(agent)).status, 204);
  assert.match(s.stderr, /refused a connection from 127\.0\.0\.5: 32 open, the last 8 are kept for agents/);
  for (const h of held) h.destroy();
  agent.destroy();
});

// The held connections are the server's once a request on one more answers; request() from
// 127.0.0.1 uses a connection of its own, which the reserve check counts too, so use a raw one.
async function waitHeld(s, held) {
  const probe = held[held.length - 1];
  await write(probe, head('GET', '/'));
  const r = await response(probe);
  assert.equal(r.status, 200);
}

test('HTTP_AGENT_RESERVE must be below HTTP_MAX_CONNECTIONS: exit status 2 naming both', { timeout: 30000 }, async () => {
  const r = await runFaultline(['server'], {
    env: { API_KEY: 'k', LISTEN_ADDR: '127.0.0.1', RCA_CANARIES: 'none', HTTP_MAX_CONNECTIONS: '100', HTTP_AGENT_RESERVE: '100' },
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /HTTP_AGENT_RESERVE: expected less than HTTP_MAX_CONNECTIONS \(100\), got "100"/);
});
