/* alerts.h — the monitor's alert rules: per node (unreachable, memory, disk, swap, OOM kills,
 * failed units, restart loops, zombies, internet, certificates, WireGuard handshakes) and
 * across nodes (clock skew, version mismatch, WireGuard peer symmetry, a report much older
 * than the others). Pure: they read a snapshot and the thresholds, nothing else. docs/report.md
 * lists every rule with its severity. */
#ifndef FAULTLINE_MONITOR_ALERTS_H
#define FAULTLINE_MONITOR_ALERTS_H

#include <stddef.h>

#include <jansson.h>

#include "monitor/settings.h"
#include "monitor/snapshot.h"

/* In the order alerts are listed. */
enum monitor_severity { MONITOR_CRITICAL, MONITOR_WARNING, MONITOR_INFO };

struct monitor_alert {
    enum monitor_severity severity;
    char subsystem[24]; /* "ssh", "system", "services", "processes", "network", "tls",
                         * "wireguard", "clock", "version", "report", "server" */
    char node[128];     /* the node's name (or host); "server" for the server itself */
    char message[256];
};

struct monitor_alerts {
    struct monitor_alert *items; /* owned; sorted by severity, then in the nodes' order */
    size_t count, cap;
};

/* Fills out (empty before) with every alert the snapshot shows. Returns 0, or -1 when out of
 * memory (out then holds what was found so far). */
int monitor_alerts_derive(const struct monitor_snapshot *snap, const struct monitor_thresholds *t,
                          struct monitor_alerts *out);

void monitor_alerts_free(struct monitor_alerts *a);

const char *monitor_severity_name(enum monitor_severity s); /* "critical", "warning", "info" */

/* A node's health: "unreachable" without a report, else "critical" or "warning" after its worst
 * alert, else "healthy". */
const char *monitor_node_status(const struct monitor_result *r, const struct monitor_alerts *a);

/* How many WireGuard peers a report lists, over all its interfaces (0 without any). */
size_t monitor_wg_peer_count(const json_t *report);

/* How many alerts have severity s. */
size_t monitor_alerts_count(const struct monitor_alerts *a, enum monitor_severity s);

/* [{severity, subsystem, node, message}], a new reference. */
json_t *monitor_alerts_json(const struct monitor_alerts *a);

#endif
