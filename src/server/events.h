/* events.h — the one place a worker's state change becomes durable: an event row plus, for an
 * UP after an individual DOWN, one notification per channel, in one transaction. DOWNs go to the
 * correlation engine (incidents.h), which decides what to tell. Notifications go to the outbox
 * only once the store has committed them. Loop thread only.
 *
 * A heartbeat that changed a state is answered once its event is on disk (204), or after
 * EVENTS_COMMIT_WAIT_MS without that (503 with Retry-After: the disk is full or stalled; the
 * event stays queued and is written when the store can). While it is queued, the fleet marks
 * the state unrecorded and the worker's heartbeats get the same 503. */
#ifndef FAULTLINE_EVENTS_H
#define FAULTLINE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "model/event.h"
#include "model/worker.h"

#define EVENTS_COMMIT_WAIT_MS 1000 /* how long a heartbeat waits for its event's commit */
#define EVENTS_RETRY_AFTER_S 5     /* Retry-After of the 503 that ends the wait */

struct fleet;
struct dependencies;
struct http_request;
struct pending_event;
struct silences;

/* What the recorder writes to and tells; owned by the server, which fills the first eight
 * before the fleet reports its first transition and then calls events_recorder_start().
 * outbox may be NULL (no channel). */
struct event_recorder {
    struct store *store;
    struct outbox *outbox;
    struct alert_router *router; /* addresses the messages; may be NULL (no channel) */
    struct incidents *incidents;
    struct fleet *fleet;             /* told when a state's event is on disk */
    struct dependencies *deps;       /* holds children's DOWNs back (dependencies.h); may be NULL */
    const struct silences *silences; /* asked before a DOWN or UP is written; may be NULL */
    int64_t fail_timeout_ms;         /* how often flapping workers are observed (fleet_flap_tick) */
    /* Told of every event once it is on disk (may be NULL): the live stream (api_events.c). */
    void (*committed)(const struct event_record *ev, void *ctx);
    void *committed_ctx;
    /* Inside: heartbeats waiting for their event, oldest first, and the timer that ends the
     * oldest wait. */
    struct pending_event *waiting_head, *waiting_tail;
    uv_timer_t wait_timer;
    uv_timer_t flap_timer; /* runs while a worker flaps: its "stable again" notice */
    bool started;
};

/* Starts the wait timer on loop. Returns 0 or a libuv error. */
int events_recorder_start(struct event_recorder *rec, uv_loop_t *loop);
/* Closes the timer (after store_close(), which answers every waiting heartbeat). */
void events_recorder_stop(struct event_recorder *rec);

/* The cause a heartbeat hands the fleet (fleet_heartbeat): its request, and what to answer it
 * with once the change it caused is stored; ok_json NULL answers 204 No Content, otherwise 200
 * with that JSON text (static: it must outlive the request). Copied by the recorder. */
struct heartbeat_answer {
    struct http_request *req;
    const char *ok_json;
};

/* The fleet's transition hook (fleet.h), ctx is the struct event_recorder. cause is the
 * heartbeat's struct heartbeat_answer when a heartbeat caused the change: the recorder suspends
 * its request and answers it as above (as the answer says once stored). */
void events_on_transition(const struct worker_record *w, enum event_kind kind,
                          enum worker_state prev_state, int64_t prev_since_ms, void *cause,
                          void *ctx);

/* The fleet's GPU count hook (fleet_on_gpu_change), ctx is the struct event_recorder: records
 * EVENT_GPU_LOST (fewer GPUs, or the GPU check failing) or EVENT_GPU_BACK with one notification
 * per channel, in one transaction. */
void events_on_gpu_change(const struct worker_record *w, int prev_gpus, void *ctx);

/* Answers a heartbeat of a worker whose state is not on disk yet: 503 with Retry-After. */
void events_refuse_heartbeat(struct http_request *req);

#endif
