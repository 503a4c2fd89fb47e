// path-loss.test.mjs — scenario (e): heavy random loss (90%, nftables `numgen random`) on the ISP
// router's link toward fra1. fra1's heartbeats fail, its agents diagnose (gateway fine, loss
// from the hop after the ISP router on), and when the loss is removed they upload their backlog;
// the server's follow-up names the hop where the path stops answering: "loss began after hop 2
// (203.0.113.1)", the ISP router being the last hop that still answers (docs/rca.md).
import assert from 'node:assert/strict';
import { labScenario, workerNames, ADDR } from './lib/lab.mjs';

// The ISP router's address on fra1's link, the last hop that answers (not 203.0.113.10 etc.).
const LAST_GOOD_HOP = /(^|[^\d.])203\.0\.113\.1(?![\d])/;

labScenario('(e) heavy loss on one router hop → diagnostics, backlog, follow-up naming the hop', async (lab, t) => {
  const fra = lab.site('fra1');
  const names = lab.siteAgents('fra1');
  const since = new Date(Date.now() - 1000).toISOString();
  await lab.addLoss(lab.ns.isp, fra.ispIface, 90);
  let diagnosed = false;

  await t.test('fra1 heartbeats fail: its workers are down, the others up', async () => {
    await lab.waitWorkers(
      (ws) => names.every((n) => ws.find((w) => w.name === n)?.state === 'down'),
      30000,
      'every fra1 worker down under 90% loss',
    );
    const ws = (await lab.status()).workers;
    assert.deepEqual(ws.filter((w) => w.state !== 'up' && !names.includes(w.name)).map((w) => w.name), []);
  });

  await t.test('each fra1 agent diagnoses: gateway and ISP router answer, loss from the next hop on', async () => {
    await lab.waitFor(
      () => names.every((n) => lab.agentLog(n, 'diagnostics.jsonl').some((d) => d.mtr?.hops?.length)),
      45000,
      'a diagnosis with a path in every fra1 agent logs/diagnostics.jsonl',
    );
    diagnosed = true;
    for (const n of names) {
      const d = lab.agentLog(n, 'diagnostics.jsonl').find((x) => x.mtr?.hops?.length);
      assert.equal(d.gateway?.addr, fra.gwAddr, `${n}: gateway ${JSON.stringify(d.gateway)}`);
      assert.equal(d.gateway.reachable, true, `${n}: gateway reachable`);
      const hops = d.mtr.hops;
      assert.equal(hops[0].addr, fra.gwAddr, `${n}: hop 1 ${JSON.stringify(hops)}`);
      assert.equal(hops[1].addr, fra.ispAddr, `${n}: hop 2 ${JSON.stringify(hops)}`);
      assert.ok(hops[1].loss_pct < 50, `${n}: hop 2 answers: ${JSON.stringify(hops[1])}`);
      for (const h of hops.slice(2)) assert.ok(h.loss_pct >= 60, `${n}: heavy loss past hop 2: ${JSON.stringify(hops)}`);
    }
  });

  await lab.clearLoss(lab.ns.isp);
  await lab.waitWorkers((ws) => ws.every((w) => w.state === 'up'), 30000, 'every worker up once the loss is gone');

  await t.test('the follow-up message names the lossy hop', async () => {
    assert.ok(diagnosed, 'the agents wrote no diagnosis, so no follow-up can name a hop');
    const msg = await lab.waitMessage((m) => LAST_GOOD_HOP.test(m.text) && /hop 2/.test(m.text), 40000, 'a follow-up: loss began after hop 2 (203.0.113.1)');
    // docs/api.md: a headline, then one line per worker ("NAME: gateway OK, ...").
    for (const n of names) assert.match(msg.text, new RegExp(`\\n${n.replace(/[.()]/g, '\\$&')}: `), msg.text);
  });

  await t.test('GET /admin/api/diagnostics returns the uploaded records', async () => {
    const r = await lab.api(`/admin/api/diagnostics?worker=${names[0]}&since=${encodeURIComponent(since)}`);
    assert.equal(r.status, 200, r.text.slice(0, 300));
    // docs/api.md: {"diagnostics": [{..., "record": the record as uploaded}]}
    const recs = r.json.diagnostics;
    assert.ok(Array.isArray(recs) && recs.length > 0, `records: ${r.text.slice(0, 300)}`);
    const withPath = recs.find((x) => x.record.mtr?.hops?.length);
    assert.ok(withPath, `a record with its path: ${r.text.slice(0, 500)}`);
    const hops = withPath.record.mtr.hops;
    assert.equal(hops[1].addr, fra.ispAddr);
    const incidents = await lab.incidents();
    assert.ok(incidents.some((i) => workerNames(i).includes(names[0])), 'an incident holds the worker');
  });

  await t.test('GET /admin/api/worker/NAME includes its latest MTR', async () => {
    const r = await lab.api(`/admin/api/worker/${names[0]}`);
    assert.equal(r.status, 200, r.text.slice(0, 300));
    const latest = r.json.mtr; // {time, record_id, mtr: {target, addr, method, hops...}}
    assert.ok(latest, `"mtr" in ${r.text.slice(0, 300)}`);
    assert.equal(typeof latest.record_id, 'string', JSON.stringify(latest));
    const mtr = latest.mtr;
    assert.equal(mtr.addr, ADDR.server, JSON.stringify(latest));
    assert.ok(mtr.hops?.some((h) => h.addr === fra.ispAddr), JSON.stringify(latest));
  });
});
