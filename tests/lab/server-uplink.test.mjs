// server-uplink.test.mjs — scenario (d): the server's own uplink is cut. Every agent goes silent
// and the server's canaries (the ISP router and the "internet" host) fail at the same time, so
// the outage is the server's: a `server` incident, and no worker counted down or announced DOWN.
// The chat: one message after the hold, one RESOLVED, and a follow-up that holds the agents'
// paths against the server's canaries and names the server's own uplink.
import assert from 'node:assert/strict';
import { labScenario, perWorkerMessages, sleep, ADDR } from './lib/lab.mjs';
import { chatAfterFollowUp, kinds } from './lib/chat.mjs';

labScenario('(d) server uplink cut → server incident, no worker counted down', { lab: { serverEnv: { RCA_FOLLOWUP_WAIT: '30' } } }, async (lab, t) => {
  const names = lab.plan.sites.flatMap((s) => s.agents.map((a) => a.name));
  await lab.cutServerUplink();

  let incident;
  await t.test('a server incident opens', async () => {
    incident = await lab.waitIncident((i) => i.classification === 'server' && !i.closed_at, 30000, 'an open server incident');
    assert.ok(incident.evidence, 'evidence (the failed canaries) is stored');
  });

  await t.test('no worker counted down while it lasts, no per-worker DOWN message', async () => {
    const seenDown = new Set();
    const until = Date.now() + 6000;
    while (Date.now() < until) {
      for (const w of (await lab.status()).workers) if (w.state === 'down') seenDown.add(w.name);
      await sleep(250);
    }
    assert.deepEqual([...seenDown], [], 'workers shown down during a server outage');
    const msgs = await lab.messages();
    assert.deepEqual(perWorkerMessages(msgs, names, 'DOWN').map((m) => m.text), []);
  });

  await lab.restoreServerUplink();
  await lab.waitWorkers((ws) => ws.every((w) => w.state === 'up'), 20000, 'every worker up after restore');
  await t.test('restore → the server incident is closed', async () => {
    assert.ok(incident, 'no server incident was opened, so none can close');
    await lab.waitIncident(
      (i) => i.id === incident.id && i.closed_at,
      30000,
      'the server incident closed',
    );
  });

  await t.test('the chat: one incident message, the resolve, one follow-up naming the server\'s uplink', async () => {
    const chat = await chatAfterFollowUp(lab, t, names);
    assert.deepEqual(kinds(chat.texts), ['incident', 'resolved', 'follow-up'], JSON.stringify(chat.texts));
    assert.match(chat.texts[0], /^⚠️ The monitor itself lost connectivity; 11 workers unreachable, not counted as down\n/);
    // Every path loops between the site's ISP router and the core router, whose link to the
    // server is down: the last new hop is the core router.
    assert.equal(
      chat.headline,
      `the server's own uplink: 11/11 agents reached the outside, their paths to the server stop after hop 3 (${ADDR.coreUp}), and the server's own canaries failed`,
    );
    assert.doesNotMatch(chat.followUp, /local network|cause unknown/);
  });
});
