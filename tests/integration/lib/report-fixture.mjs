// report-fixture.mjs — report JSON as `faultline report --json` prints it (the contract in
// docs/report.md), for tests that need a node's report without the node: the monitor's.

/** A report as `faultline report --json` prints it (docs/report.schema.json), all healthy. */
export function healthyReport(hostname, over = {}) {
  return {
    timestamp: '2026-11-30T12:00:00.000Z',
    timestamp_ms: 0,
    hostname,
    version: '0.1.0',
    collect_ms: 12,
    errors: [],
    system: {
      cpu_count: 2, load_avg_1: 0.1, load_avg_5: 0.1, load_avg_15: 0.1,
      mem_total_mb: 4096, mem_used_mb: 1024, mem_used_pct: 25, swap_total_mb: 1024, swap_used_mb: 0, swap_used_pct: 0,
      disks: [{ mountpoint: '/', device: '/dev/vda1', fstype: 'ext4', size_gb: 40, used_gb: 10, used_pct: 25 }],
      oom_kills: 0, kernel: '6.1.0', uptime_s: 3600, time_sync: { synchronized: true, source: 'chrony' },
    },
    services: {
      units: [{ name: 'faultline-agent.service', load_state: 'loaded', active_state: 'active', sub_state: 'running', restarts: 0, memory_bytes: 1e7, cpu_ns: 1e9, active_since: '2026-11-30T11:00:00Z', restart_loop: false }],
      failed_units: [],
    },
    network: {
      targets: [{ target: '127.0.0.1:443', reachable: true, rtt_ms: 0.1, error: null }],
      internet_reachable: true, tcp_retrans_pct: 0.01, listening_ports: [], firewall_active: true,
      wireguard: { interfaces: [] },
    },
    processes: { zombie_count: 0, zombies: [], orphans: [], orphan_count: 0, logs: [], panic_count: 0 },
    tls: { endpoints: [{ endpoint: '127.0.0.1:443', days_left: 80, not_after: '2027-02-18T00:00:00Z', error: null }] },
    gpu: { count: 0, gpus: [], error: null },
    faultline: { agent: { running: true, pid: 42, version: '0.1.0' }, server: { running: false, url: null, healthy: null } },
    probes: [],
    ...over,
  };
}
