/* dependencies.c — children's DOWNs held while a parent is down (dependencies.h). */
#include "server/dependencies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert/router.h"
#include "base/log.h"
#include "server/checks.h"
#include "server/fleet.h"
#include "store/store.h"

/* A child held: its name, the parent that holds it (borrowed from the rules) and whether the
 * correlation engine said its DOWN was due (then its release tells it). */
struct held {
    char worker[WORKER_NAME_MAX + 1];
    const char *parent;
    bool due;
};

struct dependencies {
    const struct depend_settings *rules;
    struct fleet *fleet;
    struct checks *checks;
    dependencies_tell_fn tell;
    void *tell_ctx;
    struct held *held;
    size_t n_held, cap_held;
    const struct alert_router *router; /* at start: which DOWNs were told before the restart */
};

struct dependencies *dependencies_new(const struct depend_settings *rules, struct fleet *fleet)
{
    struct dependencies *d = calloc(1, sizeof *d);
    if (d)
        *d = (struct dependencies){.rules = rules, .fleet = fleet};
    return d;
}

void dependencies_free(struct dependencies *d)
{
    if (d)
        free(d->held);
    free(d);
}

void dependencies_set_checks(struct dependencies *d, struct checks *checks)
{
    if (d)
        d->checks = checks;
}

void dependencies_set_tell(struct dependencies *d, dependencies_tell_fn tell, void *ctx)
{
    if (d) {
        d->tell = tell;
        d->tell_ctx = ctx;
    }
}

/* A check of that name failing (warning, critical), else a worker of that name DOWN. */
static bool parent_down(const char *parent, void *ctx)
{
    const struct dependencies *d = ctx;
    bool exists = false;
    if (d->checks && checks_failing(d->checks, parent, &exists))
        return true;
    if (exists)
        return false;
    const struct worker_record *w = fleet_find(d->fleet, parent);
    return w && w->state == WORKER_DOWN;
}

size_t dependencies_warn_unknown(const struct dependencies *d)
{
    size_t n = 0;
    for (size_t i = 0; d && i < d->rules->n_rules; i++) {
        const struct depend_rule *r = &d->rules->rules[i];
        for (size_t j = 0; j < r->n_parents; j++) {
            bool exists = false;
            if (d->checks)
                checks_failing(d->checks, r->parents[j].name, &exists);
            if (exists || fleet_find(d->fleet, r->parents[j].name))
                continue;
            log_warn("server: %s: no check or worker named \"%s\" yet; it counts as up until "
                     "one exists",
                     r->parents[j].where, r->parents[j].name);
            n++;
        }
    }
    return n;
}

static struct held *held_find(struct dependencies *d, const char *worker)
{
    for (size_t i = 0; i < d->n_held; i++)
        if (strcmp(d->held[i].worker, worker) == 0)
            return &d->held[i];
    return NULL;
}

/* The parent of w that is down now, or NULL. */
static const char *down_parent_of(struct dependencies *d, const struct worker_record *w)
{
    struct label site = {"site", w->site};
    return depend_down_parent(d->rules, w->name, &site, w->site[0] ? 1 : 0, parent_down, d);
}

/* worker held under parent (a new entry, not due yet, or the one it had); NULL when out of
 * memory (logged: its DOWN is told). */
static struct held *held_add(struct dependencies *d, const char *worker, const char *parent)
{
    struct held *h = held_find(d, worker);
    if (!h) {
        if (d->n_held == d->cap_held) {
            size_t cap = d->cap_held ? d->cap_held * 2 : 8;
            struct held *grown = realloc(d->held, cap * sizeof *grown);
            if (!grown) {
                log_error("server: out of memory holding %s back; its DOWN is told", worker);
                return NULL;
            }
            d->held = grown;
            d->cap_held = cap;
        }
        h = &d->held[d->n_held++];
        snprintf(h->worker, sizeof h->worker, "%s", worker);
        h->due = false;
    }
    h->parent = parent;
    return h;
}

const char *dependencies_hold_down(struct dependencies *d, const struct worker_record *w)
{
    const char *parent = d && d->rules->n_rules ? down_parent_of(d, w) : NULL;
    if (!parent || !held_add(d, w->name, parent))
        return NULL;
    log_info("server: %s is DOWN while %s, which it depends on, is down: held back", w->name,
             parent);
    return parent;
}

bool dependencies_take_due(struct dependencies *d, const char *worker)
{
    struct held *h = d ? held_find(d, worker) : NULL;
    if (h)
        h->due = true;
    return h != NULL;
}

static void held_remove(struct dependencies *d, size_t i)
{
    d->held[i] = d->held[--d->n_held];
}

void dependencies_up(struct dependencies *d, const char *name)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_held;) {
        struct held *h = &d->held[i];
        if (strcmp(h->worker, name) == 0) { /* the child itself is back: nothing to tell */
            held_remove(d, i);
            continue;
        }
        if (strcmp(h->parent, name) != 0) {
            i++;
            continue;
        }
        const struct worker_record *w = fleet_find(d->fleet, h->worker);
        const char *other = w && w->state == WORKER_DOWN ? down_parent_of(d, w) : NULL;
        if (other) { /* another parent still holds it */
            h->parent = other;
            i++;
            continue;
        }
        bool tell = h->due && w && w->state == WORKER_DOWN;
        held_remove(d, i);
        if (tell && d->tell) {
            log_info("server: %s no longer held back (%s is up): its DOWN is told now", w->name,
                     name);
            d->tell(w, d->tell_ctx);
        }
    }
}

size_t dependencies_held_names(const struct dependencies *d, const char *parent, const char **names,
                               size_t max)
{
    size_t n = 0;
    for (size_t i = 0; d && i < d->n_held && n < max; i++)
        if (strcmp(d->held[i].parent, parent) == 0)
            names[n++] = d->held[i].worker;
    return n;
}

void dependencies_append_held(const struct dependencies *d, const char *parent, char *text,
                              size_t len)
{
    size_t used = strlen(text);
    for (size_t i = 0, n = 0; d && i < d->n_held && used + 1 < len; i++) {
        if (strcmp(d->held[i].parent, parent) != 0)
            continue;
        int w = snprintf(text + used, len - used, "%s%s",
                         n++ ? ", " : "\nHeld back, depending on it: ", d->held[i].worker);
        used += w > 0 ? (size_t)w : 0;
    }
}

/* ---- at start: the children held before a restart ------------------------------------------ */

/* The latest DOWN of a worker restored DOWN: when it was held back (held_back_by), is still the
 * worker's current DOWN, is not held already and was not told before the restart (released
 * then: its problem is open in the router), it is held again under a parent down now, due (its
 * event was recorded, the engine's wait does not survive a restart), or told now when none is. */
static void restore_held(struct dependencies *d, const struct event_record *ev)
{
    json_t *details = json_loads(ev->details_json, 0, NULL);
    bool was_held = json_is_string(json_object_get(details, "held_back_by"));
    json_decref(details);
    const struct worker_record *w = fleet_find(d->fleet, ev->worker);
    char key[WORKER_NAME_MAX + 8];
    snprintf(key, sizeof key, "worker:%s", ev->worker);
    if (!was_held || !w || w->state != WORKER_DOWN || w->state_since_ms != ev->time_ms ||
        held_find(d, w->name) || alert_router_is_open(d->router, key))
        return;
    const char *parent = down_parent_of(d, w);
    struct held *h = parent ? held_add(d, w->name, parent) : NULL; /* NULL: out of memory, told */
    if (h) {
        h->due = true;
        log_info("server: %s is still DOWN while %s, which it depends on, is down: held back "
                 "again after the restart",
                 w->name, parent);
        return;
    }
    if (!parent)
        log_info("server: %s was held back before the restart and nothing it depends on is "
                 "down now: its DOWN is told now",
                 w->name);
    if (d->tell)
        d->tell(w, d->tell_ctx);
}

/* ctx: the struct dependencies, which outlives the store's callbacks (store_close runs them
 * before the server frees it). */
static void on_latest_down(int status, const struct event_record *evs, size_t n, void *ctx)
{
    if (status == 0 && n > 0)
        restore_held(ctx, &evs[0]);
    else if (status != 0)
        log_error("server: the latest DOWN of a worker could not be read; if it was held back, "
                  "it is not told");
}

struct restore_scan {
    struct dependencies *d;
    struct store *store;
};

/* A worker restored DOWN that some rule applies to: its latest DOWN event is read. */
static void query_latest_down(const struct worker_record *w, void *ctx)
{
    struct restore_scan *scan = ctx;
    const struct depend_settings *rules = scan->d->rules;
    struct label site = {"site", w->site};
    bool ruled = false;
    for (size_t i = 0; i < rules->n_rules && !ruled; i++)
        ruled = depend_rule_matches(&rules->rules[i], w->name, &site, w->site[0] ? 1 : 0);
    if (w->state != WORKER_DOWN || !ruled)
        return;
    struct event_query eq = {.limit = 1, .kinds = 1u << EVENT_DOWN, .worker = w->name};
    store_query_events(scan->store, &eq, on_latest_down, scan->d);
}

void dependencies_restore(struct dependencies *d, struct store *store,
                          const struct alert_router *router)
{
    if (!d || !d->rules->n_rules)
        return;
    d->router = router;
    struct restore_scan scan = {.d = d, .store = store};
    fleet_each(d->fleet, false, query_latest_down, &scan);
}
