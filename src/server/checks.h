/* checks.h — the server's check engine: the checks of CHECKS_DIR (and, later, of the API) run on
 * the server's loop through the probe table (src/check/), each with its state (ok, warning,
 * critical, unknown) kept per runner and folded by quorum (the server is one runner; agents
 * will be others), its thresholds, and its last results in a bounded ring. Each state change is
 * an event (check_state) written to the store before it is told through the outbox.
 *
 * A reload reads the whole directory: when any file has an error the running checks stay as
 * they are and the errors are kept for GET /api/v1/checks/errors; otherwise the new set
 * replaces the old, and a check whose definition did not change keeps its state and schedule.
 * At start each check takes back the state it had (its latest check_state event).
 * Loop thread only. */
#ifndef FAULTLINE_SERVER_CHECKS_H
#define FAULTLINE_SERVER_CHECKS_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "check/checkdef.h"

struct store;
struct outbox;
struct alert_router;
struct probe_env;
struct dependencies;

struct checks_options {
    uv_loop_t *loop;
    struct store *store;   /* where state changes are written */
    /* Where the server keeps its outbox, read when a notice is committed: the store's last
     * completions come after the outbox is closed (and the pointer NULL). NULL: no channel. */
    struct outbox *const *outbox;
    struct alert_router *router; /* addresses the notifications (alert/router.h); may be NULL */
    struct probe_env *env; /* the probes' loop-wide resources; owned by the caller */
    checkdef_find_fn find; /* probe_type_find, or a test's */
    const char *dir;       /* CHECKS_DIR (copied) */
    int history;           /* results kept per check (CHECK_HISTORY) */
    int reload_delay_ms;   /* quiet time after a change in dir before it is read (debounce) */
    /* Whether the server itself is cut off (canaries, a server incident): the failures of the
     * checks it runs are then held back as its own fault. NULL: never. */
    bool (*cut_off)(void *ctx);
    void *cut_off_ctx;
    /* Alerts of checks of one target or tag set within this of the first are sent as one
     * (GROUP_WAIT), for rows the router gave no group_wait; 0: each at once. */
    int64_t group_wait_ms;
    int stale_min_ms;      /* an agent runner without results for 3 intervals, and at least this
                              long, is not counted; 0: CHECKS_STALE_MIN_MS (5 s) */
    /* Workers held back while a check they depend on fails (dependencies.h): listed in its
     * texts, released when it is OK again. NULL: none. */
    struct dependencies *deps;
    /* The id of an open network or widespread incident that cut off site, or 0: the failures of a
     * check run only from that site's agents are then held back (held_back_by "incident:ID").
     * NULL: never. */
    int64_t (*site_outage)(const char *site, void *ctx);
    void *site_outage_ctx;
};

struct checks;

/* Reads the checks created through the API from the store (one that no longer reads, e.g. of a
 * type this build lacks, is logged and left in the store), then dir (errors are kept, not
 * fatal), starts running them and watches dir.
 * Returns NULL with err set when out of memory or the loop refuses a handle. */
struct checks *checks_open(const struct checks_options *opts, char *err, size_t errlen);
/* Cancels runs in flight and frees (handles close on the next loop turn). NULL: no-op. */
void checks_close(struct checks *c);

/* Reads dir again now (the watcher calls it after a change). Returns the number of errors
 * (0: the new set runs). */
int checks_reload(struct checks *c);

/* {"checks": [...]}: every check matching the filters (NULL: any): state name, a tag as
 * "NAME=VALUE" or "NAME", type name. New reference. */
json_t *checks_list_json(struct checks *c, const char *state, const char *tag, const char *type);
/* One check with its last results, or NULL when there is none of that name. New reference. */
json_t *checks_get_json(struct checks *c, const char *name);
/* {"errors": [{file, line, column, field, message}...]} of the last reload. New reference. */
json_t *checks_errors_json(struct checks *c);

/* Punctuality of the runs since the engine opened (the server's /metrics shows them). */
struct checks_stats {
    size_t scheduled; /* checks on the schedule (enabled) */
    uint64_t runs;    /* runs started on schedule */
    uint64_t late;    /* of those, started more than 1 s after their due time */
    uint64_t skipped; /* slots not run: the loop fell an interval behind, or the run overran */
};
struct checks_stats checks_stats(const struct checks *c);

/* The checks held back now because incident id cut off the only site they run from, into names
 * (borrowed until the set changes); returns how many (at most max). */
size_t checks_held_by_incident(const struct checks *c, int64_t id, const char **names, size_t max);
/* Whether the check name is failing (warning or critical); *exists says whether there is one. */
bool checks_failing(const struct checks *c, const char *name, bool *exists);
/* Runs a check now, out of its schedule (unless it is running); -1 when none of that name. */
int checks_run_now(struct checks *c, const char *name);

/* ---- checks created through the API: kept in the store, loaded at start ------------------ */

/* The answer to a write: an HTTP status (201 created, 200 replaced, 204 deleted, 400 invalid,
 * 404 no such check, 409 defined in a file or already there, 503 not stored) and its JSON body
 * (a new reference the callback takes; NULL for 204). */
typedef void (*checks_write_cb)(int status, json_t *body, void *ctx);

/* Creates (name NULL: POST, def names it; 409 when it exists) or creates/replaces (name: PUT;
 * def's name, when given, must be name) a check from def; done runs once the store has it. A
 * check defined in a file cannot be changed: 409 naming the file. */
void checks_put(struct checks *c, const char *name, const json_t *def, checks_write_cb done,
                void *ctx);
/* Deletes an API check once the store has forgotten it (404 unknown, 409 defined in a file). */
void checks_delete(struct checks *c, const char *name, checks_write_cb done, void *ctx);
/* Starts or stops running a check (of a file or of the API), kept in the store as an override
 * of its definition's enabled until that changes (docs/checks.md, "Enabling and disabling"):
 * done gets 200 and the check once the store has it, 404 when there is none of that name, 503
 * when it could not be stored. by: who asked (the admin's user name), kept with it. */
void checks_set_enabled(struct checks *c, const char *name, bool enabled, const char *by,
                        checks_write_cb done, void *ctx);

/* ---- agents as runners (checks_agents.c): a check with run_on: {tags: {...}} runs on every
 * agent whose labels match; each agent is a runner with its own state ----------------------- */

#define CHECKS_VERSION_MAX 48

/* A heartbeat from agent name, with its SITE and TAGS text ("region=eu,role=gpu"): remembers
 * its labels and writes into version the checks_version of its assignments (it changes when the
 * set of checks or the agent's labels do). Returns 0, or -1 with err when tags is not valid. */
int checks_agent_seen(struct checks *c, const char *name, const char *site, const char *tags,
                      char *version, size_t versionlen, char *err, size_t errlen);
/* {"version": V, "checks": [definition...]}: the enabled checks that run on agent name; NULL
 * when no heartbeat of it was seen since the server started. New reference. */
json_t *checks_agent_assignments(struct checks *c, const char *name);
/* Agent name went DOWN: its runners are unknown and not counted until it reports again. */
void checks_agent_down(struct checks *c, const char *name);
/* Applies a batch of results of agent name: {"results": [{"check", "state", "latency_ms",
 * "message", "path"}...]}; a result with a path and no state only updates the runner's path. The whole batch is validated first: -1 with the path of the bad
 * member in field and the error in err (nothing applied). Otherwise 0 and *answer =
 * {"accepted": N, "ignored": M} (results of checks not assigned to it are ignored). */
int checks_agent_results(struct checks *c, const char *name, const json_t *body, json_t **answer,
                         char *field, size_t fieldlen, char *err, size_t errlen);

#endif
