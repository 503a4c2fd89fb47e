// check-alerts.test.mjs — check state changes through the alert router (docs/alerting.md,
// docs/checks.md): a check inside a recurring maintenance window is recorded as silenced and not
// sent; a problem told before a silence still gets its resolve, once, on every channel told; a
// flapping check is told once when it starts flapping and once when it is stable again; a check
// whose parent (depends_on) fails, or run while the server is cut off, is held back; grouping
// (GROUP_WAIT), held in the outbox so that a kill -9 inside the wait loses nothing, and
// reminders (REPEAT_INTERVAL).
// Checks are exec scripts whose exit code a test file decides; channels are local webhooks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { serverWith, execCheck } from './lib/config-server.mjs';
import { execFileSync } from 'node:child_process';
import { adminJson, events, heartbeat, hb, request, basicAuth } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

function checkEvents(srv, name) {
  return events(srv, { limit: 200, type: 'check_state' }).then((evs) => evs.filter((e) => e.worker === name).reverse());
}

const seen = (hook) => hook.accepted.map((r) => `${r.json.name}:${r.json.resolve ? 'resolve' : r.json.severity}`);

scenario('a recurring maintenance window silences a check alert: recorded as silenced, not sent', async (ctx) => {
  const web = await ctx.hook();
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: hook, type: webhook, url: '${web.url}/hook'}
silences:
  - {name: 'maint-*', kind: check, cron: '* * * * *', duration: 1h, comment: always on}
`,
    { PUBLIC_URL: 'https://mon.example.org' },
  );
  execCheck(srv, 'maint-db', { code: 2, extra: '    tags: {team: db}\n' });
  const ev = await waitFor(async () => (await checkEvents(srv, 'maint-db')).find((e) => e.details.to === 'critical'), 5000, {
    message: 'maint-db critical recorded',
  });
  assert.equal(ev.details.silenced, true);
  // a marker check outside the window: once it is told, maint-db's alert would have been too
  execCheck(srv, 'marker', { code: 2 });
  const marker = await web.waitFor((r) => r.json?.name === 'marker', 5000);
  assert.equal(marker.json.link, 'https://mon.example.org/api/v1/checks/marker');
  assert.deepEqual(seen(web), ['marker:critical']);
  const v1 = await request(srv.url + '/api/v1/events?type=check_state&limit=100', {
    headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) },
  });
  assert.equal(v1.status, 200, v1.text);
  const silenced = v1.json.events.find((e) => e.worker === 'maint-db' || e.check === 'maint-db' || e.details?.check === 'maint-db');
  assert.ok(silenced, JSON.stringify(v1.json.events.slice(0, 3)));
  assert.equal(silenced.details.silenced, true);
  const page = await request(srv.url + '/admin', { headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
  assert.equal(page.status, 200);
  assert.match(page.text, /<tr class="check_state"><td>[^<]+<\/td><td>maint-db<\/td><td>check_state \(silenced\)<\/td><\/tr>/);
});

scenario('a check told, then silenced: its resolve still goes exactly once to every channel told', async (ctx) => {
  const ops = await ctx.hook();
  const pager = await ctx.hook();
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: ops, type: webhook, url: '${ops.url}/ops'}
  - {name: pager, type: webhook, url: '${pager.url}/pager'}
routes:
  - match: {kind: check}
    channels: [ops]
`,
  );
  const set = execCheck(srv, 'api', { code: 2, extra: '    alerters: {warning: [pager], critical: [pager]}\n' });
  await ops.waitFor((r) => r.json?.name === 'api', 5000);
  await pager.waitFor((r) => r.json?.name === 'api', 5000);
  const made = await request(srv.url + '/api/v1/silences', {
    method: 'POST',
    body: { name: 'api', duration: '1h', comment: 'work on api' },
    headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) },
  });
  assert.equal(made.status, 201, made.text);
  set(0);
  await ops.waitFor((r) => r.json?.name === 'api' && r.json.resolve, 5000);
  await pager.waitFor((r) => r.json?.name === 'api' && r.json.resolve, 5000);
  // a marker after the resolve, to both: anything more about api would have come before it
  execCheck(srv, 'marker', { code: 2, extra: '    alerters: {critical: [pager]}\n' });
  await ops.waitFor((r) => r.json?.name === 'marker', 5000);
  await pager.waitFor((r) => r.json?.name === 'marker', 5000);
  assert.deepEqual(seen(ops), ['api:critical', 'api:resolve', 'marker:critical']);
  assert.deepEqual(seen(pager), ['api:critical', 'api:resolve', 'marker:critical'], 'pager is named by both lists, told once');
});

scenario('a flapping check: its changes are told until it flaps, then one notice, quiet, and one when stable', async (ctx) => {
  const web = await ctx.hook();
  const srv = await serverWith(ctx, `channels:\n  - {name: hook, type: webhook, url: '${web.url}/hook'}\n`);
  // ok first (not news), then critical and ok by turns, until the mode file says steady
  const count = path.join(srv.stateDir, 'flappy.count');
  const mode = path.join(srv.stateDir, 'flappy.mode');
  fs.writeFileSync(count, '0');
  fs.writeFileSync(mode, 'alternate');
  const script = path.join(srv.stateDir, 'flappy.sh');
  fs.writeFileSync(
    script,
    `#!/bin/sh\nn=$(cat ${count}); echo $((n + 1)) > ${count}\n` +
      `if [ "$(cat ${mode})" = steady ] || [ $((n % 2)) = 0 ]; then echo fine; exit 0; fi\necho broken; exit 2\n`,
  );
  fs.chmodSync(script, 0o755);
  fs.writeFileSync(path.join(srv.checksDir, 'flappy.yaml'), `checks:\n  - name: flappy\n    type: exec\n    command: [${script}]\n    interval: 100ms\n`);
  const notice = await web.waitFor((r) => r.json?.subject === 'flappy is flapping', 10000);
  assert.match(notice.json.text, /^FLAPPING: flappy changed state in 5\d% of its last 20 results \(now critical: exit code 2: broken\); quiet until it is stable$/);
  // a few more changes go by untold, then it settles
  const flapped = await waitFor(async () => (await checkEvents(srv, 'flappy')).filter((e) => e.details.flapping).length >= 3, 5000, {
    message: 'changes recorded while flapping',
  });
  assert.ok(flapped);
  fs.writeFileSync(mode, 'steady');
  const stable = await web.waitFor((r) => r.json?.name === 'flappy' && r.json.resolve && web.accepted.indexOf(r) > web.accepted.indexOf(notice), 10000);
  assert.equal(stable.json.text, 'STABLE: flappy is no longer flapping; it is ok');
  const told = seen(web);
  assert.deepEqual(told, [
    ...Array(4).fill(['flappy:critical', 'flappy:resolve']).flat(),
    'flappy:warning',
    'flappy:resolve',
  ]);
  assert.equal(web.accepted.filter((r) => r.json.subject === 'flappy is flapping').length, 1);
});

scenario('depends_on: while the parent is down the child is held back, listed in the parent\'s messages, told once the parent is up', async (ctx) => {
  const web = await ctx.hook();
  const srv = await serverWith(ctx, `channels:\n  - {name: hook, type: webhook, url: '${web.url}/hook'}\n`);
  const gw = execCheck(srv, 'gw', { code: 0 });
  const app = execCheck(srv, 'app', { code: 0, extra: '    depends_on: [gw]\n' });
  await waitFor(async () => (await checkEvents(srv, 'app')).length > 0 && (await checkEvents(srv, 'gw')).length > 0, 5000, {
    message: 'both checks ok',
  });
  gw(2);
  await web.waitFor((r) => r.json?.name === 'gw', 5000);
  app(2);
  const held = await waitFor(async () => (await checkEvents(srv, 'app')).find((e) => e.details.to === 'critical'), 5000, {
    message: 'app critical recorded',
  });
  assert.equal(held.details.held_back_by, 'gw');
  gw(1);
  const warning = await web.waitFor((r) => r.json?.name === 'gw' && r.json.severity === 'warning', 5000);
  assert.match(warning.json.text, /^WARNING: gw \(exec\): exit code 1: gw says 1\nHeld back, depending on it: app$/);
  gw(0);
  const resolve = await web.waitFor((r) => r.json?.name === 'gw' && r.json.resolve, 5000);
  assert.match(resolve.json.text, /\nHeld back, depending on it: app$/);
  const told = await web.waitFor((r) => r.json?.name === 'app', 5000);
  assert.equal(told.json.severity, 'critical');
  app(0);
  await web.waitFor((r) => r.json?.name === 'app' && r.json.resolve, 5000);
  assert.deepEqual(seen(web), ['gw:critical', 'gw:warning', 'gw:resolve', 'app:critical', 'app:resolve']);
});

// The server's canary on an interface of our own, as in rca.test.mjs: removing its address cuts
// the server off (no route in the suite's namespace).
const CANARY_IF = 'fl-ckcanary0';
const CANARY_ADDR = '192.0.2.1';
const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

scenario('the server cut off: its checks\' failures are held back as its own fault, told once it is connected again', async (ctx, t) => {
  try {
    try {
      ip('link', 'add', CANARY_IF, 'type', 'dummy');
    } catch {
      ip('link', 'add', CANARY_IF, 'type', 'bridge');
    }
    ip('addr', 'add', `${CANARY_ADDR}/32`, 'dev', CANARY_IF);
    ip('link', 'set', CANARY_IF, 'up');
  } catch (err) {
    t.skip(`cannot create ${CANARY_IF} here (needs root in the suite's network namespace): ${err.message}`);
    return;
  }
  t.after(() => {
    try {
      ip('link', 'del', CANARY_IF);
    } catch {}
  });
  const web = await ctx.hook();
  const srv = await serverWith(ctx, `channels:\n  - {name: hook, type: webhook, url: '${web.url}/hook'}\n`, {
    RCA_CANARIES: CANARY_ADDR,
    RCA_CANARY_INTERVAL: '0.5',
  });
  const ext = execCheck(srv, 'ext', { code: 0 });
  await waitFor(async () => (await adminJson(srv, '/admin/api/analysis')).server_canaries?.guarding === true, 5000, {
    message: 'server_canaries.guarding true',
  });
  ip('addr', 'del', `${CANARY_ADDR}/32`, 'dev', CANARY_IF);
  await waitFor(async () => (await adminJson(srv, '/admin/api/analysis')).server_canaries?.cut_off === true, 5000, {
    message: 'server_canaries.cut_off true',
  });
  ext(2);
  const held = await waitFor(async () => (await checkEvents(srv, 'ext')).find((e) => e.details.to === 'critical'), 5000, {
    message: 'ext critical recorded',
  });
  assert.equal(held.details.held_back_by, 'server');
  // a marker that is no check of the server's: once it is told, ext would have been too
  assert.equal((await heartbeat(srv, hb('marker', { gpus: 4 }))).status, 204);
  assert.equal((await heartbeat(srv, hb('marker', { gpus: 3 }))).status, 204);
  await web.waitFor((r) => r.json?.name === 'marker', 5000);
  assert.deepEqual(seen(web), ['marker:warning']);
  ip('addr', 'add', `${CANARY_ADDR}/32`, 'dev', CANARY_IF);
  const told = await web.waitFor((r) => r.json?.name === 'ext', 8000);
  assert.equal(told.json.severity, 'critical');
  assert.match(told.json.text, /^CRITICAL: ext \(exec\): exit code 2: ext says 2$/);
});

scenario('grouping: three checks of one target failing together are one message, and their resolves one more', async (ctx) => {
  const web = await ctx.hook();
  const srv = await serverWith(ctx, `channels:\n  - {name: hook, type: webhook, url: '${web.url}/hook'}\n`, { GROUP_WAIT: '1' });
  const names = ['db-ping', 'db-port', 'db-query'];
  const set = names.map((n) => execCheck(srv, n, { code: 0, extra: '    target: db-host\n' }));
  await waitFor(async () => (await Promise.all(names.map((n) => checkEvents(srv, n)))).every((e) => e.length > 0), 5000, {
    message: 'the three checks ok',
  });
  set.forEach((s) => s(2));
  const one = await web.waitFor((r) => r.json?.subject?.startsWith('3 alerts of db-host'), 5000);
  // in the order they changed
  assert.deepEqual(one.json.subject.replace('3 alerts of db-host: ', '').split(', ').sort(), names);
  assert.deepEqual(one.json.text.split('\n').sort(), names.map((n) => `CRITICAL: ${n} (exec db-host): exit code 2: ${n} says 2`));
  set.forEach((s) => s(0));
  const back = await web.waitFor((r) => r.json?.resolve && r.json.subject?.startsWith('3 alerts of db-host'), 5000);
  assert.equal(back.json.text.split('\n').filter((l) => /^OK: db-(ping|port|query) \(exec db-host\) again after/.test(l)).length, 3);
  assert.equal(web.accepted.length, 2, JSON.stringify(web.accepted.map((r) => r.json.subject)));
});

scenario('grouping survives a kill -9 inside GROUP_WAIT: one merged message after the restart, then one grouped resolve on every channel told', async (ctx) => {
  const tg = await ctx.telegram();
  const web = await ctx.hook();
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: chat, type: telegram, token: '${tg.token}', chat_id: '111', url: '${tg.url}'}
  - {name: hook, type: webhook, url: '${web.url}/hook'}
`,
    { GROUP_WAIT: '3' },
  );
  const names = ['db-ping', 'db-port', 'db-query'];
  const set = names.map((n) => execCheck(srv, n, { code: 0, extra: '    target: db-host\n' }));
  const all = (pred) => async () => (await Promise.all(names.map((n) => checkEvents(srv, n)))).every((e) => e.some(pred));
  await waitFor(all(() => true), 5000, { message: 'the three checks ok' });
  set.forEach((s) => s(2));
  // the events are written with their messages, in one transaction each
  await waitFor(all((e) => e.details.to === 'critical'), 5000, { message: 'the three checks critical' });
  await srv.kill9();
  assert.equal(tg.messages.length + web.accepted.length, 0, 'nothing sent inside the wait');
  set.forEach((s) => s(1)); // after the restart they are warning: told anew, and told apart
  const critical = names.map((n) => `CRITICAL: ${n} (exec db-host): exit code 2: ${n} says 2`);
  await ctx.restart(srv);
  const one = await web.waitFor((r) => r.json?.subject?.startsWith('3 alerts of db-host'), 10000);
  assert.deepEqual(one.json.subject.replace('3 alerts of db-host: ', '').split(', ').sort(), names);
  assert.deepEqual(one.json.text.split('\n').sort(), critical);
  assert.equal(one.json.group, 'db-host');
  const chat = await tg.waitForMessage((m) => m.text.includes('CRITICAL'), 10000);
  assert.deepEqual(chat.text.split('\n').sort(), critical);
  // the warnings of the restarted checks come as one more grouped message on each channel
  await web.waitFor((r) => r.json?.subject?.startsWith('3 alerts of db-host') && r.json.severity === 'warning', 10000);
  await tg.waitForMessage((m) => m.text.includes('WARNING'), 10000);
  set.forEach((s) => s(0));
  const ok = /^OK: db-(ping|port|query) \(exec db-host\) again after/;
  const back = await web.waitFor((r) => r.json?.resolve && r.json.subject?.startsWith('3 alerts of db-host'), 10000);
  assert.equal(back.json.text.split('\n').filter((l) => ok.test(l)).length, 3);
  const chatBack = await tg.waitForMessage((m) => m.text.startsWith('OK:'), 10000);
  assert.equal(chatBack.text.split('\n').filter((l) => ok.test(l)).length, 3);
  assert.deepEqual(web.accepted.map((r) => `${r.json.severity}${r.json.resolve ? ':resolve' : ''}`), ['critical', 'warning', 'info:resolve']);
  assert.equal(tg.messages.length, 3, JSON.stringify(tg.messages.map((m) => m.text)));
});

scenario('reminders: REPEAT_INTERVAL tells an open problem again, and stops at its resolve', async (ctx) => {
  const web = await ctx.hook();
  const srv = await serverWith(ctx, `channels:\n  - {name: hook, type: webhook, url: '${web.url}/hook'}\n`, { REPEAT_INTERVAL: '1' });
  const set = execCheck(srv, 'slow', { code: 2 });
  const first = await web.waitFor((r) => r.json?.name === 'slow', 5000);
  const again = await web.waitFor((r) => r.json?.name === 'slow' && r.json.text.startsWith('REMINDER'), 5000);
  assert.ok(again.time - first.time >= 900, `a reminder after ${again.time - first.time} ms`);
  assert.match(again.json.text, /^REMINDER \(since \d{4}-\d\d-\d\dT[\d:.]+Z\): CRITICAL: slow \(exec\): exit code 2: slow says 2$/);
  assert.equal(again.json.severity, 'critical');
  set(0);
  const resolve = await web.waitFor((r) => r.json?.name === 'slow' && r.json.resolve, 5000);
  // a marker check failing too: one of its own reminders 1.5 s after slow's resolve shows that a
  // reminder of slow would have come by then
  execCheck(srv, 'marker', { code: 2 });
  await web.waitFor((r) => r.json?.name === 'marker' && r.time - resolve.time >= 1500, 8000);
  assert.equal(web.accepted.filter((r) => r.json.name === 'slow' && web.accepted.indexOf(r) > web.accepted.indexOf(resolve)).length, 0);
});
