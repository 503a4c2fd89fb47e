/* settings.h — the server's own settings: where it listens (over HTTP or HTTPS), who may use
 * the admin pages and what one client may take of it (struct server_settings), and root-cause
 * analysis with its canaries (struct rca_settings), with their option tables. API_KEY,
 * SERVER_PORT, FAIL_TIMEOUT, PING_INTERVAL and DATA_DIR are shared (struct config); Telegram is
 * alert/settings.h. */
#ifndef FAULTLINE_SERVER_SETTINGS_H
#define FAULTLINE_SERVER_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

/* Strings are owned by the config the table is attached to; NULL when unset. */
struct server_settings {
    char *listen_addr;
    char *admin_user;
    char *admin_pass; /* NULL: admin pages off */
    char *store;      /* STORE: the database's URI; NULL: sqlite://DATA_DIR/faultline.db */
    /* Against clients that would exhaust the server (http.h, struct http_limits). */
    int http_max_connections;
    int http_max_per_addr;
    int http_agent_reserve; /* less than http_max_connections (checked by the server) */
    int64_t http_header_timeout_ms;
    int64_t http_idle_timeout_ms;
    int http_min_body_rate;   /* bytes per second */
    int http_body_memory_mib; /* request bodies in flight, all together */
    int auth_max_failures;
    int64_t auth_failure_window_ms;
    char *tls_cert;   /* TLS_CERT: PEM chain; with tls_key, the server speaks HTTPS only */
    char *tls_key;    /* TLS_KEY: its PEM private key */
    int tls_hsts_s;   /* TLS_HSTS: Strict-Transport-Security max-age over HTTPS; 0: none */
    int gpu_alerts;   /* GPU_ALERTS: 1 tells GPU count changes (events.h), 0 does not */
    /* Agents' pushed metrics and GET /metrics. */
    char *metrics_token;       /* METRICS_TOKEN: the scrapers' bearer token; NULL: admin only */
    int metrics_public;        /* METRICS_PUBLIC: 1 lets anyone read /metrics and /status */
    int64_t metrics_ttl_ms;    /* METRICS_TTL: an agent silent this long is dropped */
    int metrics_max_series;    /* METRICS_MAX_SERIES: series kept per agent */
    /* Active checks (checks.h). */
    char *checks_dir;          /* CHECKS_DIR: the checks' YAML files; NULL: DATA_DIR/checks.d */
    int check_history;         /* CHECK_HISTORY: results kept in memory per check */
    int64_t group_wait_ms;     /* GROUP_WAIT: check alerts grouped (alert/group.h) */
    int64_t repeat_interval_ms; /* REPEAT_INTERVAL: reminders of open check problems; 0: none */
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

/* What the table cannot check one setting at a time: HTTP_AGENT_RESERVE below
 * HTTP_MAX_CONNECTIONS. Returns 0, or -1 with "NAME: expected ..., got \"VALUE\"" in err. */
int server_settings_check(const struct server_settings *s, char *err, size_t errlen);
extern const struct config_table rca_settings_table;

#endif
