// tls.test.mjs — HTTPS without a proxy (docs/configuration.md, TLS_CERT and SERVER_ADDR): the
// server serves HTTPS with a certificate from a throwaway CA, agents verify it with SERVER_CA and
// get their heartbeats through, SIGHUP swaps in new files while the server keeps serving (and a
// bad new pair keeps the old one), HSTS is sent over HTTPS only, and bad files or settings stop
// the start with exit status 2 and a message naming the setting. The attacks (a wrong name, an
// expired certificate, falling back to plain HTTP) are in tests/security/tls.test.mjs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { scenario } from './lib/scenario.mjs';
import { request, hb } from './lib/http.mjs';
import { makeCa, httpsRequest } from './lib/tls-ca.mjs';
import { waitFor } from './lib/wait.mjs';

const tlsEnv = (pair, extra = {}) => ({ TLS_CERT: pair.cert, TLS_KEY: pair.key, ...extra });

scenario('tls: the server answers HTTPS; an agent with SERVER_CA gets its heartbeats through', async (ctx) => {
  const ca = makeCa();
  const pair = ca.issue('server', { names: ['localhost'] });
  const srv = await ctx.server({ env: tlsEnv(pair) });
  assert.match(srv.logs, new RegExp(`listening on https://127\\.0\\.0\\.1:${srv.port}/`));
  assert.match(srv.logs, /TLS certificate: subject CN=localhost, serial 1000, expires /);

  const agent = ctx.agent('tls-agent-box', {
    server: srv,
    env: { SERVER_ADDR: 'https://localhost', SERVER_CA: ca.cert },
  });
  await waitFor(() => /tls-agent-box is UP/.test(srv.logs), 5000, { message: 'the server records the agent UP' });
  assert.match(agent.logs, new RegExp(`reporting to https://localhost:${srv.port} `));
  // SERVER_TLS=1 makes a bare host name HTTPS too.
  ctx.agent('tls-forced-box', { server: srv, env: { SERVER_ADDR: 'localhost', SERVER_TLS: '1', SERVER_CA: ca.cert } });
  await waitFor(() => /tls-forced-box is UP/.test(srv.logs), 5000, { message: 'SERVER_TLS=1 agent recorded UP' });

  const page = await httpsRequest(srv.port, '/', { ca: ca.cert });
  assert.equal(page.status, 200);
  assert.equal(page.fingerprint, pair.fingerprint);
  const code = execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', ca.cert,
    '--resolve', `localhost:${srv.port}:127.0.0.1`, `https://localhost:${srv.port}/`]).toString();
  assert.equal(code, '200');
  // Plain HTTP on the HTTPS port gets no HTTP answer.
  await assert.rejects(request(`http://127.0.0.1:${srv.port}/`, { timeoutMs: 3000 }));
  assert.doesNotMatch(agent.logs, /heartbeat failed/);
});

scenario('tls: SIGHUP loads new files while connections carry on; a bad new pair keeps the old one', async (ctx) => {
  const ca = makeCa();
  const first = ca.issue('first');
  const second = ca.issue('second');
  const live = { cert: `${ca.dir}/live.pem`, key: `${ca.dir}/live.key` };
  fs.copyFileSync(first.cert, live.cert);
  fs.copyFileSync(first.key, live.key);
  const srv = await ctx.server({ env: tlsEnv(live) });
  const agent = ctx.agent('tls-reload-box', {
    server: srv,
    env: { SERVER_ADDR: 'https://localhost', SERVER_CA: ca.cert, LOG_LEVEL: 'debug' },
  });
  const beats = () => (agent.logs.match(/heartbeat ok/g) ?? []).length;
  await waitFor(() => /tls-reload-box is UP/.test(srv.logs), 5000, { message: 'agent UP before the reload' });

  // A kept-alive connection opened before the reload.
  const keep = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const before = await httpsRequest(srv.port, '/', { ca: ca.cert, agent: keep });
  assert.equal(before.fingerprint, first.fingerprint);

  fs.copyFileSync(second.cert, live.cert);
  fs.copyFileSync(second.key, live.key);
  srv.signal('SIGHUP');
  await waitFor(() => /tls: reloaded .* now serving subject CN=localhost, serial 1001,/.test(srv.logs), 5000, {
    message: 'the server logs the reload',
  });
  const fresh = await httpsRequest(srv.port, '/', { ca: ca.cert });
  assert.equal(fresh.fingerprint, second.fingerprint, 'a new connection gets the new certificate');
  const kept = await httpsRequest(srv.port, '/', { ca: ca.cert, agent: keep });
  assert.equal(kept.status, 200, 'the connection from before the reload still answers');
  assert.equal(kept.fingerprint, first.fingerprint, 'on its own session');
  keep.destroy();

  // A certificate with someone else's key: logged, and the pair in service stays.
  const third = ca.issue('third');
  fs.copyFileSync(third.cert, live.cert);
  srv.signal('SIGHUP');
  await waitFor(() => /tls: reload failed: TLS_KEY: ".*live\.key" is not the key of the certificate in TLS_CERT/.test(srv.logs), 5000, {
    message: 'the server logs the bad pair',
  });
  assert.match(srv.logs, /reload failed: .*\(still serving subject CN=localhost, serial 1001,/);
  const after = await httpsRequest(srv.port, '/', { ca: ca.cert });
  assert.equal(after.fingerprint, second.fingerprint, 'still the second certificate');

  // An unreadable file: the same.
  fs.rmSync(live.cert);
  srv.signal('SIGHUP');
  await waitFor(() => /tls: reload failed: TLS_CERT: cannot read ".*live\.pem": No such file or directory/.test(srv.logs), 5000);
  assert.equal((await httpsRequest(srv.port, '/', { ca: ca.cert })).fingerprint, second.fingerprint);

  // The agent's heartbeats went on through all of it, and after it.
  const sofar = beats();
  await waitFor(() => beats() >= sofar + 3, 5000, { message: 'heartbeats after the last reload' });
  assert.doesNotMatch(agent.logs, /heartbeat failed/);
});

scenario('tls: TLS_HSTS sends Strict-Transport-Security over HTTPS only', async (ctx) => {
  const ca = makeCa();
  const pair = ca.issue('server');
  const withHsts = await ctx.server({ env: tlsEnv(pair, { TLS_HSTS: '31536000' }) });
  for (const [method, path, body, status] of [
    ['GET', '/', undefined, 200],
    ['GET', '/no-such-page', undefined, 404],
    ['POST', '/api/v1/heartbeat', JSON.stringify(hb('hsts-box')), 204],
  ]) {
    const res = await httpsRequest(withHsts.port, path, {
      ca: ca.cert,
      method,
      body,
      headers: body ? { Authorization: `Bearer ${withHsts.apiKey}`, 'Content-Type': 'application/json' } : {},
    });
    assert.equal(res.status, status, `${method} ${path}`);
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000', `${method} ${path}`);
  }

  const without = await ctx.server({ env: tlsEnv(pair) });
  const plainTls = await httpsRequest(without.port, '/', { ca: ca.cert });
  assert.equal(plainTls.status, 200);
  assert.equal(plainTls.headers['strict-transport-security'], undefined, 'TLS_HSTS unset: no header');

  const plain = await ctx.server({ env: { TLS_HSTS: '600' } });
  assert.match(plain.logs, /TLS_HSTS is not sent over plain HTTP; set TLS_CERT and TLS_KEY/);
  const res = await request(plain.url + '/');
  assert.equal(res.status, 200);
  assert.equal(res.headers['strict-transport-security'], undefined, 'never over plain HTTP');

  // SIGHUP without TLS: logged, and the server goes on.
  plain.signal('SIGHUP');
  await waitFor(() => /server: SIGHUP: nothing to reload \(TLS_CERT is not set\)/.test(plain.logs), 5000);
  assert.equal((await request(plain.url + '/')).status, 200);
});

scenario('tls: a missing, unreadable or mismatched TLS_CERT or TLS_KEY stops the start with status 2', async (ctx) => {
  const ca = makeCa();
  const good = ca.issue('good');
  const other = ca.issue('other');
  fs.writeFileSync(`${ca.dir}/garbage`, 'not a PEM file\n');
  const cases = [
    [{ TLS_CERT: good.cert }, /^faultline server: TLS_KEY: required when TLS_CERT is set/],
    [{ TLS_KEY: good.key }, /^faultline server: TLS_CERT: required when TLS_KEY is set/],
    [{ TLS_CERT: `${ca.dir}/missing.pem`, TLS_KEY: good.key }, /^faultline server: TLS_CERT: cannot read ".*missing\.pem": No such file or directory$/m],
    [{ TLS_CERT: good.cert, TLS_KEY: ca.dir }, /^faultline server: TLS_KEY: cannot read ".*": Is a directory$/m],
    [{ TLS_CERT: `${ca.dir}/garbage`, TLS_KEY: good.key }, /^faultline server: TLS_CERT: ".*garbage": expected PEM certificates/m],
    [{ TLS_CERT: good.cert, TLS_KEY: `${ca.dir}/garbage` }, /^faultline server: TLS_KEY: ".*garbage": expected an unencrypted PEM private key/m],
    [{ TLS_CERT: good.cert, TLS_KEY: other.key }, /^faultline server: TLS_KEY: ".*other\.key" is not the key of the certificate in TLS_CERT ".*good\.pem"$/m],
    [{ TLS_CERT: good.cert, TLS_KEY: good.key, TLS_HSTS: 'soon' }, /TLS_HSTS: expected a whole number from 0 to 1000000000, got "soon"/],
  ];
  for (const [env, message] of cases) {
    const r = await ctx.run(['server'], {
      env: { API_KEY: 'k', LISTEN_ADDR: '127.0.0.1', SERVER_PORT: '1', RCA_CANARIES: 'none', DATA_DIR: ctx.tmpdir(), ...env },
    });
    assert.equal(r.code, 2, `${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, message, JSON.stringify(env));
  }
});

scenario('tls: the agent names what is wrong with SERVER_ADDR, SERVER_TLS and SERVER_CA (status 2)', async (ctx) => {
  const ca = makeCa();
  const cases = [
    [{ SERVER_ADDR: 'https://localhost:8443' }, /SERVER_ADDR: expected a host name or IP address, alone or after http:\/\/ or https:\/\/ \(the port is SERVER_PORT\), got "https:\/\/localhost:8443"/],
    [{ SERVER_ADDR: 'ftp://localhost' }, /SERVER_ADDR: expected a host name or IP address/],
    [{ SERVER_ADDR: 'localhost', SERVER_TLS: '2' }, /SERVER_TLS: expected a whole number from 0 to 1, got "2"/],
    [{ SERVER_ADDR: 'localhost', SERVER_CA: ca.cert }, /^faultline agent: SERVER_CA: only used over HTTPS, but SERVER_ADDR "localhost" is plain HTTP: write https:\/\/HOST or set SERVER_TLS=1$/m],
    [{ SERVER_ADDR: 'https://localhost', SERVER_CA: `${ca.dir}/none.pem` }, /^faultline agent: SERVER_CA: cannot read ".*none\.pem": No such file or directory$/m],
  ];
  for (const [env, message] of cases) {
    const r = await ctx.run(['agent', 'tls-settings-box'], { env: { API_KEY: 'k', ...env } });
    assert.equal(r.code, 2, `${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, message, JSON.stringify(env));
  }
});
