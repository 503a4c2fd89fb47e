/* settings.h — what `faultline monitor` reads from its nodes file (the --config YAML, by default
 * ~/.config/faultline/nodes.yaml): the `nodes:` list, the `thresholds:` mapping of the alert
 * rules, and the flat settings MONITOR_TIMEOUT and MONITOR_REFRESH. docs/report.md documents
 * the format. */
#ifndef FAULTLINE_MONITOR_SETTINGS_H
#define FAULTLINE_MONITOR_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

#define MONITOR_NODES_MAX 1024
#define MONITOR_SSH_OPTIONS_MAX 32

/* One entry of `nodes:`. Strings are owned by the node (monitor_settings_free); NULL when unset,
 * except host and faultline, which are always set. */
struct monitor_node {
    char *host;
    char *name; /* NULL: host */
    char *user;
    int port; /* 0: ssh's own (ssh_config or 22) */
    char *env;
    char *role;
    char *identity_file;
    char *ssh_options[MONITOR_SSH_OPTIONS_MAX]; /* each passed as -o OPTION */
    size_t ssh_option_count;
    char *faultline; /* the remote command; default "faultline" */
};

/* The alert rules' limits (`thresholds:`); defaults are the issue's. */
struct monitor_thresholds {
    double mem_used_pct;       /* 90: warning above */
    double disk_used_pct;      /* 85: warning above */
    double swap_used_pct;      /* 30: info above */
    double tls_days_left;      /* 14: warning below (critical when expired) */
    double wg_handshake_age_s; /* 180: warning above */
    double clock_skew_s;       /* 5: warning above */
    double report_age_s;       /* 900: warning when a report is this much older than the newest */
};

struct monitor_settings {
    int64_t timeout_ms;         /* MONITOR_TIMEOUT: per node, the whole ssh exchange */
    int64_t refresh_ms;         /* MONITOR_REFRESH: live view's period */
    struct monitor_node *nodes; /* owned; node_count entries */
    size_t node_count;
    struct monitor_thresholds thresholds;
};

extern const struct config_table monitor_settings_table;

/* Sets the thresholds' defaults and no nodes (the table's options get theirs from
 * config_attach). Call before config_attach. */
void monitor_settings_init(struct monitor_settings *s);

/* Frees the nodes. The options' strings belong to the config. */
void monitor_settings_free(struct monitor_settings *s);

/* The name a node is shown under: its name, else its host. */
const char *monitor_node_label(const struct monitor_node *n);

#endif
