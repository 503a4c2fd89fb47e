/* checks_internal.h — what the files of the server's check engine share (checks.c: the set, the
 * state, the runs and the views; checks_files.c: CHECKS_DIR; checks_api.c: the checks created
 * through the API). Only these three files include it. Loop thread only. */
#ifndef FAULTLINE_CHECKS_INTERNAL_H
#define FAULTLINE_CHECKS_INTERNAL_H

#include <stdint.h>

#include "alert/flap.h"
#include "alert/group.h"
#include "check/runner.h"
#include "check/schedule.h"
#include "server/checks.h"

/* New checks' first runs are spread at this many per second at most (a single new check runs
 * within a second; 100,000 loaded at once over 100 s, or over their interval when shorter). */
#define FIRST_RUNS_PER_S 1000

/* 24 bytes: CHECK_HISTORY of them per check (the state shares a word with the time). */
struct check_result {
    int64_t time_ms : 56; /* wall clock ms */
    unsigned state : 8;   /* enum check_state */
    double latency_ms;
    char *message; /* NULL when OK */
};

/* What one runner (the server, later each agent) concluded, with its thresholds applied. */
struct runner_state {
    enum check_state state;
    bool decided; /* false until its first state: shown as unknown */
    int fails, successes;
};

struct check {
    struct schedule_entry entry; /* first: the schedule hands back &check->entry */
    struct checks *owner;
    struct checkdef *def;
    struct runner_run *run; /* in flight, or NULL */
    bool enabled;
    struct runner_state server;
    enum check_state state; /* folded across runners */
    int64_t since_ms;
    char *message; /* the latest result's, NULL when OK */
    char *last_result; /* the latest probe result as compact JSON text (a tenth of the object) */
    struct check_result *ring; /* owner->history slots */
    size_t ring_next, ring_n;
    uint64_t runs, skipped;
    struct flap_state flap; /* its decided results, for the alerts (check_state_changed) */
    bool held; /* failing and not told: a parent down, or the server cut off (held_back_by) */
    int64_t told_ms; /* when its open problem was last routed (REPEAT_INTERVAL); 0: none */
};

struct pending_write;

struct checks {
    struct checks_options opts;
    struct pending_write *writes; /* API writes waiting for the store */
    char *dir;
    struct schedule *schedule;
    uint64_t overran; /* slots skipped because the check's previous run was still going */
    struct check **all; /* sorted by name */
    size_t n;
    json_t *errors;
    uv_fs_event_t watcher;
    bool watching;
    uv_timer_t reload_timer;
    struct alert_groups *groups; /* alerts held for GROUP_WAIT (alert/group.h); NULL: none */
};

/* checks.c */
int checks_by_name(const void *a, const void *b); /* qsort of struct check pointers */
struct check *checks_find(const struct checks *c, const char *name); /* NULL: none */
/* A check for def (taken), not scheduled yet; NULL when out of memory (def freed). */
struct check *checks_new_check(struct checks *c, struct checkdef *def);
/* Unschedules, cancels its run, frees; the caller has taken it out of the set. */
void checks_free_check(struct check *k);
/* Schedules k when enabled (its first run spread over spread_ms), else unschedules it. */
void checks_schedule_check(struct check *k, uint64_t spread_ms);
json_t *checks_check_json(const struct check *k, bool with_results);

/* checks_files.c: creates CHECKS_DIR when missing, reads it and watches it. */
void checks_watch_start(struct checks *c);

/* checks_api.c: the stored checks read at start; API writes still waiting for the store are
 * answered without the engine when it closes. */
int checks_load_stored(struct checks *c, char *err, size_t errlen);
void checks_writes_orphan(struct checks *c);

#endif
