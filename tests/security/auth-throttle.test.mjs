// auth-throttle.test.mjs — guessing the API key or the admin password: after AUTH_MAX_FAILURES
// wrong attempts within AUTH_FAILURE_WINDOW an address gets 429 with Retry-After, even for the
// right secret, while other addresses and agents go on; failures are logged with the address,
// within a budget of lines. Each test fails if guessing at full speed works again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import { startServer } from '../integration/lib/faultline.mjs';
import { hb } from '../integration/lib/http.mjs';
import { waitFor } from '../integration/lib/wait.mjs';
import { connect, response, write, head } from './lib/raw.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function server(env = {}) {
  const s = await startServer({ env: { RCA_CANARIES: 'none', AUTH_MAX_FAILURES: '5', AUTH_FAILURE_WINDOW: '3', ...env } });
  servers.push(s);
  return s;
}

/** One request on its own connection from localAddress; the parsed answer. */
async function send(s, method, path, headers, body = '', localAddress = '127.0.0.1') {
  const sock = await connect(s.port, { localAddress });
  const h = body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers } : headers;
  await write(sock, head(method, path, h) + body);
  const r = await response(sock);
  sock.destroy();
  return r;
}

const heartbeatWith = (s, key, from, name = 'w1') =>
  send(s, 'POST', '/api/v1/heartbeat', { Authorization: `Bearer ${key}` }, JSON.stringify(hb(name)), from);
const adminWith = (s, pass, from) =>
  send(s, 'GET', '/admin/api/status', { Authorization: 'Basic ' + Buffer.from(`admin:${pass}`).toString('base64') }, '', from);

test('wrong API keys: 429 with Retry-After after AUTH_MAX_FAILURES, for the right key too, per address', { timeout: 30000 }, async () => {
  const s = await server();
  for (let i = 0; i < 5; i++) {
    const r = await heartbeatWith(s, `guess-${i}`, '127.0.0.2');
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { error: 'invalid API key' });
  }
  const started = Date.now();
  const throttled = await heartbeatWith(s, `guess-5`, '127.0.0.2');
  assert.equal(throttled.status, 429);
  assert.deepEqual(throttled.json, { error: 'too many failed attempts from this address; try again later' });
  const wait = Number(throttled.headers['retry-after']);
  assert.ok(wait >= 1 && wait <= 3, `Retry-After: ${throttled.headers['retry-after']}`);
  // The right key from the throttled address is not even looked at: guessing learns nothing.
  assert.equal((await heartbeatWith(s, s.apiKey, '127.0.0.2')).status, 429);
  // Another address, an agent, is not held back.
  assert.equal((await heartbeatWith(s, s.apiKey, '127.0.0.3', 'w3')).status, 204);
  // After Retry-After the address may try again.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait * 1000 - (Date.now() - started)) + 100));
  assert.equal((await heartbeatWith(s, s.apiKey, '127.0.0.2')).status, 204);
  assert.match(s.stderr, /auth: invalid API key from 127\.0\.0\.2 \(1 in this window of 3s\)/);
  assert.match(s.stderr, /auth: invalid API key from 127\.0\.0\.2 \(5 in this window of 3s, now answered 429\)/);
});

test('wrong admin passwords: 429 with Retry-After after AUTH_MAX_FAILURES, logged with the address', { timeout: 30000 }, async () => {
  const s = await server();
  for (let i = 0; i < 5; i++) {
    const r = await adminWith(s, `guess-${i}`, '127.0.0.4');
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Basic realm="faultline admin"');
  }
  const throttled = await adminWith(s, s.adminPass, '127.0.0.4');
  assert.equal(throttled.status, 429);
  assert.ok(Number(throttled.headers['retry-after']) >= 1);
  assert.deepEqual(throttled.json, { error: 'too many failed attempts from this address; try again later' });
  assert.equal((await adminWith(s, s.adminPass, '127.0.0.5')).status, 200);
  assert.match(s.stderr, /auth: wrong admin user or password from 127\.0\.0\.4 \(1 in this window of 3s\)/);
  // A request without credentials (a browser's first visit) is no failed attempt.
  const s2 = await server();
  for (let i = 0; i < 8; i++) assert.equal((await send(s2, 'GET', '/admin/api/status', {}, '', '127.0.0.6')).status, 401);
  assert.equal((await adminWith(s2, s2.adminPass, '127.0.0.6')).status, 200);
});

test('2,000 wrong keys at full speed: all but the first 10 are 429, and the log stays short', { timeout: 30000 }, async () => {
  const s = await server({ AUTH_MAX_FAILURES: '10', AUTH_FAILURE_WINDOW: '60' });
  const counts = {};
  const batch = 50;
  for (let i = 0; i < 2000; i += batch) {
    const answers = await Promise.all(
      Array.from({ length: batch }, (_, j) => heartbeatWith(s, `guess-${i + j}`, '127.0.0.7')),
    );
    for (const r of answers) counts[r.status] = (counts[r.status] ?? 0) + 1;
  }
  // Requests are checked one at a time on the server's loop: concurrency gains nothing.
  assert.deepEqual(counts, { 401: 10, 429: 1990 });
  await waitFor(() => /now answered 429/.test(s.stderr), 5000, { message: 'no line said the address is throttled' });
  const lines = s.stderr.split('\n').filter((l) => l.includes('auth: '));
  // The first failure of the window and the one that starts the 429s.
  assert.equal(lines.length, 2, `${lines.length} log lines for 2,000 attempts from one address:\n${lines.slice(0, 20).join('\n')}`);
});
