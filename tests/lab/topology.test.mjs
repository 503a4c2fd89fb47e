// topology.test.mjs — the lab itself works: every agent reaches the server through its site's
// NAT gateway (the server sees one public address per site), a cut uplink silences exactly that
// site, a restore brings it back, and nothing in the lab routes toward the outside world.
import assert from 'node:assert/strict';
import { labScenario, ADDR } from './lib/lab.mjs';

labScenario('lab topology: NAT per site, uplink cut and restore, no route out', async (lab, t) => {
  await t.test('every agent is up, seen from its site public address with its site tag', async () => {
    const { workers } = await lab.status();
    assert.equal(workers.length, lab.agentCount);
    for (const s of lab.plan.sites)
      for (const a of s.agents) {
        const w = workers.find((x) => x.name === a.name);
        assert.ok(w, `worker ${a.name} registered`);
        assert.equal(w.state, 'up', `${a.name} up`);
        assert.equal(w.ip, s.publicAddr, `${a.name} seen from ${s.publicAddr} (NAT of ${s.name})`);
        assert.equal(w.site, s.name);
      }
  });

  await t.test('the ISP router has no route out of the lab', async () => {
    const r = await lab.exec(lab.ns.isp, ['ip', 'route', 'get', '8.8.8.8']);
    assert.equal(r.code, 2, `route to 8.8.8.8 from the ISP router: ${r.stdout}`);
    assert.match(r.stderr, /Network is unreachable/);
    const s = await lab.exec(lab.ns.srv, ['ip', 'route', 'get', ADDR.inet]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /via 198\.51\.100\.1/);
  });

  await t.test('cutting fra1 uplink silences fra1 only; restoring brings it back', async () => {
    const fra = lab.siteAgents('fra1');
    await lab.cutUplink('fra1');
    const down = await lab.waitWorkers(
      (ws) => ws.filter((w) => w.state === 'down').length === fra.length,
      20000,
      'fra1 workers counted down by the heartbeat timeout',
    );
    for (const w of down) {
      const inFra = fra.includes(w.name);
      assert.equal(w.state, inFra ? 'down' : 'up', `${w.name}`);
    }
    await lab.restore('fra1');
    await lab.waitWorkers((ws) => ws.every((w) => w.state === 'up'), 20000, 'every worker up after restore');
  });
});
