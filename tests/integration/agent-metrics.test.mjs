// agent-metrics.test.mjs — what `faultline agent NAME` pushes every METRICS_INTERVAL, watched at
// a fake server: POST /api/v1/metrics/NAME with the heartbeat's key, gzip'd Prometheus text that
// promtool accepts, node_exporter's names for the host, a textfile's and a METRICS_EXEC
// command's samples, GPUs from a fake nvidia-smi under dcgm-exporter's names (and their count in
// the heartbeat, following a change, which the real server records as gpu_lost and gpu_back); the
// real server takes a real agent's push whole and serves it in /metrics with worker and site; a
// hanging command holds back neither heartbeats nor SIGTERM; METRICS_INTERVAL=0 pushes nothing;
// lines the server refuses are logged; bad METRICS_* settings stop the agent with an error
// naming them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { runFaultline } from './lib/faultline.mjs';
import { havePromtool, promtoolProblems } from './lib/promtool.mjs';
import { events, request } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const KEY = 'agent-metrics-key-1';

function writeScript(dir, name, body) {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return p;
}

/** The sample lines of a body as [name, {labels}, value]. */
function samples(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    out.push([m[1], labels, Number(m[3])]);
  }
  return out;
}

function find(list, name, labels = {}) {
  return list.find(([n, l]) => n === name && Object.entries(labels).every(([k, v]) => l[k] === v));
}

scenario('agent pushes host, textfile and exec metrics as Prometheus text with the key', async (ctx) => {
  assert.ok(havePromtool(), 'promtool is installed (scripts/install-deps --test)');
  const dir = ctx.tmpdir('faultline-metrics-');
  const textDir = path.join(dir, 'textfiles');
  fs.mkdirSync(textDir);
  fs.writeFileSync(path.join(textDir, 'backup.prom'),
    '# HELP backup_last_success_seconds Last good backup.\n# TYPE backup_last_success_seconds gauge\n' +
    'backup_last_success_seconds{job="db"} 1790000000\n');
  const exec = writeScript(dir, 'queue-stats', 'echo "# HELP app_jobs_total Jobs done."\necho "# TYPE app_jobs_total counter"\necho "app_jobs_total{queue=\\"$1\\"} 42"');
  const fake = await ctx.ingest();
  ctx.agent('metrics-box-1', {
    port: fake.port,
    apiKey: KEY,
    env: {
      METRICS_INTERVAL: '1',
      METRICS_TEXTFILE_DIR: textDir,
      METRICS_EXEC: `queue:2:${exec} render`,
      FAULTLINE_NVML_LIB: '/nonexistent/libnvidia-ml.so.1',
      FAULTLINE_NVIDIA_SMI: '/nonexistent/nvidia-smi',
    },
  });
  const [first] = await fake.waitForMetrics(1, 5000);
  assert.equal(first.method, 'POST');
  assert.equal(first.path, '/api/v1/metrics/metrics-box-1');
  assert.equal(first.headers.authorization, `Bearer ${KEY}`);
  assert.equal(first.headers['content-type'], 'text/plain; version=0.0.4');
  assert.equal(first.headers['content-encoding'], 'gzip');
  assert.ok(first.bytes < first.text.length / 3, `gzip: ${first.bytes} bytes for ${first.text.length}`);
  const list = samples(first.text);
  const idle = find(list, 'node_cpu_seconds_total', { cpu: '0', mode: 'idle' });
  assert.ok(idle && idle[2] > 0, 'CPU 0 idle seconds');
  assert.ok(find(list, 'node_memory_MemTotal_bytes')[2] > 0);
  assert.ok(find(list, 'node_memory_MemAvailable_bytes'));
  assert.ok(find(list, 'node_load1'));
  assert.ok(find(list, 'node_boot_time_seconds')[2] > 1e9);
  assert.ok(find(list, 'node_network_receive_bytes_total', { device: 'lo' }));
  const fs0 = list.filter(([n]) => n === 'node_filesystem_avail_bytes');
  for (const [, l] of fs0) {
    assert.deepEqual(Object.keys(l).sort(), ['device', 'fstype', 'mountpoint']);
    assert.ok(!['proc', 'sysfs', 'cgroup2', 'devpts', 'overlay'].includes(l.fstype), `pseudo file system ${l.fstype}`);
    assert.ok(!/^\/(proc|sys|dev)(\/|$)/.test(l.mountpoint), `pseudo mount point ${l.mountpoint}`);
  }
  assert.deepEqual(find(list, 'backup_last_success_seconds', { job: 'db' }), ['backup_last_success_seconds', { job: 'db' }, 1790000000]);
  assert.deepEqual(find(list, 'app_jobs_total'), ['app_jobs_total', { queue: 'render' }, 42]);
  assert.deepEqual(find(list, 'faultline_gpus'), ['faultline_gpus', { source: 'none' }, 0]);
  for (const c of ['system', 'gpu', 'textfile', 'exec'])
    assert.equal(find(list, 'node_scrape_collector_success', { collector: c })[2], 1, `collector ${c}`);
  // a textfile's and a command's HELP and TYPE go through, as node_exporter passes them on
  assert.match(first.text, /^# HELP backup_last_success_seconds Last good backup\.\n# TYPE backup_last_success_seconds gauge\n/m);
  assert.match(first.text, /^# HELP app_jobs_total Jobs done\.\n# TYPE app_jobs_total counter\n/m);
  assert.deepEqual(promtoolProblems(first.text), []);

  // then every METRICS_INTERVAL, beside the heartbeats
  await fake.waitForMetrics(3, 5000);
  const gap = fake.metricsRequests[2].time - fake.metricsRequests[1].time;
  assert.ok(gap >= 700 && gap <= 2000, `pushes ${gap} ms apart for METRICS_INTERVAL 1`);
  const hb = (await fake.waitForRequests(2, 3000))[1];
  assert.equal(hb.path, '/api/v1/heartbeat');
  assert.equal(hb.json.gpus, 0);
  const uptime = Math.floor(Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]));
  assert.ok(Math.abs(hb.json.uptime_s - uptime) <= 3, `uptime_s ${hb.json.uptime_s} against /proc/uptime ${uptime}`);
});

scenario('GPUs from nvidia-smi under dcgm-exporter names; the heartbeat follows a GPU count change', async (ctx) => {
  const dir = ctx.tmpdir('faultline-metrics-');
  const countFile = path.join(dir, 'count');
  fs.writeFileSync(countFile, '2');
  const smi = writeScript(dir, 'nvidia-smi', [
    'case "$1" in --query-gpu=*) ;; *) exit 3 ;; esac',
    'echo "0, GPU-aaaa, NVIDIA H100 80GB HBM3, 87, 30, 1024, 80535, 81559, 64, 301.50, 1755, 2619, 0, 0, 0x0000000000000000"',
    `[ "$(cat '${countFile}')" = fail ] && { echo 'NVIDIA-SMI has failed' >&2; exit 9; }`,
    `[ "$(cat '${countFile}')" = 2 ] && echo "1, GPU-bbbb, NVIDIA H100 80GB HBM3, 5, 0, 0, 81559, 81559, 33, 70.25, 345, 2619, 3, 0, 0x0000000000000004"`,
    'exit 0',
  ].join('\n'));
  const fake = await ctx.ingest();
  const agent = ctx.agent('gpu-box-9', {
    port: fake.port,
    apiKey: KEY,
    env: { METRICS_INTERVAL: '1', FAULTLINE_NVML_LIB: '/nonexistent/libnvidia-ml.so.1', FAULTLINE_NVIDIA_SMI: smi },
  });
  const [first] = await fake.waitForMetrics(1, 5000);
  const list = samples(first.text);
  assert.deepEqual(find(list, 'DCGM_FI_DEV_GPU_UTIL', { gpu: '0' }),
    ['DCGM_FI_DEV_GPU_UTIL', { UUID: 'GPU-aaaa', device: 'nvidia0', gpu: '0', modelName: 'NVIDIA H100 80GB HBM3' }, 87]);
  assert.equal(find(list, 'DCGM_FI_DEV_GPU_TEMP', { gpu: '1' })[2], 33);
  assert.equal(find(list, 'DCGM_FI_DEV_POWER_USAGE', { gpu: '1' })[2], 70.25);
  assert.equal(find(list, 'DCGM_FI_DEV_FB_USED', { gpu: '0' })[2], 1024);
  assert.equal(find(list, 'DCGM_FI_DEV_ECC_SBE_AGG_TOTAL', { gpu: '1' })[2], 3);
  assert.equal(find(list, 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', { gpu: '1' })[2], 4);
  assert.deepEqual(find(list, 'faultline_gpus'), ['faultline_gpus', { source: 'nvidia-smi' }, 2]);
  assert.deepEqual(promtoolProblems(first.text), []);
  const hb = await waitFor(() => fake.requests.find((r) => r.json?.gpus === 2), 3000, { message: 'a heartbeat with gpus 2' });
  assert.equal(hb.json.name, 'gpu-box-9');

  fs.writeFileSync(countFile, '1');
  await waitFor(() => fake.requests.some((r) => r.json?.gpus === 1), 5000, { message: 'a heartbeat with gpus 1' });
  await waitFor(() => /GPU count changed from 2 to 1/.test(agent.stderr), 2000, { message: 'the change is logged' });
  const last = fake.metricsRequests.at(-1);
  assert.deepEqual(find(samples(last.text), 'faultline_gpus'), ['faultline_gpus', { source: 'nvidia-smi' }, 1]);
});

scenario('a real agent whose nvidia-smi loses a GPU makes the server record gpu_lost, then gpu_back', async (ctx) => {
  const dir = ctx.tmpdir('faultline-metrics-');
  const countFile = path.join(dir, 'count');
  fs.writeFileSync(countFile, '2');
  const smi = writeScript(dir, 'nvidia-smi', [
    'echo "0, GPU-aaaa, NVIDIA L4, 1, 0, 0, 22000, 22000, 30, 20.00, 300, 6000, 0, 0, 0x0"',
    `[ "$(cat '${countFile}')" = fail ] && { echo 'NVIDIA-SMI has failed' >&2; exit 9; }`,
    `[ "$(cat '${countFile}')" = 2 ] && echo "1, GPU-bbbb, NVIDIA L4, 1, 0, 0, 22000, 22000, 30, 20.00, 300, 6000, 0, 0, 0x0"`,
    'exit 0',
  ].join('\n'));
  const srv = await ctx.server();
  ctx.agent('gpu-agent-1', {
    server: srv,
    env: { METRICS_INTERVAL: '1', FAULTLINE_NVML_LIB: '/nonexistent/libnvidia-ml.so.1', FAULTLINE_NVIDIA_SMI: smi },
  });
  await waitFor(async () => (await events(srv)).some((e) => e.worker === 'gpu-agent-1' && e.kind === 'up'), 5000, { message: 'the agent is UP' });
  fs.writeFileSync(countFile, '1');
  const lost = await waitFor(async () => (await events(srv, { type: 'gpu_lost' })).find((e) => e.worker === 'gpu-agent-1'), 6000, { message: 'gpu_lost' });
  assert.deepEqual([lost.details.from, lost.details.to], [2, 1]);
  fs.writeFileSync(countFile, '2');
  const back = await waitFor(async () => (await events(srv, { type: 'gpu_back' })).find((e) => e.worker === 'gpu-agent-1'), 6000, { message: 'gpu_back' });
  assert.deepEqual([back.details.from, back.details.to], [1, 2]);
  // A failing nvidia-smi is a failed GPU check (gpu_error), not "0 GPUs".
  fs.writeFileSync(countFile, 'fail');
  const failed = await waitFor(async () => (await events(srv, { type: 'gpu_lost' })).find((e) => e.worker === 'gpu-agent-1' && e.details.gpu_error), 6000, { message: 'gpu_lost with gpu_error' });
  assert.deepEqual([failed.details.from, failed.details.to, failed.details.gpu_error], [2, null, true]);
});

scenario('a real agent\'s push reaches the real server: its samples are in /metrics with worker and site, promtool-clean', async (ctx) => {
  const dir = ctx.tmpdir('faultline-metrics-');
  fs.writeFileSync(path.join(dir, 'jobs.prom'), '# TYPE jobs_done_total counter\njobs_done_total{queue="render"} 7\n');
  const srv = await ctx.server({ env: { METRICS_TOKEN: 'agent-metrics-token' } });
  const agent = ctx.agent('real-push-box', {
    server: srv,
    env: { METRICS_INTERVAL: '1', METRICS_TEXTFILE_DIR: dir, SITE: 'fra1', LOG_LEVEL: 'debug' },
  });
  const scrape = () => request(`${srv.url}/metrics`, { headers: { Authorization: 'Bearer agent-metrics-token' } });
  const res = await waitFor(async () => {
    const r = await scrape();
    return r.status === 200 && r.text.includes('jobs_done_total{queue="render",site="fra1",worker="real-push-box"} 7') && r;
  }, 6000, { message: 'the textfile sample in /metrics' });
  assert.match(res.text, /^node_cpu_seconds_total\{cpu="0",mode="idle",site="fra1",worker="real-push-box"\} \d/m);
  assert.match(res.text, /^node_memory_MemTotal_bytes\{site="fra1",worker="real-push-box"\} \d/m);
  assert.match(res.text, /^faultline_gpus\{source="none",site="fra1",worker="real-push-box"\} 0$/m);
  assert.deepEqual(promtoolProblems(res.text), []);
  // what the server answered the agent: every line accepted, none refused
  const answer = await waitFor(() => /agent: metrics pushed: (\{"accepted":\d+,"refused":\[\],"series":\d+\})/.exec(agent.stderr), 3000, { message: 'a push answer in the agent log' });
  const body = JSON.parse(answer[1]);
  assert.equal(body.accepted, body.series);
  assert.ok(body.series > 50, `${body.series} series`);
});

scenario('METRICS_INTERVAL=0 pushes nothing; heartbeats go on', async (ctx) => {
  const fake = await ctx.ingest();
  ctx.agent('quiet-box', { port: fake.port, apiKey: KEY, env: { METRICS_INTERVAL: '0' } });
  // The first walk happens before the first heartbeat: had it pushed, it would be here by now.
  await fake.waitForRequests(5, 5000);
  assert.equal(fake.metricsRequests.length, 0);
  assert.equal(fake.requests[0].json.name, 'quiet-box');
});

scenario('lines the server refuses are logged once, with the first error; the agent goes on', async (ctx) => {
  const fake = await ctx.ingest();
  fake.setMetricsAnswer(200, { accepted: 10, refused: [{ line: 7, error: 'label name "0x" of metric "up": expected [a-zA-Z_][a-zA-Z0-9_]*' }], series: 10 });
  const agent = ctx.agent('refused-box', { port: fake.port, apiKey: KEY, env: { METRICS_INTERVAL: '1' } });
  await fake.waitForMetrics(3, 6000);
  const warning = 'agent: metrics push: the server refused 1 lines, the first: line 7: label name "0x" of metric "up": expected [a-zA-Z_][a-zA-Z0-9_]*';
  assert.equal(agent.stderr.split(warning).length - 1, 1, agent.stderr);
  fake.setMetricsAnswer(404, { error: 'no worker "refused-box": send a heartbeat first' });
  const n = fake.metricsRequests.length;
  await fake.waitForMetrics(n + 1, 3000);
  await waitFor(() => agent.stderr.includes('agent: metrics push: HTTP 404: {"error":"no worker \\"refused-box\\": send a heartbeat first"}'), 3000, { message: 'the 404 is logged' });
  assert.ok(agent.alive);
});

scenario('a hanging METRICS_EXEC command holds back neither the heartbeats nor SIGTERM', async (ctx) => {
  const dir = ctx.tmpdir('faultline-metrics-');
  const hang = writeScript(dir, 'hang', 'sleep 120');
  const fake = await ctx.ingest();
  const agent = ctx.agent('hang-box', { port: fake.port, apiKey: KEY, env: { METRICS_INTERVAL: '1', METRICS_EXEC: `slow:120:${hang}` } });
  const started = Date.now();
  const [hb] = await fake.waitForRequests(1, 3000);
  assert.ok(hb.time - started < 2000, `first heartbeat ${hb.time - started} ms after start`);
  await fake.waitForRequests(4, 3000);
  assert.equal(fake.metricsRequests.length, 0, 'the walk is still in its exec step');
  const t0 = Date.now();
  await agent.stop({ graceMs: 2000 });
  assert.ok(Date.now() - t0 < 2000);
});

scenario('bad METRICS_* settings stop the agent with an error naming them', async () => {
  const env = { API_KEY: KEY, SERVER_ADDR: '127.0.0.1', SERVER_PORT: '9' };
  let r = await runFaultline(['agent', 'x'], { env: { ...env, METRICS_EXEC: 'raid' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /METRICS_EXEC: expected commands separated by ';', each NAME:TIMEOUT:COMMAND \[ARGS\.\.\.\] .*, got "raid"/);
  r = await runFaultline(['agent', 'x'], { env: { ...env, METRICS_TEXTFILE_DIR: '/nonexistent/prom' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /METRICS_TEXTFILE_DIR: cannot read "\/nonexistent\/prom": No such file or directory/);
  r = await runFaultline(['agent', 'x'], { env: { ...env, METRICS_INTERVAL: '1.5' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /METRICS_INTERVAL: expected a whole number from 0 to 86400, got "1.5"/);
  r = await runFaultline(['agent', 'x'], { env: { ...env, METRICS_PER_CPU: 'yes' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /METRICS_PER_CPU: expected a whole number from 0 to 1, got "yes"/);
});
