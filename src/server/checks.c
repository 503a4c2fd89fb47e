/* checks.c — the server's check engine (checks.h): the checks sorted by name, each scheduled on
 * one heap (check/schedule.h) and run through check/runner.h; results folded into a state per
 * runner with the thresholds, then across runners by quorum; state changes written as events
 * and handed to the notification path in one function (check_state_changed); CHECKS_DIR watched
 * with inotify (uv_fs_event), debounced, and retried while the directory does not exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alert/outbox.h"
#include "base/clock.h"
#include "base/log.h"
#include "check/runner.h"
#include "check/schedule.h"
#include "server/checks.h"
#include "store/store.h"

#define MAX_CHANNELS 8
#define DIR_RETRY_MS 250 /* while CHECKS_DIR cannot be watched, how often to try again */
/* New checks' first runs are spread at this many per second at most (a single new check runs
 * within a second; 100,000 loaded at once over 100 s, or over their interval when shorter). */
#define FIRST_RUNS_PER_S 1000

struct check_result {
    int64_t time_ms;
    double latency_ms;
    enum check_state state;
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
    char *message;     /* the latest result's, NULL when OK */
    json_t *last_result;
    struct check_result *ring; /* owner->history slots */
    size_t ring_next, ring_n;
    uint64_t runs, skipped;
};

struct pending_write;

struct checks {
    struct checks_options opts;
    struct pending_write *writes; /* API writes waiting for the store */
    char *dir;
    struct schedule *schedule;
    struct check **all; /* sorted by name */
    size_t n;
    json_t *errors;
    uv_fs_event_t watcher;
    bool watching;
    uv_timer_t reload_timer;
};

static int load_stored(struct checks *c, char *err, size_t errlen);
static void writes_orphan(struct checks *c);
static json_t *check_json(const struct check *k, bool with_results);

/* ---- the set -------------------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp((*(struct check *const *)a)->def->name, (*(struct check *const *)b)->def->name);
}

static struct check *find(const struct checks *c, const char *name)
{
    for (size_t lo = 0, hi = c->n; lo < hi;) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(name, c->all[mid]->def->name);
        if (cmp == 0)
            return c->all[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* spread_ms: over how long the first runs of the checks scheduled together are spread. */
static void check_schedule(struct check *k, uint64_t spread_ms)
{
    if (k->enabled)
        schedule_add(k->owner->schedule, &k->entry, k->def->name, (uint64_t)k->def->interval_ms,
                     spread_ms);
    else
        schedule_remove(k->owner->schedule, &k->entry);
}

/* A new check for def (taken). */
static struct check *check_new(struct checks *c, struct checkdef *def)
{
    struct check *k = calloc(1, sizeof *k);
    struct check_result *ring = calloc((size_t)c->opts.history, sizeof *ring);
    if (!k || !ring) {
        free(k);
        free(ring);
        checkdef_free(def);
        return NULL;
    }
    *k = (struct check){.owner = c, .def = def, .enabled = def->enabled, .ring = ring,
                        .state = CHECK_UNKNOWN, .since_ms = clock_wall_ms()};
    return k;
}

static void check_free(struct check *k)
{
    schedule_remove(k->owner->schedule, &k->entry);
    runner_cancel(k->run);
    for (size_t i = 0; i < k->ring_n; i++)
        free(k->ring[i].message);
    free(k->ring);
    free(k->message);
    json_decref(k->last_result);
    checkdef_free(k->def);
    free(k);
}

/* ---- state ---------------------------------------------------------------------------------- */

/* Applies one result to a runner's state; true when its state changed. */
static bool runner_state_apply(struct runner_state *rs, enum check_state r, const struct checkdef *d)
{
    if (r == CHECK_OK) {
        rs->fails = 0;
        rs->successes++;
        if (rs->decided && rs->state == CHECK_OK)
            return false;
        if (rs->decided && rs->successes < d->success_threshold)
            return false;
    } else {
        rs->successes = 0;
        rs->fails++;
        if (rs->decided && rs->state == r)
            return false;
        /* from OK (or nothing yet) it takes fail_threshold; between failing states, at once */
        bool failing = rs->decided && rs->state != CHECK_OK;
        if (!failing && rs->fails < d->fail_threshold)
            return false;
    }
    rs->state = r;
    rs->decided = true;
    return true;
}

/* The check's state from its runners: CRITICAL when more than half of them (or at least quorum,
 * when set) are critical; otherwise the worst of the rest (a few critical runners make a
 * WARNING); UNKNOWN until one has decided. */
static enum check_state fold_runners(const struct runner_state *const *rs, size_t n, int quorum)
{
    size_t critical = 0, warning = 0, ok = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rs[i]->decided)
            continue;
        critical += rs[i]->state == CHECK_CRITICAL;
        warning += rs[i]->state == CHECK_WARNING;
        ok += rs[i]->state == CHECK_OK;
    }
    if (quorum > 0 ? critical >= (size_t)quorum : critical * 2 > n)
        return CHECK_CRITICAL;
    if (critical || warning)
        return CHECK_WARNING;
    return ok && ok + critical + warning == n ? CHECK_OK : (ok ? CHECK_WARNING : CHECK_UNKNOWN);
}

struct state_change {
    char name[CHECK_NAME_MAX + 1];
};

static void on_change_committed(int status, const struct event_record *ev,
                                const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct outbox *outbox = ctx;
    if (status != 0) {
        log_error("checks: the state change of %s could not be stored; it is not told", ev->worker);
        return;
    }
    if (outbox && n_msgs)
        outbox_enqueue(outbox, msgs, n_msgs);
}

/* The notification's text: "CRITICAL: api (http https://api.example.com/): [STATUS] == 200
 * failed: 503", "OK: api again after 2m 5s (was critical)". */
static void change_text(const struct check *k, enum check_state from, int64_t from_since,
                        char *text, size_t len)
{
    static const char *const upper[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    const char *target = json_string_value(json_object_get(k->def->def, "target"));
    if (k->state == CHECK_OK) {
        int64_t s = (k->since_ms - from_since) / 1000;
        snprintf(text, len, "OK: %s (%s%s%s) again after %lldm %llds (was %s)", k->def->name,
                 k->def->type->name, target ? " " : "", target ? target : "",
                 (long long)(s / 60), (long long)(s % 60), check_state_name(from));
    } else {
        snprintf(text, len, "%s: %s (%s%s%s): %s", upper[k->state], k->def->name,
                 k->def->type->name, target ? " " : "", target ? target : "",
                 k->message ? k->message : "");
    }
}

/* The one place a check's state change goes: an event with its notifications, written first
 * (the outbox sends them once committed). The alert router takes over here. */
static void check_state_changed(struct checks *c, const struct check *k, enum check_state from,
                                int64_t from_since, double latency_ms)
{
    json_t *d = json_pack("{ss ss ss sf ss}", "check", k->def->name, "from",
                          check_state_name(from), "to", check_state_name(k->state), "latency_ms",
                          latency_ms, "runner", "server");
    if (k->message)
        json_object_set_new(d, "message", json_string(k->message));
    char *details = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    struct event_record ev = {.time_ms = k->since_ms, .kind = EVENT_CHECK_STATE,
                              .details_json = details};
    snprintf(ev.worker, sizeof ev.worker, "%s", k->def->name);
    char text[1024];
    struct outbox_record msgs[MAX_CHANNELS];
    size_t n_msgs = 0;
    bool news = from != CHECK_UNKNOWN || k->state != CHECK_OK; /* a first OK is not news */
    if (news) {
        change_text(k, from, from_since, text, sizeof text);
        n_msgs = outbox_address(c->opts.outbox, text, k->since_ms, msgs, 0, MAX_CHANNELS);
    }
    log_info("checks: %s is %s (was %s)%s%s", k->def->name, check_state_name(k->state),
             check_state_name(from), k->message ? ": " : "", k->message ? k->message : "");
    store_append_event(c->opts.store, NULL, &ev, msgs, n_msgs, on_change_committed,
                       c->opts.outbox);
    free(details);
}

static void ring_add(struct check *k, const struct check_outcome *o, int64_t now)
{
    size_t cap = (size_t)k->owner->opts.history;
    struct check_result *slot = &k->ring[k->ring_next];
    if (k->ring_n == cap)
        free(slot->message);
    else
        k->ring_n++;
    *slot = (struct check_result){.time_ms = now, .latency_ms = o->latency_ms, .state = o->state,
                                  .message = o->message[0] ? strdup(o->message) : NULL};
    k->ring_next = (k->ring_next + 1) % cap;
}

static void on_run_done(const struct check_outcome *o, void *ctx)
{
    struct check *k = ctx;
    int64_t now = clock_wall_ms();
    k->run = NULL;
    ring_add(k, o, now);
    json_decref(k->last_result);
    k->last_result = json_incref(o->result);
    free(k->message);
    k->message = o->message[0] ? strdup(o->message) : NULL;
    if (!runner_state_apply(&k->server, o->state, k->def))
        return;
    const struct runner_state *runners[] = {&k->server};
    const json_t *quorum = json_object_get(k->def->def, "quorum");
    enum check_state folded = fold_runners(runners, 1, (int)json_integer_value(quorum));
    if (folded == k->state)
        return;
    enum check_state from = k->state;
    int64_t from_since = k->since_ms;
    k->state = folded;
    k->since_ms = now;
    check_state_changed(k->owner, k, from, from_since, o->latency_ms);
}

static void check_start_run(struct check *k)
{
    if (k->run) { /* the previous run overran its interval: this slot is skipped */
        k->skipped++;
        return;
    }
    k->runs++;
    k->run = runner_start(k->owner->opts.env, k->def, on_run_done, k);
}

static void on_due(struct schedule_entry *e, void *ctx)
{
    check_start_run((struct check *)e);
}

/* ---- reading the directory ------------------------------------------------------------------ */

/* Replaces the running set with defs (taken): unchanged checks are kept with their state, the
 * API's checks stay, the rest are new. Returns the errors (a file check named like an API one). */
static int apply_set(struct checks *c, struct checkdef_set *set)
{
    struct check **next = calloc(set->n + c->n + 1, sizeof *next);
    if (!next)
        return 1;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!c->all[i]->def->file)
            next[n++] = c->all[i];
    for (size_t i = 0; i < set->n; i++) {
        struct checkdef *def = set->defs[i];
        set->defs[i] = NULL;
        struct check *old = find(c, def->name);
        if (old && !old->def->file) {
            json_array_append_new(set->errors, json_pack("{ss ss ss}", "file", def->file,
                                  "field", "name", "message",
                                  "a check of this name was created through the API"));
            checkdef_free(def);
            continue;
        }
        if (old && checkdef_same(old->def, def)) {
            checkdef_free(def);
            next[n++] = old;
            continue;
        }
        struct check *k = check_new(c, def);
        if (k)
            next[n++] = k;
    }
    if (json_array_size(set->errors)) { /* undo: what is new goes, the running set stays */
        for (size_t i = 0; i < n; i++)
            if (!find(c, next[i]->def->name) || find(c, next[i]->def->name) != next[i])
                check_free(next[i]);
        free(next);
        return (int)json_array_size(set->errors);
    }
    qsort(next, n, sizeof *next, by_name);
    struct check **old = c->all;
    size_t old_n = c->n;
    c->all = next;
    c->n = n;
    for (size_t i = 0; i < old_n; i++)
        if (find(c, old[i]->def->name) != old[i])
            check_free(old[i]);
    free(old);
    size_t fresh = 0;
    for (size_t i = 0; i < c->n; i++)
        fresh += !c->all[i]->entry.slot && c->all[i]->enabled;
    uint64_t spread = fresh > FIRST_RUNS_PER_S ? fresh * 1000 / FIRST_RUNS_PER_S : 1000;
    for (size_t i = 0; i < c->n; i++)
        if (!c->all[i]->entry.slot && c->all[i]->enabled)
            check_schedule(c->all[i], spread);
    return 0;
}

int checks_reload(struct checks *c)
{
    struct checkdef_set set;
    checkdef_set_init(&set);
    int errors = checkdef_load_dir(&set, c->dir, c->opts.find);
    if (!errors)
        errors = apply_set(c, &set);
    json_decref(c->errors);
    c->errors = json_incref(set.errors);
    if (errors)
        log_warn("checks: %s has %d error(s); the running checks stay as they were", c->dir,
                 errors);
    else
        log_info("checks: %zu check(s) from %s", c->n, c->dir);
    checkdef_set_free(&set);
    return errors;
}

static void on_reload_timer(uv_timer_t *t);

static void on_dir_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct checks *c = h->data;
    uv_timer_start(&c->reload_timer, on_reload_timer, (uint64_t)c->opts.reload_delay_ms, 0);
}

/* Watches dir; while it does not exist, looks again every DIR_RETRY_MS. */
static void watch_dir(struct checks *c)
{
    if (c->watching)
        return;
    if (uv_fs_event_start(&c->watcher, on_dir_event, c->dir, 0) == 0) {
        c->watching = true;
        checks_reload(c); /* what changed before the watch began */
        return;
    }
    uv_timer_start(&c->reload_timer, on_reload_timer, DIR_RETRY_MS, 0);
}

static void on_reload_timer(uv_timer_t *t)
{
    struct checks *c = t->data;
    if (!c->watching) {
        watch_dir(c);
        return;
    }
    checks_reload(c);
}

struct checks *checks_open(const struct checks_options *opts, char *err, size_t errlen)
{
    struct checks *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(opts->dir))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->opts = *opts;
    if (c->opts.history < 1)
        c->opts.history = 1;
    c->errors = json_array();
    c->schedule = schedule_new(opts->loop, on_due, c);
    if (!c->schedule) {
        free(c->dir);
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    uv_fs_event_init(opts->loop, &c->watcher);
    c->watcher.data = c;
    uv_timer_init(opts->loop, &c->reload_timer);
    c->reload_timer.data = c;
    if (c->opts.store && load_stored(c, err, errlen) != 0) {
        checks_close(c);
        return NULL;
    }
    if (mkdir(c->dir, 0755) == 0)
        log_info("checks: created %s", c->dir);
    watch_dir(c);
    if (!c->watching)
        log_info("checks: %s cannot be watched (yet): looking again every %d ms", c->dir,
                 DIR_RETRY_MS);
    return c;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data); /* the reload timer closes after the watcher: the last handle */
}

void checks_close(struct checks *c)
{
    if (!c)
        return;
    writes_orphan(c);
    for (size_t i = 0; i < c->n; i++)
        check_free(c->all[i]);
    free(c->all);
    schedule_free(c->schedule);
    json_decref(c->errors);
    free(c->dir);
    uv_close((uv_handle_t *)&c->watcher, NULL);
    uv_close((uv_handle_t *)&c->reload_timer, on_closed);
}

/* ---- views and actions ---------------------------------------------------------------------- */

static json_t *iso_time(int64_t ms)
{
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *check_json(const struct check *k, bool with_results)
{
    const struct checkdef *d = k->def;
    json_t *o = json_pack("{ss ss sO sb ss so sI sI}", "name", d->name, "type", d->type->name,
                          "config", d->def, "enabled", k->enabled, "state",
                          check_state_name(k->state), "since", iso_time(k->since_ms),
                          "interval_ms", (json_int_t)d->interval_ms, "timeout_ms",
                          (json_int_t)d->timeout_ms);
    json_object_set_new(o, "source", json_string(d->file ? "file" : "api"));
    if (d->file)
        json_object_set_new(o, "file", json_string(d->file));
    json_object_set_new(o, "message", k->message ? json_string(k->message) : json_null());
    if (!with_results)
        return o;
    json_t *results = json_array();
    size_t cap = (size_t)k->owner->opts.history;
    for (size_t i = 0; i < k->ring_n; i++) { /* newest first */
        const struct check_result *r = &k->ring[(k->ring_next + cap - 1 - i) % cap];
        json_array_append_new(results, json_pack("{so ss sf so}", "time", iso_time(r->time_ms),
                                                 "state", check_state_name(r->state),
                                                 "latency_ms", r->latency_ms, "message",
                                                 r->message ? json_string(r->message)
                                                            : json_null()));
    }
    json_object_set_new(o, "results", results);
    json_object_set(o, "last_result", k->last_result ? k->last_result : json_null());
    json_object_set_new(o, "runs", json_integer((json_int_t)k->runs));
    json_object_set_new(o, "skipped", json_integer((json_int_t)k->skipped));
    return o;
}

/* tag: "NAME=VALUE" or "NAME" (any value). */
static bool has_tag(const struct checkdef *d, const char *tag)
{
    const json_t *tags = json_object_get(d->def, "tags");
    const char *eq = strchr(tag, '=');
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - tag) : strlen(tag)), tag);
    const json_t *v = json_object_get(tags, name);
    return v && (!eq || (json_is_string(v) && strcmp(json_string_value(v), eq + 1) == 0));
}

json_t *checks_list_json(struct checks *c, const char *state, const char *tag, const char *type)
{
    json_t *list = json_array();
    for (size_t i = 0; i < c->n; i++) {
        const struct check *k = c->all[i];
        if ((state && strcmp(state, check_state_name(k->state)) != 0) ||
            (type && strcmp(type, k->def->type->name) != 0) || (tag && !has_tag(k->def, tag)))
            continue;
        json_array_append_new(list, check_json(k, false));
    }
    return json_pack("{so}", "checks", list);
}

json_t *checks_get_json(struct checks *c, const char *name)
{
    const struct check *k = find(c, name);
    return k ? check_json(k, true) : NULL;
}

json_t *checks_errors_json(struct checks *c)
{
    return json_pack("{sO}", "errors", c->errors);
}

static void on_enabled_stored(int status, void *ctx)
{
}

int checks_set_enabled(struct checks *c, const char *name, bool enabled)
{
    struct check *k = find(c, name);
    if (!k)
        return -1;
    if (k->enabled != enabled) {
        k->enabled = enabled;
        if (!k->def->file && c->opts.store) { /* an API check keeps it across a restart */
            k->def->enabled = enabled;
            json_object_set_new(k->def->def, "enabled", json_boolean(enabled));
            char *text = json_dumps(k->def->def, JSON_COMPACT | JSON_SORT_KEYS);
            if (text)
                store_save_check(c->opts.store, name, text, clock_wall_ms(), on_enabled_stored,
                                 NULL);
            free(text);
        }
        if (!enabled) {
            runner_cancel(k->run);
            k->run = NULL;
        }
        check_schedule(k, 1000);
    }
    return 0;
}

int checks_run_now(struct checks *c, const char *name)
{
    struct check *k = find(c, name);
    if (!k)
        return -1;
    check_start_run(k);
    return 0;
}

/* ---- checks created through the API -------------------------------------------------------- */

/* Inserts k into the sorted set and schedules it. */
static void insert_check(struct checks *c, struct check *k)
{
    struct check **grown = realloc(c->all, (c->n + 1) * sizeof *grown);
    if (!grown) {
        check_free(k);
        return;
    }
    c->all = grown;
    size_t at = 0;
    while (at < c->n && strcmp(c->all[at]->def->name, k->def->name) < 0)
        at++;
    memmove(&c->all[at + 1], &c->all[at], (c->n - at) * sizeof *c->all);
    c->all[at] = k;
    c->n++;
    check_schedule(k, 1000);
}

static size_t index_of(const struct checks *c, const struct check *k)
{
    size_t i = 0;
    while (c->all[i] != k)
        i++;
    return i;
}

static void remove_check(struct checks *c, struct check *k)
{
    size_t at = index_of(c, k);
    memmove(&c->all[at], &c->all[at + 1], (c->n - at - 1) * sizeof *c->all);
    c->n--;
    check_free(k);
}

/* Runs def (taken) in place of the check of its name, or as a new one; returns it. */
static struct check *put_check(struct checks *c, struct checkdef *def)
{
    struct check *old = find(c, def->name);
    if (old && checkdef_same(old->def, def)) {
        checkdef_free(def);
        return old;
    }
    struct check *k = check_new(c, def);
    if (!k)
        return NULL;
    if (old) {
        c->all[index_of(c, old)] = k;
        check_free(old);
        check_schedule(k, 1000);
    } else {
        insert_check(c, k);
    }
    return k;
}

static void on_stored_row(const char *name, const char *definition, void *ctx)
{
    struct checks *c = ctx;
    json_t *def = json_loads(definition, 0, NULL);
    json_t *errors = json_array();
    struct checkdef *d = def ? checkdef_parse(def, c->opts.find, NULL, NULL, "", errors) : NULL;
    if (d) {
        put_check(c, d);
    } else {
        char text[512] = "not JSON";
        if (json_array_size(errors))
            checkdef_error_text(json_array_get(errors, 0), text, sizeof text);
        log_error("checks: the stored check %s does not read (%s); it does not run", name, text);
    }
    json_decref(errors);
    json_decref(def);
}

static int load_stored(struct checks *c, char *err, size_t errlen)
{
    return store_load_checks(c->opts.store, on_stored_row, c, err, errlen);
}

/* An API write waiting for the store. def: the check to run once stored (NULL: a delete). */
struct pending_write {
    struct checks *owner; /* NULL once the engine closed: the store's answer only answers */
    struct checkdef *def;
    char name[CHECK_NAME_MAX + 1];
    checks_write_cb done;
    void *ctx;
    struct pending_write *next;
};

static void writes_orphan(struct checks *c)
{
    for (struct pending_write *w = c->writes; w; w = w->next)
        w->owner = NULL;
    c->writes = NULL;
}

static void write_forget(struct checks *c, struct pending_write *w)
{
    for (struct pending_write **p = &c->writes; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

static json_t *error_body(const char *message, const char *field)
{
    return json_pack("{ss ss*}", "error", message, "field", field);
}

static void on_write_stored(int status, void *ctx)
{
    struct pending_write *w = ctx;
    struct checks *c = w->owner;
    if (c)
        write_forget(c, w);
    if (status != 0 || !c) {
        w->done(503, error_body("the check could not be stored; try again", NULL), w->ctx);
    } else if (!w->def) {
        struct check *k = find(c, w->name);
        if (k && !k->def->file)
            remove_check(c, k);
        log_info("checks: %s deleted through the API", w->name);
        w->done(204, NULL, w->ctx);
    } else {
        bool created = !find(c, w->def->name);
        struct check *k = put_check(c, w->def);
        w->def = NULL;
        log_info("checks: %s %s through the API", w->name, created ? "created" : "replaced");
        w->done(created ? 201 : 200, k ? check_json(k, true) : NULL, w->ctx);
    }
    checkdef_free(w->def);
    free(w);
}

static void write_start(struct checks *c, const char *name, struct checkdef *def,
                        checks_write_cb done, void *ctx)
{
    struct pending_write *w = calloc(1, sizeof *w);
    char *text = def ? json_dumps(def->def, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!w || (def && !text)) {
        free(w);
        free(text);
        checkdef_free(def);
        done(503, error_body("out of memory", NULL), ctx);
        return;
    }
    *w = (struct pending_write){.owner = c, .def = def, .done = done, .ctx = ctx,
                                .next = c->writes};
    snprintf(w->name, sizeof w->name, "%s", name);
    c->writes = w;
    if (def)
        store_save_check(c->opts.store, name, text, clock_wall_ms(), on_write_stored, w);
    else
        store_delete_check(c->opts.store, name, on_write_stored, w);
    free(text);
}

/* 409 when name is defined in a file; true when it answered. */
static bool refuse_file_check(struct checks *c, const char *name, checks_write_cb done, void *ctx)
{
    const struct check *k = find(c, name);
    if (!k || !k->def->file)
        return false;
    char msg[4200];
    snprintf(msg, sizeof msg, "check %s is defined in %s: change it there", name, k->def->file);
    json_t *body = error_body(msg, "name");
    json_object_set_new(body, "file", json_string(k->def->file));
    done(409, body, ctx);
    return true;
}

void checks_put(struct checks *c, const char *name, const json_t *def, checks_write_cb done,
                void *ctx)
{
    if (!json_is_object(def)) {
        done(400, error_body("expected a check: a JSON object with name and type", NULL), ctx);
        return;
    }
    json_t *copy = json_deep_copy(def);
    const json_t *given = json_object_get(copy, "name");
    if (name && !given)
        json_object_set_new(copy, "name", json_string(name));
    else if (name && (!json_is_string(given) || strcmp(json_string_value(given), name) != 0)) {
        json_decref(copy);
        done(400, error_body("the name in the body is not the one in the path", "name"), ctx);
        return;
    }
    json_t *errors = json_array();
    struct checkdef *d = checkdef_parse(copy, c->opts.find, NULL, NULL, "", errors);
    json_decref(copy);
    if (!d) {
        const json_t *first = json_array_get(errors, 0);
        char text[600];
        checkdef_error_text(first, text, sizeof text);
        json_t *body = error_body(text, json_string_value(json_object_get(first, "field")));
        json_object_set_new(body, "errors", errors);
        done(400, body, ctx);
        return;
    }
    json_decref(errors);
    if (refuse_file_check(c, d->name, done, ctx)) {
        checkdef_free(d);
        return;
    }
    if (!name && find(c, d->name)) {
        char msg[200];
        snprintf(msg, sizeof msg, "check %s exists: PUT /api/v1/checks/%s replaces it", d->name,
                 d->name);
        checkdef_free(d);
        done(409, error_body(msg, "name"), ctx);
        return;
    }
    char stored_name[CHECK_NAME_MAX + 1];
    snprintf(stored_name, sizeof stored_name, "%s", d->name);
    write_start(c, stored_name, d, done, ctx);
}

void checks_delete(struct checks *c, const char *name, checks_write_cb done, void *ctx)
{
    if (refuse_file_check(c, name, done, ctx))
        return;
    if (!find(c, name)) {
        done(404, error_body("no such check", "name"), ctx);
        return;
    }
    write_start(c, name, NULL, done, ctx);
}
