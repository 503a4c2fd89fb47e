// agent-diag.test.mjs — the agent's own records (docs/rca.md "Agent logs", "Backlog upload"),
// watched on disk and at a fake server: failed heartbeats go to metrics.jsonl, a diagnosis with
// every documented field goes to diagnostics.jsonl and mtr/<time>.json; when the server answers
// again the backlog is uploaded in order, in chunks, each record once, also after a refused or
// lost answer and after kill -9; and the folder stays under LOG_MAX_MB.
//
// The suite runs in a network namespace where only lo exists: the diagnosis probes loopback
// addresses (DIAG_GATEWAY 127.0.0.1, DIAG_TARGETS 127.0.0.2 and 127.0.0.3), which answer.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { runFaultline } from './lib/faultline.mjs';
import { sleep, waitFor } from './lib/wait.mjs';

const KEY = 'agent-diag-key-123';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const METHODS = ['raw', 'icmp-datagram', 'udp-recverr'];

const DIAG_ENV = {
  DIAG_GATEWAY: '127.0.0.1',
  DIAG_TARGETS: '127.0.0.2,127.0.0.3',
  DIAG_INTERVAL: '1',
  DIAG_PING_COUNT: '3',
  DIAG_MTR_ROUNDS: '2',
  DIAG_MTR_MAX_HOPS: '4',
};

/** Every line of a JSONL file, parsed; a line that does not parse fails the test. */
function readJsonl(file) {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), `${file} ends with a newline`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (e) {
        throw new Error(`${file} line ${i + 1} is not JSON: ${line.slice(0, 200)}`);
      }
    });
}

function startDiagAgent(ctx, name, { port, dataDir, env = {} }) {
  return ctx.agent(name, { port, apiKey: KEY, env: { DATA_DIR: dataDir, ...DIAG_ENV, ...env } });
}

function logsOf(dataDir) {
  const logs = path.join(dataDir, 'logs');
  return {
    dir: logs,
    metrics: () => readJsonl(path.join(logs, 'metrics.jsonl')),
    diagnostics: () => readJsonl(path.join(logs, 'diagnostics.jsonl')),
    backlog: () => readJsonl(path.join(logs, 'backlog.jsonl')),
    backlogSize: () => fs.statSync(path.join(logs, 'backlog.jsonl')).size,
  };
}

/** Bytes of all files under dir. */
function treeSize(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? treeSize(p) : fs.statSync(p).size;
  }
  return total;
}

/** What the fake must end up with: every failed metric and every diagnosis, once, in order. */
function expectedBacklog(logs) {
  const metrics = logs.metrics().filter((m) => !m.ok);
  const diags = logs.diagnostics();
  return { metrics, diags, ids: new Set([...metrics, ...diags].map((r) => r.id)) };
}

function assertUploadMatches(fake, logs, name) {
  const exp = expectedBacklog(logs);
  const got = fake.backlogRecords;
  assert.equal(got.length, exp.ids.size, `uploaded ${got.length} records, recorded ${exp.ids.size}`);
  for (const r of got) assert.ok(exp.ids.has(r.id), `uploaded an unknown record ${r.id}`);
  // Each kind in the order it was written, and identical to the log line but for "kind".
  const gotMetrics = got.filter((r) => r.kind === 'metric');
  const gotDiags = got.filter((r) => r.kind === 'diagnostic');
  assert.deepEqual(
    gotMetrics.map((r) => r.id),
    exp.metrics.map((r) => r.id),
  );
  assert.deepEqual(
    gotDiags.map((r) => r.id),
    exp.diags.map((r) => r.id),
  );
  const { kind, ...firstMetric } = gotMetrics[0];
  assert.deepEqual(firstMetric, exp.metrics[0]);
  for (const req of fake.backlogRequests) {
    assert.equal(req.method, 'POST');
    assert.equal(req.headers.authorization, `Bearer ${KEY}`);
    assert.match(String(req.headers['content-type']), /application\/json/);
    assert.equal(req.json.name, name);
    assert.ok(req.json.records.length >= 1 && req.json.records.length <= 100, `chunk of ${req.json.records.length}`);
    assert.ok(req.text.length <= 256 * 1024 + 4096, `chunk of ${req.text.length} bytes`);
  }
}

/** The ids uploaded, in order of first arrival, must be exactly the agent's order: no gaps. */
function assertNoGaps(fake) {
  const seen = [];
  const set = new Set();
  for (const req of fake.backlogRequests)
    for (const r of req.json.records)
      if (!set.has(r.id)) {
        set.add(r.id);
        seen.push(r.id);
      }
  assert.deepEqual(
    seen,
    fake.backlogRecords.map((r) => r.id),
  );
}

scenario('agent --help lists the diagnostics and log settings', async () => {
  const r = await runFaultline(['agent', '--help']);
  assert.equal(r.code, 0);
  for (const name of ['DATA_DIR', 'DIAG_INTERVAL', 'DIAG_TARGETS', 'DIAG_GATEWAY', 'DIAG_PING_COUNT', 'DIAG_MTR_ROUNDS', 'DIAG_MTR_MAX_HOPS', 'LOG_MAX_MB'])
    assert.ok(r.stdout.includes(name), `--help names ${name}:\n${r.stdout}`);
});

scenario('agent: failed heartbeats → metrics.jsonl, a diagnosis with every field, an mtr file', async (ctx) => {
  const fake = await ctx.ingest({ status: 500 });
  const dataDir = ctx.tmpdir('faultline-agent-data-');
  const logs = logsOf(dataDir);
  const agent = startDiagAgent(ctx, 'diag-box', { port: fake.port, dataDir });
  const diags = await waitFor(() => logs.diagnostics().length >= 2 && logs.diagnostics(), 20000, {
    message: 'two diagnoses in diagnostics.jsonl',
  });
  const metrics = logs.metrics();
  assert.ok(metrics.length >= 3);
  for (const m of metrics) {
    assert.match(m.id, /^m-\d{13}-\d+$/);
    assert.match(m.time, ISO);
    assert.equal(m.ok, false);
    assert.equal(m.status, 500);
    assert.match(m.error, /^HTTP 500/);
    assert.equal(typeof m.latency_ms, 'number');
  }
  assert.equal(new Set(metrics.map((m) => m.id)).size, metrics.length, 'metric ids are unique');

  const d = diags[0];
  assert.match(d.id, /^d-\d{13}-1$/);
  assert.equal(d.id.split('-')[1], metrics[0].id.split('-')[1], 'same agent start in every id');
  assert.match(d.time, ISO);
  assert.match(d.trigger, /^heartbeat failed: HTTP 500/);
  assert.equal(d.failures, 1);
  assert.ok(METHODS.includes(d.method), `method ${d.method}`);
  assert.equal(d.gateway.addr, '127.0.0.1');
  assert.equal(d.gateway.reachable, true);
  assert.equal(d.gateway.sent, 3);
  assert.ok(d.gateway.received >= 1);
  assert.equal(typeof d.gateway.loss_pct, 'number');
  assert.equal(typeof d.gateway.rtt_ms, 'number');
  assert.deepEqual(
    d.external.map((e) => e.target),
    ['127.0.0.2', '127.0.0.3'],
  );
  for (const e of d.external) {
    assert.equal(e.addr, e.target);
    assert.equal(e.reachable, true);
    assert.equal(e.sent, 3);
    for (const k of ['received', 'loss_pct', 'rtt_ms']) assert.equal(typeof e[k], 'number', `external ${k}`);
  }
  assert.equal(d.server.target, '127.0.0.1');
  assert.equal(d.server.addr, '127.0.0.1');
  assert.equal(d.server.sent, 3);
  for (const k of ['received', 'loss_pct', 'rtt_min_ms', 'rtt_avg_ms', 'rtt_max_ms']) assert.ok(k in d.server, `server.${k}`);
  assert.equal(d.tcp.addr, '127.0.0.1');
  assert.equal(d.tcp.port, fake.port);
  assert.equal(d.tcp.ok, true);
  assert.equal(d.tcp.reachable, true);
  assert.equal(typeof d.tcp.connect_ms, 'number');
  assert.equal(d.dns, null, 'SERVER_ADDR is an IP address: no DNS probe');
  assert.equal(d.mtr.target, '127.0.0.1');
  assert.equal(d.mtr.rounds, 2);
  assert.ok(METHODS.includes(d.mtr.method));
  assert.equal(d.mtr.reached, true);
  assert.ok(Array.isArray(d.mtr.hops) && d.mtr.hops.length >= 1);
  for (const k of ['ttl', 'addr', 'sent', 'received', 'loss_pct', 'best_ms', 'avg_ms', 'worst_ms']) assert.ok(k in d.mtr.hops[0], `hop.${k}`);
  assert.match(d.mtr_file, /^mtr\/\d{8}T\d{6}\.\d{3}Z\.json$/);
  assert.equal(d.mtr_file, `mtr/${d.time.replace(/[-:]/g, '')}.json`);
  const mtr = JSON.parse(fs.readFileSync(path.join(logs.dir, d.mtr_file), 'utf8'));
  assert.equal(mtr.id, d.id);
  assert.equal(mtr.time, d.time);
  assert.deepEqual({ ...mtr, id: undefined, time: undefined }, { ...d.mtr, id: undefined, time: undefined });

  // At most every DIAG_INTERVAL (1 s) while the failures go on, never two at once.
  const t0 = Date.parse(diags[0].time);
  const t1 = Date.parse(diags[1].time);
  assert.ok(t1 - t0 >= 950, `diagnoses ${t1 - t0} ms apart`);
  assert.ok(diags[1].failures > diags[0].failures);
  // Heartbeats keep their rhythm (PING_INTERVAL 0.3 s) while diagnoses run.
  const n = fake.requests.length;
  await sleep(1500);
  assert.ok(fake.requests.length - n >= 3, `${fake.requests.length - n} heartbeats in 1.5 s`);
  assert.ok(agent.alive);
  // Failed heartbeats are in the backlog too, with their kind.
  const backlog = logs.backlog();
  assert.ok(backlog.some((r) => r.kind === 'diagnostic' && r.id === d.id));
  assert.ok(backlog.some((r) => r.kind === 'metric' && r.id === metrics[0].id));
});

scenario('agent: server port closed → status null, TCP refused but reachable', async (ctx) => {
  const fake = await ctx.ingest();
  await fake.stop();
  const dataDir = ctx.tmpdir('faultline-agent-data-');
  const logs = logsOf(dataDir);
  startDiagAgent(ctx, 'closed-box', { port: fake.port, dataDir });
  const [d] = await waitFor(() => logs.diagnostics().length >= 1 && logs.diagnostics(), 20000, { message: 'a diagnosis' });
  const m = logs.metrics()[0];
  assert.equal(m.ok, false);
  assert.equal(m.status, null);
  assert.equal(typeof m.error, 'string');
  assert.ok(m.error.length > 0);
  assert.equal(d.tcp.ok, false);
  assert.equal(d.tcp.reachable, true, `refused means reachable: ${JSON.stringify(d.tcp)}`);
});

scenario('agent: when the server answers again the backlog is uploaded in order, in chunks, each record once', async (ctx) => {
  const fake = await ctx.ingest({ status: 500 });
  const dataDir = ctx.tmpdir('faultline-agent-data-');
  const logs = logsOf(dataDir);
  startDiagAgent(ctx, 'backlog-box', { port: fake.port, dataDir, env: { PING_INTERVAL: '0.03' } });
  await waitFor(() => logs.backlog().length >= 230 && logs.diagnostics().length >= 1, 25000, { message: '230 records in the backlog' });
  assert.equal(fake.backlogRequests.length, 0, 'nothing uploaded while heartbeats fail');
  fake.setStatus(204);
  await waitFor(
    () => logs.backlogSize() === 0 && fake.backlogRecords.length === expectedBacklog(logs).ids.size,
    20000,
    { message: () => `backlog uploaded (fake has ${fake.backlogRecords.length})` },
  );
  assertUploadMatches(fake, logs, 'backlog-box');
  assert.ok(fake.backlogRequests.length >= 3, `${fake.backlogRequests.length} chunks`);
  const sent = fake.backlogRequests.reduce((n, r) => n + r.json.records.length, 0);
  assert.equal(sent, fake.backlogRecords.length, 'no record sent twice');
  assert.equal(fs.readFileSync(path.join(logs.dir, 'backlog.offset'), 'utf8').trim(), '0');
});

scenario('agent: a refused and a lost backlog answer are retried without gaps or duplicates stored', async (ctx) => {
  const fake = await ctx.ingest({ status: 500 });
  fake.failBacklog(500, 'hangup');
  const dataDir = ctx.tmpdir('faultline-agent-data-');
  const logs = logsOf(dataDir);
  const agent = startDiagAgent(ctx, 'retry-box', { port: fake.port, dataDir, env: { PING_INTERVAL: '0.03' } });
  await waitFor(() => logs.backlog().length >= 150, 25000, { message: '150 records in the backlog' });
  fake.setStatus(204);
  await waitFor(
    () => logs.backlogSize() === 0 && fake.backlogRecords.length === expectedBacklog(logs).ids.size,
    25000,
    { message: () => `backlog uploaded (fake has ${fake.backlogRecords.length})` },
  );
  assertUploadMatches(fake, logs, 'retry-box');
  assertNoGaps(fake);
  const [first, second, third] = fake.backlogRequests;
  assert.equal(first.answer, 500);
  assert.equal(second.answer, 'hangup');
  assert.deepEqual(
    second.json.records.map((r) => r.id),
    first.json.records.map((r) => r.id),
    'the refused chunk is sent again',
  );
  assert.deepEqual(
    third.json.records.map((r) => r.id),
    first.json.records.map((r) => r.id),
    'the chunk whose answer was lost is sent again',
  );
  // After a refusal the agent waits (1 s first); a connection lost before any answer may be
  // retried at once (libcurl does that on a reused connection): both are the same chunk again.
  assert.ok(second.time - first.time >= 900, `retry after ${second.time - first.time} ms`);
  assert.match(agent.stderr, /backlog upload failed/);
});

scenario('agent: kill -9 during an outage, restart → the pending backlog is still uploaded', async (ctx) => {
  const fake = await ctx.ingest({ status: 500 });
  const dataDir = ctx.tmpdir('faultline-agent-data-');
  const logs = logsOf(dataDir);
  const first = startDiagAgent(ctx, 'crash-box', { port: fake.port, dataDir, env: { PING_INTERVAL: '0.05' } });
  await waitFor(() => logs.backlog().length >= 40 && logs.diagnostics().length >= 1, 20000, { message: 'a backlog' });
  await first.kill9();
  const before = logs.backlog().map((r) => r.id);
  // A write cut short by the crash: the agent removes it before it appends again.
  fs.appendFileSync(path.join(logs.dir, 'backlog.jsonl'), '{"kind":"metric","id":"m-half');
  fs.appendFileSync(path.join(logs.dir, 'metrics.jsonl'), '{"id":"m-half');
  fake.setStatus(204);
  startDiagAgent(ctx, 'crash-box', { port: fake.port, dataDir });
  await waitFor(() => logs.backlogSize() === 0 && fake.backlogRecords.length >= before.length, 15000, {
    message: () => `old backlog uploaded (fake has ${fake.backlogRecords.length} of ${before.length})`,
  });
  assert.deepEqual(
    fake.backlogRecords.map((r) => r.id),
    before,
  );
  const metrics = logs.metrics(); // parses every line: the half line is gone
  assert.ok(metrics.some((m) => m.ok === true), 'the new run records its heartbeats');
  const starts = new Set(metrics.map((m) => m.id.split('-')[1]));
  assert.equal(starts.size, 2, 'ids of the second run carry its own start time');
});

scenario('agent: the logs stay under LOG_MAX_MB (oldest mtr first, rotation, backlog cut keeps diagnostics)', async (ctx) => {
  const fake = await ctx.ingest({ status: 500 });
  const dataDir = ctx.tmpdir('faultline-agent-data-');
  const logs = logsOf(dataDir);
  fs.mkdirSync(path.join(logs.dir, 'mtr'), { recursive: true });
  // What an earlier run with a larger LOG_MAX_MB left: 1 MB of mtr files, 300 KB of metrics
  // ending in a half line, and a 400 KB backlog that starts with three diagnostics.
  const oldMtr = [];
  for (let i = 0; i < 25; i++) {
    const name = `20200101T0000${String(i).padStart(2, '0')}.000Z.json`;
    oldMtr.push(name);
    fs.writeFileSync(path.join(logs.dir, 'mtr', name), JSON.stringify({ id: `d-1-${i}`, pad: 'x'.repeat(40000) }));
  }
  const metricLine = (i) =>
    JSON.stringify({ id: `m-1-${i}`, time: '2020-01-01T00:00:00.000Z', ok: false, latency_ms: 1000, status: null, error: 'timeout after 1000 ms, padding padding padding' });
  let metrics = '';
  for (let i = 0; metrics.length < 300000; i++) metrics += metricLine(i) + '\n';
  fs.writeFileSync(path.join(logs.dir, 'metrics.jsonl'), metrics + '{"id":"m-1-half",');
  const oldDiags = ['d-1-1', 'd-1-2', 'd-1-3'];
  let backlog = oldDiags.map((id) => JSON.stringify({ kind: 'diagnostic', id, time: '2020-01-01T00:00:00.000Z', trigger: 'old' }) + '\n').join('');
  const oldMetricIds = [];
  for (let i = 0; backlog.length < 400000; i++) {
    oldMetricIds.push(`m-1-${i}`);
    backlog += JSON.stringify({ kind: 'metric', ...JSON.parse(metricLine(i)) }) + '\n';
  }
  fs.writeFileSync(path.join(logs.dir, 'backlog.jsonl'), backlog);

  const agent = startDiagAgent(ctx, 'bounded-box', { port: fake.port, dataDir, env: { LOG_MAX_MB: '1', PING_INTERVAL: '0.05' } });
  await waitFor(() => logs.diagnostics().length >= 2, 20000, { message: 'two diagnoses' });
  const budget = 1024 * 1024;
  const size = treeSize(logs.dir);
  assert.ok(size <= budget + 64, `logs take ${size} bytes, LOG_MAX_MB 1 = ${budget}`);
  // The old metrics were rotated (repaired first: every line parses).
  const rotated = readJsonl(path.join(logs.dir, 'metrics.jsonl.1'));
  assert.equal(rotated[0].id, 'm-1-0');
  assert.ok(!rotated.some((m) => m.id === 'm-1-half'));
  // The oldest mtr files went first; the new ones are there.
  const left = fs.readdirSync(path.join(logs.dir, 'mtr')).sort();
  const oldLeft = left.filter((n) => n.startsWith('2020'));
  assert.ok(oldLeft.length < oldMtr.length, 'some old mtr files were deleted');
  assert.deepEqual(oldLeft, oldMtr.slice(oldMtr.length - oldLeft.length), 'the oldest were deleted first');
  for (const d of logs.diagnostics()) assert.ok(left.includes(path.basename(d.mtr_file)), `${d.mtr_file} kept`);
  // The backlog was cut: old diagnostics kept, the oldest metrics dropped, with a warning.
  assert.match(agent.stderr, /backlog over its share of LOG_MAX_MB/);
  const ids = logs.backlog().map((r) => r.id);
  assert.deepEqual(ids.slice(0, 3), oldDiags);
  assert.ok(!ids.includes(oldMetricIds[0]), 'the oldest metric record was dropped');
  assert.ok(ids.includes(oldMetricIds[oldMetricIds.length - 1]), 'the newest old metric record was kept');

  // Keep failing a while: still under the bound as records keep coming.
  await sleep(2000);
  const later = treeSize(logs.dir);
  assert.ok(later <= budget + 64, `logs take ${later} bytes after 2 s more`);
  fake.setStatus(204);
  await waitFor(() => logs.backlogSize() === 0, 15000, { message: 'backlog uploaded' });
  assert.deepEqual(
    fake.backlogRecords.slice(0, 3).map((r) => r.id),
    oldDiags,
    'uploaded oldest first',
  );
});
