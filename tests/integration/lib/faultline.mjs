// faultline.mjs — runs the real faultline binary for the integration suites.
//
// Every process is spawned with cwd = a fresh temporary directory (the binary reads .env from its
// working directory, and the repository root may hold one) and with a clean environment: only
// PATH, HOME, locale and sanitizer options are inherited, plus what the test passes. Every
// process and directory is tracked and removed at the end of the test, and again (SIGKILL) when
// the test process exits, whatever happened.
//
//   startServer({env, port, dataDir}) → server {port, url, apiKey, adminUser, adminPass, dataDir,
//                                        proc, pid, logs, stop(), kill9(), restart({env})}
//   startAgent(name, {server | port, apiKey, env}) → agent {proc, pid, logs, stop(), kill9()}
//   runFaultline(args, {env, cwd, timeoutMs}) → {code, signal, stdout, stderr, timedOut}
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './wait.mjs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.resolve(REPO_ROOT, process.env.FAULTLINE_BIN || 'build/faultline');

// Sanitizer and crash reports that make any test fail when they appear on a child's stderr.
const SANITIZER_PATTERNS = [
  /ERROR: AddressSanitizer/,
  /ERROR: LeakSanitizer/,
  /ERROR: UndefinedBehaviorSanitizer/,
  /SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer/,
  /runtime error:/,
  /ThreadSanitizer/,
];

export function sanitizerReport(text) {
  for (const re of SANITIZER_PATTERNS) {
    const m = re.exec(text);
    if (m) {
      const start = Math.max(0, m.index - 200);
      return text.slice(start, start + 3000);
    }
  }
  return null;
}

const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH'];

/** The environment for a child: inherited basics + extra; a null/undefined value removes a key. */
export function childEnv(extra = {}) {
  const env = {};
  for (const k of INHERITED_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
  for (const [k, v] of Object.entries(extra)) {
    if (v === null || v === undefined) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

// ---- global registries: nothing outlives the test process ------------------------------------
const liveProcs = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const p of liveProcs) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {}
  }
  for (const d of tempDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {}
  }
});

export function makeTempDir(prefix = 'faultline-it-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

export function removeTempDir(d) {
  fs.rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

/**
 * A port that was free a moment ago on 127.0.0.1: only for a port that must be known before its
 * server starts (an agent started first). Servers otherwise bind port 0 (startServer).
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const LOG_CAP = 2 * 1024 * 1024;

/** Spawns the binary; returns a handle that collects output and knows how it ended. */
export function spawnFaultline(args, { env = {}, cwd, label } = {}) {
  if (!fs.existsSync(BIN)) throw new Error(`faultline binary not found at ${BIN} (set FAULTLINE_BIN or run make all)`);
  const dir = cwd ?? makeTempDir();
  const proc = spawn(BIN, args, { cwd: dir, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const h = {
    proc,
    pid: proc.pid,
    args,
    cwd: dir,
    label: label ?? `faultline ${args.join(' ')}`,
    stdout: '',
    stderr: '',
    exit: null, // {code, signal, time}
    expectedExit: false,
    startTime: Date.now(),
    get alive() {
      return this.exit === null;
    },
    get logs() {
      return this.stderr;
    },
  };
  liveProcs.add(h);
  const verbose = process.env.FAULTLINE_TEST_VERBOSE;
  proc.stdout.on('data', (c) => {
    if (h.stdout.length < LOG_CAP) h.stdout += c.toString('utf8');
  });
  proc.stderr.on('data', (c) => {
    const s = c.toString('utf8');
    if (h.stderr.length < LOG_CAP) h.stderr += s;
    if (verbose) process.stderr.write(s.replace(/^/gm, `[${h.label} ${h.pid}] `));
    for (const w of h.stderrWatchers ?? []) w(h.stderr);
  });
  h.exited = new Promise((resolve) => {
    proc.on('error', (err) => {
      h.stderr += `\n[spawn error: ${err.message}]`;
    });
    proc.on('close', (code, signal) => {
      h.exit = { code, signal, time: Date.now() };
      liveProcs.delete(h);
      resolve(h.exit);
    });
  });
  h.stderrWatchers = [];
  /** Waits up to ms for exit; returns the exit info or null. */
  h.waitExit = async (ms) => {
    if (h.exit) return h.exit;
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), ms);
    });
    try {
      return await Promise.race([h.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  h.signal = (sig) => {
    if (h.exit) return;
    try {
      proc.kill(sig);
    } catch {}
  };
  /**
   * SIGKILL and wait. Throws when the process had died before the kill (it did not end by the
   * SIGKILL: already gone, or gone while the kill was on its way) or printed a sanitizer report.
   */
  h.kill9 = async () => {
    if (h.killed9) return h.exited;
    const diedAlready = h.exit && !h.expectedExit;
    h.expectedExit = true;
    h.killed9 = true;
    h.signal('SIGKILL');
    await h.exited;
    const problems = [];
    if (diedAlready || h.exit.signal !== 'SIGKILL')
      problems.push(`had died before the deliberate kill (code ${h.exit.code}, signal ${h.exit.signal})`);
    const rep = sanitizerReport(h.stderr);
    if (rep) problems.push(`printed a sanitizer report:\n${rep}`);
    if (problems.length)
      throw new Error(`${h.label} (pid ${h.pid}) ${problems.join('; ')}\n--- its stderr (tail) ---\n${tail(h.stderr)}`);
    return h.exit;
  };
  /**
   * SIGTERM, then insists on a clean exit: status 0 within graceMs and no sanitizer report. A
   * process that died on its own before is reported as such.
   */
  h.stop = async ({ graceMs = 5000 } = {}) => {
    const diedAlready = h.exit && !h.expectedExit;
    if (h.exit && h.expectedExit) return h.exit;
    h.expectedExit = true;
    const problems = [];
    if (diedAlready) {
      problems.push(`exited on its own during the test (code ${h.exit.code}, signal ${h.exit.signal})`);
    } else {
      h.signal('SIGTERM');
      const ex = await h.waitExit(graceMs);
      if (!ex) {
        h.signal('SIGKILL');
        await h.exited;
        problems.push(`did not exit within ${graceMs} ms of SIGTERM (killed)`);
      } else if (ex.code !== 0) {
        problems.push(`exit after SIGTERM was code ${ex.code}, signal ${ex.signal} (expected status 0)`);
      }
    }
    const rep = sanitizerReport(h.stderr);
    if (rep) problems.push(`sanitizer report:\n${rep}`);
    if (problems.length)
      throw new Error(`${h.label} (pid ${h.pid}) ${problems.join('; ')}\n--- its stderr (tail) ---\n${tail(h.stderr)}`);
    return h.exit;
  };
  return h;
}

export function tail(text, n = 4000) {
  return text.length > n ? '…' + text.slice(-n) : text;
}

/** Runs a short command to completion (killing it after timeoutMs). */
export async function runFaultline(args, { env = {}, cwd, timeoutMs = 10000 } = {}) {
  const h = spawnFaultline(args, { env, cwd });
  h.expectedExit = true;
  let ex = await h.waitExit(timeoutMs);
  let timedOut = false;
  if (!ex) {
    timedOut = true;
    h.signal('SIGKILL');
    ex = await h.exited;
  }
  if (!cwd) removeTempDir(h.cwd);
  return { code: ex.code, signal: ex.signal, stdout: h.stdout, stderr: h.stderr, timedOut, sanitizer: sanitizerReport(h.stderr) };
}

function randomToken(prefix) {
  return prefix + Math.random().toString(36).slice(2, 10) + Math.random().toString(36).slice(2, 10);
}

/** The port in the server's "listening on http://ADDR:PORT/" line, or undefined. */
export function listeningPort(stderr) {
  const m = /listening on https?:\/\/(?:\[[^\]]*\]|[^/:\s]+):(\d+)\//.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/**
 * Starts `faultline server` on 127.0.0.1 and waits until it is ready: its "listening on
 * http://127.0.0.1:PORT/" line (https:// with TLS_CERT). Without a port it binds port 0 and the
 * port is read back from that line, so no other process can take it in between. Defaults: a
 * random API key and admin password, FAIL_TIMEOUT 1.5, RCA_HOLD 0.3 (a DOWN is told 0.3 s after
 * it happens), DATA_DIR in the server's own temp dir, Telegram pointed at a closed local port.
 * The canaries keep their default targets: in the suites' network namespace they can never
 * answer, so DOWN detection does not wait for them.
 * env values of null remove a setting (e.g. {ADMIN_PASS: null} for admin disabled).
 */
export async function startServer({ env = {}, args = [], port = 0, dataDir, cwd, readyTimeoutMs = 15000 } = {}) {
  cwd = cwd ?? makeTempDir('faultline-srv-');
  dataDir = dataDir ?? path.join(cwd, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const fullEnv = {
    API_KEY: randomToken('key-'),
    ADMIN_PASS: randomToken('pw-'),
    LISTEN_ADDR: '127.0.0.1',
    SERVER_PORT: String(port),
    FAIL_TIMEOUT: '1.5',
    RCA_HOLD: '0.3',
    DATA_DIR: dataDir,
    TELEGRAM_API_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: process.env.FAULTLINE_TEST_LOG_LEVEL || 'info',
    ...env,
  };
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === null || fullEnv[k] === undefined) delete fullEnv[k];
  const h = spawnFaultline(['server', ...args], { env: fullEnv, cwd, label: 'faultline server' });
  Object.assign(h, {
    env: fullEnv,
    dataDir,
    apiKey: fullEnv.API_KEY,
    adminUser: fullEnv.ADMIN_USER ?? 'admin',
    adminPass: fullEnv.ADMIN_PASS,
    failTimeoutMs: Number(fullEnv.FAIL_TIMEOUT) * 1000,
  });
  // On the same port: agents keep reporting to it.
  h.restart = (opts = {}) =>
    startServer({
      env: { ...fullEnv, SERVER_PORT: String(h.port), ...(opts.env ?? {}) },
      args,
      dataDir,
      cwd,
      readyTimeoutMs: opts.readyTimeoutMs ?? readyTimeoutMs,
    });

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const bound = listeningPort(h.stderr);
    if (bound !== undefined) {
      h.port = bound;
      h.url = `${fullEnv.TLS_CERT ? 'https' : 'http'}://127.0.0.1:${bound}`;
      break;
    }
    if (h.exit) {
      h.expectedExit = true;
      throw new Error(
        `faultline server exited before it was ready (code ${h.exit.code}, signal ${h.exit.signal})\n--- stderr ---\n${tail(h.stderr)}`,
      );
    }
    if (Date.now() > deadline) {
      await h.kill9().catch(() => {});
      throw new Error(`faultline server not ready within ${readyTimeoutMs} ms\n--- stderr ---\n${tail(h.stderr)}`);
    }
    await sleep(20);
  }
  h.readyTime = Date.now();
  return h;
}

/** Starts `faultline agent NAME` reporting to server (or port) every PING_INTERVAL (0.3 s). */
export function startAgent(name, { server, port, apiKey, env = {} } = {}) {
  const args = name === undefined ? ['agent'] : ['agent', name];
  const h = spawnFaultline(args, {
    label: `faultline agent ${name ?? ''}`.trim(),
    env: {
      API_KEY: apiKey ?? server?.apiKey ?? 'no-key',
      SERVER_ADDR: '127.0.0.1',
      SERVER_PORT: String(port ?? server.port),
      PING_INTERVAL: '0.3',
      FAIL_TIMEOUT: '1',
      LOG_LEVEL: process.env.FAULTLINE_TEST_LOG_LEVEL || 'info',
      ...env,
    },
  });
  h.name = name;
  return h;
}
