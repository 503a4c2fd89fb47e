/* report.h — `faultline report [--json]`: one JSON document about this machine's health
 * (docs/report.md, docs/report.schema.json): system, services (sd-bus), network, processes,
 * tls, gpu (the gpu collector), faultline and probes. Each section is a row of a table
 * (report.c) collected on its own thread, with its own timeouts (commands 4 s, HTTP and
 * connections 3 s); a section that fails adds {"section", "error"} to `errors` and never stops
 * the others. The agent pushes the same document (agent/report_push.c) and the server checks it
 * with report_check before storing it.
 *
 * The parsers of what the sections read are exposed for the unit tests and the fuzz targets. */
#ifndef FAULTLINE_REPORT_H
#define FAULTLINE_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/config.h"

#define REPORT_COMMAND_TIMEOUT_MS 4000 /* nft, iptables, wg, another faultline --version */
#define REPORT_NET_TIMEOUT_MS 3000     /* HTTP probes, TCP connects, TLS handshakes */

/* The report's settings (settings.c). Strings are owned by the config the table is attached to;
 * NULL when unset. */
struct report_settings {
    char *units;         /* REPORT_UNITS: systemd unit names, comma-separated */
    char *targets;       /* REPORT_TARGETS: a target list (config_split_targets), internet hosts */
    char *tls;           /* REPORT_TLS: host:port list */
    char *logs;          /* REPORT_LOGS: file paths, comma-separated */
    char *orphans;       /* REPORT_ORPHANS: process names, comma-separated */
    char *probes;        /* REPORT_PROBES: name=url, comma-separated */
    int64_t interval_ms; /* REPORT_INTERVAL: the agent's push period */
};

extern const struct config_table report_settings_table;

/* What a long-running caller (the agent) remembers between collections: each unit's NRestarts
 * as seen over the last REPORT_RESTART_WINDOW_S, so that a restart loop is also NRestarts
 * growing by 3 within the window. One collection at a time may use it. */
struct report_history;
struct report_history *report_history_new(void);    /* NULL when out of memory */
void report_history_free(struct report_history *h); /* NULL is a no-op */

/* What one collection reads besides the settings. */
struct report_options {
    const struct report_settings *settings;
    int server_port;                /* SERVER_PORT: where this node's server would answer */
    const char *root;               /* prefix of /proc and /sys (tests); NULL: "" */
    struct report_history *history; /* NULL: no memory of earlier collections */
};

/* Collects every section in parallel and returns the report (a new reference, the caller
 * decrefs it), or NULL when out of memory. Blocks for at most about the longest timeout (4 s
 * plus the time to kill a command): call it from a thread, never from a loop. */
json_t *report_collect(const struct report_options *opts);

/* Prints the report for a person: one block per section, the errors last. */
void report_print_table(const json_t *report, FILE *out);

/* Checks that doc has the shape of a report (the members of docs/report.schema.json the
 * monitor reads, with their types). Returns 0, or -1 with err naming the member path, the value
 * and what was expected: `system.mem_used_pct: expected a number, got "x"`. */
int report_check(const json_t *doc, char *err, size_t errlen);

/* `faultline report [--json]`: exit 0 when collected (whatever it found), 2 on usage. */
int report_main(int argc, char **argv);

/* ---- parsers, exposed for the unit tests and the fuzz targets ------------------------------ */

/* `wg show all dump` output (text is modified) into {"interfaces": [...]} as the schema says;
 * now_s is the wall time the handshake ages are taken against. Lines that are not an interface
 * or a peer of a listed interface are skipped. Never NULL except out of memory. */
json_t *report_wg_parse(char *text, int64_t now_s);

/* Appends the listening sockets of one /proc/net/{tcp,tcp6,udp,udp6} file's text to ports as
 * {"proto","addr","port"}: TCP sockets in LISTEN, UDP sockets without a peer. proto is "tcp",
 * "tcp6", "udp" or "udp6". Returns how many were appended. */
size_t report_listen_parse(const char *text, const char *proto, json_t *ports);

/* RetransSegs / OutSegs * 100 from /proc/net/snmp's text; -1 when the Tcp lines are missing or
 * OutSegs is 0. */
double report_retrans_pct(const char *text);

/* A systemd unit as sd-bus gives it, and whether it is in a restart loop (docs/report.md):
 * sub_state "auto-restart", activating with restarts, NRestarts grown by 3 or more within
 * REPORT_RESTART_WINDOW_S (with a history), or at least 3 restarts while the unit has been
 * active less than REPORT_RESTART_WINDOW_S. */
#define REPORT_RESTART_WINDOW_S 600
struct report_unit {
    char name[256];
    char load_state[32], active_state[32], sub_state[32];
    int64_t restarts;        /* NRestarts, -1 when the unit is no service */
    int64_t memory_bytes;    /* MemoryCurrent, -1 when unknown */
    int64_t cpu_ns;          /* CPUUsageNSec, -1 when unknown */
    int64_t active_since_ms; /* ActiveEnterTimestamp in ms, 0 when never */
    int64_t restarts_before; /* NRestarts at the oldest collection within the window that saw
                              * it (report_history), -1 when none did */
};
bool report_unit_restart_loop(const struct report_unit *u, int64_t now_ms);
/* Records u's NRestarts at now_ms in h (NULL: nothing) and sets u->restarts_before from the
 * samples of the window. Keeps 16 samples of 64 units. */
void report_history_note(struct report_history *h, struct report_unit *u, int64_t now_ms);
json_t *report_unit_json(const struct report_unit *u, int64_t now_ms);

#endif
