// probe.test.mjs — `faultline probe trace` from an agent's namespace, with each ICMP method: as
// root (raw), forced to ICMP datagram sockets (net.ipv4.ping_group_range allows root's group),
// and as user nobody (not in that range, so UDP with IP_RECVERR). Each must say which method it
// used and list the lab's routers hop by hop up to the server.
import assert from 'node:assert/strict';
import { labScenario, ADDR } from './lib/lab.mjs';
import { BIN } from '../integration/lib/faultline.mjs';

labScenario('probe trace from an agent namespace: raw, icmp-datagram, udp-recverr', { lab: { startAgents: false } }, async (lab, t) => {
  const fra = lab.site('fra1');
  const ns = fra.agents[0].ns;
  const expected = [fra.gwAddr, fra.ispAddr, ADDR.coreUp, ADDR.server];
  // Root's group may open ICMP datagram sockets here; nobody's group may not.
  const sc = await lab.exec(ns, ['sysctl', '-qw', 'net.ipv4.ping_group_range=0 0']);
  assert.equal(sc.code, 0, sc.stderr);

  const cases = [
    { method: 'raw', opts: {} },
    { method: 'icmp-datagram', opts: { env: { FAULTLINE_ICMP_METHOD: 'icmp-datagram' } } },
    { method: 'udp-recverr', opts: { user: 'nobody' } },
  ];
  for (const c of cases) {
    await t.test(`${c.method}: says so and lists the routers hop by hop`, async () => {
      const r = await lab.exec(ns, [BIN, 'probe', 'trace', ADDR.server, '--json'], { ...c.opts, timeoutMs: 60000 });
      assert.equal(r.code, 0, `status ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      // docs/faultline.1: one JSON object, the path probe of docs/rca.md ("method", "reached", "hops").
      const tr = JSON.parse(r.stdout);
      assert.equal(tr.method, c.method, r.stdout);
      assert.equal(tr.reached, true, r.stdout);
      assert.deepEqual(
        tr.hops.map((h) => h.addr),
        expected,
        `hops: ${JSON.stringify(tr.hops)}`,
      );
      for (const h of tr.hops) assert.ok(h.received > 0, `hop ${h.ttl} answered: ${JSON.stringify(h)}`);
    });
  }
});
