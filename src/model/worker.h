/* model/worker.h — a monitored machine as the server knows it: its identity, what its last
 * heartbeat said and its state. Shared by the store, the server, the RCA and the alert texts. */
#ifndef FAULTLINE_MODEL_WORKER_H
#define FAULTLINE_MODEL_WORKER_H

#include <stdint.h>

#define WORKER_NAME_MAX 64
#define WORKER_VERSION_MAX 32
#define WORKER_SITE_MAX 64
#define WORKER_IP_MAX 46
/* gpus of a machine whose GPU check failed (the uptime-rca-bot's clients send NAME(GPU_ERR)). */
#define WORKER_GPUS_FAILED (-1)

/* Stored as text ("unknown", "up", "down"); values are append-only. */
enum worker_state { WORKER_UNKNOWN = 0, WORKER_UP = 1, WORKER_DOWN = 2 };

/* Never NULL: an out-of-range state is "unknown". */
const char *worker_state_name(enum worker_state state);
/* The inverse of worker_state_name(): returns 0 and sets *out, or -1 for an unknown name. */
int worker_state_parse(const char *name, enum worker_state *out);

struct worker_record {
    char name[WORKER_NAME_MAX + 1];
    char ip[WORKER_IP_MAX];
    char version[WORKER_VERSION_MAX + 1];
    char site[WORKER_SITE_MAX + 1];
    int gpus; /* the GPU count, or WORKER_GPUS_FAILED */
    int64_t uptime_s;
    enum worker_state state;
    int64_t first_seen_ms;  /* wall clock, UTC ms */
    int64_t last_seen_ms;   /* wall clock of the last heartbeat */
    int64_t state_since_ms; /* wall clock of the last state change */
};

#endif
