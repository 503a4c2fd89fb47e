// site.test.mjs — a worker without a site has "site": null everywhere the API shows it: in
// /admin/api/status, /admin/api/worker/NAME and an incident's workers[] (docs/api.md).
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { heartbeat, hb, adminJson } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

scenario('site: null without one, the same in the status, the worker and the incident', async (ctx) => {
  const srv = await ctx.server();
  for (const name of ['st-alive-1', 'st-alive-2', 'st-alive-3']) ctx.pulse(srv, hb(name));
  assert.equal((await heartbeat(srv, hb('st-none'))).status, 204);
  assert.equal((await heartbeat(srv, hb('st-empty', { site: '' }))).status, 204);
  assert.equal((await heartbeat(srv, hb('st-fra', { site: 'fra1' }))).status, 204);

  const sites = (workers) => Object.fromEntries(workers.filter((w) => w.name.startsWith('st-') && !w.name.startsWith('st-alive')).map((w) => [w.name, w.site]));
  assert.deepEqual(sites((await adminJson(srv, '/admin/api/status')).workers), { 'st-empty': null, 'st-fra': 'fra1', 'st-none': null });
  assert.equal((await adminJson(srv, '/admin/api/worker/st-none')).worker.site, null);

  // The three stop: their incident lists them with the same sites.
  let inc;
  await waitFor(async () => {
    const { incidents } = await adminJson(srv, '/admin/api/rca');
    inc = incidents.find((i) => ['st-none', 'st-empty', 'st-fra'].every((n) => i.workers.some((w) => w.name === n)));
    return inc;
  }, 15000, { message: 'an incident with st-none, st-empty and st-fra' });
  assert.deepEqual(sites(inc.workers), { 'st-empty': null, 'st-fra': 'fra1', 'st-none': null });
});
