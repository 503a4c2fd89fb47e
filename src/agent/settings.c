/* settings.c — the agent's option table; see settings.h. */
#include "agent/settings.h"

#include "base/label.h"

#define FIELD(f) offsetof(struct agent_settings, f)
#define COUNT .min = 1, .max = 1000000

static const struct config_option agent_options[] = {
    {"SERVER_ADDR", CONFIG_TEXT, FIELD(server_addr), "127.0.0.1", "server host the agent reports to",
     .check = config_check_host, .expected = CONFIG_EXPECT_HOST},
    {"SITE", CONFIG_TEXT, FIELD(site), NULL, "agent: site tag sent with heartbeats",
     .check = label_valid, .expected = LABEL_RULE},
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
};

const struct config_table agent_settings_table = {
    .module = "agent",
    .options = agent_options,
    .option_count = sizeof agent_options / sizeof agent_options[0],
};
