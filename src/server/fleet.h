/* fleet.h — the workers the server knows and their state machine:
 *   UNKNOWN --heartbeat--> UP --no heartbeat for FAIL_TIMEOUT--> DOWN --heartbeat--> UP
 * Workers are found by name in a hash table; UP workers also sit in a list ordered by their
 * deadline (a heartbeat moves a worker to the tail), so finding who is overdue costs O(1) per
 * check no matter how many workers there are. Every transition goes through one hook, which the
 * server uses to record the event and notify (the event's transaction saves the worker's
 * record too); the fleet knows which states are on disk yet.
 *
 * Saving the rest is incremental: a worker is due for saving when a heartbeat changes its ip,
 * version, site or gpus, or when its last heartbeat is FLEET_LAST_SEEN_LAG_MS newer than the
 * one saved; the server hands the store a small slice of due workers at a time. So on disk,
 * last_seen_ms and uptime_s may lag by up to that much (plus the slices' wait) after a crash;
 * a clean stop saves every worker whose last heartbeat is not saved yet. Lives on the loop
 * thread; no locks. */
#ifndef FAULTLINE_FLEET_H
#define FAULTLINE_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert/flap.h"
#include "server/heartbeat.h"
#include "model/event.h"
#include "model/worker.h"

#define FLEET_LAST_SEEN_LAG_MS 60000 /* how far a saved last_seen may lag behind */
#define FLEET_SAVE_SLICE 2048         /* records per call of a save callback */

enum worker_input { INPUT_HEARTBEAT, INPUT_TIMEOUT };

struct transition {
    enum worker_state next;
    bool emits_event;
    enum event_kind kind;
};

/* The state machine as a pure function. */
struct transition worker_transition(enum worker_state from, enum worker_input input);

/* Called for each state change, after the worker's record is updated. prev_state and
 * prev_since_ms are what it was before (prev_since_ms: wall ms the previous state began). cause
 * is what fleet_heartbeat() was given (the server hands the heartbeat's struct heartbeat_answer,
 * events.h), or NULL when a deadline caused the change. The record is valid only during the
 * call. */
typedef void (*fleet_transition_cb)(const struct worker_record *w, enum event_kind kind,
                                    enum worker_state prev_state, int64_t prev_since_ms,
                                    void *cause, void *ctx);

/* Called when a heartbeat reports another GPU count than the worker's last one: fewer GPUs, a
 * failed GPU check (WORKER_GPUS_FAILED) or more again. prev_gpus is the count before; w holds
 * the new one and is valid only during the call. Not called for a worker's first heartbeat. */
typedef void (*fleet_gpus_cb)(const struct worker_record *w, int prev_gpus, void *ctx);

struct fleet;

struct fleet *fleet_new(int64_t fail_timeout_ms, fleet_transition_cb on_transition, void *ctx);
void fleet_free(struct fleet *fleet);

/* Sets the GPU count hook (NULL: GPU counts are kept but not told). */
void fleet_on_gpu_change(struct fleet *fleet, fleet_gpus_cb on_gpus, void *ctx);

/* Adds a worker restored from the store. An UP worker gets a fresh grace of FAIL_TIMEOUT from
 * now_mono, so a server restart never causes a storm of false DOWNs. */
void fleet_restore(struct fleet *fleet, const struct worker_record *rec, int64_t now_mono);

/* What fleet_heartbeat() did. */
enum fleet_heartbeat_result {
    FLEET_HEARTBEAT_NO_MEMORY = -1,
    FLEET_HEARTBEAT_SEEN = 0,       /* no state change, and the worker's state is on disk */
    FLEET_HEARTBEAT_CHANGED = 1,    /* the transition hook ran and was handed cause */
    FLEET_HEARTBEAT_UNRECORDED = 2, /* no state change, but the state's event is still queued */
};

/* Applies a heartbeat from ip (its time counts even when the result is not SEEN). Returns an
 * enum fleet_heartbeat_result. */
int fleet_heartbeat(struct fleet *fleet, const struct heartbeat *hb, const char *ip,
                    int64_t now_mono, int64_t now_wall, void *cause);

/* Marks every UP worker whose deadline has passed DOWN. Returns the monotonic time of the next
 * deadline, or -1 when no worker is UP. */
int64_t fleet_expire(struct fleet *fleet, int64_t now_mono, int64_t now_wall);

/* The monotonic time the first UP worker becomes overdue, or -1 when no worker is UP. */
int64_t fleet_next_deadline(const struct fleet *fleet);

/* Calls fn (may be NULL) for each UP worker whose deadline has passed, earliest first, without
 * changing anything; returns how many there are. Used while the server itself is cut off. */
size_t fleet_each_overdue(const struct fleet *fleet, int64_t now_mono,
                          void (*fn)(const struct worker_record *w, void *ctx), void *ctx);

/* Gives every UP worker a fresh FAIL_TIMEOUT from now_mono (after the server's own outage, as
 * after a restart: silence it could not hear is not the workers' fault). */
void fleet_regrace(struct fleet *fleet, int64_t now_mono);

/* Worker flapping (alert/flap.h, the check engine's thresholds): a worker is observed at each
 * change of state, and once per FAIL_TIMEOUT its state lasts without one (so how often it sends
 * heartbeats does not matter). Kept in memory only: see docs/alerting.md#flapping.
 * fleet_flap_observe records a change of name's state at now_wall (after the FAIL_TIMEOUTs it
 * lasted) and says whether flapping started or stopped there. */
enum flap_change fleet_flap_observe(struct fleet *fleet, const char *name, int64_t now_wall);
/* Observes every flapping worker up to now_wall (no change) and calls stopped for each that is
 * stable again (the record is valid during the call). Returns how many still flap; call it at
 * least once per FAIL_TIMEOUT while one does. */
size_t fleet_flap_tick(struct fleet *fleet, int64_t now_wall,
                       void (*stopped)(const struct worker_record *w, void *ctx), void *ctx);
/* name's flapping state; NULL if unknown. Valid until the next fleet call. */
const struct flap_state *fleet_flap(const struct fleet *fleet, const char *name);
/* Looks a worker up by name; NULL if unknown. Valid until the next fleet call. */
const struct worker_record *fleet_find(const struct fleet *fleet, const char *name);

/* Which state change of the worker the hook saw last (1, 2, ...; 0: none since it was loaded).
 * The recorder passes it back to fleet_state_settled() once that change's event is on disk
 * (on_disk true) or was refused for good (false). */
uint64_t fleet_state_seq(const struct fleet *fleet, const char *name);
void fleet_state_settled(struct fleet *fleet, const char *name, uint64_t seq, bool on_disk);
/* False while the worker's latest state change is not on disk (its event is queued, or was
 * refused); true for unknown names. */
bool fleet_is_recorded(const struct fleet *fleet, const char *name);

size_t fleet_count(const struct fleet *fleet);
void fleet_count_states(const struct fleet *fleet, size_t counts[3]);

/* Calls fn for every worker, in name order when sorted is true. */
void fleet_each(const struct fleet *fleet, bool sorted,
                void (*fn)(const struct worker_record *w, void *ctx), void *ctx);

/* Hands up to max workers due for saving (oldest first) to save, as arrays of at most
 * FLEET_SAVE_SLICE copies owned by the fleet and valid during the call; they are no longer due.
 * Returns how many it handed. */
size_t fleet_save_due(struct fleet *fleet, size_t max,
                      void (*save)(const struct worker_record *recs, size_t n, void *ctx),
                      void *ctx);

/* Hands every worker whose last heartbeat is not saved yet, and those due (at a stop). */
void fleet_save_all(struct fleet *fleet,
                    void (*save)(const struct worker_record *recs, size_t n, void *ctx),
                    void *ctx);

#endif
