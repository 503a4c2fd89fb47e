// monitor-tui.test.mjs — `faultline monitor live` driven through tmux on an 80x24 terminal: the
// tabs and their contents, Tab/Shift-Tab, j/k, r with the spinner while a slow node is asked
// (keys still answered), the periodic refresh, and the terminal given back to the shell (prompt
// visible, alternate screen left, stdin blocking again) after q, Ctrl-C and SIGTERM.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, makeTempDir } from './lib/faultline.mjs';
import { TEST_SSH_OPTIONS, closeSshMasters, fakeFaultline, makeSshKeys, nodesYaml, startSshd } from './lib/sshd.mjs';
import { waitFor } from './lib/wait.mjs';
import { healthyReport } from './lib/report-fixture.mjs';

let dir, keys, sshd, nodesFile, sessions = 0;

before(async () => {
  dir = makeTempDir('faultline-tui-');
  keys = makeSshKeys(dir);
  sshd = await startSshd(dir, keys);
  const base = { host: '127.0.0.1', port: sshd.port, user: 'root', identity_file: keys.userKey, ssh_options: TEST_SSH_OPTIONS };
  const sick = healthyReport('web-1', { services: { units: healthyReport('x').services.units, failed_units: ['db.service'] } });
  nodesFile = path.join(dir, 'nodes.yaml');
  fs.writeFileSync(
    nodesFile,
    nodesYaml([
      { ...base, name: 'web-1', faultline: fakeFaultline(dir, 'web-1', sick) },
      { ...base, name: 'web-2', faultline: fakeFaultline(dir, 'web-2', healthyReport('web-2')) },
      { ...base, name: 'slow-3', faultline: fakeFaultline(dir, 'slow-3', healthyReport('slow-3'), { sleepS: 2 }) },
      { ...base, name: 'gone-4', port: 1 },
    ]),
  );
});

after(async () => {
  closeSshMasters(path.join(dir, 'faultline-ssh'));
  await sshd.stop();
});

/** A tmux server with one 80x24 shell window; the monitor is typed into the shell. */
function terminal() {
  const sock = path.join(dir, `tmux-${sessions++}.sock`);
  const tmux = (...args) => execFileSync('tmux', ['-S', sock, ...args]).toString();
  const env = ['PATH=/usr/bin:/bin', 'TERM=tmux-256color', `HOME=${dir}`, `XDG_RUNTIME_DIR=${dir}`, 'PS1=PROMPT$ '];
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) if (process.env[k]) env.push(`${k}=${process.env[k]}`);
  tmux('new-session', '-d', '-x', '80', '-y', '24', 'env', '-i', ...env, 'sh');
  const t = {
    tmux,
    screen: () => tmux('capture-pane', '-p'),
    keys: (...k) => tmux('send-keys', ...k),
    altScreen: () => tmux('display-message', '-p', '#{alternate_on}').trim(),
    until: (re, ms = 15000) => waitFor(() => re.test(t.screen()), ms, { message: () => `screen never matched ${re}:\n${t.screen()}` }),
    close: () => {
      try {
        tmux('kill-server');
      } catch {}
    },
  };
  return t;
}

function start(t, extra = '') {
  t.keys(`${BIN} monitor live --config ${nodesFile} ${extra} 2>${dir}/tui-stderr.txt`, 'Enter');
}

/** The shell has the terminal back: the prompt on a fresh line, not in the alternate screen. */
async function assertRestored(t) {
  await t.until(/^PROMPT\$\s*$/m);
  assert.equal(t.altScreen(), '0');
  const lines = t.screen().trimEnd().split('\n');
  assert.equal(lines.at(-1), 'PROMPT$');
  assert.doesNotMatch(t.screen(), /NDELAY/); // stdin left non-blocking would make sh say so
  const stderr = fs.readFileSync(path.join(dir, 'tui-stderr.txt'), 'utf8');
  assert.doesNotMatch(stderr, /Sanitizer|runtime error/, stderr);
}

test('tabs, keys and contents on an 80x24 terminal; q gives the terminal back', async () => {
  const t = terminal();
  try {
    start(t);
    await t.until(/collecting/);
    // Keys are answered while the slow node is still being asked.
    t.keys('Tab');
    await t.until(/^faultline monitor +Overview +\[Nodes\]/m);
    t.keys('BTab');
    await t.until(/^faultline monitor +\[Overview\]/m);
    await t.until(/^updated \S+, 4 nodes, 2 critical, 0 warning, 0 info$/m);
    const s = t.screen();
    assert.equal(t.altScreen(), '1');
    assert.match(s, /^web-1 +critical +- +0\.1\.0 +0\.10 +25\.0 +25\.0 +1 +0 +1$/m);
    assert.match(s, /^web-2 +healthy /m);
    assert.match(s, /^slow-3 +healthy /m);
    assert.match(s, /^gone-4 +unreachable /m);
    assert.match(s, /Tab\/Shift-Tab: tabs {2}j\/k: scroll {2}r: refresh {2}q: quit/);
    for (const line of s.split('\n')) assert.ok(line.length <= 80, line);
    // Colours: red for critical and unreachable, green for healthy (tmux's escapes, -e).
    const coloured = t.tmux('capture-pane', '-p', '-e');
    assert.match(coloured, /\x1b\[31mweb-1 +critical/);
    assert.match(coloured, /\x1b\[31mgone-4 +unreachable/);
    assert.match(coloured, /\x1b\[32mweb-2 +healthy/);
    assert.equal(s.split('\n').length - 1, 24);

    t.keys('Tab');
    await t.until(/^== web-1 \(127\.0\.0\.1\): critical/m);
    t.keys('j');
    await t.until(/^\s+version 0\.1\.0, kernel 6\.1\.0, up 3600 s$/m);
    assert.doesNotMatch(t.screen(), /^== web-1/m);
    t.keys('k');
    await t.until(/^== web-1/m);
    t.keys('Tab');
    await t.until(/^UNIT +NODE +ACTIVE/m);
    assert.match(t.screen(), /^faultline-agent\.service +web-2 +active +running +0 no$/m);
    t.keys('Tab');
    await t.until(/\[Mesh\]/);
    assert.match(t.screen(), /^NODE +IFACE +PEER +ENDPOINT +HANDSHAKE$/m);
    t.keys('Tab');
    await t.until(/^critical gone-4 +ssh +unreachable: ssh exited with status 255/m);
    assert.match(t.screen(), /^critical web-1 +services +unit db\.service failed$/m);
    t.keys('Tab');
    await t.until(/\[Overview\]/);

    // r collects again: the spinner shows while the slow node answers, then goes.
    assert.doesNotMatch(t.screen(), /collecting/);
    t.keys('r');
    await t.until(/[|/\\-] collecting/);
    await waitFor(() => !/collecting/.test(t.screen()) && /^updated \S+, 4 nodes/m.test(t.screen()), 15000);

    t.keys('q');
    await assertRestored(t);
  } finally {
    t.close();
  }
});

test('Ctrl-C quits and restores the terminal, also in the middle of a collection', async () => {
  const t = terminal();
  try {
    start(t);
    await t.until(/collecting/);
    t.keys('C-c');
    await assertRestored(t);
  } finally {
    t.close();
  }
});

test('SIGTERM and SIGINT from outside restore the terminal; MONITOR_REFRESH drives the refresh', async () => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    const t = terminal();
    try {
      start(t, '--monitor-refresh 1');
      await t.until(/^updated (\S+),/m);
      const first = /^updated (\S+),/m.exec(t.screen())[1];
      await waitFor(() => /^updated (\S+),/m.exec(t.screen())?.[1] !== first, 15000, { message: 'no refresh after MONITOR_REFRESH' });
      const shell = t.tmux('display-message', '-p', '#{pane_pid}').trim();
      const child = execFileSync('pgrep', ['-P', shell]).toString().trim().split('\n')[0];
      process.kill(Number(child), sig);
      await assertRestored(t);
    } finally {
      t.close();
    }
  }
});
