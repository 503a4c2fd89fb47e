// probe-cli.test.mjs — `faultline probe`: ping, trace, tcp, dns and gateway against the suite's
// own loopback (the runner puts it in a private network namespace), their --json shapes, the
// exit statuses (0 answered, 1 not, 2 usage) and the usage errors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';

const METHODS = ['raw', 'icmp-datagram', 'udp-recverr'];

function parseJson(r) {
  assert.equal(r.stdout.trim().split('\n').length, 1, `one line of JSON:\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

scenario('probe ping 127.0.0.1 --count 2 --json: both answered, exit 0', async (ctx) => {
  const r = await ctx.run(['probe', 'ping', '127.0.0.1', '--count', '2', '--json']);
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
  const p = parseJson(r);
  assert.equal(p.target, '127.0.0.1');
  assert.equal(p.addr, '127.0.0.1');
  assert.ok(METHODS.includes(p.method), `method: ${p.method}`);
  assert.equal(p.sent, 2);
  assert.equal(p.received, 2);
  assert.equal(p.loss_pct, 0);
  for (const k of ['rtt_min_ms', 'rtt_avg_ms', 'rtt_max_ms']) assert.equal(typeof p[k], 'number', k);
  assert.ok(p.rtt_min_ms <= p.rtt_avg_ms && p.rtt_avg_ms <= p.rtt_max_ms);
  assert.equal(p.error, undefined);
});

scenario('probe ping with udp-recverr forced says so and is answered', async (ctx) => {
  const r = await ctx.run(['probe', 'ping', '127.0.0.1', '--count', '2', '--json'], {
    env: { FAULTLINE_ICMP_METHOD: 'udp-recverr' },
  });
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
  const p = parseJson(r);
  assert.equal(p.method, 'udp-recverr');
  assert.equal(p.received, 2);
});

scenario('probe ping as a table names the method and the loss', async (ctx) => {
  const r = await ctx.run(['probe', 'ping', '127.0.0.1', '--count', '1']);
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
  assert.match(r.stdout, /method (raw|icmp-datagram|udp-recverr)/);
  assert.match(r.stdout, /1 sent, 1 received, 0\.0% loss/);
});

scenario('probe ping of an address with no route: 100% loss, error, exit 1', async (ctx) => {
  const r = await ctx.run(['probe', 'ping', '192.0.2.1', '--count', '2', '--timeout', '0.3', '--json']);
  assert.equal(r.code, 1, `exit status; stderr: ${r.stderr}`);
  const p = parseJson(r);
  assert.equal(p.received, 0);
  assert.equal(p.loss_pct, 100);
  assert.equal(p.rtt_avg_ms, null);
  assert.match(p.error ?? '', /cannot send/);
});

scenario('probe trace 127.0.0.1 reaches it in one hop', async (ctx) => {
  const r = await ctx.run(['probe', 'trace', '127.0.0.1', '--rounds', '2', '--json']);
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
  const t = parseJson(r);
  assert.equal(t.reached, true);
  assert.equal(t.rounds, 2);
  assert.equal(t.hops.length, 1);
  assert.deepEqual(
    { ttl: t.hops[0].ttl, addr: t.hops[0].addr, sent: t.hops[0].sent, received: t.hops[0].received },
    { ttl: 1, addr: '127.0.0.1', sent: 2, received: 2 },
  );
  const table = await ctx.run(['probe', 'trace', '127.0.0.1', '--rounds', '1']);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /HOP\s+ADDRESS\s+LOSS\s+SENT\s+BEST\s+AVG\s+WORST/);
  assert.match(table.stdout, /^\s+1\s+127\.0\.0\.1\s+0\.0%\s+1\s/m);
});

scenario('probe tcp: accepted is ok, refused is reachable, both exit 0', async (ctx) => {
  const server = net.createServer((sock) => sock.destroy());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  try {
    const r = await ctx.run(['probe', 'tcp', '127.0.0.1', '--port', String(port), '--json']);
    assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
    const t = parseJson(r);
    assert.deepEqual({ ok: t.ok, reachable: t.reachable, port: t.port, error: t.error }, { ok: true, reachable: true, port, error: null });
    assert.equal(typeof t.connect_ms, 'number');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const r = await ctx.run(['probe', 'tcp', '127.0.0.1', '--port', String(port), '--json']);
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
  const t = parseJson(r);
  assert.deepEqual({ ok: t.ok, reachable: t.reachable, error: t.error }, { ok: false, reachable: true, error: 'connection refused' });
});

scenario('probe dns of an IP literal is ok at once', async (ctx) => {
  const r = await ctx.run(['probe', 'dns', '127.0.0.1', '--json']);
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
  const d = parseJson(r);
  assert.deepEqual({ name: d.name, ok: d.ok, addr: d.addr, error: d.error }, { name: '127.0.0.1', ok: true, addr: '127.0.0.1', error: null });
  assert.ok(d.ms < 1, `ms: ${d.ms}`);
});

scenario('probe gateway without a default route: error, exit 1', async (ctx) => {
  const dir = ctx.tmpdir();
  const routes = path.join(dir, 'route');
  fs.writeFileSync(routes, 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
    'eth0\t0000010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n');
  const r = await ctx.run(['probe', 'gateway', '--json'], { env: { FAULTLINE_PROC_NET_ROUTE: routes } });
  assert.equal(r.code, 1, `exit status; stderr: ${r.stderr}`);
  const g = parseJson(r);
  assert.equal(g.target, 'gateway');
  assert.match(g.error, /no IPv4 default route/);
});

scenario('probe --help exits 0 with the usage on stdout', async (ctx) => {
  const r = await ctx.run(['probe', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /usage: faultline probe ping\|trace\|tcp\|dns\|gateway/);
  assert.match(r.stdout, /udp-recverr/);
});

const USAGE_ERRORS = [
  { args: [], expect: /expected what to probe/ },
  { args: ['frobnicate', 'x'], expect: /unknown probe "frobnicate"/ },
  { args: ['ping'], expect: /ping: expected a TARGET/ },
  { args: ['ping', '127.0.0.1', '--count', 'lots'], expect: /--count: expected a number of probes 1\.\.1000, got "lots"/ },
  { args: ['ping', '127.0.0.1', '--count', '0'], expect: /--count: expected/ },
  { args: ['ping', '127.0.0.1', '--timeout', '-1'], expect: /--timeout: expected a positive number of seconds/ },
  { args: ['ping', '127.0.0.1', '--port', '80'], expect: /--port: does not apply to ping/ },
  { args: ['trace', '127.0.0.1', '--max-hops', '65'], expect: /--max-hops: expected a number of hops 1\.\.64, got "65"/ },
  { args: ['tcp', '127.0.0.1'], expect: /tcp: expected --port/ },
  { args: ['tcp', '127.0.0.1', '--port', '70000'], expect: /--port: expected a TCP port/ },
  { args: ['gateway', '10.0.0.1'], expect: /gateway: takes no TARGET/ },
  { args: ['ping', '127.0.0.1', 'extra'], expect: /unexpected argument "extra"/ },
];
for (const c of USAGE_ERRORS) {
  scenario(`probe ${c.args.join(' ') || '(nothing)'} is a usage error (exit 2)`, async (ctx) => {
    const r = await ctx.run(['probe', ...c.args]);
    assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
    assert.match(r.stderr, c.expect);
    assert.equal(r.stdout, '');
  });
}

scenario('an unknown FAULTLINE_ICMP_METHOD is named in the error, exit 1', async (ctx) => {
  const r = await ctx.run(['probe', 'ping', '127.0.0.1', '--count', '1'], { env: { FAULTLINE_ICMP_METHOD: 'smoke-signals' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /FAULTLINE_ICMP_METHOD: expected raw, icmp-datagram or udp-recverr, got "smoke-signals"/);
});
