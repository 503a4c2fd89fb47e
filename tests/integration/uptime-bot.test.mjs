// uptime-bot.test.mjs — faultline's server in place of the uptime-rca-bot's, spoken to exactly as
// the bot's shell clients speak (curl, the same URL, flags and bodies as run_client_rca.sh):
// heartbeats named NAME(N), a GPU count that drops and a GPU check that fails, a recovery backlog
// with each of the three mtr shapes, and a client that stops (DOWN) and comes back (UP, then a
// follow-up from its backlog).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { scenario } from './lib/scenario.mjs';
import { adminJson, events, request } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const OK = '{"status":1,"msg":"Heartbeat received"}';

/** Runs a bash command line with env; resolves {code, stdout, stderr}. */
function sh(command, env) {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { env: { ...process.env, ...env }, timeout: 20000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

function clientEnv(srv, worker, extra = {}) {
  return { SERVER_ADDR: '127.0.0.1', SERVER_PORT: String(srv.port), API_KEY: srv.apiKey, CWORKER: worker, FAIL_TIMEOUT: '30', ...extra };
}

/** do_ping of run_client_rca.sh: prints the HTTP status curl got. */
async function ping(srv, worker, extra) {
  const r = await sh(
    'request_url="http://${SERVER_ADDR}:${SERVER_PORT}/ping/${CWORKER}?api_key=${API_KEY}"\n' +
      'curl -m ${FAIL_TIMEOUT:-30} -s -o /dev/null -w "%{http_code}" "$request_url"',
    clientEnv(srv, worker, extra),
  );
  return r.stdout;
}

/** The client's main loop: do_ping every PING_INTERVAL (0.3 s here) until stop() is awaited. */
function pingLoop(srv, worker) {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await ping(srv, worker);
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/** run_client.sh: `curl -m 2 "$request_url"` prints the body. */
async function pingBody(srv, worker, extra) {
  const r = await sh('curl -m 2 -s "http://$SERVER_ADDR:$SERVER_PORT/ping/$CWORKER?api_key=$API_KEY"', clientEnv(srv, worker, extra));
  return r.stdout;
}

/** send_backlog of run_client_rca.sh, with its backlog file read by `jq -s '.'`. */
async function sendBacklog(srv, worker, lines) {
  const r = await sh(
    'backlog_json=$(printf "%s" "$BACKLOG_LINES" | jq -s \'.\' 2>/dev/null)\n' +
      'request_url="http://${SERVER_ADDR}:${SERVER_PORT}/ping/${CWORKER}?api_key=${API_KEY}"\n' +
      'curl -s -X POST -H "Content-Type: application/json" \\\n' +
      '    -d "{\\"backlog\\":$backlog_json,\\"recovery\\":true}" \\\n' +
      '    "$request_url"',
    clientEnv(srv, worker, { BACKLOG_LINES: lines.join('\n') + '\n' }),
  );
  return JSON.parse(r.stdout);
}

const isoSeconds = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// The three mtr shapes of run_mtr: `mtr -j` (indented, as mtr prints it), hops parsed from
// `mtr -r`, and traceroute hops. Each stops answering after hop 3 (198.51.100.1).
function mtrJson() {
  const hub = (count, host, loss, avg) => ({ count, host, 'Loss%': loss, Snt: 3, Last: avg, Avg: avg, Best: avg, Wrst: avg, StDev: 0 });
  return JSON.stringify(
    {
      report: {
        mtr: { src: 'gpu-host', dst: '203.0.113.10', tos: 0, tests: 3, psize: '64', bitpattern: '0x00' },
        hubs: [hub(1, '10.1.0.1', 0, 0.4), hub(2, '100.64.0.1', 0, 2.1), hub(3, '198.51.100.1', 0, 6.8), hub(4, '???', 100, 0), hub(5, '???', 100, 0)],
      },
    },
    null,
    2,
  );
}
function mtrText(ts) {
  const hops = [
    { hop: 1, host: '10.1.0.1', loss: 0.0, avg: 0.4 },
    { hop: 2, host: '100.64.0.1', loss: 0.0, avg: 2.1 },
    { hop: 3, host: '198.51.100.1', loss: 0.0, avg: 6.9 },
    { hop: 4, host: '???', loss: 100.0, avg: 0.0 },
  ];
  return JSON.stringify({ ts, target: '203.0.113.10', hops });
}
function traceroute(ts) {
  const hops = [
    { hop: 1, host: '10.1.0.1', time: 0.5 },
    { hop: 2, host: '100.64.0.1', time: 2.2 },
    { hop: 3, host: '198.51.100.1', time: 7.0 },
    { hop: 4, host: 'timeout', time: -1.0 },
    { hop: 5, host: 'timeout', time: -1.0 },
  ];
  return JSON.stringify({ ts, target: '203.0.113.10', type: 'traceroute', hops });
}

/** A diagnostics line as run_diagnostics writes it (a heredoc with the mtr output pasted in). */
function diagLine(worker, ts, mtr, { gwLoss = 0 } = {}) {
  return (
    `{"ts":"${ts}","worker":"${worker}","gateway":"10.1.0.1","gw_loss_pct":${gwLoss},"gw_avg_ms":0.412,` +
    `"external_loss_pct":100,"external_avg_ms":-1,"bot_loss_pct":100,"bot_avg_ms":-1,"dns_ok":1,"dns_ms":4,` +
    `"tcp_port_ok":0,"mtr":${mtr}}`
  );
}

scenario('the bot client heartbeat GET /ping/NAME(N)?api_key= keeps its machine UP under its own name', async (ctx) => {
  const srv = await ctx.server();
  assert.equal(await ping(srv, 'brickbox-43(4)'), '200');
  assert.equal(await pingBody(srv, 'brickbox-43(4)'), OK);
  // The RCA server's other ways: a POST without a body, the key in X-API-Key.
  const post = await request(`${srv.url}/ping/brickbox-43(4)`, { method: 'POST', headers: { 'X-API-Key': srv.apiKey } });
  assert.equal(post.status, 200);
  assert.equal(post.text, OK);

  const status = await adminJson(srv, '/admin/api/status');
  assert.deepEqual(status.workers.map((w) => [w.name, w.state, w.gpus, w.gpu_error, w.version, w.ip]), [
    ['brickbox-43', 'up', 4, false, 'uptime-rca-bot', '127.0.0.1'],
  ]);
  assert.equal(status.active_workers, 1);
  const evs = await events(srv);
  assert.deepEqual(evs.map((e) => [e.worker, e.kind]), [['brickbox-43', 'up']]);
  // The bot's admin URL names the worker with its GPU count.
  const w = await adminJson(srv, '/admin/api/worker/brickbox-43(4)');
  assert.equal(w.worker.name, 'brickbox-43');
  assert.equal(w.status, 'up');
});

scenario('a wrong or missing key gets 401 (the bot answered 200 with "status": 0) and counts as nothing', async (ctx) => {
  const srv = await ctx.server();
  assert.equal(await ping(srv, 'brickbox-43(4)', { API_KEY: 'not-the-key' }), '401');
  const wrong = await request(`${srv.url}/ping/brickbox-43(4)?api_key=not-the-key`);
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.json, { error: 'invalid API key' });
  // A header wins over the query: a wrong X-API-Key is refused even with the right ?api_key=.
  const header = await request(`${srv.url}/ping/brickbox-43(4)?api_key=${srv.apiKey}`, { headers: { 'X-API-Key': 'not-the-key' } });
  assert.equal(header.status, 401);
  assert.deepEqual(header.json, { error: 'invalid API key' });
  const missing = await request(`${srv.url}/ping/brickbox-43(4)`);
  assert.equal(missing.status, 401);
  assert.deepEqual(missing.json, { error: 'missing API key' });
  assert.equal(await ping(srv, 'marker-box(1)'), '200');
  await waitFor(async () => (await events(srv)).length === 1, 3000, { message: 'the marker UP' });
  assert.deepEqual((await adminJson(srv, '/admin/api/status')).workers.map((w) => w.name), ['marker-box']);
});

scenario('a bad worker name is refused naming what was expected; a bad body loses only itself', async (ctx) => {
  const srv = await ctx.server();
  const r = await request(`${srv.url}/ping/brickbox-43(four)?api_key=${srv.apiKey}`);
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, {
    error: 'worker: expected NAME(N) with N a whole number from 0 to 4096 or GPU_ERR, got "brickbox-43(four)"',
    field: 'worker',
  });
  // A body that is no backlog is refused, but the heartbeat it came with counts.
  const post = (body) => request(`${srv.url}/ping/box-9(2)?api_key=${srv.apiKey}`, { method: 'POST', body });
  const notJson = await post('{"backlog":[');
  assert.equal(notJson.status, 400);
  assert.match(notJson.json.error, /^body: not valid JSON \(/);
  const notArray = await post({ backlog: 'none', recovery: true });
  assert.deepEqual([notArray.status, notArray.json], [400, { error: 'backlog: expected an array of at most 500 records', field: 'backlog' }]);
  const latin1 = Buffer.concat([Buffer.from('{"backlog":[{"ts":"2026-11-21T10:00:35Z","worker":"caf'), Buffer.from([0xe9]), Buffer.from('"}]}')]);
  const notUtf8 = await post(latin1);
  assert.deepEqual([notUtf8.status, notUtf8.json], [
    400,
    { error: 'backlog[0].worker: expected UTF-8 text, got the byte 0xE9 at offset 54', field: 'backlog[0].worker' },
  ]);
  const twice = await post('{"backlog":[],"backlog":[]}');
  assert.equal(twice.status, 400);
  assert.match(twice.json.error, /^body: not valid JSON \(duplicate object key/);
  const other = await post({ hello: 1 });
  assert.deepEqual([other.status, other.json], [400, { error: 'body: expected {"backlog": [...]} with at most 500 records' }]);
  const w = (await adminJson(srv, '/admin/api/status')).workers;
  assert.deepEqual(w.map((x) => [x.name, x.state, x.gpus]), [['box-9', 'up', 2]]);
});

scenario('NAME(4) → NAME(3) → NAME(GPU_ERR) → NAME(4): one worker, each change an event and a message', async (ctx) => {
  const tg = await ctx.telegram();
  // FAIL_TIMEOUT 30: the group's pace (3 s) must not make it look DOWN while the test waits.
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: tg.token, CHAT_ID: '-100', TELEGRAM_API_URL: tg.url, FAIL_TIMEOUT: '30' } });
  assert.equal(await ping(srv, 'brickbox-43(4)'), '200');
  assert.equal(await ping(srv, 'brickbox-43(4)'), '200');
  assert.equal(await ping(srv, 'brickbox-43(3)'), '200');
  const lost = await tg.waitForMessage((m) => m.text.includes('lost a GPU'), 8000);
  assert.match(lost.text, /^🟠 brickbox-43 lost a GPU: 4 → 3\nAt \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC from 127\.0\.0\.1\.$/);
  assert.equal(await ping(srv, 'brickbox-43(GPU_ERR)'), '200');
  const failed = await tg.waitForMessage((m) => m.text.includes('GPU check failed'), 8000);
  assert.match(failed.text, /^🟠 brickbox-43 lost its GPUs: the GPU check failed \(3 → GPU_ERR\)\nAt /);
  let w = (await adminJson(srv, '/admin/api/status')).workers;
  assert.deepEqual(w.map((x) => [x.name, x.gpus, x.gpu_error]), [['brickbox-43', null, true]]);
  assert.equal(await ping(srv, 'brickbox-43(4)'), '200');
  const back = await tg.waitForMessage((m) => m.text.includes('back'), 8000);
  assert.match(back.text, /^🟢 brickbox-43 has its GPUs back: GPU_ERR → 4\nAt /);

  const evs = await events(srv);
  assert.deepEqual(evs.map((e) => [e.kind, e.kind === 'up' ? null : e.details.from, e.kind === 'up' ? null : e.details.to]).reverse(), [
    ['up', null, null],
    ['gpu_lost', 4, 3],
    ['gpu_lost', 3, null],
    ['gpu_back', null, 4],
  ]);
  const gpuOnly = await adminJson(srv, '/admin/api/events?type=gpu_lost,gpu_back');
  assert.equal(gpuOnly.count, 3);
  w = (await adminJson(srv, '/admin/api/status')).workers;
  assert.deepEqual(w.map((x) => [x.name, x.state, x.gpus]), [['brickbox-43', 'up', 4]], 'one identity throughout');
  assert.equal(tg.messages.filter((m) => m.text.includes('brickbox-43')).length, 3, 'no message for the first heartbeat');
});

scenario('a recovery backlog in each mtr shape is stored once, read into faultline diagnostics, a bad record refused by name', async (ctx) => {
  const srv = await ctx.server();
  const worker = 'brickbox-7(8)';
  assert.equal(await ping(srv, worker), '200');
  const t = Date.now() - 120000;
  const lines = [
    diagLine(worker, isoSeconds(t), mtrJson()),
    diagLine(worker, isoSeconds(t + 30000), mtrText(isoSeconds(t + 36000))),
    diagLine(worker, isoSeconds(t + 60000), traceroute(isoSeconds(t + 66000))),
  ];
  const first = await sendBacklog(srv, worker, lines);
  assert.deepEqual(first, { status: 1, msg: 'Heartbeat received', stored: 3, duplicates: 0, refused: [] });
  const again = await sendBacklog(srv, worker, lines);
  assert.deepEqual(again, { status: 1, msg: 'Heartbeat received', stored: 0, duplicates: 3, refused: [] });

  const diags = (await adminJson(srv, '/admin/api/diagnostics?worker=brickbox-7')).diagnostics;
  assert.equal(diags.length, 3);
  for (const d of diags) {
    assert.equal(d.kind, 'diagnostic');
    assert.match(d.record_id, /^bot-[0-9a-f]{16}$/);
    const rec = d.record;
    assert.equal(rec.worker, worker);
    assert.deepEqual(rec.gateway, { addr: '10.1.0.1', reachable: true, loss_pct: 0, rtt_ms: 0.412 });
    assert.deepEqual(rec.external, [{ target: '8.8.8.8', addr: '8.8.8.8', reachable: false, loss_pct: 100, rtt_ms: null }]);
    assert.deepEqual(rec.tcp, { ok: false, reachable: false, error: 'no connection within 3 s' });
    assert.equal(rec.dns, null, 'SERVER_ADDR is an address: no DNS check, as with faultline agents');
    assert.equal(rec.mtr.reached, false);
    assert.deepEqual(rec.mtr.hops.slice(0, 4).map((h) => [h.ttl, h.addr, h.loss_pct]), [
      [1, '10.1.0.1', 0],
      [2, '100.64.0.1', 0],
      [3, '198.51.100.1', 0],
      [4, '', 100],
    ]);
  }
  assert.deepEqual(diags.map((d) => d.record.mtr.method).sort(), ['mtr', 'mtr', 'traceroute']);

  // A record that does not fit is refused by name; the others and the heartbeat still count.
  const seenBefore = (await adminJson(srv, '/admin/api/worker/brickbox-7')).worker.last_seen;
  const bad = diagLine(worker, isoSeconds(t + 90000), mtrText(isoSeconds(t + 96000))).replace('"gw_loss_pct":0', '"gw_loss_pct":"n/a"');
  const good = diagLine(worker, isoSeconds(t + 95000), traceroute(isoSeconds(t + 99000)));
  const mixed = await sendBacklog(srv, worker, [bad, good]);
  assert.deepEqual(mixed, {
    status: 1,
    msg: 'Heartbeat received',
    stored: 1,
    duplicates: 0,
    refused: [{ field: 'backlog[0].gw_loss_pct', error: 'backlog[0].gw_loss_pct: expected a number from 0 to 100, got "n/a"' }],
  });
  const view = await adminJson(srv, '/admin/api/worker/brickbox-7');
  assert.ok(view.worker.last_seen > seenBefore, 'the POST was a heartbeat too');
  assert.equal(view.last_diagnostics.time, isoSeconds(t + 95000).replace('Z', '.000Z'));
  assert.equal(view.last_diagnostics.record.mtr.method, 'traceroute');
  assert.equal(view.recent_events.length, 1);
});

scenario('a bot client that stops goes DOWN, comes back UP, and its recovery backlog feeds the follow-up', async (ctx) => {
  const tg = await ctx.telegram();
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: tg.token, CHAT_ID: '-100', TELEGRAM_API_URL: tg.url } });
  const worker = 'brickbox-43(4)';
  // The client's loop: do_ping every PING_INTERVAL (0.3 s here) for a while, then it stops.
  for (let i = 0; i < 4; i++) {
    assert.equal(await ping(srv, worker), '200');
    await new Promise((r) => setTimeout(r, 300));
  }
  const stoppedAt = Date.now();
  const down = await tg.waitForMessage((m) => m.text.startsWith('🔴 brickbox-43 is DOWN'), srv.failTimeoutMs + 4000);
  assert.ok(down.time - stoppedAt >= srv.failTimeoutMs - 300, 'not before FAIL_TIMEOUT');
  const s = await adminJson(srv, '/admin/api/status');
  assert.deepEqual([s.active_workers, s.workers[0].state], [0, 'down']);

  // It comes back: a successful ping (UP), then send_backlog with the diagnoses of its outage,
  // then its loop goes on.
  const t = Math.ceil(stoppedAt / 1000) * 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, t + 2100 - Date.now())));
  assert.equal(await ping(srv, worker), '200');
  const stop = pingLoop(srv, worker); // keeps it UP while the paced UP message is on its way
  await tg.waitForMessage((m) => m.text.startsWith('🟢 brickbox-43 is UP'), 8000);
  let follow;
  try {
    const r = await sendBacklog(srv, worker, [
      diagLine(worker, isoSeconds(t), mtrText(isoSeconds(t))),
      diagLine(worker, isoSeconds(t + 2000), traceroute(isoSeconds(t + 2000))),
    ]);
    assert.deepEqual([r.stored, r.refused], [2, []]);
    follow = await tg.waitForMessage((m) => m.text.startsWith('🔎 Follow-up'), 8000);
  } finally {
    await stop();
  }
  assert.match(
    follow.text,
    /^🔎 Follow-up on incident #\d+ \(individual\):\nbrickbox-43: gateway OK, 8\.8\.8\.8 unreachable for 2s, loss began after hop 3 \(198\.51\.100\.1\) → upstream ISP$/,
  );
  const evs = await events(srv);
  assert.deepEqual(evs.map((e) => e.kind).reverse(), ['up', 'down', 'up']);
  const since = await adminJson(srv, '/admin/api/events?since_minutes=5');
  assert.equal(since.count, 3);
  assert.equal(since.events.length, 3);
});

scenario('the start-up diagnosis a client keeps in its backlog does not send the follow-up to an older incident', async (ctx) => {
  const tg = await ctx.telegram();
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: tg.token, CHAT_ID: '-100', TELEGRAM_API_URL: tg.url } });
  const worker = 'brickbox-44(4)';
  const startedAt = Date.now() - 3600000; // the client's start-up diagnosis, an hour ago: all well
  const downs = () => tg.messages.filter((m) => m.text.startsWith('🔴 brickbox-44 is DOWN')).length;
  const ups = () => tg.messages.filter((m) => m.text.startsWith('🟢 brickbox-44 is UP')).length;
  let stoppedAt;
  for (let outage = 1; outage <= 2; outage++) {
    for (let i = 0; i < 3; i++) {
      assert.equal(await ping(srv, worker), '200');
      await new Promise((r) => setTimeout(r, 300));
    }
    stoppedAt = Date.now();
    await waitFor(() => downs() === outage, srv.failTimeoutMs + 4000, { message: `DOWN ${outage}` });
    assert.equal(await ping(srv, worker), '200');
    const keep = pingLoop(srv, worker); // UP while the paced UP message is on its way
    await waitFor(() => ups() === outage, 8000, { message: `UP ${outage}` });
    await keep();
  }
  const incidents = (await adminJson(srv, '/admin/api/rca')).incidents;
  assert.equal(incidents.length, 2);
  const second = Math.max(...incidents.map((i) => i.id));
  const t = Math.floor(stoppedAt / 1000) * 1000;
  const stop = pingLoop(srv, worker);
  let follow;
  try {
    const r = await sendBacklog(srv, worker, [
      diagLine(worker, isoSeconds(startedAt), mtrJson()).replace('"external_loss_pct":100', '"external_loss_pct":0'),
      diagLine(worker, isoSeconds(t), mtrText(isoSeconds(t))),
    ]);
    assert.deepEqual([r.stored, r.refused], [2, []]);
    follow = await tg.waitForMessage((m) => m.text.startsWith('🔎 Follow-up'), 8000);
  } finally {
    await stop();
  }
  assert.match(follow.text, new RegExp(`^🔎 Follow-up on incident #${second} \\(individual\\):\\nbrickbox-44: gateway OK, 8\\.8\\.8\\.8 unreachable, loss began after hop 3 \\(198\\.51\\.100\\.1\\) → upstream ISP$`));
});
