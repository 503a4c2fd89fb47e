/* followup.h — the follow-up after an outage: agents upload what they recorded while they could
 * not reach the server (api_backlog.c); the server finds the incident the records belong to,
 * diagnoses every worker of it from its stored records (analyze/diagnose.h) on libuv's thread
 * pool, and sends one message naming where the paths broke. That message waits until every
 * worker of the incident has uploaded, or until RCA_FOLLOWUP_WAIT after the incident closed;
 * it is never sent when no worker recorded a diagnosis. After it, uploads that change the
 * headline's verdict send one correction; others send nothing. The diagnosis is kept in the
 * incident's evidence ("diagnosis", with "headline"). Its state lives behind this handle; every
 * call is on the loop thread. */
#ifndef FAULTLINE_FOLLOWUP_H
#define FAULTLINE_FOLLOWUP_H

#include <stdint.h>
#include <uv.h>

struct followup;
struct store;
struct outbox;

struct followup_settings {
    int64_t fail_timeout_ms; /* FAIL_TIMEOUT: agents notice an outage this long before the server */
    int64_t window_ms;       /* RCA_WINDOW */
    int64_t wait_ms;         /* RCA_FOLLOWUP_WAIT: how long after an incident closes its
                                follow-up waits for the workers that have not uploaded */
};

/* store, outbox and router (both may be NULL) must outlive it. Returns NULL when out of
 * memory. */
struct alert_router;

struct followup *followup_open(uv_loop_t *loop, struct store *store, struct outbox *outbox,
                               struct alert_router *router, const struct followup_settings *settings);
/* Stops taking work; a diagnosis still running is dropped when it ends. Frees once libuv has
 * closed the timer and no diagnosis runs. NULL is a no-op. */
void followup_close(struct followup *f);

/* Backlog records of worker between first_ms and last_ms (agent time) are stored: look for the
 * incident they explain and, after a short pause for the other agents' uploads, tell the person
 * what they show. NULL f is a no-op. */
void followup_backlog_stored(struct followup *f, const char *worker, int64_t first_ms,
                             int64_t last_ms);

/* Incident id closed at closed_ms (wall): its follow-up is sent at the latest wait_ms later,
 * with the uploads there are by then. NULL f is a no-op. */
void followup_incident_closed(struct followup *f, int64_t id, int64_t closed_ms);

/* The evidence of incident id with its diagnosis merged in (malloc'd), or NULL when it has none
 * (keep evidence_json as it is). NULL f gives NULL. */
char *followup_merge_evidence(struct followup *f, int64_t id, const char *evidence_json);

#endif
