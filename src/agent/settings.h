/* settings.h — the agent's own settings (where the server is, SITE, the diagnosis and its logs):
 * the struct agent.c reads and its option table. FAIL_TIMEOUT, PING_INTERVAL, SERVER_PORT,
 * API_KEY and DATA_DIR are shared (struct config). */
#ifndef FAULTLINE_AGENT_SETTINGS_H
#define FAULTLINE_AGENT_SETTINGS_H

#include <stdint.h>

#include "base/config.h"

/* Strings are owned by the config the table is attached to; NULL when unset. */
struct agent_settings {
    char *server_addr;
    char *site;
    int64_t diag_interval_ms;
    char *diag_targets; /* target list (config_split_targets) */
    char *diag_gateway; /* NULL: the default gateway from the routing table */
    int diag_ping_count;
    int diag_mtr_rounds;
    int diag_mtr_max_hops;
    int log_max_mb;
};

extern const struct config_table agent_settings_table;

#endif
