// config-server.mjs — a server started with a --config YAML of the test's (channels, routes,
// silences, dependencies), without the environment's Telegram channel, and exec checks whose
// result the test sets through a file.
import fs from 'node:fs';
import path from 'node:path';

/** A server with --config yaml; srv.checksDir is its CHECKS_DIR (created), srv.stateDir a
 * directory of the test's for scripts and state files. */
export async function serverWith(ctx, yaml, env = {}) {
  const dir = ctx.tmpdir('faultline-config-');
  const file = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(file, yaml);
  const srv = await ctx.server({ env: { TELEGRAM_TOKEN: null, CHAT_ID: null, ...env }, args: ['--config', file] });
  srv.checksDir = path.join(srv.dataDir, 'checks.d');
  fs.mkdirSync(srv.checksDir, { recursive: true });
  srv.stateDir = dir;
  return srv;
}

/** An exec check NAME every 200 ms whose exit code is the content of a file (0 ok, 2 critical),
 * written to the server's CHECKS_DIR atomically; extra is more YAML for the check (indented 4).
 * Returns a setter of the exit code. */
export function execCheck(srv, name, { code = 0, extra = '' } = {}) {
  const state = path.join(srv.stateDir, `${name}.code`);
  fs.writeFileSync(state, String(code));
  const script = path.join(srv.stateDir, `${name}.sh`);
  fs.writeFileSync(script, `#!/bin/sh\necho "${name} says $(cat ${state})"\nexit $(cat ${state})\n`);
  fs.chmodSync(script, 0o755);
  const tmp = path.join(srv.checksDir, `.${name}.tmp`);
  fs.writeFileSync(tmp, `checks:\n  - name: ${name}\n    type: exec\n    command: [${script}]\n    interval: 200ms\n${extra}`);
  fs.renameSync(tmp, path.join(srv.checksDir, `${name}.yaml`));
  return (c) => fs.writeFileSync(state, String(c));
}
