/* incidents.h — the correlation engine (rca.h) wired into the running server: DOWN and UP
 * transitions and the canaries' verdict go in; every change the engine reports is saved with its
 * messages in one transaction and handed to the outbox only once committed. Its state (the
 * engine, its timer, the cut-off scan) lives behind this handle. Loop thread only. */
#ifndef FAULTLINE_INCIDENTS_H
#define FAULTLINE_INCIDENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "model/worker.h"

struct incidents_settings {
    int64_t window_ms;       /* RCA_WINDOW */
    int64_t hold_ms;         /* RCA_HOLD, or PING_INTERVAL when that is 0 */
    int threshold;           /* RCA_THRESHOLD */
    int64_t fail_timeout_ms; /* FAIL_TIMEOUT, for the per-worker DOWN texts */
    bool canaries;           /* RCA_CANARIES names at least one canary */
};

struct incidents;
struct store;
struct fleet;
struct outbox;
struct alert_router;
struct followup;
struct dependencies;
struct checks;

/* Opened after the store, with the incidents left open restored; the modules given must outlive
 * it (outbox, router and followup may be NULL). Returns 0, or -1 with err set. */
int incidents_open(uv_loop_t *loop, struct store *store, struct fleet *fleet,
                   struct outbox *outbox, struct alert_router *router, struct followup *followup,
                   const struct incidents_settings *settings, struct incidents **out, char *err,
                   size_t errlen);
/* Saves delayed changes and stops the timer; frees once libuv has closed it. NULL is a no-op. */
void incidents_close(struct incidents *inc);

/* A worker went DOWN (its event is queued): the engine groups and classifies it. */
void incidents_worker_down(struct incidents *inc, const struct worker_record *w);
/* A DOWN worker is back; true when its per-worker UP message is due (individual outages). Call
 * before its event is queued, so a held incident's messages come first. */
bool incidents_worker_up(struct incidents *inc, const struct worker_record *w);

/* Workers whose DOWN is held back while a parent is down (dependencies.h; NULL: none). */
void incidents_set_dependencies(struct incidents *inc, struct dependencies *deps);
/* Tells the DOWN of w now (a dependencies_tell_fn, ctx the struct incidents): a held-back
 * child released. */
void incidents_tell_down(const struct worker_record *w, void *ctx);

/* The check engine, whose checks held back by a site outage its messages list (NULL: none). */
void incidents_set_checks(struct incidents *inc, struct checks *checks);
/* The id of an open network or widespread incident that has site's workers out, or 0 (the check
 * engine's site_outage hook; ctx is the struct incidents). */
int64_t incidents_site_outage(const char *site, void *ctx);

/* The canaries' change callback (canary.h), ctx is the struct incidents: when no canary
 * answers, overdue workers are the server's outage, not theirs. */
void incidents_canaries_changed(bool cut_off, json_t *evidence, void *ctx);
/* While cut off: hands the workers overdue at now_mono to the engine as unreachable (at most
 * once a second). */
void incidents_cut_off_overdue(struct incidents *inc, int64_t now_mono);

/* GET /admin/api/analysis without the canaries: rca_analysis() plus "fleet" counts and
 * "thresholds". New reference; NULL when out of memory. */
/* The open incidents by class: counts[cls] (zeroed first). */
void incidents_count_open(const struct incidents *inc, size_t counts[INCIDENT_CLASS_COUNT]);

json_t *incidents_analysis(struct incidents *inc, int64_t now_wall);

#endif
