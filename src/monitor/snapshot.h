/* snapshot.h — one collection of the fleet: each node's report (or why there is none) with the
 * times the monitor needs for cross-node rules. Filled by the ssh fan-out (fanout.h) or from a
 * server's GET /api/v1/reports (server_source.h); read by the alert rules (alerts.h) and the
 * views (views.h). */
#ifndef FAULTLINE_MONITOR_SNAPSHOT_H
#define FAULTLINE_MONITOR_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* One node's outcome. */
struct monitor_result {
    char *host;            /* owned */
    char *name;            /* owned; what the node is shown under */
    char *role;            /* owned; the nodes file's role, NULL when none */
    json_t *report;        /* owned reference; NULL when the node gave none */
    char error[256];       /* why there is no report ("" when there is one) */
    int64_t collection_ms; /* the ssh exchange (or the server request) */
    /* Wall-clock time (Unix ms) the report was taken at as seen from here: the midpoint of the
     * ssh round trip, or the server's `received`. The clock-skew rule compares the report's
     * timestamp_ms with it; -1: unknown. */
    int64_t seen_at_ms;
    int64_t received_ms; /* --server: when the server got it (Unix ms); -1 over ssh */
};

struct monitor_snapshot {
    char *environment;              /* owned; --env, or "" */
    struct monitor_result *results; /* owned; count entries in the order of the nodes file */
    size_t count;
    int64_t started_ms; /* Unix ms */
    int64_t duration_ms;
    char error[256]; /* --server: why the server gave no reports ("" when it did) */
};

/* Frees what the snapshot holds (not the struct itself) and zeroes it. NULL is a no-op. */
void monitor_snapshot_clear(struct monitor_snapshot *s);

/* How many results carry a report. */
size_t monitor_snapshot_reachable(const struct monitor_snapshot *s);

#endif
