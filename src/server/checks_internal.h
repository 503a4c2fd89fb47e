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
#include "model/worker.h"
#include "server/checks.h"
#include "server/heartbeat.h"

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

/* One agent running one check: its state with the thresholds applied, its latest result and
 * path to the target (the agent's trace after a failure). Owned by its check. */
struct agent_runner {
    char agent[WORKER_NAME_MAX + 1];
    struct runner_state rs;
    int64_t last_ms; /* server time of its latest result: stale after CHECKS_STALE_INTERVALS */
    enum check_state last_state;
    double latency_ms;
    char *message; /* latest result's, NULL when OK */
    json_t *path;  /* latest trace (trace_result_json), NULL when none */
    bool stale;    /* not counted: it stopped reporting, or its agent is DOWN */
    bool down;     /* its agent went DOWN; until its next result */
};

/* An agent the server has heard from: its labels (TAGS and SITE) decide its checks. */
struct check_agent {
    char name[WORKER_NAME_MAX + 1];
    char site[WORKER_SITE_MAX + 1];
    char tags_text[HEARTBEAT_TAGS_MAX + 1];
    json_t *tags; /* tags_parse of both */
    uint32_t tags_hash;
};

/* A runner that sent no result for this many intervals (and at least CHECKS_STALE_MIN_MS) is
 * unknown and not counted by the quorum. */
#define CHECKS_STALE_INTERVALS 3
#define CHECKS_STALE_MIN_MS 5000

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
    struct probe_result_copy *last_result; /* the latest probe result; JSON when asked */
    struct check_result *ring; /* owner->history slots, from its first result (NULL before) */
    size_t ring_next, ring_n;
    uint64_t runs, skipped;
    struct flap_state flap; /* its decided results, for the alerts (check_state_changed) */
    bool held; /* failing and not told: a parent down, or the server cut off (held_back_by) */
    int64_t held_incident; /* held: the incident that cut off the only site it runs from; 0 */
    struct agent_runner *agents; /* the agents that reported it (checks_agents.c) */
    size_t n_agents;
};

struct pending_write;

struct checks {
    struct checks_options opts;
    struct pending_write *writes; /* API writes waiting for the store */
    /* The API's enable/disable by check name: {"enabled", "definition_enabled", "by",
     * "time_ms"} (checks_api.c); NULL until loaded */
    json_t *overrides;
    char *dir;
    struct schedule *schedule;
    uint64_t overran; /* slots skipped because the check's previous run was still going */
    struct check **all; /* sorted by name */
    size_t n;
    json_t *errors;
    uv_fs_event_t watcher;
    bool watching;
    uv_timer_t reload_timer;
    struct checks_read *reading; /* the directory being read on the thread pool; NULL: none */
    bool read_again;             /* it changed while being read: read it once more */
    bool closed;                 /* checks_close ran; the read in flight frees c */
    bool handles_open;           /* closing: the reload timer's close is still to come */
    struct alert_groups *groups; /* alerts held for GROUP_WAIT (alert/group.h); NULL: none */
    uint64_t generation; /* random at open, bumped on every change of the set: part of agents'
                          * checks_version */
    /* At least the number of held checks (each hold counts it; a release or removal does not):
     * 0 lets a state change skip the scan for its held dependents, which a scan sets exact. */
    size_t held_at_most;
    struct check_agent *agents; /* sorted by name */
    size_t n_agents;
    uv_timer_t stale_timer; /* sweeps runners that stopped reporting */
};

/* checks.c */
void checks_free_closed(struct checks *c); /* frees c once its handles and read are done */
int checks_by_name(const void *a, const void *b); /* qsort of struct check pointers */
struct check *checks_find(const struct checks *c, const char *name); /* NULL: none */
/* A check for def (taken), not scheduled yet; NULL when out of memory (def freed). */
struct check *checks_new_check(struct checks *c, struct checkdef *def);
/* Unschedules, cancels its run, frees; the caller has taken it out of the set. */
void checks_free_check(struct check *k);
/* Schedules k when enabled (its first run spread over spread_ms), else unschedules it. */
void checks_schedule_check(struct check *k, uint64_t spread_ms);
json_t *checks_check_json(const struct check *k, bool with_results);

/* The check's state from its runners: CRITICAL when more than half of the n counted (or at
 * least quorum, when set) are critical; otherwise the worst of the rest; UNKNOWN until one has
 * decided. */
/* The site every agent runner of k is at (agents only, at least one, all with that site), or
 * NULL (borrowed from the agents' table). */
const char *checks_only_site(const struct check *k);
enum check_state checks_fold_runners(const struct runner_state *const *rs, size_t n, int quorum);
/* Applies one result to a runner's state; true when its state changed. */
bool checks_runner_apply(struct runner_state *rs, enum check_state r, const struct checkdef *d);
/* Moves k to state (when it differs) with k->message as its text: the event and notification. */
void checks_set_state(struct check *k, enum check_state state, int64_t now, double latency_ms);

/* checks_agents.c: folds the server's and the agents' runners of k into its state and message
 * (both kept while none of them has decided since the start, e.g. as restored). */
void checks_fold(struct check *k, int64_t now, double latency_ms);
json_t *checks_runners_json(const struct check *k);
void checks_agents_free_check(struct check *k);
int checks_agents_start(struct checks *c); /* the stale sweep; 0 or a libuv error */
void checks_agents_close(struct checks *c); /* frees the registry; closes the sweep timer */

/* checks_files.c: creates CHECKS_DIR when missing, reads it and watches it. */
void checks_watch_start(struct checks *c);

/* checks_api.c: the stored checks read at start; API writes still waiting for the store are
 * answered without the engine when it closes. */
int checks_load_stored(struct checks *c, char *err, size_t errlen);
void checks_writes_orphan(struct checks *c);
/* Whether a check of def runs: the API's enable/disable of its name while def's own enabled is
 * what it was then; else def's enabled (an override it no longer matches is forgotten, in the
 * store too: the definition's enabled was changed since). */
bool checks_enabled_for(struct checks *c, const struct checkdef *def);
/* Adds "enabled_by" ("definition" or "api") and "override" ({enabled, by, time} or null). */
void checks_enabled_json(const struct check *k, json_t *o);

/* checks_agents.c: the agents' labels kept in the store, read at start. */
int checks_agents_load(struct checks *c, char *err, size_t errlen);

#endif
