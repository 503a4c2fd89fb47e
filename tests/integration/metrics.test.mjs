// metrics.test.mjs — agents' pushed metrics and GET /metrics: a real Prometheus (Debian's
// prometheus) scrapes the server with the metrics token and sees a pushed textfile metric and a
// CPU metric with their worker and site labels, then loses them once the agent stops and
// METRICS_TTL passes; /metrics and /status refuse scrapers without the token; the live output
// with many agents passes `promtool check metrics`; a push's refusals, the series cap and gzip
// both ways (and a gzip bomb) answer exactly as docs/api.md says; a server stopped with a scrape
// or a push waiting on the thread pool answers it and exits cleanly.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { scenario } from './lib/scenario.mjs';
import { freePort } from './lib/faultline.mjs';
import { heartbeat, hb, request, basicAuth } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const TOKEN = 'scrape-token-7f3a';
const TEXT = 'text/plain; version=0.0.4';

function push(srv, name, body, { headers = {}, key = srv.apiKey } = {}) {
  return request(`${srv.url}/api/v1/metrics/${name}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': TEXT, ...headers },
    body,
  });
}

function scrape(srv, { token = TOKEN, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  return request(`${srv.url}/metrics`, { headers: h });
}

async function joined(srv, name, site) {
  const r = await heartbeat(srv, hb(name, site ? { site } : {}));
  assert.equal(r.status, 204, r.text);
}

// A real Prometheus on a free loopback port, scraping srv every second with the token.
async function startPrometheus(ctx, srv) {
  const dir = ctx.tmpdir('faultline-prom-');
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    [
      'global: {scrape_interval: 1s, scrape_timeout: 1s}',
      'scrape_configs:',
      '  - job_name: faultline',
      '    authorization: {credentials: ' + TOKEN + '}',
      `    static_configs: [{targets: ['127.0.0.1:${srv.port}']}]`,
      '',
    ].join('\n'),
  );
  const proc = spawn(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  proc.stderr.on('data', (c) => (log += c.toString()));
  const exited = new Promise((resolve) => proc.on('close', resolve));
  proc.on('error', (err) => (log += `\n[spawn error: ${err.message}; install Debian's prometheus]`));
  ctx.closers.push(async () => {
    proc.kill('SIGTERM');
    await exited;
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await request(`${url}/-/ready`)).status === 200, 20000, {
    message: () => `prometheus ready; its log:\n${log.slice(-2000)}`,
  });
  const query = async (q) => {
    const r = await request(`${url}/api/v1/query?query=${encodeURIComponent(q)}`);
    assert.equal(r.status, 200, r.text);
    return r.json.data.result;
  };
  return { query, log: () => log };
}

scenario('Prometheus scrapes pushed metrics with their labels, and loses them after METRICS_TTL', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN, METRICS_TTL: '3' } });
  await joined(srv, 'gpu-01', 'lab');
  const body =
    '# HELP app_jobs_done_total Jobs the renderer finished.\n# TYPE app_jobs_done_total counter\n' +
    'app_jobs_done_total{queue="render"} 42\n' +
    '# TYPE node_cpu_seconds_total counter\n' +
    'node_cpu_seconds_total{cpu="0",mode="idle"} 1234.5\nnode_cpu_seconds_total{cpu="0",mode="user"} 99\n';
  let pushing = true;
  const pusher = (async () => {
    while (pushing) {
      const r = await push(srv, 'gpu-01', body);
      assert.equal(r.status, 200, r.text);
      await new Promise((res) => setTimeout(res, 500));
    }
  })();
  const prom = await startPrometheus(ctx, srv);
  try {
    const up = await waitFor(async () => (await prom.query('up{job="faultline"} == 1')).length === 1, 20000, {
      message: () => `Prometheus scraping the server with the token; its log:\n${prom.log().slice(-2000)}`,
    });
    assert.ok(up);
    const jobs = await waitFor(async () => {
      const r = await prom.query('app_jobs_done_total');
      return r.length ? r : null;
    }, 15000);
    assert.deepEqual(jobs.map((s) => [s.metric, s.value[1]]), [
      [{ __name__: 'app_jobs_done_total', instance: `127.0.0.1:${srv.port}`, job: 'faultline', queue: 'render', site: 'lab', worker: 'gpu-01' }, '42'],
    ]);
    const cpu = await prom.query('node_cpu_seconds_total{mode="idle"}');
    assert.deepEqual(cpu.map((s) => [s.metric, s.value[1]]), [
      [{ __name__: 'node_cpu_seconds_total', cpu: '0', instance: `127.0.0.1:${srv.port}`, job: 'faultline', mode: 'idle', site: 'lab', worker: 'gpu-01' }, '1234.5'],
    ]);
    const pushed = await prom.query('faultline_push_time_seconds{worker="gpu-01"}');
    assert.equal(pushed.length, 1);
  } finally {
    pushing = false;
    await pusher;
  }
  // The agent stopped: once the TTL passed, a scrape shows no agent (the marker that a scrape
  // happened after the drop), and the pushed series are gone from Prometheus.
  await waitFor(async () => (await prom.query('faultline_metrics_agents == 0')).length === 1, 15000);
  assert.deepEqual(await prom.query('app_jobs_done_total'), []);
  assert.deepEqual(await prom.query('node_cpu_seconds_total'), []);
  assert.deepEqual(await prom.query('faultline_push_time_seconds'), []);
  const text = (await scrape(srv)).text;
  assert.doesNotMatch(text, /app_jobs_done_total/);
});

scenario('/metrics and /status: the token, the admin login, METRICS_PUBLIC=1', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN } });
  for (const p of ['/metrics', '/status']) {
    let r = await request(srv.url + p);
    assert.equal(r.status, 401);
    assert.equal(r.text, '{"error":"missing metrics token"}');
    r = await request(srv.url + p, { headers: { Authorization: `Bearer ${TOKEN}x` } });
    assert.equal(r.status, 401);
    assert.equal(r.text, '{"error":"invalid metrics token"}');
    r = await request(srv.url + p, { headers: { Authorization: `Bearer ${srv.apiKey}` } });
    assert.equal(r.status, 401, 'the agents\' API key is not the metrics token');
    r = await request(srv.url + p, { headers: { Authorization: basicAuth(srv.adminUser, srv.adminPass) } });
    assert.equal(r.status, 200, 'the admin login reads it');
    r = await request(srv.url + p, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
  }
  const open = await ctx.server({ env: { METRICS_PUBLIC: '1' } });
  const r = await request(open.url + '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const closed = await ctx.server({ env: { ADMIN_PASS: null } });
  const c = await request(closed.url + '/metrics');
  assert.equal(c.status, 403);
  assert.equal(c.text, '{"error":"metrics are closed: set METRICS_TOKEN, ADMIN_PASS or METRICS_PUBLIC=1"}');
});

scenario('a push: bad lines refused by line with the rest kept, unknown worker, wrong encodings', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN } });
  let r = await push(srv, 'ghost-1', 'a 1\n');
  assert.equal(r.status, 404);
  assert.equal(r.text, '{"error":"worker \\"ghost-1\\" is unknown: it must send a heartbeat first","field":"name"}');
  await joined(srv, 'box-1');
  r = await push(srv, 'box-1', 'good_total 1\n2bad 1\ngauge{x="1",x="2"} 3\nup{worker="me"} 1\nv one\ngood_total 2\nok 5\n');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {
    accepted: 2,
    refused: [
      { line: 2, error: 'metric name "2bad": expected [a-zA-Z_:][a-zA-Z0-9_:]*' },
      { line: 3, error: 'label "x" of metric "gauge" given twice' },
      { line: 4, error: 'label "worker" of metric "up": reserved (the server adds the worker and site labels)' },
      { line: 5, error: 'value of metric "v": expected a float (or NaN, +Inf, -Inf), got "one"' },
      { line: 6, error: 'series of metric "good_total" given twice (first on line 1)' },
    ],
    series: 2,
  });
  r = await push(srv, 'box-1', 'a 1\n', { headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 415);
  assert.equal(r.text, '{"error":"Content-Type: expected text/plain; version=0.0.4, got \\"application/json\\"","field":"Content-Type"}');
  r = await push(srv, 'box-1', 'a 1\n', { headers: { 'Content-Encoding': 'br' } });
  assert.equal(r.status, 415);
  assert.equal(r.text, '{"error":"Content-Encoding: expected gzip or none, got \\"br\\"","field":"Content-Encoding"}');
  r = await push(srv, 'box-1', 'not gzip', { headers: { 'Content-Encoding': 'gzip' } });
  assert.equal(r.status, 400);
  assert.equal(r.text, '{"error":"body: expected gzip data (Content-Encoding: gzip)","field":"body"}');
  r = await push(srv, 'box-1', 'a 1\n', { key: 'wrong' });
  assert.equal(r.status, 401);
  assert.equal(r.text, '{"error":"invalid API key"}');
  // what was kept is the last good push
  const text = (await scrape(srv)).text;
  assert.match(text, /\ngood_total\{worker="box-1"\} 1\nok\{worker="box-1"\} 5\n|\nok\{worker="box-1"\} 5\n/);
});

scenario('the series cap keeps the first METRICS_MAX_SERIES and refuses the rest in one error', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN, METRICS_MAX_SERIES: '3' } });
  await joined(srv, 'box-1');
  const r = await push(srv, 'box-1', 's{i="1"} 1\ns{i="2"} 2\ns{i="3"} 3\ns{i="4"} 4\ns{i="5"} 5\n');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {
    accepted: 3,
    refused: [{ line: 4, error: 'over the series cap (METRICS_MAX_SERIES, 3): 2 samples from this line on refused' }],
    series: 3,
  });
  const text = (await scrape(srv)).text;
  assert.match(text, /\ns\{i="3",worker="box-1"\} 3\n/);
  assert.doesNotMatch(text, /s\{i="4"/);
  const status = await request(srv.url + '/status', { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(status.json.series, 3);
});

scenario('gzip both ways: a gzip push, and /metrics gzip-encoded when the scraper asks', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN } });
  await joined(srv, 'box-1', 'eu');
  const r = await push(srv, 'box-1', zlib.gzipSync('zipped_value 7\n'), { headers: { 'Content-Encoding': 'gzip' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { accepted: 1, refused: [], series: 1 });
  const plain = await scrape(srv);
  assert.equal(plain.headers['content-encoding'], undefined);
  const zipped = await scrape(srv, { headers: { 'Accept-Encoding': 'gzip, deflate' } });
  assert.equal(zipped.status, 200);
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.equal(zipped.headers.vary, 'Accept-Encoding');
  const text = zlib.gunzipSync(zipped.raw).toString();
  assert.match(text, /\nzipped_value\{site="eu",worker="box-1"\} 7\n/);
  const refused = await scrape(srv, { headers: { 'Accept-Encoding': 'gzip;q=0, identity' } });
  assert.equal(refused.headers['content-encoding'], undefined);
  // a small body that inflates past 64 MiB is refused, and the last push stays
  const bomb = await push(srv, 'box-1', zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024 + 1, 'a')), { headers: { 'Content-Encoding': 'gzip' } });
  assert.equal(bomb.status, 400);
  assert.equal(bomb.text, '{"error":"body: larger than 67108864 bytes once inflated","field":"body"}');
  assert.match((await scrape(srv)).text, /\nzipped_value\{site="eu",worker="box-1"\} 7\n/);
});

scenario('/status sums up the fleet and the pushes', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN } });
  await joined(srv, 'a-1');
  await joined(srv, 'a-2');
  let r = await request(srv.url + '/status', { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(r.json, { workers: { total: 2, up: 2, down: 0, unknown: 0 }, agents_pushing: 0, series: 0, last_push: null });
  const before = Date.now();
  await push(srv, 'a-1', 'x 1\ny 2\n');
  r = await request(srv.url + '/status', { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.json.agents_pushing, 1);
  assert.equal(r.json.series, 2);
  assert.ok(Date.parse(r.json.last_push) >= before - 1000, r.text);
});

scenario('promtool check metrics passes on the live output of 300 agents', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN } });
  const agents = 300;
  for (let i = 0; i < agents; i++) await joined(srv, `node-${i}`, i % 2 ? 'eu-west' : 'us-east');
  const body = (i) =>
    '# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\n' + `node_load1 ${i / 100}\n` +
    '# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n' +
    ['idle', 'user', 'system', 'iowait'].flatMap((mode) => [0, 1].map((cpu) => `node_cpu_seconds_total{cpu="${cpu}",mode="${mode}"} ${i * 10 + cpu}.5\n`)).join('') +
    '# HELP node_filesystem_avail_bytes Free bytes for non-root users.\n# TYPE node_filesystem_avail_bytes gauge\n' +
    `node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} ${1e9 + i}\n` +
    '# HELP app_queue_depth Jobs waiting.\n# TYPE app_queue_depth gauge\n' + `app_queue_depth{queue="a \\"quoted\\" name"} ${i}\n` +
    '# HELP app_latency_seconds Request latency.\n# TYPE app_latency_seconds histogram\n' +
    `app_latency_seconds_bucket{le="0.1"} ${i}\napp_latency_seconds_bucket{le="+Inf"} ${i + 1}\napp_latency_seconds_sum ${i / 2}\napp_latency_seconds_count ${i + 1}\n`;
  for (let i = 0; i < agents; i += 30) {
    const batch = [];
    for (let k = i; k < i + 30; k++) batch.push(push(srv, `node-${k}`, body(k)));
    for (const r of await Promise.all(batch)) assert.equal(r.status, 200, r.text);
  }
  const res = await scrape(srv);
  assert.equal(res.status, 200);
  const gauge = (name) => (res.text.match(new RegExp(`^${name} (\\d+)$`, 'm')) ?? [])[1];
  assert.equal(gauge('faultline_metrics_agents'), '300');
  assert.equal(gauge('faultline_metrics_series'), String(agents * 15));
  assert.equal(res.text.match(/^# TYPE node_cpu_seconds_total counter$/gm).length, 1, 'one TYPE per metric, all agents under it');
  assert.equal(res.text.match(/^node_cpu_seconds_total\{/gm).length, agents * 8);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: res.text, encoding: 'utf8', timeout: 60000 });
  assert.ifError(check.error);
  assert.equal(`${check.stdout}${check.stderr}`, '', 'promtool has nothing to say');
  assert.equal(check.status, 0);
});

scenario('a server stopped while a gzip scrape is being compressed exits cleanly', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN, LOG_LEVEL: 'debug' } });
  let body = '';
  for (let k = 0; k < 1000; k++) body += `load_part_${k % 50}{k="${k}"} ${k}\n`;
  for (let i = 0; i < 200; i++) {
    await joined(srv, `big-${i}`);
    assert.equal((await push(srv, `big-${i}`, body)).status, 200);
  }
  // 200,000 series take a while to deflate on the thread pool: SIGTERM lands meanwhile, and
  // the server must resume the waiting scrape before its HTTP layer stops (else it aborts).
  const scraping = scrape(srv, { headers: { 'Accept-Encoding': 'gzip' } }).catch((err) => err);
  await waitFor(() => srv.stderr.includes('metrics: scrape (gzip) handed to the thread pool'), 10000, {
    intervalMs: 1,
    message: () => `the scrape handed to the thread pool; server log:\n${srv.stderr.slice(-2000)}`,
  });
  await srv.stop(); // exit status 0 and no sanitizer report, or it throws
  await scraping;
});

scenario('a server stopped while pushes are read on the thread pool, some waiting in a batch, exits cleanly', async (ctx) => {
  const srv = await ctx.server({ env: { METRICS_TOKEN: TOKEN, LOG_LEVEL: 'debug' } });
  // 16 MB once inflated, every line after the first a repeat to refuse: hundreds of ms of
  // reading on the thread pool (seconds under ASan) while the requests wait suspended, and
  // SIGTERM lands meanwhile. Six pushes: more than libuv's four pool threads, so those that
  // come while a batch waits for a thread join it. The server must resume every request before
  // its HTTP layer stops (else libmicrohttpd aborts), and wait for the work, batches included,
  // before freeing what it reads.
  const slow = 6;
  for (let i = 1; i <= slow; i++) await joined(srv, `slow-${i}`);
  const body = zlib.gzipSync(Buffer.from('a 1\n'.repeat(4 * 1024 * 1024)));
  const pushing = [];
  for (let i = 1; i <= slow; i++)
    pushing.push(push(srv, `slow-${i}`, body, { headers: { 'Content-Encoding': 'gzip' } }).catch((err) => err));
  await waitFor(() => (srv.stderr.match(/metrics: push of slow-\d \(\d+ bytes, gzip\) handed to the thread pool/g) ?? []).length === slow, 20000, {
    intervalMs: 1,
    message: () => `the ${slow} pushes handed to the thread pool; server log:\n${srv.stderr.slice(-2000)}`,
  });
  assert.match(srv.stderr, /handed to the thread pool, joining the batch waiting/, 'a batch of several pushes');
  await srv.stop({ graceMs: 60000 }); // exit status 0 and no sanitizer report, or it throws
  // The HTTP layer closes its connections as it stops: no push gets an answer.
  for (const r of await Promise.all(pushing))
    assert.equal(r.code, 'ECONNRESET', `expected the connection closed, got ${r.status} ${r.text}`);
});
