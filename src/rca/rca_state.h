/* rca_state.h — the correlation engine's state, shared by the files that implement rca.h: the
 * engine (rca_engine.c), the codec (rca_codec.c), the text view (rca_alert.c) and the analysis
 * (rca_analysis.c). Not an interface for other modules: they use rca.h. */
#ifndef FAULTLINE_SERVER_RCA_STATE_H
#define FAULTLINE_SERVER_RCA_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/incident.h"
#include "rca/rca.h"
#include "rca/rca_classify.h"

/* An open incident; its workers in order of DOWN. */
struct rca_incident {
    struct rca_incident *next;
    int64_t id;
    struct rca_verdict verdict;   /* recomputed from the workers on every change */
    enum incident_class told_cls; /* as last announced */
    int told_workers;             /* workers when last announced */
    int64_t told_ms;              /* when last announced (OPENED, GREW or RECLASSIFIED) */
    int64_t tell_at_ms;           /* a paced GREW or RECLASSIFIED is due then; 0: none */
    bool announced;
    bool canary_driven; /* the canaries failed during it: class server */
    int64_t opened_ms, updated_ms, closed_ms;
    int64_t window_end_ms;  /* takes new workers before this; INT64_MAX while canaries fail */
    int64_t announce_at_ms; /* 0: not yet known (no worker) or announced */
    int64_t canaries_ok_ms; /* canary_driven: when they recovered, 0 while failing */
    bool dirty;             /* changed since last reported: UPDATED is due at save_at_ms */
    int64_t save_at_ms;
    int fleet;
    json_t *canary_evidence; /* owned; NULL if none */
    struct rca_worker *workers;
    size_t n_workers, cap_workers;
};

struct rca {
    struct rca_config cfg;
    rca_next_id_fn next_id;
    void *id_ctx;
    rca_change_cb cb;
    void *ctx;
    struct rca_incident *incidents; /* open ones, by id */
    bool canaries_failing;
    int64_t canaries_since_ms;
    json_t *canary_evidence; /* owned; the latest */
};

/* ---- rca_engine.c ---- */

/* The canaries still hold it open: it needs them to recover before it can close. */
bool rca_incident_canaries_hold(const struct rca_incident *inc);
/* w is not back yet, and not an unreachable worker the canaries have released. */
bool rca_incident_worker_out(const struct rca_incident *inc, const struct rca_worker *w);
/* Workers DOWN and not back, and workers handed over unreachable. */
void rca_incident_counts(const struct rca_incident *inc, int *down, int *unreachable);
/* A zeroed worker at the end of inc's list, or NULL when out of memory. */
struct rca_worker *rca_incident_add_worker(struct rca_incident *inc);
/* NULL is a no-op. */
void rca_incident_free(struct rca_incident *inc);

/* ---- rca_alert.c ---- */

/* The incident as its texts see it (alert/format.h), for a change whose previous class and
 * count are previous_class and previous_workers; g is inc's grouping, label its scope label.
 * The one place that fills struct alert_incident. Borrows inc and label (valid while they are);
 * free it with rca_alert_free. NULL when out of memory. */
struct alert_incident *rca_alert_new(const struct rca_incident *inc, const struct rca_grouping *g,
                                     const char *label, enum incident_class previous_class,
                                     int previous_workers);
/* NULL is a no-op. */
void rca_alert_free(struct alert_incident *alert);

#endif
