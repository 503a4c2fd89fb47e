// dependencies.test.mjs — worker dependencies from the `dependencies:` section of --config
// (docs/alerting.md, "Dependencies"): while a parent check fails (its TCP port closed), a child
// worker that stops heartbeating is recorded DOWN, marked suppressed, and not told; the parent's
// resolve lists it, and its DOWN is told right after; a child back while the parent is still down
// is never told (no DOWN, no resolve); with the parent OK a child's DOWN is told at once; a child
// held when the server is killed is held again after the restart and told once (not again after
// another restart). A bad
// section is refused at start with file:line:column. Inferred: a check run only from one site's
// agents is held back while a network incident has that site cut off, listed in the incident's
// message and API entry, and told once the incident is closed if it still fails.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { serverWith } from './lib/config-server.mjs';
import { runFaultline } from './lib/faultline.mjs';
import { adminGet, adminJson, events, heartbeat, hb, request } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

/** A TCP listener on a port of its own that can be closed and opened again on the same port. */
async function togglePort() {
  let server;
  const open = (port = 0) =>
    new Promise((resolve, reject) => {
      server = net.createServer((s) => s.on('error', () => {}).end()); // a bare connect ends with a reset
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server.address().port));
    });
  const port = await open();
  return {
    port,
    close: () => new Promise((resolve) => server.close(resolve)),
    open: () => open(port),
  };
}

/** Heartbeats of name every 0.3 s until the scenario ends (FAIL_TIMEOUT is 1.5 s). */
function keepAlive(ctx, srv, name) {
  const timer = setInterval(() => heartbeat(srv, hb(name)).catch(() => {}), 300);
  ctx.closers.push(() => clearInterval(timer));
}

const seen = (hook) => hook.accepted.map((r) => `${r.json.name}:${r.json.resolve ? 'resolve' : r.json.severity}`);

function downEvent(srv, name) {
  return events(srv, { limit: 200, type: 'down' }).then((evs) => evs.find((e) => e.worker === name));
}

scenario('dependencies: a child worker DOWN while its parent check fails is suppressed, listed in the parent\'s resolve, told once it is up', async (ctx) => {
  const web = await ctx.hook();
  const uplink = await togglePort();
  ctx.closers.push(() => uplink.close().catch(() => {}));
  // GROUP_WAIT 0.1 s: the check's alerts wait for their group (its target) only briefly
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: hook, type: webhook, url: '${web.url}/hook'}
dependencies:
  - match: {name: "child-*"}
    depends_on: [uplink, not-yet-defined]
`,
    { GROUP_WAIT: '0.1' },
  );
  await waitFor(() => /faultline\.yaml:5:26: dependencies\[0\]\.depends_on\[1\]: no check or worker named "not-yet-defined" yet/.test(srv.stderr), 5000, {
    message: 'the warning about the unknown name',
  });
  fs.writeFileSync(
    path.join(srv.checksDir, 'uplink.yaml'),
    `checks:\n  - name: uplink\n    type: tcp\n    target: 127.0.0.1:${uplink.port}\n    interval: 200ms\n    timeout: 1s\n`,
  );
  await waitFor(async () => (await events(srv, { limit: 50, type: 'check_state' })).some((e) => e.worker === 'uplink' && e.details.to === 'ok'), 5000, {
    message: 'uplink ok',
  });

  await uplink.close();
  await web.waitFor((r) => r.json?.name === 'uplink' && r.json.severity === 'critical', 5000);
  // child-1 and child-3 depend on uplink; free-1 does not (its DOWN is the marker that the
  // children's would have been told by now)
  for (const name of ['child-1', 'child-3', 'free-1']) assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await web.waitFor((r) => r.json?.name === 'free-1' && r.json.severity === 'critical', 8000);
  for (const name of ['child-1', 'child-3']) {
    const ev = await waitFor(() => downEvent(srv, name), 5000, { message: `${name} DOWN recorded` });
    assert.equal(ev.details.suppressed, true);
    assert.equal(ev.details.held_back_by, 'uplink');
  }
  const page = await adminGet(srv, '/admin');
  assert.match(page.text, /<td>child-1<\/td><td>down \(held back\)<\/td>/);
  assert.deepEqual(seen(web), ['uplink:critical', 'free-1:critical']);

  // child-3 is back (and stays) while the parent is still down: it was never told, so nothing goes
  keepAlive(ctx, srv, 'child-3');
  assert.equal((await heartbeat(srv, hb('child-3'))).status, 204);
  await waitFor(async () => (await events(srv, { limit: 50, type: 'up' })).some((e) => e.worker === 'child-3' && e.details.from === 'down'), 5000, {
    message: 'child-3 UP recorded',
  });

  await uplink.open();
  const resolve = await web.waitFor((r) => r.json?.name === 'uplink' && r.json.resolve, 5000);
  assert.match(resolve.json.text, /\nHeld back, depending on it: child-1$/);
  const told = await web.waitFor((r) => r.json?.name === 'child-1', 5000);
  assert.equal(told.json.severity, 'critical');
  assert.match(told.json.text, /child-1 is DOWN/);

  // back: its resolve goes once, to the channel told
  keepAlive(ctx, srv, 'child-1');
  assert.equal((await heartbeat(srv, hb('child-1'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'child-1' && r.json.resolve, 5000);

  // with the parent OK, a child's DOWN is told at once
  assert.equal((await heartbeat(srv, hb('child-2'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'child-2' && r.json.severity === 'critical', 8000);
  const ev2 = await downEvent(srv, 'child-2');
  assert.equal(ev2.details.suppressed, undefined);
  // (the parent's resolve waits GROUP_WAIT for its group, so child-1's DOWN may come first)
  assert.deepEqual(seen(web).slice(0, 2), ['uplink:critical', 'free-1:critical']);
  assert.deepEqual(seen(web).slice(2, 4).sort(), ['child-1:critical', 'uplink:resolve']);
  assert.deepEqual(seen(web).slice(4), ['child-1:resolve', 'child-2:critical']);
});

scenario('dependencies: a child held when the server is killed is held again after the restart, listed in the parent\'s resolve, told once', async (ctx) => {
  const web = await ctx.hook();
  const uplink = await togglePort();
  ctx.closers.push(() => uplink.close().catch(() => {}));
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: hook, type: webhook, url: '${web.url}/hook'}
dependencies:
  - match: {name: "child-*"}
    depends_on: [uplink]
`,
    { GROUP_WAIT: '0.1' },
  );
  fs.writeFileSync(
    path.join(srv.checksDir, 'uplink.yaml'),
    `checks:\n  - name: uplink\n    type: tcp\n    target: 127.0.0.1:${uplink.port}\n    interval: 200ms\n    timeout: 1s\n`,
  );
  await waitFor(async () => (await events(srv, { limit: 50, type: 'check_state' })).some((e) => e.worker === 'uplink' && e.details.to === 'ok'), 5000, {
    message: 'uplink ok',
  });
  await uplink.close();
  await web.waitFor((r) => r.json?.name === 'uplink' && r.json.severity === 'critical', 5000);
  // free-1's DOWN told is the marker that child-1's would have been told by now
  for (const name of ['child-1', 'free-1']) assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await web.waitFor((r) => r.json?.name === 'free-1' && r.json.severity === 'critical', 8000);
  const ev = await waitFor(() => downEvent(srv, 'child-1'), 5000, { message: 'child-1 DOWN recorded' });
  assert.equal(ev.details.suppressed, true);
  assert.equal(ev.details.held_back_by, 'uplink');

  await srv.kill9();
  const again = await ctx.restart(srv);
  await waitFor(() => /child-1 is still DOWN while uplink, which it depends on, is down: held back again after the restart/.test(again.stderr), 5000, {
    message: 'child-1 held again',
  });
  assert.deepEqual(seen(web), ['uplink:critical', 'free-1:critical']);

  await uplink.open();
  const resolve = await web.waitFor((r) => r.json?.name === 'uplink' && r.json.resolve, 5000);
  assert.match(resolve.json.text, /\nHeld back, depending on it: child-1$/);
  const told = await web.waitFor((r) => r.json?.name === 'child-1', 5000);
  assert.equal(told.json.severity, 'critical');
  assert.match(told.json.text, /child-1 is DOWN/);

  // killed again while child-1 is still DOWN, told: not told again after this restart
  await again.kill9();
  const third = await ctx.restart(again);
  keepAlive(ctx, third, 'child-1');
  assert.equal((await heartbeat(third, hb('child-1'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'child-1' && r.json.resolve, 5000);
  // marker: a child's DOWN with the parent OK is told at once; child-1's came once, resolved once
  assert.equal((await heartbeat(third, hb('child-2'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'child-2' && r.json.severity === 'critical', 8000);
  assert.deepEqual(seen(web).slice(2, 4).sort(), ['child-1:critical', 'uplink:resolve']);
  assert.deepEqual(seen(web).slice(4), ['child-1:resolve', 'child-2:critical']);
});

scenario('dependencies: a bad section is refused at start, naming file:line:column', async (ctx) => {
  const dir = ctx.tmpdir('faultline-deps-bad-');
  const file = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(file, `dependencies:\n  - match: {name: "gpu-*"}\n    depends_on: uplink\n`);
  const r = await runFaultline(['server', '--config', file], { env: { API_KEY: 'k', ADMIN_PASS: 'p', DATA_DIR: dir } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /faultline\.yaml:3:17: dependencies\[0\]\.depends_on: expected a list of check or worker names/);
  fs.writeFileSync(file, `dependencies:\n  - match: {site: fra1}\n    depends_on: [uplink]\n`);
  const r2 = await runFaultline(['server', '--config', file], { env: { API_KEY: 'k', ADMIN_PASS: 'p', DATA_DIR: dir } });
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /faultline\.yaml:2:13: dependencies\[0\]\.match\.site: expected one of name, labels/);
});

/** A fake agent NAME at site with TAGS tags: heartbeats and the results results() gives
 * ({check: state}) every 0.3 s while alive() is true. */
function fakeAgent(ctx, srv, name, site, tags, results, alive) {
  const tick = async () => {
    if (!alive()) return;
    await heartbeat(srv, hb(name, { site, tags, checks: true })).catch(() => {});
    const batch = Object.entries(results()).map(([check, state]) => ({ check, state, latency_ms: 1, message: state === 'ok' ? '' : 'connection refused' }));
    await request(`${srv.url}/api/v1/checks/results/${name}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${srv.apiKey}` },
      body: { results: batch },
    }).catch(() => {});
  };
  const timer = setInterval(tick, 300);
  ctx.closers.push(() => clearInterval(timer));
  return tick();
}

scenario('inferred: a check run only from a site cut off by a network incident is held back, listed under the incident, told when it closes', async (ctx) => {
  const web = await ctx.hook();
  // RCA_THRESHOLD 3: the three fra1 agents out make a network incident (two others stay up)
  const srv = await serverWith(ctx, `channels:\n  - {name: hook, type: webhook, url: '${web.url}/hook'}\n`, { RCA_THRESHOLD: '3', GROUP_WAIT: '0.1' });
  // fra-web runs only from fra1's agents; all-web from fra1's and ams-a (role=web)
  fs.writeFileSync(
    path.join(srv.checksDir, 'web.yaml'),
    'checks:\n' +
      '  - {name: fra-web, type: tcp, target: "127.0.0.1:9", interval: 1s, run_on: {tags: {site: fra1}}}\n' +
      '  - {name: all-web, type: tcp, target: "127.0.0.2:9", interval: 1s, run_on: {tags: {role: web}}}\n',
  );
  await waitFor(async () => (await adminGet(srv, '/api/v1/checks/fra-web')).status === 200, 5000, { message: 'fra-web loaded' });
  let fraAlive = true;
  let fraState = 'ok';
  let amsState = 'ok';
  for (const name of ['fra-a', 'fra-b', 'fra-c']) await fakeAgent(ctx, srv, name, 'fra1', 'role=web', () => ({ 'fra-web': fraState, 'all-web': 'ok' }), () => fraAlive);
  await fakeAgent(ctx, srv, 'ams-a', 'ams1', 'role=web', () => ({ 'all-web': amsState }), () => true);
  await fakeAgent(ctx, srv, 'ams-b', 'ams1', 'role=db', () => ({}), () => true);
  for (const name of ['fra-web', 'all-web'])
    await waitFor(async () => (await adminJson(srv, `/api/v1/checks/${name}`)).state === 'ok', 5000, { message: `${name} ok` });

  fraAlive = false; // fra1 is cut off: its agents go DOWN together, their runners with them
  const opened = await web.waitFor((r) => r.json?.kind === 'incident', 8000);
  // a check that also runs from elsewhere is not held back: its failure from ams1 (its only
  // runner left) is told
  amsState = 'critical';
  const allWeb = await web.waitFor((r) => r.json?.name === 'all-web', 5000);
  assert.equal(allWeb.json.severity, 'critical');
  const allEv = (await events(srv, { limit: 100, type: 'check_state' })).find((e) => e.worker === 'all-web' && e.details.to !== 'ok');
  assert.equal(allEv.details.held_back_by, undefined);
  amsState = 'ok';
  const changed = await waitFor(async () => (await events(srv, { limit: 100, type: 'check_state' })).find((e) => e.worker === 'fra-web' && e.details.to === 'unknown'), 5000, {
    message: 'fra-web unknown recorded',
  });
  const rca = await adminJson(srv, '/admin/api/rca?open=1');
  const inc = rca.incidents.find((i) => i.classification === 'network');
  assert.ok(inc, JSON.stringify(rca));
  assert.equal(changed.details.held_back_by, `incident:${inc.id}`);
  assert.deepEqual(inc.suppressed_checks, ['fra-web']);
  assert.match(opened.json.text, /\nHeld back, run only from its sites: fra-web$/);

  // back, and the check still fails from there: told once the incident is closed
  fraState = 'critical';
  fraAlive = true;
  const told = await web.waitFor((r) => r.json?.name === 'fra-web', 8000);
  assert.equal(told.json.severity, 'critical');
  const closed = await adminJson(srv, `/admin/api/rca?limit=10`);
  assert.equal(closed.incidents.find((i) => i.id === inc.id).open, false);
  assert.deepEqual(
    web.accepted.filter((r) => r.json?.name === 'fra-web').map((r) => r.json.severity),
    ['critical'],
  );
});
