/* settings.c — the agent's option table; see settings.h. */
#include "agent/settings.h"

#include "base/label.h"
#include "check/tags.h"
#include "collect/collect.h"

#include <stdio.h>
#include <string.h>

#define FIELD(f) offsetof(struct agent_settings, f)
#define COUNT .min = 1, .max = 1000000

bool agent_server_addr_split(const char *addr, char *host, size_t hostlen, bool *https)
{
    bool tls = strncmp(addr, "https://", 8) == 0;
    bool scheme = tls || strncmp(addr, "http://", 7) == 0;
    const char *h = addr + (tls ? 8 : scheme ? 7 : 0);
    size_t len = strlen(h);
    if (scheme && h[0] == '[' && len > 2 && h[len - 1] == ']') {
        h++; /* [IPv6] */
        len -= 2;
    }
    char name[254];
    if (len == 0 || len >= sizeof name)
        return false;
    memcpy(name, h, len);
    name[len] = '\0';
    /* After a scheme, a colon can only be inside an IPv6 address: "host:port" is refused. */
    if (!config_check_host(name) || (scheme && strchr(name, ':') && !config_check_ip(name)))
        return false;
    if (host)
        snprintf(host, hostlen, "%s", name);
    if (https)
        *https = tls;
    return true;
}

static bool agent_check_server_addr(const char *v)
{
    return agent_server_addr_split(v, NULL, 0, NULL);
}

static const struct config_option agent_options[] = {
    {"SERVER_ADDR", CONFIG_TEXT, FIELD(server_addr), "127.0.0.1",
     "server host the agent reports to; https://HOST for HTTPS", .check = agent_check_server_addr,
     .expected = "a host name or IP address, alone or after http:// or https:// (the port is "
                 "SERVER_PORT)",
     .flags = CONFIG_TRIM_SLASH},
    {"SERVER_TLS", CONFIG_INT, FIELD(server_tls), "0",
     "agent: 1 = HTTPS only (SERVER_ADDR may then omit https://); 0 = as SERVER_ADDR says",
     .min = 0, .max = 1},
    {"SERVER_CA", CONFIG_TEXT, FIELD(server_ca), NULL,
     .help = "agent: PEM file of the CAs that sign the server's certificate (default: the "
             "system's)"},
    {"SITE", CONFIG_TEXT, FIELD(site), NULL, "agent: site tag sent with heartbeats",
     .check = label_valid, .expected = LABEL_RULE},
    {"TAGS", CONFIG_TEXT, FIELD(tags), NULL,
     "agent: labels sent with heartbeats; checks with run_on: {tags: ...} run where they match",
     .check = tags_valid, .expected = TAGS_EXPECTED},
    {"DIAG_INTERVAL", CONFIG_SECONDS, FIELD(diag_interval_ms), "60",
     .help = "agent: least seconds between diagnostics while heartbeats keep failing"},
    {"DIAG_TARGETS", CONFIG_TEXT, FIELD(diag_targets), "8.8.8.8,1.1.1.1",
     "agent: external hosts probed to tell a local outage from the path to the server",
     .check = config_check_targets, .expected = CONFIG_EXPECT_TARGETS},
    {"DIAG_GATEWAY", CONFIG_TEXT, FIELD(diag_gateway), NULL,
     "agent: gateway to probe (default: the routing table's default gateway)",
     .check = config_check_host, .expected = CONFIG_EXPECT_HOST},
    {"DIAG_PING_COUNT", CONFIG_INT, FIELD(diag_ping_count), "10",
     .help = "agent: ICMP probes sent to the server per diagnosis", COUNT},
    {"DIAG_MTR_ROUNDS", CONFIG_INT, FIELD(diag_mtr_rounds), "5",
     .help = "agent: rounds of the MTR-style path probe", COUNT},
    {"DIAG_MTR_MAX_HOPS", CONFIG_INT, FIELD(diag_mtr_max_hops), "30",
     .help = "agent: most hops the path probe follows", COUNT},
    {"LOG_MAX_MB", CONFIG_INT, FIELD(log_max_mb), "50",
     .help = "agent: megabytes its logs/ directory may use, rotated beyond", COUNT},
    {"METRICS_INTERVAL", CONFIG_INT, FIELD(metrics_interval_s), "15",
     .help = "agent: seconds between metrics pushes to /api/v1/metrics/NAME; 0: no push", .min = 0,
     .max = 86400},
    {"METRICS_TEXTFILE_DIR", CONFIG_TEXT, FIELD(metrics_textfile_dir), NULL,
     .help = "agent: directory whose *.prom files (Prometheus text format) are pushed too"},
    {"METRICS_EXEC", CONFIG_TEXT, FIELD(metrics_exec), NULL,
     .help = "agent: commands whose output (Prometheus text format) is pushed too: "
             "NAME:TIMEOUT:COMMAND [ARGS...];...",
     .check = collect_exec_valid, .expected = COLLECT_EXEC_EXPECTED},
    {"METRICS_PER_CPU", CONFIG_INT, FIELD(metrics_per_cpu), "1",
     .help = "agent: 1 = node_cpu_seconds_total per CPU, as node_exporter; 0 = one cpu=\"all\"",
     .min = 0, .max = 1},
};

const struct config_table agent_settings_table = {
    .module = "agent",
    .options = agent_options,
    .option_count = sizeof agent_options / sizeof agent_options[0],
};
