// widespread.test.mjs — scenario (b): two sites' uplinks are cut at once (8 of 11 workers, at two
// public addresses in different /24s, below the 80% "server" share). The server must classify
// the outage `widespread`, with the workers of both sites, without per-worker DOWN messages;
// after the restore, one RESOLVED and one follow-up naming both sites' uplinks.
import assert from 'node:assert/strict';
import { labScenario, perWorkerMessages, workerNames, sleep } from './lib/lab.mjs';
import { chatAfterFollowUp, kinds } from './lib/chat.mjs';

labScenario('(b) two sites cut → widespread incident', { lab: { serverEnv: { RCA_FOLLOWUP_WAIT: '30' } } }, async (lab, t) => {
  const names = [...lab.siteAgents('fra1'), ...lab.siteAgents('ams1')].sort();
  await Promise.all([lab.cutUplink('fra1'), lab.cutUplink('ams1')]);

  let incident;
  await t.test('a widespread incident with the workers of both sites', async () => {
    incident = await lab.waitIncident(
      (i) => i.classification === 'widespread' && !i.closed_at && names.every((n) => workerNames(i).includes(n)),
      40000,
      'an open widespread incident holding the fra1 and ams1 workers',
    );
    assert.ok(!workerNames(incident).some((n) => n.startsWith('nyc1')), `nyc1 is not in it: ${workerNames(incident)}`);
    // docs/api.md: the scope names the sites and the addresses of the workers.
    const scope = JSON.stringify(incident.scope);
    assert.deepEqual([...incident.scope.sites].sort(), ['ams1', 'fra1'], `scope: ${scope}`);
    assert.deepEqual([...incident.scope.ips].sort(), [lab.site('ams1').publicAddr, lab.site('fra1').publicAddr].sort(), `scope: ${scope}`);
  });

  await t.test('Telegram: a WIDESPREAD message, no per-worker DOWN message', async () => {
    await lab.waitMessage(/WIDESPREAD/, 20000);
    await sleep(3000);
    const msgs = await lab.messages();
    assert.deepEqual(perWorkerMessages(msgs, names, 'DOWN').map((m) => m.text), []);
  });

  await Promise.all([lab.restore('fra1'), lab.restore('ams1')]);
  await t.test('restore → the incident is closed', async () => {
    assert.ok(incident, 'no widespread incident was opened, so none can close');
    await lab.waitIncident((i) => i.id === incident.id && i.closed_at, 30000, 'the widespread incident closed');
  });

  await t.test('the chat: the incident, the resolve and one follow-up naming both uplinks', async () => {
    const chat = await chatAfterFollowUp(lab, t, names);
    assert.deepEqual(kinds(chat.texts), ['incident', 'resolved', 'follow-up'], JSON.stringify(chat.texts));
    assert.match(chat.texts[0], /^🔴 WIDESPREAD: 8 workers at 2 sites went down/);
    const gws = [lab.site('fra1').gwAddr, lab.site('ams1').gwAddr].sort().join(', ');
    assert.equal(chat.headline, `paths of 8/8 agents stop right after their gateways (${gws}): the sites' uplinks`);
    assert.doesNotMatch(chat.followUp, /cause unknown|local network/);
  });
});
