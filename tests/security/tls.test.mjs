// tls.test.mjs — attacks on the agent's HTTPS, each of which must fail: a certificate for another
// name, an expired one, one from a CA the agent does not trust, and every way of falling back to
// plain HTTP (docs/configuration.md, SERVER_ADDR, SERVER_TLS and SERVER_CA). The agent must
// refuse, log why, and send nothing the server records.
import assert from 'node:assert/strict';
import { scenario } from '../integration/lib/scenario.mjs';
import { makeCa, httpsRequest } from '../integration/lib/tls-ca.mjs';
import { waitFor } from '../integration/lib/wait.mjs';

const HOUR = 3600 * 1000;
const failures = (agent) => (agent.logs.match(/heartbeat failed/g) ?? []).length;

/** Starts an HTTPS server with pair and an agent for https://localhost trusting ca (when given);
 * waits until the agent has failed three times, then checks the server never saw it. */
async function refused(ctx, { ca, pair, name, caFile = ca.cert, why }) {
  const srv = await ctx.server({ env: { TLS_CERT: pair.cert, TLS_KEY: pair.key } });
  const env = { SERVER_ADDR: 'https://localhost' };
  if (caFile) env.SERVER_CA = caFile;
  const agent = ctx.agent(name, { server: srv, env });
  await waitFor(() => failures(agent) >= 3, 8000, { message: `${name}: three failed heartbeats` });
  assert.match(agent.logs, why);
  assert.doesNotMatch(srv.logs, new RegExp(`${name} is UP`), 'the server never recorded a heartbeat');
  assert.ok(agent.alive, 'the agent keeps trying, it does not exit');
  return { srv, agent };
}

scenario('tls attack: a certificate for another name is refused, naming the mismatch', { timeout: 30000 }, async (ctx) => {
  const ca = makeCa();
  const pair = ca.issue('elsewhere', { names: ['monitor.example.net'] });
  const { srv } = await refused(ctx, {
    ca,
    pair,
    name: 'tls-wrong-name-box',
    why: /heartbeat failed: SSL: no alternative certificate subject name matches target host name 'localhost'/,
  });
  // A browser-like client refuses it too.
  await assert.rejects(httpsRequest(srv.port, '/', { ca: ca.cert }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

scenario('tls attack: an expired certificate is refused', { timeout: 30000 }, async (ctx) => {
  const ca = makeCa();
  const pair = ca.issue('expired', { notBefore: Date.now() - 48 * HOUR, notAfter: Date.now() - 24 * HOUR });
  const { srv } = await refused(ctx, {
    ca,
    pair,
    name: 'tls-expired-box',
    why: /heartbeat failed: SSL certificate problem: certificate has expired/,
  });
  assert.match(srv.logs, /server: TLS_CERT has expired: subject CN=localhost, serial 1000, expires .*, EXPIRED/);
  await assert.rejects(httpsRequest(srv.port, '/', { ca: ca.cert }), { code: 'CERT_HAS_EXPIRED' });
});

scenario('tls attack: a certificate from a CA the agent does not trust is refused', { timeout: 30000 }, async (ctx) => {
  const ca = makeCa();
  const stranger = makeCa();
  const pair = ca.issue('server');
  // Without SERVER_CA the agent trusts the system's CAs only; with another CA's file, that CA only.
  await refused(ctx, { ca, pair, caFile: null, name: 'tls-system-ca-box', why: /heartbeat failed: SSL certificate problem: unable to get local issuer certificate/ });
  await refused(ctx, { ca, pair, caFile: stranger.cert, name: 'tls-other-ca-box', why: /heartbeat failed: SSL certificate problem: unable to get local issuer certificate/ });
});

scenario('tls attack: no fall back to plain HTTP', { timeout: 30000 }, async (ctx) => {
  // Asked for HTTPS and given an http:// address: a configuration error naming both.
  const r = await ctx.run(['agent', 'tls-fallback-box'], { env: { API_KEY: 'k', SERVER_ADDR: 'http://localhost', SERVER_TLS: '1' } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /^faultline agent: SERVER_TLS: 1 asks for HTTPS only, but SERVER_ADDR is "http:\/\/localhost" \(plain HTTP\): write https:\/\/ or leave the scheme out$/m,
  );

  // A server that speaks plain HTTP only (a downgrade): the agent's TLS handshake fails and it
  // never sends the heartbeat, with its key, in clear text.
  for (const env of [{ SERVER_ADDR: 'https://localhost' }, { SERVER_ADDR: 'localhost', SERVER_TLS: '1' }]) {
    const fake = await ctx.ingest();
    const agent = ctx.agent('tls-downgrade-box', { port: fake.port, apiKey: 'secret-key', env });
    await waitFor(() => failures(agent) >= 3, 8000, { message: `${JSON.stringify(env)}: three failed heartbeats` });
    assert.match(agent.logs, new RegExp(`reporting to https://localhost:${fake.port} `));
    assert.equal(fake.requests.length, 0, `${JSON.stringify(env)}: no HTTP request reached the plain server`);
    await agent.stop();
  }
});
