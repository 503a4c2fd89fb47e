// alert-channels.test.mjs — named channels of every type against local fakes (Slack, PagerDuty
// and a webhook: fake-hook.mjs; Telegram: fake-telegram.mjs), a real SMTP server (aiosmtpd, with
// STARTTLS and login) and an exec script; routes; resolves to exactly the channels told;
// delivery that survives kill -9, 429s and receivers that hang (an outage: alert-outage.test.mjs); pacing with digests;
// `faultline alert test`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scenario } from './lib/scenario.mjs';
import { serverWith } from './lib/config-server.mjs';
import { adminJson, events, heartbeat, hb } from './lib/http.mjs';
import { makeCa } from './lib/tls-ca.mjs';
import { waitFor } from './lib/wait.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function waitEvent(srv, worker, kind, timeoutMs = 6000) {
  return waitFor(async () => (await events(srv, { limit: 100 })).find((e) => e.worker === worker && e.kind === kind), timeoutMs, {
    intervalMs: 100,
    message: `a "${kind}" event for ${worker}`,
  });
}

/** A worker seen once, DOWN after FAIL_TIMEOUT, then UP again. */
async function downThenUp(srv, name, whileDown = async () => {}) {
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await waitEvent(srv, name, 'down');
  await whileDown();
  assert.equal((await heartbeat(srv, hb(name))).status, 204);
  await waitEvent(srv, name, 'up');
}

/** 100 (n) workers that each lose a GPU at once: n alerts that RCA does not merge. */
async function gpuLosses(srv, prefix, n) {
  for (let i = 0; i < n; i++) assert.equal((await heartbeat(srv, hb(`${prefix}-${i}`, { gpus: 4 }))).status, 204);
  await Promise.all(Array.from({ length: n }, (_, i) => heartbeat(srv, hb(`${prefix}-${i}`, { gpus: 3 }))));
}

function execScript(dir) {
  const out = path.join(dir, 'exec-out.jsonl');
  const script = path.join(dir, 'notify.sh');
  fs.writeFileSync(script, `#!/bin/sh\n# $1 is "--tag"\nread -r line\nprintf '%s\\n' "$line" >> ${out}\necho "accepted $2"\n`);
  fs.chmodSync(script, 0o755);
  return { script, out };
}

scenario('slack, pagerduty, webhook and exec each get the DOWN and its resolve, in their own shape', async (ctx) => {
  const slack = await ctx.hook();
  const pd = await ctx.hook({ status: 202, body: '{"status":"success","message":"Event processed"}' });
  const web = await ctx.hook();
  const dir = ctx.tmpdir('faultline-exec-');
  const { script, out } = execScript(dir);
  const srv = await serverWith(
    ctx,
    `channels:
  - name: team-slack
    type: slack
    url: \${TEST_SLACK_URL}
  - name: oncall
    type: pagerduty
    routing_key: R0UTINGKEY0123456789abcdef012345
    url: ${pd.url}/v2/enqueue
  - name: hook
    type: webhook
    url: ${web.url}/alerts
    headers: {Authorization: Bearer t0ken}
    secret: s3cret
    template: '{"content": "{{subject}}: {{status}}", "key": "{{dedup_key}}"}'
  - name: script
    type: exec
    command: [${script}, --tag, ops]
    timeout: 5
`,
    { TEST_SLACK_URL: `${slack.url}/services/T/B/X`, PUBLIC_URL: 'https://mon.example.org' },
  );
  await downThenUp(srv, 'ch-box');
  const sDown = await slack.waitFor((r) => r.json?.text?.includes('ch-box is DOWN'));
  assert.equal(sDown.path, '/services/T/B/X');
  assert.match(sDown.json.text, /^\*ch-box is DOWN\*\n🔴 ch-box is DOWN\n[\s\S]*\n<https:\/\/mon\.example\.org\/admin\/api\/worker\/ch-box\|Open in faultline>$/);
  await slack.waitFor((r) => r.json?.text?.includes('ch-box is UP'));

  const trigger = await pd.waitFor((r) => r.json?.event_action === 'trigger');
  assert.equal(trigger.json.routing_key, 'R0UTINGKEY0123456789abcdef012345');
  assert.equal(trigger.json.dedup_key, 'worker:ch-box');
  assert.equal(trigger.json.payload.severity, 'critical');
  assert.equal(trigger.json.payload.source, 'ch-box');
  assert.equal(trigger.json.payload.summary, 'ch-box is DOWN');
  const resolve = await pd.waitFor((r) => r.json?.event_action === 'resolve');
  assert.equal(resolve.json.dedup_key, 'worker:ch-box', 'trigger and resolve share the dedup_key');

  const hDown = await web.waitFor((r) => r.json?.content === 'ch-box is DOWN: problem');
  assert.equal(hDown.json.key, 'worker:ch-box');
  assert.equal(hDown.headers.authorization, 'Bearer t0ken');
  assert.match(hDown.headers['x-faultline-dedup'], /^\d+$/);
  const mac = crypto.createHmac('sha256', 's3cret').update(hDown.body).digest('hex');
  assert.equal(hDown.headers['x-faultline-signature'], `sha256=${mac}`);
  await web.waitFor((r) => r.json?.content === 'ch-box is UP: resolved');

  await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').trim().split('\n').length >= 2, 5000, { message: 'two runs of the exec script' });
  const runs = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(runs.map((r) => [r.kind, r.severity, r.resolve, r.dedup_key, r.channel]), [
    ['worker', 'critical', false, 'worker:ch-box', 'script'],
    ['worker', 'info', true, 'worker:ch-box', 'script'],
  ]);
  assert.match(runs[0].text, /^🔴 ch-box is DOWN/);
});

scenario('routes: critical worker alerts to the pager only; the resolve goes exactly once to each channel told', async (ctx) => {
  const ops = await ctx.hook();
  const pager = await ctx.hook();
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: ops, type: webhook, url: '${ops.url}/ops'}
  - {name: pager, type: webhook, url: '${pager.url}/pager'}
routes:
  - match: {kind: worker, severity: critical, name: 'db-*'}
    channels: [pager]
  - match: {kind: [gpu, incident]}
    channels: [ops, pager]
`,
  );
  await downThenUp(srv, 'db-1');
  ctx.pulse(srv, hb('db-1')); // up from now on
  await downThenUp(srv, 'web-1');
  ctx.pulse(srv, hb('web-1'));
  // A marker that goes to both: once it has arrived, anything before it would have too.
  assert.equal((await heartbeat(srv, hb('marker', { gpus: 4 }))).status, 204);
  assert.equal((await heartbeat(srv, hb('marker', { gpus: 3 }))).status, 204);
  await ops.waitFor((r) => r.json?.name === 'marker');
  await pager.waitFor((r) => r.json?.name === 'marker');
  const seen = (hook) => hook.accepted.map((r) => `${r.json.name}:${r.json.resolve ? 'resolve' : r.json.severity}`);
  assert.deepEqual(seen(pager), ['db-1:critical', 'db-1:resolve', 'marker:warning']);
  assert.deepEqual(seen(ops), ['marker:warning'], 'web-1 matches no route; db-1 is not routed to ops');
});

scenario('429 with retry_after 7 for one chat: that chat waits 7 s, the other chat is not delayed', async (ctx) => {
  const tg = await ctx.telegram({ retryAfter: 7 });
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: chat-a, type: telegram, token: '${tg.token}', chat_id: '111', url: '${tg.url}'}
  - {name: chat-b, type: telegram, token: '${tg.token}', chat_id: '222', url: '${tg.url}'}
`,
  );
  tg.failChat('111', 1, '429');
  assert.equal((await heartbeat(srv, hb('slow-box'))).status, 204);
  const b = await tg.waitForMessage((m) => String(m.chat_id) === '222' && m.text.includes('slow-box is DOWN'), 6000);
  const a = await tg.waitForMessage((m) => String(m.chat_id) === '111' && m.text.includes('slow-box is DOWN'), 15000);
  const refused = tg.attempts.find((x) => String(x.chat_id) === '111' && x.status === 429);
  assert.ok(refused, 'chat 111 was answered 429');
  assert.ok(a.time - refused.time >= 6900, `chat 111 waited ${a.time - refused.time} ms after its 429 (retry_after 7 s)`);
  assert.ok(b.time - refused.time < 2000, `chat 222 got its message ${b.time - refused.time} ms after chat 111's 429`);
});

scenario('a webhook that accepts and never answers is aborted at its timeout; another channel is not slowed', async (ctx) => {
  const stuck = await ctx.hook();
  stuck.hang(true);
  const fast = await ctx.hook();
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: stuck, type: webhook, url: '${stuck.url}', timeout: 2}
  - {name: fast, type: webhook, url: '${fast.url}'}
`,
  );
  assert.equal((await heartbeat(srv, hb('hang-box'))).status, 204);
  const got = await fast.waitFor((r) => r.json?.name === 'hang-box', 6000);
  await waitFor(() => stuck.requests[0]?.closedAt, 8000, { message: 'the hanging request aborted' });
  const first = stuck.requests[0];
  const held = first.closedAt - first.time;
  assert.ok(held >= 1800 && held < 4500, `aborted after ${held} ms (timeout 2 s)`);
  assert.ok(got.time - first.time < 1000, `the other channel got it ${got.time - first.time} ms after the stuck one was asked`);
});

scenario('100 alerts to one Telegram group: the pace holds (no 429), a digest carries the burst, none is lost', async (ctx) => {
  const tg = await ctx.telegram({ enforceLimits: true });
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: tg.token, CHAT_ID: '-100777', TELEGRAM_API_URL: tg.url, FAIL_TIMEOUT: '60' } });
  await gpuLosses(srv, 'burst', 100);
  await waitFor(() => new Set(tg.messages.filter((m) => m.text.includes('lost a GPU')).map((m) => m.text.split(' ')[1])).size === 100, 30000, {
    message: () => `100 GPU alerts (got ${tg.messages.length} in ${tg.deliveries.length} sends)`,
  });
  assert.deepEqual(tg.violations, [], 'no send broke Telegram\'s limits');
  assert.equal(tg.attempts.filter((a) => a.status === 429).length, 0);
  assert.ok(tg.digests.length >= 1, 'a digest was sent');
  assert.ok(tg.deliveries.length <= 10, `${tg.deliveries.length} sends for 100 alerts`);
  const times = tg.deliveries.map((d) => d.time);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 2900, `sends ${i - 1} and ${i} are ${times[i] - times[i - 1]} ms apart (3 s per group)`);
});

scenario('two Telegram channels on one chat share its pace: 40 alerts through both, sends 1 s apart, no 429, none lost', async (ctx) => {
  const tg = await ctx.telegram({ enforceLimits: true });
  const srv = await serverWith(
    ctx,
    `channels:
  - {name: ops-a, type: telegram, token: '${tg.token}', chat_id: '4242', url: '${tg.url}'}
  - {name: ops-b, type: telegram, token: '${tg.token}', chat_id: '4242', url: '${tg.url}'}
`,
    { FAIL_TIMEOUT: '60' },
  );
  await gpuLosses(srv, 'pair', 40);
  const copies = () => {
    const n = new Map();
    for (const m of tg.messages.filter((x) => x.text.includes('lost a GPU'))) n.set(m.text.split(' ')[1], (n.get(m.text.split(' ')[1]) ?? 0) + 1);
    return n;
  };
  await waitFor(() => copies().size === 40 && [...copies().values()].every((c) => c === 2), 30000, {
    message: () => `each of 40 GPU alerts twice, once per channel (got ${tg.messages.length} in ${tg.deliveries.length} sends)`,
  });
  assert.deepEqual(tg.violations, [], 'no send broke Telegram\'s limits');
  assert.equal(tg.attempts.filter((a) => a.status === 429).length, 0);
  assert.ok(tg.digests.length >= 1, 'a digest was sent');
  const singles = tg.deliveries.length - tg.digests.length;
  const inDigests = tg.digests.reduce((sum, d) => sum + d.count, 0);
  assert.equal(singles + inDigests, 80, `${singles} single messages and ${inDigests} in digests: 40 alerts for each of 2 channels`);
  const times = tg.deliveries.map((d) => d.time);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 1000, `sends ${i - 1} and ${i} are ${times[i] - times[i - 1]} ms apart (1 s per chat)`);
});

scenario('kill -9 with 1000 notifications pending: after the restart each is delivered, a repeat only with the same key', { timeout: 180000 }, async (ctx) => {
  const web = await ctx.hook();
  web.failFor(3600 * 1000, 503);
  const dir = ctx.tmpdir('faultline-k9-');
  const file = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(file, `channels:\n  - {name: hook, type: webhook, url: '${web.url}/k9'}\n`);
  const srv = await ctx.server({ env: { FAIL_TIMEOUT: '600' }, args: ['--config', file] });
  await gpuLosses(srv, 'k9', 1000);
  await waitFor(async () => (await events(srv, { limit: 1000, type: 'gpu_lost' })).length === 1000, 20000, { message: '1000 gpu_lost events' });
  await srv.kill9();
  web.failFor(0);
  const again = await ctx.restart(srv);
  await waitFor(() => new Set(web.accepted.map((r) => r.json.name)).size === 1000, 120000, {
    intervalMs: 500,
    message: () => `1000 delivered (${new Set(web.accepted.map((r) => r.json.name)).size} so far)`,
  });
  const keyOf = new Map();
  for (const r of web.accepted) {
    const key = r.headers['x-faultline-dedup'];
    if (keyOf.has(r.json.name)) assert.equal(key, keyOf.get(r.json.name), `${r.json.name} repeated with another key`);
    keyOf.set(r.json.name, key);
  }
  const repeats = web.accepted.length - keyOf.size;
  const tried = new Set(web.requests.filter((r) => r.status === 503).map((r) => r.json?.name));
  assert.ok(repeats <= tried.size, `${repeats} repeats, only ${tried.size} were in flight or tried`);
});

scenario('a channel refusing for good (401) stops retrying and raises an alert_failed event', async (ctx) => {
  const web = await ctx.hook({ status: 401, body: 'invalid token' });
  const srv = await serverWith(ctx, `channels:\n  - {name: broken-hook, type: webhook, url: '${web.url}'}\n`, { FAIL_TIMEOUT: '600' });
  assert.equal((await heartbeat(srv, hb('perm-box', { gpus: 2 }))).status, 204);
  assert.equal((await heartbeat(srv, hb('perm-box', { gpus: 1 }))).status, 204);
  const ev = await waitEvent(srv, 'broken-hook', 'alert_failed');
  assert.equal(ev.details.channel, 'broken-hook');
  assert.equal(ev.details.type, 'webhook');
  assert.match(ev.details.error, /^webhook: HTTP 401: invalid token$/);
  const v1 = await adminJson(srv, '/api/v1/events?type=alert_failed');
  assert.deepEqual(v1.events.map((e) => [e.type, e.worker]), [['alert_failed', 'broken-hook']]);
  // The marker: the GPUs' return queues behind the refused message, so a retry of it would come
  // first (a retried head keeps its place); the next request is the resolve instead.
  assert.equal((await heartbeat(srv, hb('perm-box', { gpus: 2 }))).status, 204);
  await waitFor(() => web.requests.length >= 2, 5000, { message: 'the resolve after the refusal' });
  assert.equal(web.requests.length, 2, 'no retry after a 401');
  assert.equal(web.requests[1].json?.resolve, true, 'no retry after a 401: the next request is the resolve');
});

scenario('exec: past its timeout the whole process group is killed and the message retries; a missing command is refused', async (ctx) => {
  const dir = ctx.tmpdir('faultline-exec-');
  const tries = path.join(dir, 'tries');
  const script = path.join(dir, 'slow.sh');
  // The first run leaves a child behind in its group and hangs; the second one succeeds.
  fs.writeFileSync(script, `#!/bin/sh\necho x >> ${tries}\nif [ "$(wc -l < ${tries})" -eq 1 ]; then sleep 3017 & wait; fi\n`);
  fs.chmodSync(script, 0o755);
  const srv = await serverWith(
    ctx,
    `channels:\n  - {name: slow, type: exec, command: [${script}], timeout: 1}\n  - {name: missing, type: exec, command: [${dir}/nonexistent]}\n`,
    { FAIL_TIMEOUT: '600' },
  );
  assert.equal((await heartbeat(srv, hb('exec-box', { gpus: 2 }))).status, 204);
  assert.equal((await heartbeat(srv, hb('exec-box', { gpus: 1 }))).status, 204);
  await waitFor(() => fs.existsSync(tries) && fs.readFileSync(tries, 'utf8').split('\n').length >= 3, 8000, { message: 'a second run after the timeout' });
  const sleepers = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u00003017\u0000';
    } catch {
      return false;
    }
  });
  assert.deepEqual(sleepers, [], 'the timed-out run\'s child was killed with its group');
  const ev = await waitEvent(srv, 'missing', 'alert_failed');
  assert.match(ev.details.error, /^exec: cannot run .*nonexistent: no such file or directory$/);
});

scenario('email through a real SMTP server with STARTTLS and login', async (ctx) => {
  const ca = makeCa();
  const { cert, key } = ca.issue('smtp', { names: ['localhost'] });
  // Debian's python3, which has Debian's python3-aiosmtpd (scripts/install-deps --test).
  const sink = spawn('/usr/bin/python3', [path.join(HERE, 'lib', 'smtp_sink.py'), cert, key, 'alerts', 'pa55word'], { stdio: ['ignore', 'pipe', 'pipe'] });
  ctx.closers?.push?.(() => sink.kill());
  let outText = '', errText = '';
  sink.stdout.on('data', (d) => (outText += d));
  sink.stderr.on('data', (d) => (errText += d));
  try {
    const port = await waitFor(() => /PORT (\d+)/.exec(outText)?.[1], 10000, { message: () => `the SMTP sink (stderr: ${errText})` });
    const dir = ctx.tmpdir('faultline-mail-');
    fs.writeFileSync(path.join(dir, 'smtp.pass'), 'pa55word\n');
    const srv = await serverWith(
      ctx,
      `channels:
  - name: mail
    type: email
    smtp_url: smtp://localhost:${port}
    from: faultline@example.org
    to: [ops@example.org, oncall@example.org]
    username: alerts
    password_file: ${dir}/smtp.pass
    ca_file: ${ca.cert}
`,
    );
    assert.equal((await heartbeat(srv, hb('mail-box', { gpus: 2 }))).status, 204);
    assert.equal((await heartbeat(srv, hb('mail-box', { gpus: 1 }))).status, 204);
    const line = await waitFor(() => outText.split('\n').find((l) => l.startsWith('{')), 10000, { message: () => `a mail (sink said: ${outText})` });
    const mail = JSON.parse(line);
    assert.equal(mail.from, 'faultline@example.org');
    assert.deepEqual(mail.to, ['ops@example.org', 'oncall@example.org']);
    assert.match(mail.data, /^Subject: mail-box lost GPUs$/m);
    assert.match(mail.data, /🟠 mail-box lost a GPU: 2 → 1/);
  } finally {
    sink.kill();
  }
});

scenario('faultline alert test CHANNEL: 0 and the answer when delivered, 1 when refused, 2 for no such channel', async (ctx) => {
  const ok = await ctx.hook({ body: 'ok' });
  const bad = await ctx.hook({ status: 404, body: 'no_service' });
  const dir = ctx.tmpdir('faultline-at-');
  fs.writeFileSync(
    path.join(dir, 'f.yaml'),
    `channels:\n  - {name: good, type: slack, url: '${ok.url}/s'}\n  - {name: gone, type: slack, url: '${bad.url}/s'}\n`,
  );
  const env = { TELEGRAM_TOKEN: null, CHAT_ID: null };
  let r = await ctx.run(['alert', 'test', 'good', '--config', 'f.yaml'], { cwd: dir, env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'good: delivered (slack: HTTP 200: ok)\n');
  assert.match(ok.accepted[0].json.text, /faultline test message/);
  r = await ctx.run(['alert', 'test', 'gone', '--config', 'f.yaml'], { cwd: dir, env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'gone: not delivered: slack: HTTP 404: no_service (refused for good)\n');
  r = await ctx.run(['alert', 'test', 'nope', '--config', 'f.yaml'], { cwd: dir, env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no channel named "nope" \(channels: good gone\)/);
});
