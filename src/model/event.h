/* model/event.h — a recorded change of a worker's state (DOWN, UP) or of its GPU count. Events
 * are written before anything is told about them. */
#ifndef FAULTLINE_MODEL_EVENT_H
#define FAULTLINE_MODEL_EVENT_H

#include <stdint.h>

#include "model/worker.h"

/* Stored as text ("up", "down", "gpu_lost", "gpu_back", "check_state", "alert_failed"); values
 * are append-only. GPU_LOST: a machine reports fewer GPUs than before or its GPU check fails;
 * GPU_BACK: more again. CHECK_STATE: an active check changed state (its name is the event's
 * worker). */
enum event_kind {
    EVENT_UP = 1,
    EVENT_DOWN = 2,
    EVENT_GPU_LOST = 3,
    EVENT_GPU_BACK = 4,
    EVENT_CHECK_STATE = 5,
    /* A channel refused a notification for good (401, 403, 404, a blocked bot...): worker holds
     * the channel's name, details why; the admin must fix the channel. */
    EVENT_ALERT_FAILED = 6,
};

/* Never NULL: an unknown kind is "unknown", which event_kind_parse() rejects. */
const char *event_kind_name(enum event_kind kind);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int event_kind_parse(const char *name, enum event_kind *out);

struct event_record {
    int64_t id; /* assigned by the store */
    int64_t time_ms;
    char worker[WORKER_NAME_MAX + 1];
    enum event_kind kind;
    const char *details_json; /* a JSON object as text, or NULL for "{}" */
};

#endif
