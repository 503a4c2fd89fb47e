// silences.test.mjs — the silences API (docs/api.md, docs/silences.md): create, read, list and
// expire through /api/v1/silences with the exact answers; silences survive a kill -9; those of
// the --config file's `silences:` section are listed and cannot be deleted (409 naming the
// file); a recurring window is active exactly when its cron window covers now; a silence from
// the API keeps a matching alert from the channels while its event is recorded as silenced (a
// GPU loss, a worker's DOWN and the UP after it); a problem told before its silence is still
// resolved, once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { request, basicAuth, events, heartbeat, hb } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function admin(srv, method, p, body) {
  return request(srv.url + p, { method, body, headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
}

scenario('POST, GET, list and DELETE /api/v1/silences', async (ctx) => {
  const srv = await ctx.server();
  const before = Date.now();
  const made = await admin(srv, 'POST', '/api/v1/silences', {
    name: 'gpu-*', kind: 'worker', labels: ['region=eu', 'rack=~a[0-9]+'], duration: '2h', comment: 'driver upgrade', author: 'alice',
  });
  assert.equal(made.status, 201, made.text);
  const s = made.json;
  assert.match(s.id, /^\d+$/);
  assert.equal(s.name, 'gpu-*');
  assert.equal(s.kind, 'worker');
  assert.deepEqual(s.labels, ['region=eu', 'rack=~a[0-9]+']);
  assert.equal(s.comment, 'driver upgrade');
  assert.equal(s.author, 'alice');
  assert.equal(s.source, 'api');
  assert.equal(s.active, true);
  assert.equal(s.expired_ms, null);
  assert.equal(s.next_start, null);
  assert.match(s.starts_at, ISO_UTC);
  const start = Date.parse(s.starts_at);
  assert.ok(start >= before - 1000 && start <= Date.now() + 1000, s.starts_at);
  assert.equal(Date.parse(s.ends_at) - start, 2 * 3600 * 1000);

  const one = await admin(srv, 'GET', `/api/v1/silences/${s.id}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.json, s);

  const list = await admin(srv, 'GET', '/api/v1/silences');
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.silences.map((x) => x.id), [s.id]);

  // Errors name the field.
  const bad = [
    [{ name: 'a' }, 'ends_at', 'ends_at: required (or duration, or cron with duration)'],
    [{ duration: '1h' }, 'name', 'name: at least one matcher is required (name, kind, severity or labels)'],
    [{ name: 'a', duration: 'soon' }, 'duration', 'duration: expected a positive duration of at most 366d such as 2h, 1h30m, 90m or 45s, got "soon"'],
    [{ labels: ['region'], duration: '1h' }, 'labels', 'labels: expected key=value, key!=value or key=~regex, got "region"'],
    [{ name: 'a', cron: '0 2 * *', duration: '1h' }, 'cron', 'cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4'],
    [{ name: 'a', cron: '0 2 * * *', duration: '1h', tz: 'Mars/Base' }, 'tz', 'tz: unknown time zone "Mars/Base" (expected an IANA name such as Europe/Berlin)'],
  ];
  for (const [body, field, error] of bad) {
    const r = await admin(srv, 'POST', '/api/v1/silences', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.deepEqual(r.json, { error, field });
  }
  const notJson = await admin(srv, 'POST', '/api/v1/silences', '{"name":');
  assert.equal(notJson.status, 400);
  assert.equal(notJson.json.field, 'body');
  assert.match(notJson.json.error, /^body: not valid JSON/);

  const missing = await admin(srv, 'GET', '/api/v1/silences/999');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { error: 'unknown silence', field: 'id' });
  assert.equal((await request(srv.url + '/api/v1/silences')).status, 401);
  assert.equal((await request(srv.url + '/api/v1/silences', { method: 'POST', body: { name: 'a', duration: '1h' } })).status, 401);

  const gone = await admin(srv, 'DELETE', `/api/v1/silences/${s.id}`);
  assert.equal(gone.status, 200, gone.text);
  assert.equal(gone.json.active, false);
  assert.ok(gone.json.expired_ms >= start && gone.json.expired_ms <= Date.now(), String(gone.json.expired_ms));
  assert.equal(gone.json.created_at, s.created_at);
  assert.deepEqual((await admin(srv, 'GET', '/api/v1/silences')).json, { silences: [] });
  const all = await admin(srv, 'GET', '/api/v1/silences?expired=1');
  assert.deepEqual(all.json.silences.map((x) => [x.id, x.expired_ms]), [[s.id, gone.json.expired_ms]]);
  // Expiring again changes nothing.
  const again = await admin(srv, 'DELETE', `/api/v1/silences/${s.id}`);
  assert.equal(again.status, 200);
  assert.equal(again.json.expired_ms, gone.json.expired_ms);
  assert.equal((await admin(srv, 'DELETE', '/api/v1/silences/999')).status, 404);
  const badQuery = await admin(srv, 'GET', '/api/v1/silences?expired=2');
  assert.equal(badQuery.status, 400);
  assert.equal(badQuery.json.field, 'expired');
});

scenario('silences survive kill -9 and a restart, expired ones with their expiry', async (ctx) => {
  const srv = await ctx.server();
  const kept = (await admin(srv, 'POST', '/api/v1/silences', { kind: 'check', severity: 'warning', duration: '3h', author: 'bob' })).json;
  const window = (await admin(srv, 'POST', '/api/v1/silences', { name: 'db-*', cron: '0 2 * * 6', duration: '3h', tz: 'Europe/Berlin' })).json;
  const expired = (await admin(srv, 'POST', '/api/v1/silences', { name: 'x', duration: '1h' })).json;
  const gone = (await admin(srv, 'DELETE', `/api/v1/silences/${expired.id}`)).json;
  await srv.kill9();
  const srv2 = await ctx.restart(srv);
  const list = (await admin(srv2, 'GET', '/api/v1/silences')).json.silences;
  const strip = ({ active, next_start, ...rest }) => rest;
  assert.deepEqual(list.map(strip), [kept, window].map(strip));
  const all = (await admin(srv2, 'GET', '/api/v1/silences?expired=1')).json.silences;
  assert.deepEqual(all.map((x) => x.id), [kept.id, window.id, expired.id]);
  assert.equal(all[2].expired_ms, gone.expired_ms);
  assert.equal(all[2].created_at, expired.created_at);
  // New ids continue after the stored ones.
  const next = (await admin(srv2, 'POST', '/api/v1/silences', { name: 'y', duration: '1h' })).json;
  assert.ok(Number(next.id) > Number(expired.id), `${next.id} after ${expired.id}`);
});

/** "M H * * *" for a time hoursAhead from now in UTC (minute precision). */
function dailyAt(date) {
  return `${date.getUTCMinutes()} ${date.getUTCHours()} * * *`;
}

scenario('the --config file silences: listed with their file, 409 on DELETE; recurring windows active now or not', async (ctx) => {
  const dir = ctx.tmpdir('faultline-sil-');
  const file = path.join(dir, 'faultline.yaml');
  const now = new Date();
  // A window that began 5 minutes ago and lasts an hour, and one that starts in 6 hours.
  const began = new Date(now.getTime() - 5 * 60000);
  const later = new Date(now.getTime() + 6 * 3600000);
  fs.writeFileSync(
    file,
    [
      'silences:',
      '  - name: "backup-*"',
      `    cron: "${dailyAt(began)}"`,
      '    duration: 1h',
      '    tz: UTC',
      '    comment: nightly backup',
      '  - kind: worker',
      `    cron: "${dailyAt(later)}"`,
      '    duration: 30m',
      '',
    ].join('\n'),
  );
  const srv = await ctx.server({ args: ['--config', file] });
  const list = (await admin(srv, 'GET', '/api/v1/silences')).json.silences;
  assert.deepEqual(list.map((s) => [s.id, s.source, s.active]), [['config-1', file, true], ['config-2', file, false]]);
  const startOf = (d) => Math.floor(d.getTime() / 60000) * 60000;
  assert.equal(Date.parse(list[0].next_start), startOf(began) + 86400000);
  assert.equal(Date.parse(list[1].next_start), startOf(later));
  assert.equal(list[0].comment, 'nightly backup');
  assert.equal(list[1].tz, 'UTC');
  const del = await admin(srv, 'DELETE', '/api/v1/silences/config-1');
  assert.equal(del.status, 409);
  assert.deepEqual(del.json, { error: `silence config-1 is defined in ${file}: remove it there (and restart the server)`, field: 'id' });
  assert.equal((await admin(srv, 'GET', '/api/v1/silences/config-2')).json.active, false);

  // A recurring window in Europe/Berlin that covers now, from the API.
  const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' })
    .formatToParts(began)
    .reduce((o, p) => ({ ...o, [p.type]: Number(p.value) }), {});
  const w = await admin(srv, 'POST', '/api/v1/silences', { name: 'db-*', cron: `${berlin.minute} ${berlin.hour} * * *`, duration: '1h', tz: 'Europe/Berlin' });
  assert.equal(w.status, 201, w.text);
  assert.equal(w.json.active, true);
});

scenario('a bad silences: section stops the server with file, line and column', async (ctx) => {
  const dir = ctx.tmpdir('faultline-sil-');
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'silences:\n  - name: a\n    cron: "0 25 * * *"\n    duration: 1h\n');
  const r = await ctx.run(['server', '--config', file], { env: { API_KEY: 'k', DATA_DIR: dir, SERVER_PORT: '0' } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:11: silences\\[0\\]\\.cron: field 2 \\(hour\\): expected 0-23, got "25"`));
});

scenario('faultline silence add|list|expire against a server, with its exit codes', async (ctx) => {
  const dir = ctx.tmpdir('faultline-sil-');
  const file = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(file, 'silences:\n  - kind: check\n    duration: 1h\n');
  const srv = await ctx.server({ args: ['--config', file] });
  const withCreds = srv.url.replace('http://', `http://${srv.adminUser}:${srv.adminPass}@`);
  const env = { FAULTLINE_ADMIN_PASSWORD: srv.adminPass };

  const add = await ctx.run(['silence', 'add', '--server', withCreds, '--name', 'gpu-*', '--label', 'region=eu', '--label', 'rack=~a[0-9]+',
    '--duration', '2h', '--comment', 'driver upgrade', '--author', 'alice']);
  assert.equal(add.code, 0, add.stderr);
  const id = /^silence (\d+) added: active now\n$/.exec(add.stdout)?.[1];
  assert.ok(id, add.stdout);
  const stored = (await admin(srv, 'GET', `/api/v1/silences/${id}`)).json;
  assert.deepEqual([stored.name, stored.labels, stored.comment, stored.author], ['gpu-*', ['region=eu', 'rack=~a[0-9]+'], 'driver upgrade', 'alice']);

  // Credentials from the environment; a window in Berlin; --json prints the server's answer.
  const win = await ctx.run(['silence', 'add', '--server', srv.url, '--kind', 'worker', '--cron', '0 2 * * 6', '--duration', '3h', '--tz', 'Europe/Berlin', '--json'], { env });
  assert.equal(win.code, 0, win.stderr);
  const w = JSON.parse(win.stdout);
  assert.equal(w.cron, '0 2 * * 6');
  assert.equal(w.tz, 'Europe/Berlin');
  assert.equal(w.duration, '3h');

  const list = await ctx.run(['silence', 'list', '--server', srv.url], { env });
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trim().split('\n');
  assert.match(lines[0], /^ID\s+STATE\s+MATCHERS\s+WHEN$/);
  assert.match(lines[1], /^config-1\s+active\s+kind=check\s+\S+ to \S+$/);
  assert.match(lines[2], new RegExp(`^${id}\\s+active\\s+name=gpu-\\* region=eu rack=~a\\[0-9\\]\\+\\s+\\S+ to \\S+  # driver upgrade$`));
  assert.match(lines[3], new RegExp(`^${w.id}\\s+(active|pending)\\s+kind=worker\\s+0 2 \\* \\* 6 for 3h \\(Europe/Berlin\\)$`));
  const listJson = await ctx.run(['silence', 'list', '--server', srv.url, '--json'], { env });
  assert.deepEqual(JSON.parse(listJson.stdout).silences.map((s) => s.id), ['config-1', id, w.id]);

  const exp = await ctx.run(['silence', 'expire', id, '--server', srv.url], { env });
  assert.equal(exp.code, 0, exp.stderr);
  assert.equal(exp.stdout, `silence ${id} expired\n`);
  const after = await ctx.run(['silence', 'list', '--server', srv.url, '--expired', '--json'], { env });
  assert.ok(JSON.parse(after.stdout).silences.find((s) => s.id === id).expired_ms > 0);

  // Refusals: 1 for the server's, 2 for usage and invalid silences.
  const cases = [
    [['silence', 'expire', '999', '--server', srv.url], env, 1, 'faultline silence: HTTP 404: unknown silence\n'],
    [['silence', 'expire', 'config-1', '--server', srv.url], env, 1, `faultline silence: HTTP 409: silence config-1 is defined in ${file}: remove it there (and restart the server)\n`],
    [['silence', 'list', '--server', srv.url], { FAULTLINE_ADMIN_PASSWORD: 'wrong' }, 1, 'faultline silence: HTTP 401: authentication required\n'],
    [['silence', 'add', '--server', srv.url, '--name', 'a', '--duration', 'soon'], env, 2,
      'faultline silence: HTTP 400: duration: expected a positive duration of at most 366d such as 2h, 1h30m, 90m or 45s, got "soon"\n'],
  ];
  for (const [args, e, code, stderr] of cases) {
    const r = await ctx.run(args, { env: e });
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, stderr);
  }
  const usage = [
    [['silence'], 'expected a command: add, list or expire'],
    [['silence', 'mute'], 'unknown command "mute" (expected add, list or expire)'],
    [['silence', 'add', '--duration', '1h'], 'add: expected a matcher (--name, --kind, --severity or --label)'],
    [['silence', 'add', '--name', 'a'], 'add: expected --duration, --ends-at, or --cron with --duration'],
    [['silence', 'expire'], "expire: expected the silence's id"],
    [['silence', 'list', '--colour'], 'unknown option "--colour" (see --help)'],
    [['silence', 'add', '--name'], '--name: expected a value'],
  ];
  for (const [args, message] of usage) {
    const r = await ctx.run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.ok(r.stderr.startsWith(`faultline silence: ${message}\nusage: faultline silence add`), r.stderr);
  }
  const help = await ctx.run(['silence', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit status: 0 done; 1 the server could not be reached/);
  const down = await ctx.run(['silence', 'list', '--server', 'http://127.0.0.1:9'], { env });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^faultline silence: cannot reach http:\/\/127\.0\.0\.1:9\/api\/v1\/silences: /);
});

scenario('a silence holds back a machine\'s GPU alert: recorded as silenced, not sent; an unsilenced machine\'s goes out', async (ctx) => {
  const web = await ctx.hook();
  const dir = ctx.tmpdir('faultline-sil-');
  const file = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(file, `channels:\n  - {name: ops, type: webhook, url: '${web.url}/ops'}\n`);
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: null, CHAT_ID: null, FAIL_TIMEOUT: '600' }, args: ['--config', file] });
  const made = await admin(srv, 'POST', '/api/v1/silences', { name: 'maint-*', kind: 'gpu', duration: '1h', comment: 'rebuild' });
  assert.equal(made.status, 201, made.text);
  for (const name of ['maint-1', 'prod-1']) assert.equal((await heartbeat(srv, hb(name, { gpus: 4 }))).status, 204);
  assert.equal((await heartbeat(srv, hb('maint-1', { gpus: 3 }))).status, 204);
  assert.equal((await heartbeat(srv, hb('prod-1', { gpus: 3 }))).status, 204);
  // The marker: one channel sends in order, so maint-1's loss, addressed first, would have come first.
  await web.waitFor((r) => r.json?.name === 'prod-1', 8000);
  assert.deepEqual(web.requests.map((r) => [r.json?.name, r.json?.kind, r.json?.resolve]), [['prod-1', 'gpu', false]]);
  const lost = await events(srv, { type: 'gpu_lost' });
  assert.deepEqual(lost.map((e) => [e.worker, e.details.silenced === true]).sort(), [['maint-1', true], ['prod-1', false]]);
});

/** A server with one webhook channel, ops (FAIL_TIMEOUT 1.5 s, RCA_HOLD 0.3 s). */
async function webhookServer(ctx) {
  const web = await ctx.hook();
  const dir = ctx.tmpdir('faultline-sil-');
  const file = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(file, `channels:\n  - {name: ops, type: webhook, url: '${web.url}/ops'}\n`);
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: null, CHAT_ID: null }, args: ['--config', file] });
  return { web, srv };
}

/** Waits for the worker's event of type (worker_down, worker_up) on /api/v1/events. */
async function waitWorkerEvent(srv, worker, type) {
  return waitFor(async () => {
    const r = await admin(srv, 'GET', `/api/v1/events?type=${type}`);
    return r.json?.events?.find((e) => e.worker === worker);
  }, 8000, { intervalMs: 100, message: `a ${type} event for ${worker}` });
}

scenario('a silenced worker\'s DOWN is recorded as silenced (API and /admin) and not sent, nor its UP; an unsilenced worker\'s are', async (ctx) => {
  const { web, srv } = await webhookServer(ctx);
  const made = await admin(srv, 'POST', '/api/v1/silences', { name: 'maint-*', kind: 'worker', duration: '1h', comment: 'rack rebuild' });
  assert.equal(made.status, 201, made.text);
  assert.equal((await heartbeat(srv, hb('maint-1'))).status, 204);
  const down = await waitWorkerEvent(srv, 'maint-1', 'worker_down');
  assert.equal(down.details.silenced, true);
  assert.equal(down.details.silence_id, made.json.id);
  assert.equal(down.details.silence_comment, 'rack rebuild');
  const page = await request(srv.url + '/admin', { headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
  assert.match(page.text, /maint-1<\/td><td>down \(silenced\)/);
  // The marker: an unsilenced worker's DOWN, which went down after maint-1's would have been sent.
  assert.equal((await heartbeat(srv, hb('prod-1'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'prod-1' && r.json?.resolve === false, 8000);
  const prodDown = await waitWorkerEvent(srv, 'prod-1', 'worker_down');
  assert.equal(prodDown.details.silenced, undefined);
  // Both come back: only prod-1's UP is sent (maint-1's, first, resolves nothing told).
  assert.equal((await heartbeat(srv, hb('maint-1'))).status, 204);
  assert.equal((await heartbeat(srv, hb('prod-1'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'prod-1' && r.json?.resolve === true, 8000);
  assert.deepEqual(web.requests.map((r) => [r.json?.name, r.json?.resolve]), [['prod-1', false], ['prod-1', true]]);
  const up = await waitWorkerEvent(srv, 'maint-1', 'worker_up');
  assert.equal(up.details.silenced, true);
  assert.equal(up.details.silence_id, made.json.id);
});

scenario('a worker DOWN told before its silence began gets its UP on the channel told, once', async (ctx) => {
  const { web, srv } = await webhookServer(ctx);
  assert.equal((await heartbeat(srv, hb('told-1'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'told-1' && r.json?.resolve === false, 8000);
  const made = await admin(srv, 'POST', '/api/v1/silences', { name: 'told-1', duration: '1h' });
  assert.equal(made.status, 201, made.text);
  assert.equal((await heartbeat(srv, hb('told-1'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'told-1' && r.json?.resolve === true, 8000);
  const up = await waitWorkerEvent(srv, 'told-1', 'worker_up');
  assert.equal(up.details.silenced, undefined);
  // The marker: a later worker's DOWN on the same channel, after which a second UP would show.
  assert.equal((await heartbeat(srv, hb('later-1'))).status, 204);
  await web.waitFor((r) => r.json?.name === 'later-1', 8000);
  assert.deepEqual(web.requests.map((r) => [r.json?.name, r.json?.resolve]), [['told-1', false], ['told-1', true], ['later-1', false]]);
});
