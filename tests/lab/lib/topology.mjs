// topology.mjs — the outage lab's network, as data and as the `ip`/`nft` commands that build it
// from network namespaces. Nothing here touches the caller's own namespace: links are created
// directly inside the namespaces they join (`ip -n A link add ... peer ... netns B`), and
// deleting the namespaces removes everything (see README.md for the picture).
//
//   planTopology(prefix, sites) → plan {prefix, ns: {srv, core, isp, inet}, sites: [...], addr}
//   buildTopology(plan)          creates every namespace, link, address, route and nft table
//   destroyTopology(plan)        deletes every namespace of the plan (idempotent)
//   sh(cmd, args, {input})       runs a command, rejects with its stderr on a non-zero status
import { spawn, spawnSync } from 'node:child_process';

// Fixed addresses. Every site's public address is in a /24 of its own, so that the server's
// "shared /24" rule cannot group two sites together.
export const ADDR = {
  server: '198.51.100.10', // srv eth0; its gateway is the core router
  coreSrv: '198.51.100.1', // core, on the server's LAN
  coreUp: '198.18.0.2', // core, on the core-ISP transit link
  ispCore: '198.18.0.1', // ISP router, on the transit link
  ispInet: '192.0.2.1', // ISP router, on the "internet" LAN
  inet: '192.0.2.53', // the "internet" host (plays 1.1.1.1 / 8.8.8.8)
};

// Each site: a NAT gateway with one public address on its own link to the ISP router, and a
// private LAN 10.N.0.0/24 with the agents.
export const DEFAULT_SITES = [
  { name: 'fra1', agents: 5, wan: '203.0.113', lan: '10.1.0' },
  { name: 'ams1', agents: 3, wan: '198.18.20', lan: '10.2.0' },
  { name: 'nyc1', agents: 3, wan: '198.18.30', lan: '10.3.0' },
];

/** Names and addresses of everything in one lab; prefix makes the namespaces unique per run. */
export function planTopology(prefix, sites = DEFAULT_SITES) {
  const ns = { srv: `${prefix}srv`, core: `${prefix}core`, isp: `${prefix}isp`, inet: `${prefix}inet` };
  const planned = sites.map((s) => ({
    name: s.name,
    gwNs: `${prefix}gw-${s.name}`,
    publicAddr: `${s.wan}.7`,
    ispAddr: `${s.wan}.1`,
    ispIface: `s-${s.name}`.slice(0, 15), // the ISP router's interface toward this site
    gwAddr: `${s.lan}.1`,
    lan: `${s.lan}.0/24`,
    agents: Array.from({ length: s.agents }, (_, i) => {
      const name = `${s.name}-${String(i + 1).padStart(2, '0')}`;
      return { name, site: s.name, ns: `${prefix}${name}`, addr: `${s.lan}.${11 + i}`, port: `p${i + 1}` };
    }),
  }));
  return { prefix, ns, sites: planned, addr: { ...ADDR } };
}

export function allNamespaces(plan) {
  const out = Object.values(plan.ns);
  for (const s of plan.sites) out.push(s.gwNs, ...s.agents.map((a) => a.ns));
  return out;
}

/** Runs cmd; resolves {stdout, stderr} on status 0, rejects with the command and stderr. */
export function sh(cmd, args, { input, timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}`));
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')} failed (status ${code}, signal ${signal}): ${stderr.trim()}`));
    });
    if (input !== undefined) {
      p.stdin.on('error', () => {}); // a command that exits without reading: its status says why
      p.stdin.end(input);
    }
  });
}

/** Runs a shell script inside namespace ns (stops at the first failing command). */
export function nsScript(ns, script) {
  return sh('ip', ['netns', 'exec', ns, 'sh', '-ec', script]);
}

// A veth pair between two namespaces, created inside them (never in the caller's namespace).
function veth(nsA, ifA, nsB, ifB) {
  return sh('ip', ['-n', nsA, 'link', 'add', 'name', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
}

// Every namespace: loopback up, no ICMP rate limit (routers answer every probe of every agent,
// and all agents of a site share one public address, which the default per-peer limit would
// turn into fake loss).
const BASE = 'ip link set lo up\nsysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000\n';
const ROUTER = BASE + 'sysctl -qw net.ipv4.ip_forward=1\n';
// A site's gateway keeps the kernel's default ICMP rate limit, as in life: when a site's agents
// trace at the same moment, some of its "time exceeded" answers are dropped while it still
// answers every ping.
const GATEWAY = 'ip link set lo up\nsysctl -qw net.ipv4.ip_forward=1\n';

// The loss-injection table of a router: an empty forward chain that addLoss fills.
const LOSS_TABLE = `table inet lab {
 chain lab_fwd {
  type filter hook forward priority 0; policy accept;
 }
}
`;

function natTable(wanIface) {
  return `table ip labnat {
 chain lab_post {
  type nat hook postrouting priority 100; policy accept;
  oifname "${wanIface}" masquerade
 }
}
`;
}

export async function buildTopology(plan) {
  const { ns, addr } = plan;
  for (const n of allNamespaces(plan)) await sh('ip', ['netns', 'add', n]);

  await veth(ns.srv, 'eth0', ns.core, 'srv0');
  await veth(ns.core, 'isp0', ns.isp, 'core0');
  await veth(ns.isp, 'inet0', ns.inet, 'eth0');
  for (const s of plan.sites) {
    await veth(ns.isp, s.ispIface, s.gwNs, 'wan0');
    for (const a of s.agents) await veth(s.gwNs, a.port, a.ns, 'eth0');
  }

  const scripts = [];
  scripts.push([
    ns.srv,
    BASE + `ip addr add ${addr.server}/24 dev eth0\nip link set eth0 up\nip route add default via ${addr.coreSrv}\n`,
  ]);
  scripts.push([
    ns.core,
    ROUTER +
      `ip addr add ${addr.coreSrv}/24 dev srv0\nip link set srv0 up\n` +
      `ip addr add ${addr.coreUp}/30 dev isp0\nip link set isp0 up\nip route add default via ${addr.ispCore}\n`,
  ]);
  let isp =
    ROUTER +
    `ip addr add ${addr.ispCore}/30 dev core0\nip link set core0 up\n` +
    `ip addr add ${addr.ispInet}/24 dev inet0\nip link set inet0 up\n` +
    `ip route add 198.51.100.0/24 via ${addr.coreUp}\n`;
  for (const s of plan.sites) isp += `ip addr add ${s.ispAddr}/24 dev ${s.ispIface}\nip link set ${s.ispIface} up\n`;
  // The ISP router has no default route: a packet for any address outside the lab dies here.
  scripts.push([ns.isp, isp]);
  scripts.push([ns.inet, BASE + `ip addr add ${addr.inet}/24 dev eth0\nip link set eth0 up\nip route add default via ${addr.ispInet}\n`]);

  for (const s of plan.sites) {
    let gw =
      GATEWAY +
      `ip addr add ${s.publicAddr}/24 dev wan0\nip link set wan0 up\nip route add default via ${s.ispAddr}\n` +
      `ip link add name br0 type bridge\nip addr add ${s.gwAddr}/24 dev br0\nip link set br0 up\n`;
    for (const a of s.agents) gw += `ip link set ${a.port} master br0\nip link set ${a.port} up\n`;
    scripts.push([s.gwNs, gw]);
    for (const a of s.agents)
      scripts.push([a.ns, BASE + `ip addr add ${a.addr}/24 dev eth0\nip link set eth0 up\nip route add default via ${s.gwAddr}\n`]);
  }
  await Promise.all(scripts.map(([n, script]) => nsScript(n, script)));

  const nft = [[ns.core, LOSS_TABLE], [ns.isp, LOSS_TABLE]];
  for (const s of plan.sites) nft.push([s.gwNs, LOSS_TABLE + natTable('wan0')]);
  await Promise.all(nft.map(([n, text]) => sh('ip', ['netns', 'exec', n, 'nft', '-f', '-'], { input: text })));
}

/** Deletes every namespace of the plan that still exists; returns the errors it met. */
export function destroyTopology(plan) {
  const errors = [];
  const existing = new Set(listNamespaces());
  for (const n of allNamespaces(plan)) {
    if (!existing.has(n)) continue;
    const r = spawnSync('ip', ['netns', 'del', n], { encoding: 'utf8' });
    if (r.status !== 0) errors.push(`ip netns del ${n}: ${(r.stderr || '').trim()}`);
  }
  return errors;
}

export function listNamespaces() {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}
