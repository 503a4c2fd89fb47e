/* settings.h — the server's own settings: where it listens and who may use the admin pages
 * (struct server_settings), and root-cause analysis with its canaries (struct rca_settings),
 * with their option tables. API_KEY, SERVER_PORT, FAIL_TIMEOUT, PING_INTERVAL and DATA_DIR are
 * shared (struct config); Telegram is alert/settings.h. */
#ifndef FAULTLINE_SERVER_SETTINGS_H
#define FAULTLINE_SERVER_SETTINGS_H

#include <stdint.h>

#include "base/config.h"

/* Strings are owned by the config the table is attached to; NULL when unset. */
struct server_settings {
    char *listen_addr;
    char *admin_user;
    char *admin_pass; /* NULL: admin pages off */
    char *store;      /* STORE: the database's URI; NULL: sqlite://DATA_DIR/faultline.db */
};

/* Durations in ms. */
struct rca_settings {
    int64_t window_ms;
    int threshold;
    int64_t hold_ms;  /* 0: the same as PING_INTERVAL */
    int64_t followup_wait_ms;
    char *canaries;   /* target list (config_split_targets); "none" = no canaries */
    int64_t canary_interval_ms;
};

extern const struct config_table server_settings_table;
extern const struct config_table rca_settings_table;

#endif
