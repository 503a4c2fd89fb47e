/* events.h — the one place a worker's state change becomes durable: an event row plus, for an
 * UP after an individual DOWN, one notification per channel, in one transaction. DOWNs go to the
 * correlation engine (incidents.h), which decides what to tell. Notifications go to the outbox
 * only once the store has committed them. Loop thread only. */
#ifndef FAULTLINE_EVENTS_H
#define FAULTLINE_EVENTS_H

#include <stdint.h>

#include "model/event.h"
#include "model/worker.h"

/* What the recorder writes to and tells; owned by the server, which fills it before the fleet
 * reports its first transition. outbox may be NULL (no channel). */
struct event_recorder {
    struct store *store;
    struct outbox *outbox;
    struct incidents *incidents;
};

/* The cause a heartbeat hands the fleet (fleet_heartbeat): its request, and what to answer it
 * with once the change it caused is stored; ok_json NULL answers 204 No Content, otherwise 200
 * with that JSON text (static: it must outlive the request). Copied by the recorder. */
struct heartbeat_answer {
    struct http_request *req;
    const char *ok_json;
};

/* The fleet's transition hook (fleet.h), ctx is the struct event_recorder. cause is the
 * heartbeat's struct heartbeat_answer when a heartbeat caused the change: the recorder suspends
 * its request and answers it once the event is committed (as the answer says, or 503 when it
 * could not be stored). */
void events_on_transition(const struct worker_record *w, enum event_kind kind,
                          enum worker_state prev_state, int64_t prev_since_ms, void *cause,
                          void *ctx);

/* The fleet's GPU count hook (fleet_on_gpu_change), ctx is the struct event_recorder: records
 * EVENT_GPU_LOST (fewer GPUs, or the GPU check failing) or EVENT_GPU_BACK with one notification
 * per channel, in one transaction. */
void events_on_gpu_change(const struct worker_record *w, int prev_gpus, void *ctx);

#endif
