/* settings.h — the agent's own settings (where the server is and over what, SITE, the diagnosis and
 * its logs): the struct agent.c reads and its option table. FAIL_TIMEOUT, PING_INTERVAL,
 * SERVER_PORT, API_KEY and DATA_DIR are shared (struct config). */
#ifndef FAULTLINE_AGENT_SETTINGS_H
#define FAULTLINE_AGENT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

/* Strings are owned by the config the table is attached to; NULL when unset. */
struct agent_settings {
    char *server_addr; /* HOST, http://HOST or https://HOST (agent_server_addr_split) */
    int server_tls;    /* SERVER_TLS: 1 = HTTPS only, whatever SERVER_ADDR says */
    char *server_ca;   /* SERVER_CA: PEM file of the CAs the server's certificate must chain to;
                        * NULL: the system's */
    char *site;
    char *tags; /* TAGS: "region=eu,role=gpu" (check/tags.h); NULL: none */
    int64_t diag_interval_ms;
    char *diag_targets; /* target list (config_split_targets) */
    char *diag_gateway; /* NULL: the default gateway from the routing table */
    int diag_ping_count;
    int diag_mtr_rounds;
    int diag_mtr_max_hops;
    int log_max_mb;
    int metrics_interval_s;     /* METRICS_INTERVAL; 0: no push */
    char *metrics_textfile_dir; /* NULL: no textfile metrics */
    char *metrics_exec;         /* METRICS_EXEC (collect_exec_parse); NULL: none */
    int metrics_per_cpu;        /* METRICS_PER_CPU: 1 = node_cpu_seconds_total per CPU */
};

extern const struct config_table agent_settings_table;

/* SERVER_ADDR's parts: "HOST", "http://HOST" or "https://HOST", where HOST is a name, an IPv4
 * address or an IPv6 address (in brackets after a scheme). Fills host (without brackets) when not
 * NULL and sets *https when the scheme is https://. Returns false when addr is none of those. */
bool agent_server_addr_split(const char *addr, char *host, size_t hostlen, bool *https);

#endif
