// analyze.test.mjs — `faultline analyze` on the sample agent logs of tests/fixtures/analyze (one
// agent, two outages: gateway OK with the path stopping after hop 3, then the gateway down; a
// few lines cut short or malformed): the table, --json, exit statuses, missing files, and
// malformed lines skipped with file:line warnings.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { REPO_ROOT, makeTempDir } from './lib/faultline.mjs';

const FIXTURES = path.join(REPO_ROOT, 'tests/fixtures/analyze');
const METRICS = path.join(FIXTURES, 'metrics.jsonl');
const ROTATED = path.join(FIXTURES, 'metrics.jsonl.1');
const DIAGNOSTICS = path.join(FIXTURES, 'diagnostics.jsonl');

const OUTAGE_1 = {
  start: '2026-11-21T10:00:00.000Z',
  end: '2026-11-21T10:04:00.000Z',
  duration_s: 240,
  failed_attempts: 8,
  diagnosis: 'upstream ISP',
  verdict: 'upstream',
  evidence: 'gateway OK, 8.8.8.8 and 1.1.1.1 unreachable for 3m 55s, loss began after hop 3 (198.51.100.1)',
};
const OUTAGE_2 = {
  start: '2026-11-21T10:15:00.000Z',
  end: '2026-11-21T10:17:00.000Z',
  duration_s: 120,
  failed_attempts: 4,
  diagnosis: 'local network',
  verdict: 'local_network',
  evidence: 'gateway unreachable, 8.8.8.8 and 1.1.1.1 unreachable for 1m 55s, no answer from hop 1',
};

function pick(period) {
  const { start, end, duration_s, failed_attempts, diagnosis, verdict, evidence } = period;
  return { start, end, duration_s, failed_attempts, diagnosis, verdict, evidence };
}

scenario('analyze prints attempts, outages with their diagnosis, and worst hops as a table; exit 1', async (ctx) => {
  const r = await ctx.run(['analyze', METRICS, DIAGNOSTICS]);
  assert.equal(r.code, 1, `exit status 1 when outages are found (stderr: ${r.stderr})`);
  const out = r.stdout;
  assert.match(out, /^attempts\s+81$/m);
  assert.match(out, /^failures\s+12 \(14\.8%\)$/m);
  assert.match(out, /^outages\s+2$/m);
  assert.match(out, /^1\s+2026-11-21 10:00:00\s+2026-11-21 10:04:00\s+4m\s+8\s+upstream ISP$/m);
  assert.ok(out.includes(`     ${OUTAGE_1.evidence}\n`), out);
  assert.match(out, /^2\s+2026-11-21 10:15:00\s+2026-11-21 10:17:00\s+2m\s+4\s+local network$/m);
  assert.ok(out.includes(`     ${OUTAGE_2.evidence}\n`), out);
  // Columns line up: every period row starts its diagnosis at the same column as the header.
  const header = out.split('\n').find((l) => l.startsWith('#'));
  const rows = out.split('\n').filter((l) => /^\d+\s+2026/.test(l));
  assert.equal(rows.length, 2);
  for (const row of rows) assert.equal(row.indexOf(row.match(/(upstream ISP|local network)$/)[0]), header.indexOf('diagnosis'));
  // Hop 2 rate-limits ICMP in one trace: it is the worst hop by loss, yet not named as the fault.
  assert.match(out, /worst hops\n.*\n2\s+100\.64\.0\.1\s+4\s+10\.0%\s+2\.1 ms\n3\s+198\.51\.100\.1\s+4\s+0\.0%\s+6\.8 ms\n1\s+10\.1\.0\.1\s+4\s+0\.0%\s+0\.4 ms\n$/);
});

scenario('analyze --json gives one object with attempts, failure rate, periods and worst hops', async (ctx) => {
  const r = await ctx.run(['analyze', '--json', METRICS, DIAGNOSTICS]);
  assert.equal(r.code, 1, `exit status (stderr: ${r.stderr})`);
  const o = JSON.parse(r.stdout);
  assert.equal(o.attempts, 81);
  assert.equal(o.failures, 12);
  assert.ok(Math.abs(o.failure_rate - 12 / 81) < 1e-9, `failure_rate ${o.failure_rate}`);
  assert.equal(o.skipped_lines, 5);
  assert.equal(o.periods.length, 2);
  assert.deepEqual(pick(o.periods[0]), OUTAGE_1);
  assert.deepEqual(pick(o.periods[1]), OUTAGE_2);
  assert.equal(o.periods[0].recovered, true);
  assert.equal(o.periods[0].diagnoses, 4);
  const fault = o.periods[0].details.path_fault;
  assert.equal(fault.last_good_ttl, 3);
  assert.equal(fault.last_good_addr, '198.51.100.1');
  assert.equal(fault.agreeing, 4, 'all four traces of the first outage stop after hop 3');
  assert.equal(o.periods[1].details.path_fault.ttl, 1);
  assert.deepEqual(o.worst_hops.map((h) => [h.ttl, h.addr, h.samples, h.loss_pct]), [
    [2, '100.64.0.1', 4, 10],
    [3, '198.51.100.1', 4, 0],
    [1, '10.1.0.1', 4, 0],
  ]);
});

scenario('analyze reads rotated files and files in any order, recognising them by their lines', async (ctx) => {
  const r = await ctx.run(['analyze', DIAGNOSTICS, METRICS, ROTATED, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.attempts, 101, '81 heartbeats + 20 in the rotated file');
  assert.equal(o.failures, 12);
  assert.deepEqual(o.periods.map(pick), [OUTAGE_1, OUTAGE_2]);

  // The same file twice counts its records once (ids already seen are dropped).
  const twice = await ctx.run(['analyze', METRICS, METRICS, '--json']);
  assert.equal(JSON.parse(twice.stdout).attempts, 81);
});

scenario('analyze skips malformed lines with a warning naming file:line, and never crashes', async (ctx) => {
  const r = await ctx.run(['analyze', METRICS, DIAGNOSTICS]);
  assert.equal(r.code, 1);
  const warnings = r.stderr.trim().split('\n');
  assert.equal(warnings.length, 5, r.stderr);
  assert.match(r.stderr, new RegExp(`${METRICS}:38: skipped: not JSON`));
  assert.match(r.stderr, new RegExp(`${METRICS}:63: skipped: not JSON`));
  assert.match(r.stderr, new RegExp(`${METRICS}:64: skipped: "time": expected an ISO 8601 time with Z or a \\+HH:MM offset, got "yesterday"`));
  assert.match(r.stderr, new RegExp(`${DIAGNOSTICS}:5: skipped: not JSON`));
  assert.match(r.stderr, new RegExp(`${DIAGNOSTICS}:6: skipped: neither a heartbeat`));

  // Garbage of every kind: binary, huge lines, wrong types everywhere.
  const dir = makeTempDir();
  const junk = path.join(dir, 'junk.jsonl');
  fs.writeFileSync(junk, [
    '\u0000\u0001\u0002',
    'x'.repeat(200000),
    '[]',
    '{"time":"2026-11-21T10:00:00Z","ok":false}',
    '{"time":"2026-11-21T10:00:01Z","trigger":1,"gateway":"up","external":{"a":1},"server":[],"tcp":"x","dns":5,"mtr":{"hops":[{"ttl":"one"}]}}',
    '{"time":"2026-11-21T10:00:02Z","mtr":{"hops":[{"ttl":1,"addr":7}]}}',
    '{"time":12,"ok":true}',
    '{"time":"2026-11-21T10:00:30Z","ok":true}',
    '',
  ].join('\n'));
  const j = await ctx.run(['analyze', junk, '--json']);
  assert.equal(j.code, 1, `stderr: ${j.stderr}`);
  const o = JSON.parse(j.stdout);
  assert.equal(o.attempts, 2);
  assert.equal(o.periods.length, 1);
  assert.equal(o.periods[0].verdict, 'unknown');
  assert.equal(o.periods[0].duration_s, 30);
  assert.match(j.stderr, /junk\.jsonl:1: skipped/);
  assert.match(j.stderr, /junk\.jsonl:2: skipped: not JSON/);
  assert.match(j.stderr, /junk\.jsonl:3: skipped: expected a JSON object/);
  assert.match(j.stderr, /junk\.jsonl:7: skipped: "time": expected an ISO 8601 time with Z or a \+HH:MM offset, got nothing/);
});

scenario('analyze exits 0 when no outage is found', async (ctx) => {
  const r = await ctx.run(['analyze', ROTATED]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^attempts\s+20$/m);
  assert.match(r.stdout, /^failures\s+0 \(0\.0%\)$/m);
  assert.match(r.stdout, /^outages\s+0$/m);
  const j = await ctx.run(['analyze', ROTATED, '--json']);
  assert.equal(j.code, 0);
  assert.deepEqual(JSON.parse(j.stdout), { attempts: 20, failures: 0, failure_rate: 0, skipped_lines: 0, periods: [], worst_hops: [] });
});

scenario('analyze with diagnostics alone groups them into outages', async (ctx) => {
  const r = await ctx.run(['analyze', DIAGNOSTICS, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.attempts, 0);
  assert.equal(o.failure_rate, null);
  assert.deepEqual(o.periods.map((p) => [p.start, p.end, p.verdict]), [
    ['2026-11-21T10:00:05.400Z', '2026-11-21T10:03:05.400Z', 'upstream'],
    ['2026-11-21T10:15:05.200Z', '2026-11-21T10:16:05.200Z', 'local_network'],
  ]);
});

scenario('analyze: a file that does not exist exits 2 naming it; no file at all is a usage error', async (ctx) => {
  const missing = path.join(FIXTURES, 'no-such-metrics.jsonl');
  const r = await ctx.run(['analyze', METRICS, missing]);
  assert.equal(r.code, 2);
  assert.ok(r.stderr.includes(`${missing}: No such file or directory`), r.stderr);
  assert.equal(r.stdout, '');

  const none = await ctx.run(['analyze']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /expected one or more log files/);
  assert.match(none.stderr, /usage: faultline analyze/);

  const dir = await ctx.run(['analyze', FIXTURES]);
  assert.equal(dir.code, 2, `a directory is not a log file (stderr: ${dir.stderr})`);
  assert.ok(dir.stderr.includes(FIXTURES), dir.stderr);
});

scenario('analyze --help describes the command and exits 0', async (ctx) => {
  const r = await ctx.run(['analyze', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /usage: faultline analyze METRICS\.jsonl/);
  assert.match(r.stdout, /--json/);
  assert.match(r.stdout, /Exit status: 0 no outage found, 1 outages found, 2/);
});

// ---- the uptime-rca-bot client's logs (tests/fixtures/analyze/uptime-bot/make-fixtures.py) ----

const BOT = path.join(FIXTURES, 'uptime-bot');
const BOT_FILES = [
  path.join(BOT, 'metrics.jsonl.20261121_093950.old'),
  path.join(BOT, 'metrics.jsonl'),
  path.join(BOT, 'diagnostics.jsonl'),
  ...['mtr_20261121_093955.json', 'mtr_20261121_100035.json', 'mtr_20261121_100205.json'].map((f) => path.join(BOT, 'mtr', f)),
];
const BOT_OUTAGE_1 = {
  start: '2026-11-21T10:00:00.000Z',
  end: '2026-11-21T10:04:00.000Z',
  duration_s: 240,
  failed_attempts: 8,
  diagnosis: 'upstream ISP',
  verdict: 'upstream',
  evidence: 'gateway OK, 8.8.8.8 unreachable for 3m 25s, loss began after hop 3 (198.51.100.1)',
};
const BOT_OUTAGE_2 = {
  start: '2026-11-21T10:15:00.000Z',
  end: '2026-11-21T10:16:00.000Z',
  duration_s: 60,
  failed_attempts: 2,
  diagnosis: 'unknown',
  verdict: 'unknown',
  evidence: '2 failed heartbeats, no diagnostics',
};

scenario('analyze reads the uptime-rca-bot client logs (rotated .old, metrics, diagnostics, mtr files) as a table', async (ctx) => {
  const r = await ctx.run(['analyze', ...BOT_FILES]);
  assert.equal(r.code, 1, `exit status 1 when outages are found (stderr: ${r.stderr})`);
  assert.equal(r.stderr, '', 'every line of the bot logs is read, the indented mtr -j output included');
  const out = r.stdout;
  assert.match(out, /^attempts\s+73$/m);
  assert.match(out, /^failures\s+10 \(13\.7%\)$/m);
  assert.match(out, /^outages\s+2$/m);
  assert.match(out, /^1\s+2026-11-21 10:00:00\s+2026-11-21 10:04:00\s+4m\s+8\s+upstream ISP$/m);
  assert.ok(out.includes(`     ${BOT_OUTAGE_1.evidence}\n`), out);
  assert.match(out, /^2\s+2026-11-21 10:15:00\s+2026-11-21 10:16:00\s+1m\s+2\s+unknown$/m);
  assert.ok(out.includes(`     ${BOT_OUTAGE_2.evidence}\n`), out);
});

scenario('analyze --json on the uptime-rca-bot logs: each mtr shape read, the mtr/ copies of a diagnosis counted once', async (ctx) => {
  const r = await ctx.run(['analyze', '--json', ...BOT_FILES]);
  assert.equal(r.code, 1, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.attempts, 73, '40 heartbeats in the rotated .old file + 33 (gpu_error lines count as failed)');
  assert.equal(o.failures, 10);
  assert.equal(o.skipped_lines, 0);
  assert.deepEqual(o.periods.map(pick), [BOT_OUTAGE_1, BOT_OUTAGE_2]);
  assert.equal(o.periods[0].diagnoses, 2, 'the two diagnoses, not their copies in mtr/');
  const fault = o.periods[0].details.path_fault;
  assert.equal(fault.last_good_ttl, 3);
  assert.equal(fault.last_good_addr, '198.51.100.1');
  assert.equal(fault.agreeing, 2, 'the mtr -r hops and the traceroute hops stop after hop 3 alike');
  // The start-up diagnosis (mtr -j) adds the server as hop 4; mtr -r's 33% at hop 2 is averaged.
  assert.deepEqual(
    o.worst_hops.map((h) => [h.ttl, h.addr, h.samples, Math.round(h.loss_pct * 10) / 10]),
    [[2, '100.64.0.1', 3, 11.1], [4, '203.0.113.10', 1, 0], [3, '198.51.100.1', 3, 0], [1, '10.1.0.1', 3, 0]],
  );
});

scenario('analyze names the member of a bot line it cannot read, and reads the rest', async (ctx) => {
  const dir = ctx.tmpdir();
  const file = path.join(dir, 'diagnostics.jsonl');
  fs.writeFileSync(file, [
    '{"ts":"2026-11-21T10:00:35Z","worker":"gpu-1(8)","gateway":"10.1.0.1","gw_loss_pct":"lots","gw_avg_ms":0.4,"external_loss_pct":0,"external_avg_ms":9,"bot_loss_pct":100,"bot_avg_ms":-1,"dns_ok":1,"dns_ms":3,"tcp_port_ok":0,"mtr":{"ts":"2026-11-21T10:00:40Z","target":"203.0.113.10","hops":[]}}',
    '{"ts":"2026-11-21T10:01:35Z","worker":"gpu-1(8)","gateway":"10.1.0.1","gw_loss_pct":0,"gw_avg_ms":0.4,"external_loss_pct":0,"external_avg_ms":9,"bot_loss_pct":100,"bot_avg_ms":-1,"dns_ok":1,"dns_ms":3,"tcp_port_ok":0,"mtr":{"ts":"2026-11-21T10:01:40Z","target":"203.0.113.10","hops":[{"hop":1,"host":"10.1.0.1","loss":0,"avg":0.4},{"hop":2,"host":"???","loss":"x","avg":0}]}}',
    '{"ts":"2026-11-21T10:02:35Z","worker":"gpu-1(8)","status":"maybe","http":"000","latency_ms":5,"error":"","consecutive_failures":3}',
    '',
  ].join('\n'));
  const r = await ctx.run(['analyze', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.trim().split('\n');
  assert.deepEqual(warnings, [
    `faultline analyze: ${file}:1: skipped: uptime-rca-bot record: gw_loss_pct: expected a number from 0 to 100, got "lots"`,
    `faultline analyze: ${file}:2: skipped: uptime-rca-bot record: mtr.hops[1].loss: expected a number from 0 to 100, got "x"`,
    `faultline analyze: ${file}:3: skipped: uptime-rca-bot record: status: expected "ok", "fail" or "gpu_error", got "maybe"`,
  ]);
  assert.equal(JSON.parse(r.stdout).skipped_lines, 3);
});

scenario('analyze takes a whole mtr/ folder of the bot client (it keeps 99 files); copies of one path count once', async (ctx) => {
  const dir = ctx.tmpdir();
  const src = fs.readFileSync(path.join(BOT, 'mtr', 'mtr_20261121_100035.json'));
  const files = [];
  for (let i = 0; i < 99; i++) {
    const f = path.join(dir, `mtr_20261121_10${String(Math.floor(i / 60)).padStart(2, '0')}${String(i % 60).padStart(2, '0')}.json`);
    fs.writeFileSync(f, src);
    files.push(f);
  }
  const r = await ctx.run(['analyze', '--json', path.join(BOT, 'metrics.jsonl'), ...files]);
  assert.equal(r.code, 1, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.skipped_lines, 0);
  assert.equal(o.periods[0].diagnoses, 1, 'the same path (same content and time) once');
  assert.equal(o.periods[0].verdict, 'server_path', 'a path alone: loss past the gateway, nothing said of the outside');
});
