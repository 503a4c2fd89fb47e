// lab.mjs — the outage lab: a faultline server and a fleet of agents in real network namespaces
// (topology.mjs), with the faults the scenarios need. A scenario gets a fresh lab and the lab is
// removed at its end, pass, fail or timeout:
//
//   labScenario('(a) site uplink cut → network', async (lab, t) => {
//     await lab.cutUplink('fra1');
//     const inc = await lab.waitIncident((i) => i.classification === 'network');
//     ...
//   });
//
// The test process never enters a namespace: it reaches the server's API and the fake Telegram
// (both in the server namespace) through a Unix socket served by srv-helper.mjs there.
//
// lab API (all async unless noted):
//   api(path, {method, body, auth}) → {status, text, json}   admin Basic auth by default
//   status() / incidents() / messages()                       /admin/api/status, /admin/api/rca
//                                                             incidents, fake Telegram messages
//   cutUplink(site) / restore(site)                           the site's link at the ISP router
//   cutServerUplink() / restoreServerUplink()                 the server's link at the core router
//   addLoss(ns, iface, percent) / clearLoss(ns)               nftables random drop on a router
//   killAgent(name) / agent(name) (sync)                      SIGKILL an agent / its handle
//   exec(ns, argv, {user, env, timeoutMs})                    a short command in a namespace
//   waitFor(pred, ms, message) / waitIncident(pred, ms) / waitWorkers(pred, ms)
//   close() → problems[]                                      stop everything, delete namespaces
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BIN, childEnv, makeTempDir, removeTempDir, sanitizerReport, tail } from '../../integration/lib/faultline.mjs';
import { waitFor, safeJson } from '../../integration/lib/wait.mjs';
import { planTopology, buildTopology, destroyTopology, sh, DEFAULT_SITES, ADDR } from './topology.mjs';

export { ADDR, DEFAULT_SITES, sh };
export { sleep } from '../../integration/lib/wait.mjs';

const HELPER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'srv-helper.mjs');
const SERVER_PORT = 5000;
const TG_TOKEN = 'LABTOKEN:lab';
const CHAT_ID = '4242';

// Settings of the lab's server and agents: short timers so a scenario takes seconds.
export const SERVER_ENV = {
  FAIL_TIMEOUT: '3',
  RCA_WINDOW: '10',
  RCA_HOLD: '3',
  RCA_THRESHOLD: '5',
  RCA_CANARIES: `${ADDR.ispCore},${ADDR.inet}`,
  RCA_CANARY_INTERVAL: '1',
};
export const AGENT_ENV = {
  PING_INTERVAL: '1',
  FAIL_TIMEOUT: '1',
  DIAG_INTERVAL: '2',
  DIAG_TARGETS: ADDR.inet,
  DIAG_PING_COUNT: '3',
  DIAG_MTR_ROUNDS: '3',
  DIAG_MTR_MAX_HOPS: '8',
};

// ---- can this machine build a lab at all? --------------------------------------------------
let skipReason;
/** null when namespaces can be created here, else why not (LAB_SKIP from tests/lab/run wins). */
export function labSkipReason() {
  if (skipReason !== undefined) return skipReason;
  if (process.env.LAB_SKIP) return (skipReason = process.env.LAB_SKIP);
  if (process.getuid && process.getuid() !== 0) return (skipReason = 'not root');
  const probe = `fl${process.pid}-probe`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.error) return (skipReason = `ip: ${r.error.message}`);
  if (r.status !== 0) return (skipReason = `ip netns add: ${(r.stderr || '').trim()}`);
  spawnSync('ip', ['netns', 'del', probe]);
  const n = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  if (n.error || n.status !== 0) return (skipReason = 'nft is not installed');
  return (skipReason = null);
}

// ---- nothing outlives the test process ------------------------------------------------------
const liveLabs = new Set();
process.on('exit', () => {
  for (const lab of liveLabs) lab.closeSync();
});
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.once(sig, () => process.exit(128 + os.constants.signals[sig]));

let labCounter = 0;

// ---- processes inside namespaces ------------------------------------------------------------
const LOG_CAP = 2 * 1024 * 1024;

/** Spawns argv inside ns (as user 65534 when user === 'nobody'); a handle like faultline.mjs's. */
function spawnIn(ns, argv, { env = {}, cwd, label, user } = {}) {
  const wrap = user === 'nobody' ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const proc = spawn('ip', ['netns', 'exec', ns, ...wrap, ...argv], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const h = { proc, pid: proc.pid, label: label ?? argv.join(' '), stdout: '', stderr: '', exit: null, expectedExit: false };
  proc.stdout.on('data', (c) => {
    if (h.stdout.length < LOG_CAP) h.stdout += c;
  });
  proc.stderr.on('data', (c) => {
    if (h.stderr.length < LOG_CAP) h.stderr += c;
    if (process.env.FAULTLINE_TEST_VERBOSE) process.stderr.write(String(c).replace(/^/gm, `[${h.label}] `));
  });
  h.exited = new Promise((resolve) => {
    proc.on('error', (err) => (h.stderr += `\n[spawn error: ${err.message}]`));
    proc.on('close', (code, signal) => resolve((h.exit = { code, signal })));
  });
  h.waitExit = (ms) => Promise.race([h.exited, new Promise((r) => setTimeout(() => r(null), ms).unref())]);
  h.signal = (sig) => {
    if (!h.exit)
      try {
        proc.kill(sig);
      } catch {}
  };
  /** SIGKILL and wait; throws when the process had died before the deliberate kill. */
  h.kill9 = async () => {
    if (h.killed9) return h.exited;
    const diedAlready = h.exit && !h.expectedExit;
    h.expectedExit = true;
    h.killed9 = true;
    h.signal('SIGKILL');
    await h.exited;
    if (diedAlready || h.exit.signal !== 'SIGKILL')
      throw new Error(
        `${h.label} (pid ${h.pid}) had died before the deliberate kill (code ${h.exit.code}, signal ${h.exit.signal})\n` +
          `--- its stderr (tail) ---\n${tail(h.stderr, 2000)}`,
      );
    return h.exit;
  };
  /** SIGTERM; returns the problems: no clean exit 0 within graceMs, died on its own, sanitizer. */
  h.stop = async ({ graceMs = 8000 } = {}) => {
    const problems = [];
    if (h.exit && !h.expectedExit) problems.push(`exited on its own during the test (code ${h.exit.code}, signal ${h.exit.signal})`);
    else if (!h.exit) {
      h.expectedExit = true;
      h.signal('SIGTERM');
      const ex = await h.waitExit(graceMs);
      if (!ex) {
        h.signal('SIGKILL');
        await h.exited;
        problems.push(`did not exit within ${graceMs} ms of SIGTERM (killed)`);
      } else if (ex.code !== 0) problems.push(`exit after SIGTERM was code ${ex.code}, signal ${ex.signal}`);
    }
    const rep = sanitizerReport(h.stderr);
    if (rep) problems.push(`sanitizer report:\n${rep}`);
    return problems.map((p) => `${h.label} (pid ${h.pid}): ${p}\n--- its stderr (tail) ---\n${tail(h.stderr, 2000)}`);
  };
  return h;
}

// ---- HTTP over the helper's Unix socket -----------------------------------------------------
function unixRequest(sock, method, urlPath, { headers = {}, body, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const hdrs = { ...headers };
    if (payload) {
      hdrs['content-length'] = String(payload.length);
      if (typeof body !== 'string') hdrs['content-type'] = 'application/json';
    }
    const req = http.request({ socketPath: sock, path: urlPath, method, headers: hdrs, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${urlPath}: timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

// ---- the lab --------------------------------------------------------------------------------
/**
 * Builds the topology, starts the fake Telegram, the server and (unless startAgents is false)
 * every agent, and waits until all agents are up. serverEnv/agentEnv add to or override
 * SERVER_ENV/AGENT_ENV (null removes a setting).
 */
export async function createLab({ sites = DEFAULT_SITES, serverEnv = {}, agentEnv = {}, startAgents = true } = {}) {
  const prefix = `fl${process.pid}${String.fromCharCode(97 + (labCounter++ % 26))}-`;
  const lab = new Lab(planTopology(prefix, sites));
  liveLabs.add(lab);
  try {
    await buildTopology(lab.plan);
    await lab.startServer(serverEnv);
    if (startAgents) {
      for (const s of lab.plan.sites) for (const a of s.agents) lab.startAgent(a, agentEnv);
      await lab.waitWorkers((ws) => ws.length === lab.agentCount && ws.every((w) => w.state === 'up'), 30000, 'every agent up');
    }
  } catch (err) {
    const logs = lab.logDump();
    const problems = await lab.close();
    err.message += `\n${logs}${problems.length ? `\nalso at cleanup:\n${problems.join('\n')}` : ''}`;
    throw err;
  }
  return lab;
}

class Lab {
  constructor(plan) {
    this.plan = plan;
    this.ns = plan.ns;
    this.addr = plan.addr;
    this.dir = makeTempDir('faultline-lab-');
    fs.chmodSync(this.dir, 0o755);
    this.sock = path.join(this.dir, 'srv.sock');
    this.procs = [];
    this.agents = new Map();
    this.closed = null;
    this.adminPass = `pw-${Math.random().toString(36).slice(2, 12)}`;
    this.apiKey = `key-${Math.random().toString(36).slice(2, 12)}`;
    this.agentCount = plan.sites.reduce((n, s) => n + s.agents.length, 0);
  }

  site(name) {
    const s = this.plan.sites.find((x) => x.name === name);
    if (!s) throw new Error(`lab: no site ${name}`);
    return s;
  }

  agent(name) {
    const a = this.agents.get(name);
    if (!a) throw new Error(`lab: no agent ${name}`);
    return a;
  }

  siteAgents(site) {
    return this.site(site).agents.map((a) => a.name);
  }

  async startServer(extraEnv) {
    const helper = spawnIn(this.ns.srv, [process.execPath, HELPER, this.sock, String(SERVER_PORT), TG_TOKEN], { label: 'srv-helper' });
    this.procs.push(helper);
    this.helper = helper;
    await waitFor(() => /telegram_url/.test(helper.stdout) || helper.exit, 10000, { message: 'srv-helper ready' });
    if (helper.exit) throw new Error(`srv-helper exited: ${helper.stderr}`);
    const tgUrl = JSON.parse(helper.stdout.split('\n')[0]).telegram_url;

    const dataDir = path.join(this.dir, 'server');
    fs.mkdirSync(dataDir);
    this.serverEnv = {
      API_KEY: this.apiKey,
      ADMIN_PASS: this.adminPass,
      LISTEN_ADDR: '0.0.0.0',
      SERVER_PORT: String(SERVER_PORT),
      DATA_DIR: dataDir,
      TELEGRAM_TOKEN: TG_TOKEN,
      CHAT_ID,
      TELEGRAM_API_URL: tgUrl,
      LOG_LEVEL: process.env.FAULTLINE_TEST_LOG_LEVEL || 'info',
      ...SERVER_ENV,
      ...extraEnv,
    };
    for (const k of Object.keys(this.serverEnv)) if (this.serverEnv[k] == null) delete this.serverEnv[k];
    const srv = spawnIn(this.ns.srv, [BIN, 'server'], { env: this.serverEnv, cwd: dataDir, label: 'faultline server' });
    this.procs.push(srv);
    this.server = srv;
    await waitFor(() => /listening on http:\/\//.test(srv.stderr) || srv.exit, 20000, { message: 'faultline server listening' });
    if (srv.exit) throw new Error(`faultline server exited (code ${srv.exit.code})\n${tail(srv.stderr)}`);
  }

  startAgent(a, extraEnv = {}) {
    const dataDir = path.join(this.dir, 'agents', a.name);
    fs.mkdirSync(dataDir, { recursive: true });
    const env = {
      API_KEY: this.apiKey,
      SERVER_ADDR: this.addr.server,
      SERVER_PORT: String(SERVER_PORT),
      SITE: a.site,
      DATA_DIR: dataDir,
      LOG_LEVEL: process.env.FAULTLINE_TEST_LOG_LEVEL || 'info',
      ...AGENT_ENV,
      ...extraEnv,
    };
    for (const k of Object.keys(env)) if (env[k] == null) delete env[k];
    const h = spawnIn(a.ns, [BIN, 'agent', a.name], { env, cwd: dataDir, label: `faultline agent ${a.name}` });
    this.procs.push(h);
    const handle = { ...a, proc: h, dataDir };
    this.agents.set(a.name, handle);
    return handle;
  }

  /** Lines of one of the agent's logs (logs/<file>), parsed; [] when the file is not there. */
  agentLog(name, file) {
    const p = path.join(this.agent(name).dataDir, 'logs', file);
    let text;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }

  // ---- API and Telegram ----
  api(urlPath, { method = 'GET', body, auth = true, timeoutMs } = {}) {
    const headers = auth ? { authorization: 'Basic ' + Buffer.from(`admin:${this.adminPass}`).toString('base64') } : {};
    return unixRequest(this.sock, method, '/fwd' + urlPath, { headers, body, timeoutMs });
  }

  async apiJson(urlPath) {
    const r = await this.api(urlPath);
    if (r.status !== 200 || r.json === undefined) throw new Error(`GET ${urlPath}: status ${r.status}: ${r.text.slice(0, 300)}`);
    return r.json;
  }

  status() {
    return this.apiJson('/admin/api/status');
  }

  async incidents() {
    const j = await this.apiJson('/admin/api/rca');
    if (!Array.isArray(j.incidents)) throw new Error(`GET /admin/api/rca: no "incidents" array: ${safeJson(j)}`);
    return j.incidents;
  }

  async messages() {
    const r = await unixRequest(this.sock, 'GET', '/tg');
    return r.json.messages;
  }

  waitFor(pred, timeoutMs, message) {
    return waitFor(pred, timeoutMs, { intervalMs: 250, message });
  }

  /** Polls /admin/api/rca until an incident matches pred; resolves with it. */
  waitIncident(pred, timeoutMs = 30000, message = 'a matching incident') {
    let last = [];
    return waitFor(
      async () => {
        last = await this.incidents();
        return last.find(pred);
      },
      timeoutMs,
      { intervalMs: 250, message: () => `${message}; incidents: ${safeJson(last)}` },
    );
  }

  /** Polls /admin/api/status until pred(workers) holds; resolves with the workers. */
  waitWorkers(pred, timeoutMs = 30000, message = 'workers in the expected state') {
    let last = [];
    return waitFor(
      async () => {
        last = (await this.status()).workers;
        return pred(last) ? last : null;
      },
      timeoutMs,
      { intervalMs: 250, message: () => `${message}; workers: ${safeJson(last.map((w) => [w.name, w.state, w.ip]))}` },
    );
  }

  /** Waits for a Telegram message matching pred (a function, a string or a RegExp). */
  waitMessage(pred, timeoutMs = 30000, message) {
    const p = typeof pred === 'function' ? pred : pred instanceof RegExp ? (m) => pred.test(m.text) : (m) => m.text.includes(pred);
    let last = [];
    return waitFor(
      async () => {
        last = await this.messages();
        return last.find(p);
      },
      timeoutMs,
      { intervalMs: 250, message: () => `${message ?? `a Telegram message matching ${pred}`}; delivered: ${safeJson(last.map((m) => m.text))}` },
    );
  }

  // ---- faults ----
  cutUplink(site) {
    return sh('ip', ['-n', this.ns.isp, 'link', 'set', this.site(site).ispIface, 'down']);
  }

  restore(site) {
    return sh('ip', ['-n', this.ns.isp, 'link', 'set', this.site(site).ispIface, 'up']);
  }

  cutServerUplink() {
    return sh('ip', ['-n', this.ns.core, 'link', 'set', 'srv0', 'down']);
  }

  restoreServerUplink() {
    return sh('ip', ['-n', this.ns.core, 'link', 'set', 'srv0', 'up']);
  }

  /** Drops percent% of the packets a router forwards in or out of iface, at random. */
  async addLoss(ns, iface, percent) {
    for (const dir of ['iifname', 'oifname'])
      await sh('ip', ['netns', 'exec', ns, 'nft', 'add', 'rule', 'inet', 'lab', 'lab_fwd', dir, iface, 'numgen', 'random', 'mod', '100', '<', String(percent), 'drop']);
  }

  clearLoss(ns) {
    return sh('ip', ['netns', 'exec', ns, 'nft', 'flush', 'chain', 'inet', 'lab', 'lab_fwd']);
  }

  async killAgent(name) {
    await this.agent(name).proc.kill9();
  }

  /** Runs argv to completion inside ns; a sanitizer report in its stderr is an error. */
  async exec(ns, argv, { user, env = {}, timeoutMs = 30000 } = {}) {
    const h = spawnIn(ns, argv, { env, user, cwd: '/', label: argv.join(' ') });
    h.expectedExit = true;
    let ex = await h.waitExit(timeoutMs);
    const timedOut = !ex;
    if (!ex) {
      h.signal('SIGKILL');
      ex = await h.exited;
    }
    const rep = sanitizerReport(h.stderr);
    if (rep) throw new Error(`${argv.join(' ')} printed a sanitizer report:\n${rep}`);
    return { code: ex.code, signal: ex.signal, stdout: h.stdout, stderr: h.stderr, timedOut };
  }

  logDump() {
    return this.procs
      .filter((p) => p.stderr)
      .map((p) => `--- ${p.label} (pid ${p.pid}) stderr, tail ---\n${tail(p.stderr, 2500)}`)
      .join('\n');
  }

  /** Stops agents, then the server and helper (each must exit 0 with no sanitizer report), and
   *  deletes the namespaces and temp dir. Resolves with the problems found. */
  close() {
    if (!this.closed) this.closed = this.doClose();
    return this.closed;
  }

  async doClose() {
    const problems = [];
    const agents = this.procs.filter((p) => p.label.startsWith('faultline agent'));
    for (const list of [agents, this.server ? [this.server] : [], this.helper ? [this.helper] : []])
      for (const ps of await Promise.all(list.map((p) => p.stop()))) problems.push(...ps);
    this.closeSync();
    return problems;
  }

  /** Last resort (also on process exit): SIGKILL everything, delete namespaces and files. */
  closeSync() {
    for (const p of this.procs) p.signal('SIGKILL');
    destroyTopology(this.plan);
    try {
      removeTempDir(this.dir);
    } catch {}
    liveLabs.delete(this);
  }
}

/**
 * A node:test test around one fresh lab: fn(lab, t) runs with the lab built and every agent
 * up; the lab is removed at the end whatever happens (t.after also covers a timeout). When
 * namespaces cannot be created, the test is reported as skipped with the reason.
 */
export function labScenario(name, opts, fn) {
  if (typeof opts === 'function') {
    fn = opts;
    opts = {};
  }
  const { lab: labOpts = {}, ...testOpts } = opts;
  const reason = labSkipReason();
  if (reason) return test(name, { ...testOpts, skip: `cannot create network namespaces (${reason})` }, () => {});
  return test(name, { timeout: 180000, ...testOpts }, async (t) => {
    const lab = await createLab(labOpts);
    t.after(() => lab.close());
    let failure;
    try {
      await fn(lab, t);
    } catch (err) {
      failure = err;
    }
    const logs = failure ? lab.logDump() : '';
    const problems = await lab.close();
    if (failure) {
      if (typeof failure === 'object')
        try {
          failure.message += `\n${logs}${problems.length ? `\nalso at cleanup:\n${problems.join('\n')}` : ''}`;
        } catch {}
      throw failure;
    }
    if (problems.length) throw new Error(`cleanup found problems:\n${problems.join('\n\n')}`);
  });
}

/** Names of an incident's workers, sorted; each worker is an object with its "name" (docs/api.md). */
export function workerNames(incident) {
  assert.ok(Array.isArray(incident.workers), `incident ${incident.id}: workers is an array`);
  return incident.workers
    .map((w) => {
      assert.equal(typeof w.name, 'string', `incident ${incident.id}: a worker without a name: ${JSON.stringify(w)}`);
      return w.name;
    })
    .sort();
}

/** Per-worker DOWN / UP messages of the core issue ("🔴 NAME is DOWN", "🟢 NAME is UP"). */
export function perWorkerMessages(messages, names, kind = 'DOWN') {
  return messages.filter((m) => names.some((n) => m.text.includes(`${n} is ${kind}`)));
}
