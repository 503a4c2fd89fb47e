/* settings.c — the server's and the root-cause analysis' option tables; see settings.h. */
#include "server/settings.h"

#define SERVER(f) offsetof(struct server_settings, f)
#define RCA(f) offsetof(struct rca_settings, f)

static const struct config_option server_options[] = {
    {"ADMIN_USER", CONFIG_TEXT, SERVER(admin_user), "admin", .help = "admin login"},
    {"ADMIN_PASS", CONFIG_TEXT, SERVER(admin_pass), NULL,
     "admin password; admin pages off when unset", .flags = CONFIG_SECRET},
    {"LISTEN_ADDR", CONFIG_TEXT, SERVER(listen_addr), "0.0.0.0", "server: address to listen on",
     .check = config_check_ip, .expected = CONFIG_EXPECT_IP},
    {"STORE", CONFIG_TEXT, SERVER(store), NULL,
     .help = "server: the database, sqlite://PATH (default sqlite://DATA_DIR/faultline.db)"},
};

const struct config_table server_settings_table = {
    .module = "server",
    .options = server_options,
    .option_count = sizeof server_options / sizeof server_options[0],
};

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
