// sshd.mjs — real OpenSSH servers on loopback for the monitor's tests and benchmark: generated
// host and user keys, one `sshd -D` per node on its own port, root logins by key only, and fake
// `faultline` commands that print a report fixture (the node's `faultline:` command in the nodes
// file points at one).
//
//   makeSshKeys(dir) → {hostKey, userKey, authorizedKeys}
//   startSshd(dir, keys) → {port, proc, stop()}      (waits until the port accepts)
//   fakeFaultline(dir, name, report, {skewMs, sleepS}) → path of a script printing the report
//   nodesYaml(nodes) → text of a nodes file
//   closeSshMasters(controlDir)                      (the monitor's shared connections)
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from './wait.mjs';

export const SSHD = '/usr/sbin/sshd';

export function makeSshKeys(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const hostKey = path.join(dir, 'host_ed25519');
  const userKey = path.join(dir, 'user_ed25519');
  for (const k of [hostKey, userKey])
    if (!fs.existsSync(k)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'faultline-test', '-f', k]);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.copyFileSync(`${userKey}.pub`, authorizedKeys);
  fs.chmodSync(authorizedKeys, 0o600);
  return { hostKey, userKey, authorizedKeys };
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One sshd on 127.0.0.1:port (a free one when not given), run in the foreground. */
export async function startSshd(dir, keys, { port } = {}) {
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // its privilege-separation dir
  port = port ?? (await freePort());
  const config = path.join(dir, `sshd_${port}.conf`);
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${keys.hostKey}`,
      `PidFile ${path.join(dir, `sshd_${port}.pid`)}`,
      `AuthorizedKeysFile ${keys.authorizedKeys}`,
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'MaxStartups 500',
      'MaxSessions 100',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const proc = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (c) => (log += c));
  let exited = false;
  proc.on('exit', () => (exited = true));
  await waitFor(async () => !exited && (await portAccepts(port)), 10000, {
    message: () => `sshd on port ${port} did not start: ${log}`,
  });
  return {
    port,
    proc,
    get log() {
      return log;
    },
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        proc.once('exit', resolve);
        proc.kill('SIGTERM');
      }),
  };
}

/**
 * A stand-in for `faultline` on a node: prints report (an object) with timestamp_ms set to the
 * node's clock (now + skewMs) when asked `report --json`, after sleepS seconds.
 */
export function fakeFaultline(dir, name, report, { skewMs = 0, sleepS = 0 } = {}) {
  const fixture = path.join(dir, `${name}.report.json`);
  fs.writeFileSync(fixture, JSON.stringify({ ...report, timestamp_ms: 1111111111111 }));
  const script = path.join(dir, `${name}.faultline`);
  fs.writeFileSync(
    script,
    [
      '#!/bin/sh',
      '# A node faultline stand-in: `report --json` prints the fixture with this node\'s clock.',
      '[ "$1 $2" = "report --json" ] || { echo "usage: faultline report --json" >&2; exit 2; }',
      sleepS ? `sleep ${sleepS}` : '',
      `now=$(( $(date +%s%3N) + ${skewMs} ))`,
      `sed "s/1111111111111/$now/" '${fixture}'`,
      '',
    ].join('\n'),
  );
  fs.chmodSync(script, 0o755);
  return script;
}

/**
 * Ends the ssh connection masters `faultline monitor` left in controlDir (they outlive a run by
 * ControlPersist), so that nothing keeps the sshd sessions alive.
 */
export function closeSshMasters(controlDir) {
  if (!fs.existsSync(controlDir)) return;
  for (const sock of fs.readdirSync(controlDir))
    spawnSync('ssh', ['-o', `ControlPath=${path.join(controlDir, sock)}`, '-O', 'exit', 'faultline-test'], { stdio: 'ignore', timeout: 5000 });
}

/** A nodes file: nodes is a list of {host, port, name, env, role, user, identity_file, faultline, ssh_options}. */
export function nodesYaml(nodes, extra = '') {
  const lines = ['nodes:'];
  for (const n of nodes) {
    lines.push(`  - host: ${n.host ?? '127.0.0.1'}`);
    for (const k of ['name', 'user', 'port', 'env', 'role', 'identity_file', 'faultline'])
      if (n[k] !== undefined) lines.push(`    ${k}: ${JSON.stringify(String(n[k]))}`);
    if (n.ssh_options) {
      lines.push('    ssh_options:');
      for (const o of n.ssh_options) lines.push(`      - ${JSON.stringify(o)}`);
    }
  }
  return lines.join('\n') + '\n' + extra;
}

/** ssh options a test node needs: its throwaway host key is not in any known_hosts. */
export const TEST_SSH_OPTIONS = ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'LogLevel=ERROR'];
