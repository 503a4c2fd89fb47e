// site-checks.test.mjs — inferred site dependencies (docs/rca.md, "Messages"): fra1's three agents
// run a check of the internet host that only they run (run_on: {tags: {site: fra1}}), two ams1
// agents run nothing. fra1's uplink is cut: its agents go DOWN together, a `network` incident
// opens, and the check's change (its runners gone: unknown) is held back by the incident: its
// event says `held_back_by: incident:ID`, the incident's /admin/api/rca entry lists it in
// `suppressed_checks` and its Telegram message names it; restored, the check is fine again and
// no message of its own was ever sent.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { labScenario, ADDR } from './lib/lab.mjs';

const SITES = [
  { name: 'fra1', agents: 3, wan: '203.0.113', lan: '10.1.0' },
  { name: 'ams1', agents: 2, wan: '198.18.20', lan: '10.2.0' },
];

const CHECK = [
  'checks:',
  '  - name: fra-inet',
  '    type: icmp',
  `    target: ${ADDR.inet}`,
  '    count: 2',
  '    interval: 1s',
  '    timeout: 900ms',
  '    run_on: {tags: {site: fra1}}',
  '',
].join('\n');

// RCA_THRESHOLD 3: fra1's three agents make a network incident (3 of 5 is not the server's own)
labScenario('site cut: a check run only from it is held back by the network incident, listed under it, never told', { lab: { sites: SITES, serverEnv: { RCA_THRESHOLD: '3' } } }, async (lab, t) => {
  const dir = path.join(lab.dir, 'server', 'checks.d');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '.lab.tmp'), CHECK);
  fs.renameSync(path.join(dir, '.lab.tmp'), path.join(dir, 'lab.yaml'));
  const check = () => lab.apiJson('/api/v1/checks/fra-inet');
  let k;
  await lab.waitFor(async () => (k = await check()).state === 'ok' && k.runners.length === 3, 30000, () => `fra-inet ok from fra1's 3 agents; last: ${JSON.stringify(k)}`);

  await lab.cutUplink('fra1');
  let incident;
  await t.test('the check\'s change is held back by the network incident and listed in its entry', async () => {
    incident = await lab.waitIncident((i) => i.classification === 'network' && !i.closed_at && (i.suppressed_checks ?? []).length > 0, 30000, 'a network incident holding fra-inet back');
    assert.deepEqual(incident.suppressed_checks, ['fra-inet']);
    assert.deepEqual(incident.scope.sites, ['fra1']);
    const evs = (await lab.apiJson('/admin/api/events?type=check_state&limit=50')).events;
    const held = evs.find((e) => e.worker === 'fra-inet' && e.details.to !== 'ok');
    assert.ok(held, JSON.stringify(evs));
    assert.equal(held.details.held_back_by, `incident:${incident.id}`);
  });

  await t.test('the incident\'s message names it', async () => {
    const msg = await lab.waitMessage(/NETWORK ISSUE/, 20000);
    assert.match(msg.text, /\nHeld back, run only from its sites: fra-inet/);
  });

  await lab.restore('fra1');
  await t.test('restored: the incident closes, the check is ok, and it never sent a message of its own', async () => {
    const closed = await lab.waitIncident((i) => i.id === incident?.id && i.closed_at, 30000, 'the incident closed');
    await lab.waitFor(async () => (k = await check()).state === 'ok', 30000, 'fra-inet ok again');
    // a result after the close: a held failure would have been told at it
    const after = Date.parse(closed.closed_at) + 1000;
    await lab.waitFor(async () => (k = await check()).runners.every((r) => Date.parse(r.last_result.time) > after), 15000, () => `a result of every runner after the close; last: ${JSON.stringify(k.runners)}`);
    const own = (await lab.messages()).filter((m) => m.text.includes('fra-inet') && !/Held back, run only from its sites/.test(m.text));
    assert.deepEqual(own.map((m) => m.text), []);
  });
});
