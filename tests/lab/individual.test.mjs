// individual.test.mjs — scenario (c): one agent is killed. Its outage is `individual` and keeps
// the per-worker DOWN message of the core issue: the chat holds that one message, and no
// follow-up (a dead agent uploads nothing, and a follow-up is never sent without diagnostics).
import assert from 'node:assert/strict';
import { labScenario, perWorkerMessages, workerNames, sleep } from './lib/lab.mjs';

labScenario('(c) one agent killed → individual incident and its DOWN message', async (lab, t) => {
  const victim = 'nyc1-02';
  await lab.killAgent(victim);

  await t.test('the per-worker DOWN message arrives, once', async () => {
    await lab.waitMessage((m) => m.text.includes(`${victim} is DOWN`), 20000);
    await sleep(3000);
    const msgs = await lab.messages();
    assert.equal(perWorkerMessages(msgs, [victim], 'DOWN').length, 1);
    const others = lab.plan.sites.flatMap((s) => s.agents.map((a) => a.name)).filter((n) => n !== victim);
    assert.deepEqual(perWorkerMessages(msgs, others, 'DOWN').map((m) => m.text), []);
  });

  await t.test('status counts it down, and only it', async () => {
    const ws = await lab.waitWorkers((w) => w.some((x) => x.name === victim && x.state === 'down'), 10000);
    assert.deepEqual(ws.filter((w) => w.state === 'down').map((w) => w.name), [victim]);
  });

  await t.test('an individual incident with only that worker', async () => {
    const inc = await lab.waitIncident((i) => workerNames(i).includes(victim), 20000, `an incident with ${victim}`);
    assert.equal(inc.classification, 'individual');
    assert.deepEqual(workerNames(inc), [victim]);
    assert.equal((await lab.incidents()).length, 1);
    const texts = (await lab.messages()).map((m) => m.text);
    t.diagnostic(`the chat:\n${texts.join('\n\n')}`);
    assert.equal(texts.length, 1, JSON.stringify(texts));
    assert.match(texts[0], new RegExp(`^🔴 ${victim} is DOWN\nNo heartbeat for \\d+s \\(limit 3s\\)\\.\nLast seen: .* from ${lab.site('nyc1').publicAddr}\nSite: nyc1$`));
  });
});
