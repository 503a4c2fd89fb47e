// probe-types.test.mjs — the probe table's types through `faultline probe check TYPE TARGET
// --opt ...` against real servers on the suite's loopback: an HTTPS server whose self-signed
// certificate (made with openssl) expires in three days, a plain HTTP server (method, headers,
// body, redirects, max_body), TLS on a tcp probe, dnsmasq on a high port answering A, AAAA,
// CNAME, MX, TXT, NS, SOA and PTR (and NXDOMAIN), the monitoring-plugins check_tcp and check_http
// run as exec probes, and a canary that only TCP answers.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { adminJson } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const DAY_MS = 24 * 3600 * 1000;
const PLUGINS = '/usr/lib/nagios/plugins';

function json(r) {
  assert.equal(r.stdout.trim().split('\n').length, 1, `one line of JSON:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function check(ctx, type, target, opts = {}, timeout = '3') {
  const args = ['probe', 'check', type, target, '--json', '--timeout', timeout];
  for (const [k, v] of Object.entries(opts)) args.push('--opt', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const r = await ctx.run(args);
  return { code: r.code, stderr: r.stderr, res: r.stdout.trim() ? json(r) : null };
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

/** A self-signed certificate for 127.0.0.1, valid for `days` days from now. */
function selfSigned(dir, days) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', String(days),
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
}

function handler(req, res) {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url === '/moved') {
      res.writeHead(302, { location: '/health' });
      res.end();
      return;
    }
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(100000));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-probe': 'yes' });
    res.end(JSON.stringify({ state: 'up', method: req.method, got: req.headers['x-token'] ?? null, body }));
  });
}

async function httpsServer(ctx) {
  const tls = selfSigned(ctx.tmpdir('faultline-probe-tls-'), 3);
  const server = https.createServer(tls, handler);
  const port = await listen(server);
  ctx.closers.push(() => new Promise((r) => server.close(r)));
  return port;
}

async function httpServer(ctx) {
  const server = http.createServer(handler);
  const port = await listen(server);
  ctx.closers.push(() => new Promise((r) => server.close(r)));
  return port;
}

scenario('http: a 3-day self-signed certificate, tls_verify false: status, body, header, expiry', async (ctx) => {
  const port = await httpsServer(ctx);
  const { code, res } = await check(ctx, 'http', `https://127.0.0.1:${port}/health`, { tls_verify: false });
  assert.equal(code, 0, JSON.stringify(res));
  assert.equal(res.status, 200);
  assert.equal(res.connected, true);
  assert.equal(JSON.parse(res.body).state, 'up');
  assert.equal(res.headers['x-probe'], 'yes');
  assert.equal(res.headers['content-type'], 'application/json');
  assert.ok(res.response_time_ms > 0 && res.response_time_ms < 3000, `response_time_ms ${res.response_time_ms}`);
  const left = res.cert_expires_in_ms;
  assert.ok(left > 3 * DAY_MS - 3600e3 && left <= 3 * DAY_MS, `cert_expires_in_ms ${left}`);
  assert.equal(res.error, undefined);
});

scenario('http: the self-signed certificate fails verification by default (exit 1, error)', async (ctx) => {
  const port = await httpsServer(ctx);
  const { code, res } = await check(ctx, 'http', `https://127.0.0.1:${port}/health`);
  assert.equal(code, 1);
  assert.equal(res.connected, false);
  assert.match(res.error, /certificate/i);
});

scenario('http: method, headers and body are sent; redirects followed only when asked; max_body', async (ctx) => {
  const port = await httpServer(ctx);
  const base = `http://127.0.0.1:${port}`;
  let { res } = await check(ctx, 'http', `${base}/health`, { method: 'POST', headers: { 'X-Token': 's3cret' }, body: 'hello' });
  assert.deepEqual(JSON.parse(res.body), { state: 'up', method: 'POST', got: 's3cret', body: 'hello' });
  assert.equal(res.cert_expires_in_ms, null);
  ({ res } = await check(ctx, 'http', `${base}/moved`));
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, '/health');
  ({ res } = await check(ctx, 'http', `${base}/moved`, { follow_redirects: true }));
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-probe'], 'yes');
  ({ res } = await check(ctx, 'http', `http://localhost:${port}/health`)); // resolved by c-ares
  assert.equal(res.status, 200);
  assert.equal(res.addr, '127.0.0.1');
  ({ res } = await check(ctx, 'http', `${base}/big`, { max_body: 1000 }));
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 1000);
  assert.equal(res.connected, true);
  assert.equal(res.error, undefined);
});

scenario('http: nothing listening is an error and exit 1; bad options are usage errors', async (ctx) => {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  let { code, res } = await check(ctx, 'http', `http://127.0.0.1:${port}/`);
  assert.equal(code, 1);
  assert.equal(res.status, 0);
  assert.match(res.error, /connect|refused/i);
  const bad = await ctx.run(['probe', 'check', 'http', 'http://x/', '--opt', 'max_body=-1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /http: max_body: expected an integer 0\.\.67108864, got -1/);
  const unknown = await ctx.run(['probe', 'check', 'gopher', 'x']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown type "gopher" \(expected tcp, http, dns, icmp, exec\)/);
});

scenario('tcp: tls true handshakes and reads the certificate expiry', async (ctx) => {
  const port = await httpsServer(ctx);
  const { code, res } = await check(ctx, 'tcp', `127.0.0.1:${port}`, { tls: true });
  assert.equal(code, 0, JSON.stringify(res));
  assert.equal(res.connected, true);
  assert.ok(res.cert_expires_in_ms > 3 * DAY_MS - 3600e3 && res.cert_expires_in_ms <= 3 * DAY_MS);
});

scenario('tcp: a banner server, expect found', async (ctx) => {
  const server = net.createServer((s) => s.end('220 fl.test ESMTP ready\r\n'));
  const port = await listen(server);
  ctx.closers.push(() => new Promise((r) => server.close(r)));
  const { code, res } = await check(ctx, 'tcp', `127.0.0.1:${port}`, { expect: 'ESMTP' });
  assert.equal(code, 0);
  assert.equal(res.connected, true);
  assert.match(res.body, /^220 fl\.test ESMTP ready/);
});

/** dnsmasq on a high port of 127.0.0.1 with the test zone fl.test; resolves once it answers. */
async function dnsmasq(ctx, extra = []) {
  const server = net.createServer();
  const port = await listen(server); // a free port number (dnsmasq takes it for UDP and TCP)
  await new Promise((r) => server.close(r));
  const proc = spawn('dnsmasq', ['--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
    '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`, '--pid-file=', '--user=root',
    '--log-facility=-', '--local=/fl.test/',
    '--host-record=web.fl.test,192.0.2.10,2001:db8::10', '--cname=www.fl.test,web.fl.test',
    '--mx-host=fl.test,mail.fl.test,10', '--txt-record=fl.test,v=spf1 -all', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  ctx.closers.push(() => new Promise((r) => { proc.once('exit', r); proc.kill('SIGTERM'); }));
  await waitFor(() => /started, version/.test(stderr), 5000, { message: () => `dnsmasq: ${stderr}` });
  return `127.0.0.1:${port}`;
}

scenario('dns: dnsmasq answers A, AAAA, CNAME, MX and TXT; an unknown name is NXDOMAIN', async (ctx) => {
  const server = await dnsmasq(ctx);
  const ask = async (name, record) => (await check(ctx, 'dns', name, { server, record })).res;
  let r = await ask('web.fl.test', 'A');
  assert.equal(r.dns_rcode, 'NOERROR');
  assert.deepEqual(r.dns_answer, ['192.0.2.10']);
  assert.ok(r.response_time_ms >= 0 && r.response_time_ms < 3000);
  r = await ask('web.fl.test', 'AAAA');
  assert.deepEqual(r.dns_answer, ['2001:db8::10']);
  r = await ask('www.fl.test', 'CNAME');
  assert.deepEqual(r.dns_answer, ['web.fl.test']);
  r = await ask('fl.test', 'MX');
  assert.deepEqual(r.dns_answer, ['10 mail.fl.test']);
  r = await ask('fl.test', 'TXT');
  assert.deepEqual(r.dns_answer, ['v=spf1 -all']);
  r = await ask('nothing.fl.test', 'A');
  assert.equal(r.dns_rcode, 'NXDOMAIN');
  assert.deepEqual(r.dns_answer, []);
});

scenario('dns: dnsmasq answers NS, SOA and PTR', async (ctx) => {
  // Authoritative on lo for fl.test and its IPv4 reverse zone (which keeps the AAAA record out).
  const server = await dnsmasq(ctx, ['--auth-server=ns.fl.test,lo', '--auth-zone=fl.test,192.0.2.0/24',
    '--auth-soa=2026113001,hostmaster.fl.test']);
  const ask = async (name, record) => (await check(ctx, 'dns', name, { server, record })).res;
  let r = await ask('fl.test', 'NS');
  assert.equal(r.dns_rcode, 'NOERROR', JSON.stringify(r));
  assert.deepEqual(r.dns_answer, ['ns.fl.test']);
  r = await ask('fl.test', 'SOA');
  assert.deepEqual(r.dns_answer, ['ns.fl.test hostmaster.fl.test 2026113001 1200 180 1209600 600']);
  r = await ask('10.2.0.192.in-addr.arpa', 'PTR');
  assert.deepEqual(r.dns_answer, ['web.fl.test']);
});

scenario('dns: a server that never answers is a timeout (exit 1)', async (ctx) => {
  const sock = (await import('node:dgram')).createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  ctx.closers.push(() => new Promise((r) => sock.close(r)));
  const { code, res } = await check(ctx, 'dns', 'web.fl.test', { server: `127.0.0.1:${sock.address().port}` }, '0.5');
  assert.equal(code, 1);
  assert.equal(res.error, 'timeout after 500 ms');
  assert.equal(res.dns_rcode, '');
});

scenario('exec: monitoring-plugins check_tcp and check_http, OK and CRITICAL, with perfdata', async (ctx) => {
  const port = await httpServer(ctx);
  let { res } = await check(ctx, 'exec', 'local', { command: [`${PLUGINS}/check_tcp`, '-H', '127.0.0.1', '-p', String(port)] });
  assert.equal(res.exit_code, 0, res.output);
  assert.match(res.output, /^TCP OK/);
  assert.equal(res.perfdata[0].label, 'time');
  assert.equal(res.perfdata[0].unit, 's');
  ({ res } = await check(ctx, 'exec', 'local', { command: [`${PLUGINS}/check_http`, '-I', '127.0.0.1', '-p', String(port), '-u', '/health', '-s', 'up'] }));
  assert.equal(res.exit_code, 0, res.output);
  assert.match(res.output, /^HTTP OK/);
  assert.deepEqual(res.perfdata.map((p) => p.label), ['time', 'size']);
  ({ res } = await check(ctx, 'exec', 'local', { command: [`${PLUGINS}/check_http`, '-I', '127.0.0.1', '-p', String(port), '-u', '/health', '-s', 'down'] }));
  assert.equal(res.exit_code, 2, res.output);
  assert.match(res.output, /^HTTP CRITICAL/);
  const closed = net.createServer();
  const closedPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  ({ res } = await check(ctx, 'exec', 'local', { command: [`${PLUGINS}/check_tcp`, '-H', '127.0.0.1', '-p', String(closedPort)] }));
  assert.equal(res.exit_code, 2, res.output);
});

scenario('icmp: 127.0.0.1 answers every echo', async (ctx) => {
  const { code, res } = await check(ctx, 'icmp', '127.0.0.1', { count: 2 });
  assert.equal(code, 0);
  assert.equal(res.sent, 2);
  assert.equal(res.received, 2);
  assert.equal(res.loss_pct, 0);
  assert.equal(typeof res.rtt_ms, 'number');
});

scenario('icmp: an address in a namespace that drops everything: 100% loss, exit 1', async (ctx) => {
  const sh = (...argv) => execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const ns = `fl-drop-${process.pid}`;
  const near = `fld${process.pid % 100000}a`;
  const far = `fld${process.pid % 100000}b`;
  sh('ip', 'netns', 'add', ns);
  ctx.closers.push(() => sh('ip', 'netns', 'del', ns));
  sh('ip', 'link', 'add', near, 'type', 'veth', 'peer', 'name', far, 'netns', ns);
  sh('ip', 'addr', 'add', '198.18.250.1/30', 'dev', near);
  sh('ip', 'link', 'set', near, 'up');
  sh('ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', '198.18.250.2/30', 'dev', far);
  sh('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', far, 'up');
  // Before the drop: the address answers, so the loss below is the namespace's doing.
  let { code, res } = await check(ctx, 'icmp', '198.18.250.2', { count: 2 });
  assert.equal(code, 0, JSON.stringify(res));
  assert.equal(res.received, 2);
  sh('ip', 'netns', 'exec', ns, 'nft', 'add table inet drop_all');
  sh('ip', 'netns', 'exec', ns, 'nft', 'add chain inet drop_all in { type filter hook input priority 0 ; policy drop ; }');
  ({ code, res } = await check(ctx, 'icmp', '198.18.250.2', { count: 3 }, '1'));
  assert.equal(code, 1);
  assert.equal(res.sent, 3);
  assert.equal(res.received, 0);
  assert.equal(res.loss_pct, 100);
  assert.equal(res.connected, false);
  assert.equal(res.rtt_ms, null);
  assert.equal(res.error, 'no answer to 3 echo requests');
});

scenario('canary: no ICMP socket, so the TCP connect from the probe table answers: tcp true, icmp false', async (ctx) => {
  const server = net.createServer((c) => c.on('error', () => {}).end()); // a bare connect ends with a reset
  const port = await listen(server);
  ctx.closers.push(() => new Promise((r) => server.close(r)));
  // An unknown method makes every ping fail to open its socket: the canary falls back to TCP.
  const srv = await ctx.server({ env: { RCA_CANARIES: `127.0.0.1:${port}`, RCA_CANARY_INTERVAL: '0.5', FAULTLINE_ICMP_METHOD: 'none' } });
  const canaries = await waitFor(async () => {
    const c = (await adminJson(srv, '/admin/api/analysis')).server_canaries;
    return c?.canaries?.length === 1 ? c : null;
  }, 5000, { message: 'a finished canary round' });
  const [probe] = canaries.canaries;
  assert.equal(probe.target, '127.0.0.1', JSON.stringify(canaries));
  assert.equal(probe.addr, '127.0.0.1');
  assert.equal(probe.icmp, false);
  assert.equal(probe.tcp, true, JSON.stringify(canaries));
  assert.equal(probe.answered, true);
  assert.equal(typeof probe.rtt_ms, 'number');
  assert.equal(canaries.guarding, true);
  assert.equal(canaries.cut_off, false);
});
