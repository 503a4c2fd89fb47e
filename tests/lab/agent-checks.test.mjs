// agent-checks.test.mjs — checks on agents with path evidence (docs/checks.md, "Runners and
// quorum"): a lab of two sites, one agent each (TAGS=role=prober), runs an icmp check of the
// "internet" host 192.0.2.53. The ISP router drops what fra1 sends to that host (not to the
// server): the check is a WARNING whose message names fra1 and says its path stops after hop 2
// (the ISP router), ams1 stays fine; with ams1 cut the same way it goes CRITICAL; restored, OK.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { labScenario, sh, ADDR } from './lib/lab.mjs';

const SITES = [
  { name: 'fra1', agents: 1, wan: '203.0.113', lan: '10.1.0' },
  { name: 'ams1', agents: 1, wan: '198.18.20', lan: '10.2.0' },
];

const CHECK = [
  'checks:',
  '  - name: inet-reach',
  '    type: icmp',
  `    target: ${ADDR.inet}`,
  '    count: 2',
  '    interval: 1s',
  '    timeout: 900ms',
  '    fail_threshold: 1',
  '    success_threshold: 1',
  '    run_on: {tags: {role: prober}}',
  '',
].join('\n');

/** Drops, at the ISP router, what the site sends to the internet host. */
function cutToInet(lab, site) {
  const s = lab.site(site);
  return sh('ip', ['netns', 'exec', lab.ns.isp, 'nft', 'add', 'rule', 'inet', 'lab', 'lab_fwd', 'iifname', s.ispIface, 'ip', 'daddr', ADDR.inet, 'drop']);
}

labScenario('checks on agents: one site cut from the target → its location and path named; both → CRITICAL', { lab: { sites: SITES, agentEnv: { TAGS: 'role=prober' } } }, async (lab, t) => {
  const dir = path.join(lab.dir, 'server', 'checks.d');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '.lab.tmp'), CHECK);
  fs.renameSync(path.join(dir, '.lab.tmp'), path.join(dir, 'lab.yaml'));
  const check = async () => (await lab.apiJson('/api/v1/checks/inet-reach'));
  let k;

  await t.test('both locations run it and are fine', async () => {
    // the check is ok once one runner is and the other has not decided yet: wait for both
    await lab.waitFor(async () => (k = await check()).state === 'ok' && k.runners.length === 2 &&
      k.runners.every((r) => r.state === 'ok'), 30000, 'inet-reach ok from both sites');
    assert.deepEqual(k.runners.map((r) => r.location).sort(), ['ams1', 'fra1']);
    assert.ok(k.runners.every((r) => r.state === 'ok' && r.tags.role === 'prober'));
  });

  const fra = lab.site('fra1');
  await cutToInet(lab, 'fra1');
  await t.test('fra1 cut: a WARNING naming fra1, its path stops after hop 2 (the ISP router)', async () => {
    await lab.waitFor(async () => (k = await check()).state === 'warning' && /the path from fra1/.test(k.message ?? ''), 30000, () => `a warning with fra1's path; last: ${JSON.stringify(k)}`);
    assert.equal(k.message, `${ADDR.inet} is unreachable from fra1 only (1 of 2 locations fine): the path from fra1 stops after hop 2 (${fra.ispAddr})`);
    const byLoc = Object.fromEntries(k.runners.map((r) => [r.location, r]));
    assert.equal(byLoc.fra1.state, 'critical');
    assert.equal(byLoc.ams1.state, 'ok');
    assert.equal(byLoc.ams1.path, null);
    const hops = byLoc.fra1.path.hops;
    assert.equal(hops[0].addr, fra.gwAddr);
    assert.equal(hops[1].addr, fra.ispAddr);
    assert.equal(byLoc.fra1.path.reached, false);
  });

  const ams = lab.site('ams1');
  await cutToInet(lab, 'ams1');
  await t.test('both cut: CRITICAL, every location named with its path', async () => {
    await lab.waitFor(async () => (k = await check()).state === 'critical' && /the path from ams1/.test(k.message ?? ''), 30000, () => `critical with ams1's path; last: ${JSON.stringify(k)}`);
    assert.equal(k.message, `${ADDR.inet} is unreachable from every location: ${k.runners.map((r) => r.location).join(', ')}: ` +
      k.runners.map((r) => `the path from ${r.location} stops after hop 2 (${r.location === 'fra1' ? fra.ispAddr : ams.ispAddr})`).join('; '));
  });

  await lab.clearLoss(lab.ns.isp);
  await t.test('restored: OK again, no path kept', async () => {
    await lab.waitFor(async () => (k = await check()).state === 'ok', 30000, 'inet-reach ok again');
    assert.equal(k.message, null);
    assert.ok(k.runners.every((r) => r.path === null));
  });
});
