// isp-blackhole.test.mjs — scenario (f): the ISP black-holes one site: its router still answers,
// but drops every packet it would forward to or from fra1 (100% loss on its link toward the
// site). fra1's workers go down together; when the route is back, the follow-up names the ISP's
// router, the last hop that answered, as the fault point. The chat: the incident, the resolve,
// the follow-up.
import assert from 'node:assert/strict';
import { labScenario, workerNames, sh } from './lib/lab.mjs';
import { chatAfterFollowUp, kinds } from './lib/chat.mjs';

labScenario('(f) the ISP black-holes one site → the follow-up names the ISP hop', { lab: { serverEnv: { RCA_FOLLOWUP_WAIT: '30' } } }, async (lab, t) => {
  const fra = lab.site('fra1');
  const names = lab.siteAgents('fra1').sort();
  // every packet the ISP router forwards to or from fra1 is dropped (lab.clearLoss removes it)
  for (const dir of ['iifname', 'oifname'])
    await sh('ip', ['netns', 'exec', lab.ns.isp, 'nft', 'add', 'rule', 'inet', 'lab', 'lab_fwd', dir, fra.ispIface, 'drop']);

  let incident;
  await t.test('one network incident with every fra1 worker', async () => {
    incident = await lab.waitIncident(
      (i) => i.classification === 'network' && workerNames(i).length === names.length,
      30000,
      'a network incident holding all fra1 workers',
    );
    assert.deepEqual(workerNames(incident), names);
    // the agents diagnose while the hole lasts: wait for a path in every agent's log
    await lab.waitFor(
      () => names.every((n) => lab.agentLog(n, 'diagnostics.jsonl').some((d) => d.mtr?.hops?.length)),
      45000,
      'a diagnosis with a path in every fra1 agent logs/diagnostics.jsonl',
    );
  });

  await lab.clearLoss(lab.ns.isp);
  await lab.waitWorkers((ws) => ws.every((w) => w.state === 'up'), 30000, 'every worker up once the route is back');

  await t.test('the chat: the incident, the resolve and one follow-up naming the ISP hop', async () => {
    assert.ok(incident, 'no incident was opened');
    const chat = await chatAfterFollowUp(lab, t, names);
    assert.deepEqual(kinds(chat.texts), ['incident', 'resolved', 'follow-up'], JSON.stringify(chat.texts));
    assert.equal(chat.headline, `paths of 5/5 agents stop after hop 2 (${fra.ispAddr}): upstream ISP, likely fault point`);
    for (const line of chat.followUp.split('\n').slice(2, 7))
      assert.match(line, new RegExp(`^fra1-0\\d: gateway OK, .*loss began after hop 2 \\(${fra.ispAddr.replaceAll('.', '\\.')}\\) → upstream ISP$`), line);
  });
});
