// bench.mjs — the monitor fan-out benchmark's driver (see ./run): starts the sshd nodes, writes
// the nodes file, times cold and warm rounds of `faultline monitor report`, prints the figures.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_SSH_OPTIONS, closeSshMasters, fakeFaultline, makeSshKeys, nodesYaml, startSshd } from '../../tests/integration/lib/sshd.mjs';
import { healthyReport } from '../../tests/integration/lib/report-fixture.mjs';

const NODES = Number(process.env.BENCH_NODES ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BIN = process.env.FAULTLINE_BIN;
const KEX = process.env.BENCH_KEX; // e.g. curve25519-sha256: ssh_options KexAlgorithms=KEX on every node
const TIMEOUT = process.env.BENCH_TIMEOUT ?? '30'; // MONITOR_TIMEOUT: long, so a round's time is measured, not cut
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-monitor-'));
const sshds = [];

// One round; also the CPU time of the monitor and the ssh clients it waited for (bash's `times`:
// children's user and system time), the laptop's share of the work. The sshd side, which a real
// fleet spreads over its nodes, runs on the same cores here.
function round(controlParent) {
  const out = path.join(dir, 'round.json');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', '"$@" > "$OUT"; times', 'bench', BIN, 'monitor', 'report', '--monitor-timeout', TIMEOUT, '--config', path.join(dir, 'nodes.yaml')], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_RUNTIME_DIR: controlParent, OUT: out },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const doc = JSON.parse(fs.readFileSync(out, 'utf8'));
  const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(r.stdout.toString()); // children's line
  const cpuMs = m ? (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000 : NaN;
  if (process.env.BENCH_DEBUG) console.log(doc.nodes.filter((n) => !n.report).slice(0, 3).map((n) => n.error)); // BENCH_DEBUG=1: why nodes failed
  return { ms, reachable: doc.nodes.filter((n) => n.report).length, reported: doc.meta.duration_seconds * 1000, cpuMs };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const keys = makeSshKeys(dir);
  const nodes = [];
  for (let i = 0; i < NODES; i++) {
    const s = await startSshd(dir, keys);
    sshds.push(s);
    const name = `node-${String(i + 1).padStart(2, '0')}`;
    nodes.push({ host: '127.0.0.1', port: s.port, user: 'root', identity_file: keys.userKey, ssh_options: [...TEST_SSH_OPTIONS, ...(KEX ? [`KexAlgorithms=${KEX}`] : [])], name, faultline: fakeFaultline(dir, name, healthyReport(name)) });
  }
  fs.writeFileSync(path.join(dir, 'nodes.yaml'), nodesYaml(nodes));
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  console.log(`monitor fan-out: ${NODES} sshd nodes on loopback, key exchange ${KEX ?? "ssh's default"}, ${os.cpus().length} CPUs (${cpu}), load ${os.loadavg()[0].toFixed(2)}`);
  let bad = 0;
  const results = { cold: [], warm: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const control = fs.mkdtempSync('/tmp/fm-'); // short: a socket path holds 108 bytes
    const c = round(control); // no masters yet: every connection is new
    const w = round(control); // the masters of the cold round
    closeSshMasters(path.join(control, 'faultline-ssh'));
    fs.rmSync(control, { recursive: true, force: true });
    results.cold.push(c);
    results.warm.push(w);
    for (const [kind, r] of [['cold', c], ['warm', w]]) {
      console.log(`round ${i + 1} ${kind}: ${r.ms.toFixed(0)} ms wall (${r.reported.toFixed(0)} ms collecting), ${r.reachable}/${NODES} nodes answered, monitor + ssh clients ${r.cpuMs.toFixed(0)} ms CPU`);
      if (r.reachable !== NODES) bad++;
    }
  }
  const aim = 3000;
  for (const kind of ['cold', 'warm']) {
    const m = median(results[kind].map((r) => r.ms));
    const cpu = median(results[kind].map((r) => r.cpuMs));
    console.log(`median ${kind}: ${m.toFixed(0)} ms (aim < ${aim} ms: ${m < aim ? 'PASS' : 'MISS'}), monitor + ssh clients ${cpu.toFixed(0)} ms CPU`);
  }
  process.exitCode = bad ? 1 : 0;
} finally {
  for (const s of sshds) await s.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
