/* views.h — what `faultline monitor` shows of a snapshot and its alerts: the cluster table, one
 * node's sections, the units across nodes, the WireGuard mesh, the alerts, each as text for a
 * person or as JSON, and the LLM-ready report (docs/monitor-report.schema.json). The live TUI
 * shows the same texts in its tabs. */
#ifndef FAULTLINE_MONITOR_VIEWS_H
#define FAULTLINE_MONITOR_VIEWS_H

#include <stdio.h>

#include <jansson.h>

#include "monitor/alerts.h"
#include "monitor/snapshot.h"

enum monitor_view {
    MONITOR_VIEW_CLUSTER,
    MONITOR_VIEW_NODE,
    MONITOR_VIEW_SERVICE,
    MONITOR_VIEW_MESH,
    MONITOR_VIEW_ALERTS,
    MONITOR_VIEW_REPORT,
    MONITOR_VIEW_LIVE,
};

/* "cluster" → MONITOR_VIEW_CLUSTER ...; -1 for an unknown name. */
int monitor_view_parse(const char *name);

/* Writes the view as text (MONITOR_VIEW_REPORT: as JSON) to out. */
void monitor_view_print(FILE *out, enum monitor_view view, const struct monitor_snapshot *snap,
                        const struct monitor_alerts *alerts);

/* The view as JSON, a new reference (NULL when out of memory). */
json_t *monitor_view_json(enum monitor_view view, const struct monitor_snapshot *snap,
                          const struct monitor_alerts *alerts);

#endif
