/* format.h — the texts people read at night. One function per kind of notification; each writes
 * plain text (no markup) into buf. */
#ifndef FAULTLINE_ALERT_FORMAT_H
#define FAULTLINE_ALERT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/incident.h"
#include "model/worker.h"

/* "🔴 brickbox-43 is DOWN" + when, silence length, last-seen time and IP. */
void alert_format_down(const struct worker_record *w, int64_t now_ms, int64_t fail_timeout_ms,
                       char *buf, size_t buflen);

/* "🟢 brickbox-43 is UP" + when, IP, and how long it was down (down_since_ms). */
void alert_format_up(const struct worker_record *w, int64_t now_ms, int64_t down_since_ms,
                     char *buf, size_t buflen);

/* A machine's GPU count changed (w->gpus is the new count, WORKER_GPUS_FAILED when its GPU check
 * failed): "🟠 brickbox-43 lost a GPU: 4 → 3", "... lost 2 GPUs: 4 → 2", "... lost its GPUs: the
 * GPU check failed (4 → GPU_ERR)"; back: "🟢 brickbox-43 has its GPU back: 3 → 4", "... has its
 * GPUs back: GPU_ERR → 4"; then when and from where. */
void alert_format_gpus(const struct worker_record *w, int prev_gpus, int64_t now_ms, char *buf,
                       size_t buflen);

/* ---- incidents (model/incident.h) --------------------------------------------------------------
 * One message per incident instead of one per worker. This is the incident as its texts see it;
 * the correlation engine fills it (one function, in rca/rca_alert.c) and the texts read only
 * it. Pointers are borrowed. */
#define ALERT_INCIDENT_NAMES 5 /* names listed before "+N more" */

struct alert_incident {
    int64_t id;
    enum incident_class classification;
    enum incident_class previous_classification; /* reclassified: the class told before */
    bool announced;        /* false while held, and for incidents closed before being told */
    int workers;           /* workers in the incident (DOWN or unreachable), back ones included */
    int previous_workers;  /* how many were told before (grew) */
    int scope_workers;     /* network: workers of the group at fault (the first names) */
    const char *scope;     /* network: "behind 203.0.113.7 (site fra1)" */
    int sites, networks;   /* groups keyed by site tag, by address prefix */
    int fleet;             /* workers monitored */
    bool canaries_failing; /* server: the monitor's own probes failed (else: most of the fleet) */
    const char *const *names; /* every worker, the group at fault first, in order of DOWN */
    size_t n_names;
    int64_t opened_ms, closed_ms;
};

/* The incident message a change carries, written into buf; for a network incident, e.g.
 *   opened        "🔴 NETWORK ISSUE: 5 workers behind 203.0.113.7 (site fra1) went down\nbox-1, ..."
 *   grew          "🔴 NETWORK ISSUE growing: 12 workers down now (was 5), behind ...\n..."
 *   reclassified  "🔴 Now WIDESPREAD (was network issue): 14 workers at 6 sites went down ...\n..."
 *   closed        "✅ RESOLVED: network issue behind 203.0.113.7 (site fra1): 5 workers back
 *                 after 4m 00s"
 * and the like for the other classes. Returns false, with buf "", when the change carries none:
 * UPDATED, any change of an individual incident (its workers get their own DOWN and UP texts),
 * and any change of an incident never announced. Output that does not fit is cut. */
bool alert_format_incident_message(enum incident_change change, const struct alert_incident *inc,
                                   char *buf, size_t buflen);

#endif
