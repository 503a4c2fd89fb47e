/* settings.c — the server's and the root-cause analysis' option tables; see settings.h. */
#include "server/settings.h"

#include <stdio.h>

#define SERVER(f) offsetof(struct server_settings, f)
#define RCA(f) offsetof(struct rca_settings, f)

static const struct config_option server_options[] = {
    {"ADMIN_USER", CONFIG_TEXT, SERVER(admin_user), "admin", .help = "admin login"},
    {"ADMIN_PASS", CONFIG_TEXT, SERVER(admin_pass), NULL,
     "admin password; admin pages off when unset", .flags = CONFIG_SECRET},
    {"LISTEN_ADDR", CONFIG_TEXT, SERVER(listen_addr), "0.0.0.0", "server: address to listen on",
     .check = config_check_ip, .expected = CONFIG_EXPECT_IP},
    {"GPU_ALERTS", CONFIG_INT, SERVER(gpu_alerts), "1",
     "server: 1 = tell when a machine loses a GPU or its GPU check fails, and when they return; "
     "0 = off", .min = 0, .max = 1},
    {"STORE", CONFIG_TEXT, SERVER(store), NULL,
     .help = "server: the database, sqlite://PATH (default sqlite://DATA_DIR/faultline.db)"},
    {"HTTP_MAX_CONNECTIONS", CONFIG_INT, SERVER(http_max_connections), "20000",
     "server: open connections, all clients together", .min = 2, .max = 1000000},
    {"HTTP_MAX_CONNECTIONS_PER_ADDR", CONFIG_INT, SERVER(http_max_per_addr), "256",
     "server: open connections one address (an IPv6 /64) may hold, unless agents use it",
     .min = 1, .max = 1000000},
    {"HTTP_AGENT_RESERVE", CONFIG_INT, SERVER(http_agent_reserve), "2000",
     "server: connections of HTTP_MAX_CONNECTIONS kept for addresses agents use", .min = 0,
     .max = 999999},
    {"HTTP_HEADER_TIMEOUT", CONFIG_SECONDS, SERVER(http_header_timeout_ms), "10",
     .help = "server: seconds a new connection has to send its request headers"},
    {"HTTP_IDLE_TIMEOUT", CONFIG_SECONDS, SERVER(http_idle_timeout_ms), "120",
     .help = "server: seconds a kept-alive connection may wait for its next request"},
    {"HTTP_MIN_BODY_RATE", CONFIG_INT, SERVER(http_min_body_rate), "1024",
     "server: bytes per second a request body must keep, after HTTP_HEADER_TIMEOUT", .min = 1,
     .max = 1000000000},
    {"HTTP_BODY_MEMORY_MB", CONFIG_INT, SERVER(http_body_memory_mib), "256",
     "server: MiB of request bodies in flight, all requests together (503 beyond)", .min = 1,
     .max = 1000000},
    {"AUTH_MAX_FAILURES", CONFIG_INT, SERVER(auth_max_failures), "10",
     "server: wrong keys or passwords from one address within AUTH_FAILURE_WINDOW before 429",
     .min = 1, .max = 1000000},
    {"AUTH_FAILURE_WINDOW", CONFIG_SECONDS, SERVER(auth_failure_window_ms), "60",
     .help = "server: seconds over which AUTH_MAX_FAILURES counts"},
    {"TLS_CERT", CONFIG_TEXT, SERVER(tls_cert), NULL,
     .help = "server: PEM certificate chain; with TLS_KEY it serves HTTPS (reloaded on SIGHUP)"},
    {"TLS_KEY", CONFIG_TEXT, SERVER(tls_key), NULL, .help = "server: PEM private key of TLS_CERT"},
    {"TLS_HSTS", CONFIG_INT, SERVER(tls_hsts_s), "0",
     "server: seconds browsers keep to HTTPS (Strict-Transport-Security max-age); 0 = not sent",
     .min = 0, .max = 1000000000},
    {"METRICS_TOKEN", CONFIG_TEXT, SERVER(metrics_token), NULL,
     "server: bearer token Prometheus scrapes /metrics with; unset: the admin login only",
     .flags = CONFIG_SECRET},
    {"METRICS_PUBLIC", CONFIG_INT, SERVER(metrics_public), "0",
     "server: 1 lets anyone read /metrics and /status (they name workers)", .min = 0, .max = 1},
    {"METRICS_TTL", CONFIG_SECONDS, SERVER(metrics_ttl_ms), "60",
     .help = "server: seconds after an agent's last push that its metrics are dropped"},
    {"METRICS_MAX_SERIES", CONFIG_INT, SERVER(metrics_max_series), "10000",
     "server: series kept per agent; the rest of a push is refused", .min = 1, .max = 10000000},
    {"CHECKS_DIR", CONFIG_TEXT, SERVER(checks_dir), NULL,
     .help = "server: directory of check files (*.yaml), watched for changes (default "
             "DATA_DIR/checks.d)"},
    {"CHECK_HISTORY", CONFIG_INT, SERVER(check_history), "20",
     "server: results kept in memory per check (GET /api/v1/checks/NAME)", .min = 1,
     .max = 1000},
    {"REPEAT_INTERVAL", CONFIG_SECONDS, SERVER(repeat_interval_ms), NULL,
     .help = "server: a check's problem still open this many seconds after it was told is told "
             "again (unset: never)"},
    {"GROUP_WAIT", CONFIG_SECONDS, SERVER(group_wait_ms), "10",
     .help = "server: alerts of checks of one target or tag set within this many seconds of the first "
     "are sent as one message"},
};

const struct config_table server_settings_table = {
    .module = "server",
    .options = server_options,
    .option_count = sizeof server_options / sizeof server_options[0],
};

int server_settings_check(const struct server_settings *s, char *err, size_t errlen)
{
    if (s->http_agent_reserve < s->http_max_connections)
        return 0;
    snprintf(err, errlen,
             "HTTP_AGENT_RESERVE: expected less than HTTP_MAX_CONNECTIONS (%d), got \"%d\"",
             s->http_max_connections, s->http_agent_reserve);
    return -1;
}

static const struct config_option rca_options[] = {
    {"RCA_WINDOW", CONFIG_SECONDS, RCA(window_ms), "60",
     .help = "server: seconds during which DOWNs join the same incident"},
    {"RCA_THRESHOLD", CONFIG_INT, RCA(threshold), "5",
     "server: workers down together that make a network or widespread incident", .min = 1,
     .max = 1000000},
    {"RCA_HOLD", CONFIG_SECONDS, RCA(hold_ms), NULL,
     .help = "server: seconds a new incident waits for more DOWNs before its first message "
     "(default PING_INTERVAL)"},
    {"RCA_FOLLOWUP_WAIT", CONFIG_SECONDS, RCA(followup_wait_ms), "60",
     .help = "server: seconds after an incident closes that its follow-up waits for the agents' "
     "uploads"},
    {"RCA_CANARIES", CONFIG_TEXT, RCA(canaries), "gateway,1.1.1.1",
     "server: hosts it probes (ICMP and TCP) to tell its own outage from the fleet's; none = off",
     .check = config_check_targets, .expected = CONFIG_EXPECT_TARGETS},
    {"RCA_CANARY_INTERVAL", CONFIG_SECONDS, RCA(canary_interval_ms), "10",
     .help = "server: seconds between canary probes"},
};

const struct config_table rca_settings_table = {
    .module = "rca",
    .options = rca_options,
    .option_count = sizeof rca_options / sizeof rca_options[0],
};
