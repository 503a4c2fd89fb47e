// route-timing.test.mjs — a route's own group_wait and repeat_interval (docs/alerting.md#routes):
// a route with group_wait 1s sends its channel a check group after 1 s while the route without
// waits GROUP_WAIT; a route with repeat_interval 2s reminds its channel of a DOWN worker until
// its UP (the other route's channel, without reminders, gets none), and a kill -9 does not
// bring a burst of reminders. Channels are local webhooks, checks exec scripts.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';
import { serverWith, execCheck } from './lib/config-server.mjs';
import { events, heartbeat, hb } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const checkEvents = (srv, name) =>
  events(srv, { limit: 200, type: 'check_state' }).then((evs) => evs.filter((e) => e.worker === name));

const waitEvent = (srv, worker, kind) =>
  waitFor(async () => (await events(srv, { limit: 100 })).find((e) => e.worker === worker && e.kind === kind), 8000, {
    message: `a "${kind}" event for ${worker}`,
  });

scenario('group_wait per route: the 1s route groups within 1 s while the other route waits GROUP_WAIT (4 s)', async (ctx) => {
  const web = await ctx.hook();
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: fast, type: webhook, url: '${web.url}/fast'}
  - {name: slow, type: webhook, url: '${web.url}/slow'}
routes:
  - match: {kind: check}
    channels: [fast]
    group_wait: 1s
  - match: {kind: check}
    channels: [slow]
`,
    { GROUP_WAIT: '4' },
  );
  const names = ['db-ping', 'db-port'];
  const set = names.map((n) => execCheck(srv, n, { extra: '    target: db-host\n' }));
  await waitFor(async () => (await Promise.all(names.map((n) => checkEvents(srv, n)))).every((e) => e.length > 0), 5000, {
    message: 'the two checks ok',
  });
  set.forEach((s) => s(2));
  const critical = await waitFor(
    async () => {
      const evs = await Promise.all(names.map((n) => checkEvents(srv, n)));
      const times = evs.map((e) => e.find((x) => x.details.to === 'critical')?.time);
      return times.every(Boolean) && Math.min(...times.map((t) => Date.parse(t)));
    },
    5000,
    { message: 'the two checks critical' },
  );
  const fast = await web.waitFor((r) => r.path === '/fast' && r.json?.subject?.startsWith('2 alerts of db-host'), 5000);
  assert.deepEqual(fast.json.subject.replace('2 alerts of db-host: ', '').split(', ').sort(), names);
  assert.equal(fast.json.group, 'db-host');
  assert.ok(fast.time - critical >= 900 && fast.time - critical < 3000, `fast after ${fast.time - critical} ms`);
  assert.equal(web.accepted.filter((r) => r.path === '/slow').length, 0, 'slow still waits when fast is told');
  const slow = await web.waitFor((r) => r.path === '/slow' && r.json?.subject?.startsWith('2 alerts of db-host'), 8000);
  assert.ok(slow.time - critical >= 3900, `slow after ${slow.time - critical} ms`);
  assert.deepEqual(slow.json.subject.replace('2 alerts of db-host: ', '').split(', ').sort(), names);
});

scenario('repeat_interval per route: a DOWN worker is reminded of every 2 s on its route, until its UP; a kill -9 brings no burst', async (ctx) => {
  const web = await ctx.hook();
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: pager, type: webhook, url: '${web.url}/pager'}
  - {name: log, type: webhook, url: '${web.url}/log'}
routes:
  - match: {kind: [worker, check]}
    channels: [pager]
    repeat_interval: 2s
  - match: {kind: worker}
    channels: [log]
`,
  );
  const onPager = (name, reminder) => (r) =>
    r.path === '/pager' && r.json?.name === name && !r.json.resolve && Boolean(r.json.reminder) === reminder;
  assert.equal((await heartbeat(srv, hb('rem-box'))).status, 204);
  await waitEvent(srv, 'rem-box', 'down');
  const down = await web.waitFor(onPager('rem-box', false), 5000);
  assert.equal(down.json.subject, 'rem-box is DOWN');
  await web.waitFor((r) => r.path === '/log' && r.json?.subject === 'rem-box is DOWN', 5000);
  const first = await web.waitFor(onPager('rem-box', true), 5000);
  assert.match(first.json.text, /^REMINDER \(since \d{4}-\d\d-\d\dT[\d:.]+Z\): 🔴 rem-box is DOWN/);
  assert.equal(first.json.dedup_key, 'worker:rem-box');
  assert.ok(first.time - down.time >= 1900, `the first reminder ${first.time - down.time} ms after the DOWN`);
  const second = await web.waitFor((r) => onPager('rem-box', true)(r) && r !== first, 5000);
  assert.ok(second.time - first.time >= 1900, `reminders ${second.time - first.time} ms apart`);

  // a kill -9 and a restart: the next reminder comes 2 s after the last one sent, not at once
  await srv.kill9();
  const killed = Date.now();
  await ctx.restart(srv);
  // (by the time each reminder was made: one in flight at the kill is sent again, as it was made)
  const reminders = () => web.accepted.filter(onPager('rem-box', true));
  const made = (r) => Date.parse(r.json.time);
  const last = reminders().filter((r) => made(r) <= killed).at(-1);
  const next = await web.waitFor((r) => onPager('rem-box', true)(r) && made(r) > killed, 8000);
  assert.ok(made(next) - made(last) >= 1900, `after the restart, a reminder ${made(next) - made(last)} ms after the last`);
  assert.equal(reminders().filter((r) => made(r) > killed).length, 1, 'one reminder, no burst');

  // the UP resolves on both channels; a failing check reminded of 2.5 s after it shows that a
  // reminder of rem-box would have come by then
  assert.equal((await heartbeat(srv, hb('rem-box'))).status, 204);
  const up = await web.waitFor((r) => r.path === '/pager' && r.json?.name === 'rem-box' && r.json.resolve, 5000);
  await web.waitFor((r) => r.path === '/log' && r.json?.name === 'rem-box' && r.json.resolve, 5000);
  execCheck(srv, 'marker', { code: 2 });
  await web.waitFor((r) => onPager('marker', true)(r) && r.time - up.time >= 2500, 10000);
  assert.equal(reminders().filter((r) => r.time > up.time).length, 0);
  assert.equal(web.accepted.filter((r) => r.path === '/log' && r.json?.reminder).length, 0, 'no reminders without repeat_interval');
});
