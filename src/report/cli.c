/* cli.c — `faultline report [--json]`: collects the report (report.c) and prints it as JSON
 * (docs/report.schema.json) or as a table for a person, from the same document. */
#include "report/report.h"

#include <signal.h>
#include <string.h>

#include "base/cli.h"

static const char *const report_cli_options[] = {
    "REPORT_UNITS",   "REPORT_TARGETS", "REPORT_TLS",  "REPORT_LOGS",
    "REPORT_ORPHANS", "REPORT_PROBES",  "SERVER_PORT",
};

static const struct cli_spec report_spec = {
    .command = "report",
    .usage = "report [--json]",
    .description =
        "Collects this machine's health in one document: system (CPU, load, memory, swap, disks,\n"
        "OOM kills, kernel, uptime, clock sync), services (systemd units through sd-bus,\n"
        "restart loops, failed units), network (REPORT_TARGETS reachability, TCP retransmissions,\n"
        "listening ports, firewall, WireGuard), processes (zombies, REPORT_ORPHANS, panic and\n"
        "fatal lines in REPORT_LOGS), tls (days left on REPORT_TLS certificates), gpu, faultline\n"
        "(this node's agent and server) and probes (REPORT_PROBES). Sections run in parallel with\n"
        "their own timeouts (commands 4 s, network 3 s); what fails is listed under errors.\n"
        "--json prints the document of docs/report.schema.json. Exit status 0 once collected.",
    .options = report_cli_options,
    .option_count = sizeof report_cli_options / sizeof report_cli_options[0],
    .json = true,
};

#define TEXT_SLOTS 16 /* one printf line uses at most this many values */

/* A value as a person reads it; valid until TEXT_SLOTS more calls on this thread. */
static const char *text_of(const json_t *v)
{
    static __thread char slots[TEXT_SLOTS][64];
    static __thread unsigned next;
    char *buf = slots[next++ % TEXT_SLOTS];
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, sizeof slots[0], "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof slots[0], "%.2f", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof slots[0], "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(buf, sizeof slots[0], "-");
    return buf;
}

#define GET(obj, key) json_object_get((obj), (key))
#define TXT(obj, key) text_of(json_object_get((obj), (key)))

static void print_system(const json_t *s, FILE *out)
{
    fprintf(out, "system\n  cpus %s  load %s %s %s  uptime %ss  kernel %s\n", TXT(s, "cpu_count"),
            TXT(s, "load_avg_1"), TXT(s, "load_avg_5"), TXT(s, "load_avg_15"), TXT(s, "uptime_s"),
            TXT(s, "kernel"));
    fprintf(out, "  memory %s/%s MB (%s%%)  swap %s/%s MB (%s%%)  OOM kills %s\n",
            TXT(s, "mem_used_mb"), TXT(s, "mem_total_mb"), TXT(s, "mem_used_pct"),
            TXT(s, "swap_used_mb"), TXT(s, "swap_total_mb"), TXT(s, "swap_used_pct"),
            TXT(s, "oom_kills"));
    const json_t *ts = GET(s, "time_sync");
    fprintf(out, "  clock synchronized %s (%s)\n", TXT(ts, "synchronized"), TXT(ts, "source"));
    size_t i;
    json_t *d;
    json_array_foreach(GET(s, "disks"), i, d)
    {
        fprintf(out, "  disk %-24s %6s/%s GB (%s%%) %s %s\n", TXT(d, "mountpoint"),
                TXT(d, "used_gb"), TXT(d, "size_gb"), TXT(d, "used_pct"), TXT(d, "fstype"),
                TXT(d, "device"));
    }
}

static void print_services(const json_t *s, FILE *out)
{
    fprintf(out, "services\n");
    size_t i;
    json_t *u;
    json_array_foreach(GET(s, "units"), i, u)
    {
        fprintf(out, "  %-32s %s %s/%s restarts %s memory %s cpu %sns%s\n", TXT(u, "name"),
                TXT(u, "load_state"), TXT(u, "active_state"), TXT(u, "sub_state"),
                TXT(u, "restarts"), TXT(u, "memory_bytes"), TXT(u, "cpu_ns"),
                json_is_true(GET(u, "restart_loop")) ? "  RESTART LOOP" : "");
    }
    json_array_foreach(GET(s, "failed_units"), i, u)
    {
        fprintf(out, "  failed: %s\n", text_of(u));
    }
}

static void print_network(const json_t *n, FILE *out)
{
    fprintf(out, "network\n  internet reachable %s  TCP retransmissions %s%%  firewall %s\n",
            TXT(n, "internet_reachable"), TXT(n, "tcp_retrans_pct"), TXT(n, "firewall_active"));
    size_t i, j;
    json_t *t, *p;
    json_array_foreach(GET(n, "targets"), i, t)
    {
        if (json_is_true(GET(t, "reachable")))
            fprintf(out, "  target %-28s reachable in %s ms\n", TXT(t, "target"), TXT(t, "rtt_ms"));
        else
            fprintf(out, "  target %-28s UNREACHABLE: %s\n", TXT(t, "target"), TXT(t, "error"));
    }
    fprintf(out, "  listening:");
    json_array_foreach(GET(n, "listening_ports"), i, p)
    {
        fprintf(out, " %s/%s:%s", TXT(p, "proto"), TXT(p, "addr"), TXT(p, "port"));
    }
    fprintf(out, "\n");
    json_array_foreach(GET(GET(n, "wireguard"), "interfaces"), i, t)
    {
        fprintf(out, "  wireguard %s port %s, %zu peers\n", TXT(t, "name"), TXT(t, "listen_port"),
                json_array_size(GET(t, "peers")));
        json_array_foreach(GET(t, "peers"), j, p)
        {
            fprintf(out, "    peer %s %s handshake %ss ago\n", TXT(p, "public_key"),
                    TXT(p, "endpoint"), TXT(p, "latest_handshake_age_s"));
        }
    }
}

static void print_processes(const json_t *p, FILE *out)
{
    fprintf(out, "processes\n  zombies %s  orphans %s  panics %s\n", TXT(p, "zombie_count"),
            TXT(p, "orphan_count"), TXT(p, "panic_count"));
    size_t i;
    json_t *e;
    json_array_foreach(GET(p, "zombies"), i, e)
    {
        fprintf(out, "  zombie %s (pid %s, parent %s)\n", TXT(e, "name"), TXT(e, "pid"),
                TXT(e, "ppid"));
    }
    json_array_foreach(GET(p, "orphans"), i, e)
    {
        fprintf(out, "  orphan %s (pid %s)\n", TXT(e, "name"), TXT(e, "pid"));
    }
    json_array_foreach(GET(p, "logs"), i, e)
    {
        fprintf(out, "  log %s: %s panic, %s fatal\n", TXT(e, "path"), TXT(e, "panic_count"),
                TXT(e, "fatal_count"));
    }
}

static void print_rest(const json_t *r, FILE *out)
{
    size_t i;
    json_t *e;
    fprintf(out, "tls\n");
    json_array_foreach(GET(GET(r, "tls"), "endpoints"), i, e)
    {
        fprintf(out, "  %-30s %s days left (until %s) %s\n", TXT(e, "endpoint"),
                TXT(e, "days_left"), TXT(e, "not_after"),
                json_is_string(GET(e, "error")) ? TXT(e, "error") : "");
    }
    const json_t *gpu = GET(r, "gpu");
    fprintf(out, "gpu\n  %s GPUs%s%s\n", TXT(gpu, "count"),
            json_is_string(GET(gpu, "error")) ? ": " : "",
            json_is_string(GET(gpu, "error")) ? TXT(gpu, "error") : "");
    json_array_foreach(GET(gpu, "gpus"), i, e)
    {
        fprintf(out, "  %s %s util %s%% mem %s/%s MB %s C %s W\n", TXT(e, "index"), TXT(e, "name"),
                TXT(e, "util_pct"), TXT(e, "mem_used_mb"), TXT(e, "mem_total_mb"), TXT(e, "temp_c"),
                TXT(e, "power_w"));
    }
    const json_t *f = GET(r, "faultline");
    fprintf(out,
            "faultline\n  agent running %s (pid %s, version %s)\n  server running %s at %s, "
            "healthy %s\n",
            TXT(GET(f, "agent"), "running"), TXT(GET(f, "agent"), "pid"),
            TXT(GET(f, "agent"), "version"), TXT(GET(f, "server"), "running"),
            TXT(GET(f, "server"), "url"), TXT(GET(f, "server"), "healthy"));
    fprintf(out, "probes\n");
    json_array_foreach(GET(r, "probes"), i, e)
    {
        fprintf(out, "  %-20s %s %s %sms %s\n", TXT(e, "name"),
                json_is_true(GET(e, "ok")) ? "ok" : "FAILED", TXT(e, "status"), TXT(e, "ms"),
                TXT(e, "url"));
    }
}

void report_print_table(const json_t *r, FILE *out)
{
    fprintf(out, "%s  faultline %s  %s  collected in %s ms\n", TXT(r, "hostname"),
            TXT(r, "version"), TXT(r, "timestamp"), TXT(r, "collect_ms"));
    print_system(GET(r, "system"), out);
    print_services(GET(r, "services"), out);
    print_network(GET(r, "network"), out);
    print_processes(GET(r, "processes"), out);
    print_rest(r, out);
    const json_t *errors = GET(r, "errors");
    fprintf(out, "errors (%zu)\n", json_array_size(errors));
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        fprintf(out, "  %s: %s\n", TXT(e, "section"), TXT(e, "error"));
    }
}

int report_main(int argc, char **argv)
{
    struct config cfg;
    struct report_settings settings;
    struct cli_args args = {0};
    config_init(&cfg);
    config_attach(&cfg, &report_settings_table, &settings);
    enum cli_result r = cli_parse(&report_spec, argc, argv, &cfg, &args);
    if (r != CLI_RUN) {
        config_free(&cfg);
        return r == CLI_EXIT_OK ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct report_options opts = {.settings = &settings, .server_port = cfg.server_port};
    json_t *report = report_collect(&opts);
    int rc = 1;
    if (report && args.json) {
        rc = json_dumpf(report, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) == 0 ? 0 : 1;
        fputc('\n', stdout);
    } else if (report) {
        report_print_table(report, stdout);
        rc = 0;
    }
    json_decref(report);
    config_free(&cfg);
    return rc;
}
