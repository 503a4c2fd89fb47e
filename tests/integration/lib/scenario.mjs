// scenario.mjs — wraps node:test's test() so that everything a test starts is stopped and
// checked at its end, pass or fail:
//
//   scenario('agent killed → DOWN', async (ctx) => {
//     const tg = await ctx.telegram();
//     const srv = await ctx.server({ env: {...} });
//     const a = ctx.agent('box-1', { server: srv });
//     ...
//   });
//
// At the end every process still running gets SIGTERM and must exit with status 0 and no
// sanitizer report (a failure otherwise); processes that were killed on purpose (kill9) are
// checked for sanitizer reports; fakes are closed and temp dirs removed. When the test body
// fails, the tail of each process's stderr is appended to the error.
import { test } from 'node:test';
import { startServer, startAgent, runFaultline, makeTempDir, removeTempDir, sanitizerReport, tail } from './faultline.mjs';
import { fakeTelegram } from './fake-telegram.mjs';
import { fakeIngest } from './fake-ingest.mjs';
import { fakeHook } from './fake-hook.mjs';
import { heartbeat } from './http.mjs';

export function scenario(name, opts, fn) {
  if (typeof opts === 'function') {
    fn = opts;
    opts = {};
  }
  return test(name, { timeout: 60000, ...opts }, async (t) => {
    const ctx = new Harness(t);
    t.after(() => ctx.cleanup()); // also runs if the test is cancelled on timeout
    let failure;
    try {
      await fn(ctx, t);
    } catch (err) {
      failure = err;
    }
    const problems = await ctx.cleanup();
    if (failure) {
      const logs = ctx.logDump();
      if (logs && failure && typeof failure === 'object') {
        try {
          failure.message = `${failure.message}\n${logs}`;
        } catch {}
      }
      if (problems.length && typeof failure === 'object') {
        try {
          failure.message += `\nalso at cleanup:\n${problems.join('\n')}`;
        } catch {}
      }
      throw failure;
    }
    if (problems.length) throw new Error(`cleanup found problems:\n${problems.join('\n\n')}`);
  });
}

class Harness {
  constructor(t) {
    this.t = t;
    this.procs = [];
    this.closers = [];
    this.pulses = [];
    this.dirs = [];
    this.cleaned = null;
  }

  async server(opts = {}) {
    const s = await startServer(opts);
    this.procs.push(s);
    return s;
  }

  /** Restarts a server (after kill9) on the same port, data dir and settings. */
  async restart(server, opts = {}) {
    const s = await server.restart(opts);
    this.procs.push(s);
    return s;
  }

  agent(name, opts = {}) {
    const a = startAgent(name, opts);
    this.procs.push(a);
    return a;
  }

  async telegram(opts = {}) {
    const tg = await fakeTelegram(opts);
    this.closers.push(() => tg.close());
    return tg;
  }

  async hook(opts = {}) {
    const h = await fakeHook(opts);
    this.closers.push(() => h.close());
    return h;
  }

  async ingest(opts = {}) {
    const f = await fakeIngest(opts);
    this.closers.push(() => f.close());
    return f;
  }

  /** Sends hb(name, extra) to srv every intervalMs until the test ends (a stand-in agent). */
  pulse(srv, body, { intervalMs = 300, ...opts } = {}) {
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        try {
          await heartbeat(srv, body, opts);
        } catch {}
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    const stop = async () => {
      stopped = true;
      await loop;
    };
    this.pulses.push(stop);
    return stop;
  }

  tmpdir(prefix) {
    const d = makeTempDir(prefix);
    this.dirs.push(d);
    return d;
  }

  /** Runs a short command; a sanitizer report in its stderr fails the test. */
  async run(args, opts = {}) {
    const r = await runFaultline(args, opts);
    if (r.sanitizer) throw new Error(`faultline ${args.join(' ')} printed a sanitizer report:\n${r.sanitizer}`);
    return r;
  }

  logDump() {
    const parts = [];
    for (const p of this.procs) {
      if (!p.stderr) continue;
      parts.push(`--- ${p.label} (pid ${p.pid}) stderr, tail ---\n${tail(p.stderr, 3000)}`);
    }
    return parts.join('\n');
  }

  cleanup() {
    if (!this.cleaned) this.cleaned = this.doCleanup();
    return this.cleaned;
  }

  async doCleanup() {
    const problems = [];
    for (const stop of this.pulses) await stop();
    // Agents first (so the server sees no DOWN storm while stopping), then servers.
    const ordered = [...this.procs].sort((a, b) => (a.label.includes('agent') ? 0 : 1) - (b.label.includes('agent') ? 0 : 1));
    await Promise.all(
      ordered.filter((p) => p.label.includes('agent')).map((p) => p.stop().catch((e) => problems.push(e.message))),
    );
    await Promise.all(
      ordered.filter((p) => !p.label.includes('agent')).map((p) => p.stop().catch((e) => problems.push(e.message))),
    );
    for (const p of this.procs) {
      const rep = sanitizerReport(p.stderr);
      if (rep && !problems.some((x) => x.includes(String(p.pid)))) problems.push(`${p.label} (pid ${p.pid}) sanitizer report:\n${rep}`);
    }
    for (const c of this.closers) {
      try {
        await c();
      } catch (e) {
        problems.push(`closing a fake: ${e.message}`);
      }
    }
    for (const p of this.procs) {
      try {
        removeTempDir(p.cwd);
      } catch {}
    }
    for (const d of this.dirs) {
      try {
        removeTempDir(d);
      } catch {}
    }
    return problems;
  }
}
