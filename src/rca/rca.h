/* rca.h — the correlation engine: groups worker DOWN transitions into incidents and classifies
 * them (individual, network, widespread, server), so a person gets one message per incident
 * instead of one per worker. Pure logic: no I/O, no clocks, no store, no libuv. Every time is
 * wall-clock UTC milliseconds passed in by the caller; the caller saves what the engine reports
 * and arms a timer for rca_next_deadline().
 *
 * How the server drives it (all calls on the loop thread):
 *   rca_worker_down        a worker went DOWN: record its event, but send no per-worker DOWN
 *                          text then; the engine says when one is due (notify_down)
 *   rca_worker_up          a worker came back; returns whether to send its per-worker UP text
 *   rca_worker_unreachable the canaries say the monitor is cut off, so this overdue worker is
 *                          handed over instead of being marked DOWN (it is not counted as down)
 *   rca_canaries           the server's own canary probes changed: all failing, or not
 *   rca_tick               time passed (call at rca_next_deadline())
 * and in the callback: save the incident (store_save_incident) with the messages it carries:
 * the incident message (alert_format_incident_message of the view's alert), plus the per-worker
 * DOWN text of each name in notify_down. New incidents take their ids from the next_id callback
 * given to rca_new.
 * Every change to an incident is reported through the one rca_change_cb, synchronously, before
 * the call that caused it returns: at once when it carries a message or a per-worker DOWN
 * text, and for plain UPDATED changes at most save_delay_ms later (from rca_tick, so a big
 * outage is saved a few times rather than once per worker; rca_flush reports them at once).
 * The callback must not call back into the engine.
 *
 * Rules (docs/rca.md explains them for users):
 *  - A DOWN joins the newest open incident whose window (opened + window_ms) is still open,
 *    else it opens a new incident. While the canaries fail, the incident they made (or took
 *    over) keeps its window open until they recover.
 *  - An incident is held for hold_ms after its first worker before it is announced (OPENED),
 *    so workers that go DOWN together are classified together. If a worker of a held incident
 *    comes back, the incident is announced at once, so DOWN is always told before UP.
 *  - After it is announced, an incident is told again when its class changes (RECLASSIFIED) or
 *    it grows by half again and by at least 2 (GREW), at most once per pace_ms: a change that
 *    comes sooner waits until pace_ms after the last message and is then told with the latest
 *    figures (or not at all, when it no longer holds).
 *  - Workers are grouped by site tag when they have one, else by the /24 (IPv4) or /48 (IPv6)
 *    prefix of their address. With n workers in the incident and T = threshold:
 *      server      the canaries failed during the incident, or n >= T and
 *                  n >= server_fraction * fleet
 *      widespread  n >= T and (two groups have >= 2 workers each, or no group reaches T)
 *      network     one group has >= T workers (the scope is that group)
 *      individual  otherwise
 *    Workers that came back still count: an incident never shrinks.
 *  - Per-worker texts (the core DOWN/UP messages) are kept for individual incidents only: a
 *    worker's DOWN text is due when its incident is announced as individual, or when it joins
 *    an incident already announced as individual (rca_incident_view.notify_down lists them); its
 *    UP text is due exactly when its DOWN text was (rca_worker_up's return value). Workers of
 *    network, widespread and server incidents get the incident texts instead.
 *  - An incident closes when all its workers are back. Workers handed over as unreachable do not
 *    need to come back: a server incident the canaries made closes when the canaries recover
 *    and every worker that really went DOWN in it is back.
 *
 * Ownership: the engine copies every string it is given. Everything in a view handed to the
 * callback is owned by the engine and valid only during the callback.
 *
 * Files: rca_engine.c (state and transitions), rca_classify.c (places, groups, classes; pure),
 * rca_codec.c (the stored JSON and restore), rca_alert.c (the text view), rca_analysis.c. */
#ifndef FAULTLINE_RCA_H
#define FAULTLINE_RCA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/incident.h"

/* Limits on what the engine accepts (the same as the store's worker fields). */
#define RCA_NAME_MAX 64
#define RCA_SITE_MAX 64
#define RCA_IP_MAX 46
/* rca_next_deadline() when nothing is pending. */
#define RCA_NO_DEADLINE INT64_MAX

struct rca_config {
    int64_t window_ms;      /* RCA_WINDOW: how long an incident takes new DOWNs, >= 0 */
    int64_t hold_ms;        /* how long a new incident waits before its first message, >= 0
                               (RCA_HOLD; the caller turns its 0 into PING_INTERVAL) */
    int threshold;          /* RCA_THRESHOLD, >= 1 */
    double server_fraction; /* share of the fleet down at once that means "server"; (0, 1] */
    int64_t save_delay_ms;  /* how long a plain UPDATED may wait, >= 0 (0: report at once) */
    int64_t pace_ms;        /* the least time between two messages of one incident (GREW and
                               RECLASSIFIED wait for it), >= 0; the server uses the hold */
};

struct alert_incident; /* alert/format.h */

/* One change of an incident as the callback sees it: the incident as it is stored, plus what
 * the engine knows about the change. */
struct rca_incident_view {
    /* The incident as the store keeps it (model/incident.h). Its JSON texts: scope is an object
     * {"label","ips","prefixes","sites","groups":[{"key","site","ips","prefixes","workers",
     * "names"}]} (for network: ips/prefixes/sites/label are those of the group at fault, and
     * "group" its key); workers is an array [{"name","ip","site","group","down_at",
     * "up_at"|null,"unreachable","down_message"}] with ISO 8601 times; evidence is an object
     * {"rule","reason","workers","down","back","unreachable","fleet","groups","largest_group",
     * ...,"canaries","announced",...}. The evidence also holds what rca_restore needs. */
    struct incident_record record;
    enum incident_class previous_class; /* RECLASSIFIED: the class told before; else the class */
    bool announced;  /* false while held (and for incidents closed unannounced) */
    int workers;     /* workers in it: went DOWN or handed over unreachable, back ones included */
    int down;        /* of those, DOWN and not back */
    int unreachable; /* of those, handed over unreachable (never counted as down) */
    int previous_workers; /* GREW: how many were told before; else = workers */
    /* Names whose per-worker DOWN text is due now (individual incidents only). */
    const char *const *notify_down;
    size_t n_notify_down;
    /* The same incident as its texts see it: alert_format_incident_message(change, alert, ...)
     * writes the incident message this change carries (alert/format.h). */
    const struct alert_incident *alert;
};

typedef void (*rca_change_cb)(enum incident_change change, const struct rca_incident_view *inc,
                              void *ctx);

/* The id of the next new incident (>= 1, never one already open), e.g. from the store. */
typedef int64_t (*rca_next_id_fn)(void *ctx);

struct rca;

/* Makes an engine. next_id (with id_ctx) gives each new incident its id; cb (with ctx) is told
 * every change. Both are required. Returns 0, or -1 with err naming the bad field. */
int rca_new(const struct rca_config *cfg, rca_next_id_fn next_id, void *id_ctx, rca_change_cb cb,
            void *ctx, struct rca **out, char *err, size_t errlen);
/* NULL is a no-op. Reports nothing: call rca_flush first to save delayed changes. */
void rca_free(struct rca *rca);

/* Takes back an open incident saved before a restart (store_load_open_incidents, oldest first),
 * with nothing reported; its class is recomputed from its workers. A held one is announced at
 * rca_next_deadline() as usual. A server incident the canaries made stays open until rca_canaries()
 * says they are OK: call rca_canaries(false, ...) at once when no canaries are configured. Closed
 * incidents are ignored. Returns 0, or -1 with err naming the bad field (the engine is unchanged).
 */
int rca_restore(struct rca *rca, const struct incident_record *rec, char *err, size_t errlen);

/* A worker went DOWN at now_ms. ip is the address its heartbeats came from ("" if unknown), site
 * its site tag ("" if none), fleet the number of workers monitored (UP or DOWN) at that moment.
 * A worker already down in an open incident is ignored. Returns 0, or -1 with err for bad input
 * (empty or long name, long site, an ip that is not an address); nothing changes then. */
int rca_worker_down(struct rca *rca, const char *name, const char *ip, const char *site, int fleet,
                    int64_t now_ms, char *err, size_t errlen);

/* A worker the server did not mark DOWN because the canaries fail: it joins the server incident
 * as unreachable. Requires rca_canaries(true, ...) first. Same arguments and errors as
 * rca_worker_down; -1 also when the canaries are not failing. */
int rca_worker_unreachable(struct rca *rca, const char *name, const char *ip, const char *site,
                           int fleet, int64_t now_ms, char *err, size_t errlen);

/* A worker is back at now_ms (a heartbeat after DOWN, or an unreachable worker heard again).
 * Announces its incident first if it was held, then may close it. Returns true when the
 * per-worker UP text should be sent: its DOWN text was sent, or the engine does not know the
 * worker as down (the core behaviour applies). */
bool rca_worker_up(struct rca *rca, const char *name, int64_t now_ms);

/* The server's own canaries: failing is true when all of them fail. evidence_json (may be NULL)
 * is a JSON value describing the probes; it is kept in the incident's evidence. When they
 * start failing, the open incident (window still open) becomes a server incident, or a new
 * server incident opens that takes the unreachable workers; when they recover, that incident
 * stops taking workers and closes once its DOWN workers are back. Repeating the current state
 * only refreshes the evidence. Returns 0, or -1 when evidence_json is not JSON. */
int rca_canaries(struct rca *rca, bool failing, const char *evidence_json, int64_t now_ms,
                 char *err, size_t errlen);

/* Time passed: announces held incidents whose hold is over and reports delayed UPDATED
 * changes that are due. */
void rca_tick(struct rca *rca, int64_t now_ms);
/* Reports every delayed UPDATED change now (e.g. before shutting down). */
void rca_flush(struct rca *rca);
/* When rca_tick next has work (wall ms), or RCA_NO_DEADLINE. */
int64_t rca_next_deadline(const struct rca *rca);

/* The current analysis for GET /admin/api/analysis: {"classification" (the most serious open
 * class, or "none"), "down", "unreachable", "canaries":{"failing","since","evidence"},
 * "by_ip":{ip:[names]}, "by_site":{site:[names]}, "groups":[{"key","site","ips","prefixes",
 * "workers":n,"names":[names]}], "incidents":[{"id","classification","announced","opened_at",
 * "workers","down","unreachable","scope","evidence"}], "at"}. Only workers not back are listed
 * (unreachable ones while the canaries fail). New
 * reference; the caller decrefs it. NULL only when out of memory. */
json_t *rca_analysis(const struct rca *rca, int64_t now_ms);

/* The id of an open network or widespread incident with a worker of site (a site tag, not "")
 * still out (DOWN, not back), the oldest first; 0 when there is none. The server holds back
 * the failures of checks run only from that site's agents while it is cut off. */
int64_t rca_site_incident(const struct rca *rca, const char *site);

/* Number of open incidents (for tests and /metrics). */
size_t rca_open_count(const struct rca *rca);
/* Adds the open incidents to counts, indexed by their current class (/metrics). */
void rca_open_by_class(const struct rca *rca, size_t counts[INCIDENT_CLASS_COUNT]);

#endif
