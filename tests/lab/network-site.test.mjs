// network-site.test.mjs — scenario (a): one site's uplink is cut. The server must open exactly
// one `network` incident naming the site and its public (NAT) address, send one "NETWORK ISSUE"
// message instead of a per-worker DOWN message for each of the site's agents, close the
// incident with one RESOLVED message when the uplink is back, and send one follow-up whose
// headline names the site's uplink: the chat holds those three messages and nothing else.
import assert from 'node:assert/strict';
import { labScenario, perWorkerMessages, workerNames, sleep } from './lib/lab.mjs';
import { chatAfterFollowUp, kinds } from './lib/chat.mjs';

labScenario('(a) one site uplink cut → one network incident naming the site, no per-worker messages', { lab: { serverEnv: { RCA_FOLLOWUP_WAIT: '30' } } }, async (lab, t) => {
  const fra = lab.site('fra1');
  const names = lab.siteAgents('fra1').sort();
  await lab.cutUplink('fra1');

  let incident;
  await t.test('one network incident with all fra1 workers, scope naming fra1 and its address', async () => {
    const first = await lab.waitIncident((i) => i.classification === 'network' && !i.closed_at, 30000, 'an open network incident');
    incident = await lab.waitIncident(
      (i) => i.id === first.id && workerNames(i).length >= names.length,
      20000,
      'the network incident holding all fra1 workers',
    );
    assert.deepEqual(workerNames(incident), names);
    // docs/api.md: scope is an object naming the group at fault, its addresses and sites.
    assert.deepEqual(incident.scope.ips, [fra.publicAddr], `scope: ${JSON.stringify(incident.scope)}`);
    assert.deepEqual(incident.scope.sites, ['fra1'], `scope: ${JSON.stringify(incident.scope)}`);
    assert.equal(incident.scope.group, 'site:fra1');
    assert.match(incident.opened_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(incident.evidence.rule, 'shared_group');
    const all = await lab.incidents();
    assert.equal(all.length, 1, `exactly one incident: ${JSON.stringify(all)}`);
  });

  await t.test('Telegram: one NETWORK ISSUE message, no per-worker DOWN message', async () => {
    const msg = await lab.waitMessage(/NETWORK ISSUE/, 20000);
    assert.ok(msg.text.includes(fra.publicAddr), `the message names ${fra.publicAddr}: ${msg.text}`);
    await sleep(4000); // per-worker messages, if any were going to come, have come by now
    const msgs = await lab.messages();
    assert.equal(msgs.filter((m) => /NETWORK ISSUE/.test(m.text)).length, 1, JSON.stringify(msgs.map((m) => m.text)));
    assert.deepEqual(perWorkerMessages(msgs, names, 'DOWN').map((m) => m.text), []);
  });

  const before = (await lab.messages()).length;
  await lab.restore('fra1');
  await lab.waitWorkers((ws) => ws.every((w) => w.state === 'up'), 20000, 'every worker up after restore');

  await t.test('restore → the incident is closed with one resolved message', async () => {
    assert.ok(incident, 'no network incident was opened, so none can close');
    const closed = await lab.waitIncident(
      (i) => i.id === incident.id && i.closed_at,
      30000,
      'the network incident closed',
    );
    assert.ok(Date.parse(closed.closed_at) >= Date.parse(closed.opened_at));
    await lab.waitMessage(/RESOLVED/, 15000);
    await sleep(3000);
    const after = (await lab.messages()).slice(before);
    const texts = JSON.stringify(after.map((m) => m.text));
    assert.deepEqual(perWorkerMessages(after, names, 'UP').map((m) => m.text), [], 'no per-worker UP messages');
    const resolved = after.filter((m) => /RESOLVED/.test(m.text));
    assert.equal(resolved.length, 1, `one resolved message: ${texts}`);
    assert.ok(resolved[0].text.includes(fra.publicAddr), resolved[0].text);
  });

  await t.test('the chat: the incident, the resolve and one follow-up naming the site\'s uplink', async () => {
    const chat = await chatAfterFollowUp(lab, t, names);
    assert.deepEqual(kinds(chat.texts), ['incident', 'resolved', 'follow-up'], JSON.stringify(chat.texts));
    assert.match(chat.followUp, new RegExp(`^🔎 Follow-up on incident #${incident.id} \\(network\\):\n`));
    assert.equal(chat.headline, `paths of 5/5 agents stop right after their gateway (${fra.gwAddr}): the site's uplink`);
    for (const line of chat.followUp.split('\n').slice(2, 7))
      assert.match(line, new RegExp(`^fra1-0\\d: gateway OK, .*loss began after hop 1 \\(${fra.gwAddr.replaceAll('.', '\\.')}\\) → site uplink$`), line);
  });
});
