/* fleet.c — worker registry (uthash by name), deadline list and state machine; see fleet.h. */
#include "server/fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#define FLUSH_CHUNK 4096

struct worker {
    struct worker_record rec;
    int64_t deadline_mono;      /* when an UP worker becomes overdue */
    struct worker *prev, *next; /* UP list, earliest deadline first */
    struct worker *changed_next;
    bool in_up_list;
    bool changed;
    UT_hash_handle hh;
};

struct fleet {
    int64_t fail_timeout_ms;
    fleet_transition_cb on_transition;
    void *ctx;
    fleet_gpus_cb on_gpus;
    void *gpus_ctx;
    struct worker *by_name; /* uthash head */
    struct worker *up_head, *up_tail;
    struct worker *changed_head;
    size_t state_counts[3]; /* workers per enum worker_state, kept as states change */
};

struct transition worker_transition(enum worker_state from, enum worker_input input)
{
    struct transition t = {.next = from, .emits_event = false, .kind = EVENT_UP};
    if (input == INPUT_HEARTBEAT && from != WORKER_UP) {
        t.next = WORKER_UP;
        t.emits_event = true;
        t.kind = EVENT_UP;
    } else if (input == INPUT_TIMEOUT && from == WORKER_UP) {
        t.next = WORKER_DOWN;
        t.emits_event = true;
        t.kind = EVENT_DOWN;
    }
    return t;
}

struct fleet *fleet_new(int64_t fail_timeout_ms, fleet_transition_cb on_transition, void *ctx)
{
    struct fleet *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->fail_timeout_ms = fail_timeout_ms;
    f->on_transition = on_transition;
    f->ctx = ctx;
    return f;
}

void fleet_on_gpu_change(struct fleet *fleet, fleet_gpus_cb on_gpus, void *ctx)
{
    fleet->on_gpus = on_gpus;
    fleet->gpus_ctx = ctx;
}

void fleet_free(struct fleet *fleet)
{
    if (!fleet)
        return;
    struct worker *w, *tmp;
    HASH_ITER(hh, fleet->by_name, w, tmp)
    {
        HASH_DEL(fleet->by_name, w);
        free(w);
    }
    free(fleet);
}

static void up_list_remove(struct fleet *f, struct worker *w)
{
    if (!w->in_up_list)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        f->up_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        f->up_tail = w->prev;
    w->prev = w->next = NULL;
    w->in_up_list = false;
}

/* Every deadline is now + FAIL_TIMEOUT, so appending keeps the list ordered. */
static void up_list_append(struct fleet *f, struct worker *w, int64_t deadline)
{
    up_list_remove(f, w);
    w->deadline_mono = deadline;
    w->prev = f->up_tail;
    if (f->up_tail)
        f->up_tail->next = w;
    else
        f->up_head = w;
    f->up_tail = w;
    w->in_up_list = true;
}

static void mark_changed(struct fleet *f, struct worker *w)
{
    if (w->changed)
        return;
    w->changed = true;
    w->changed_next = f->changed_head;
    f->changed_head = w;
}

static struct worker *worker_add(struct fleet *f, const char *name)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->rec.name, sizeof w->rec.name, "%s", name);
    HASH_ADD_STR(f->by_name, rec.name, w);
    f->state_counts[WORKER_UNKNOWN]++;
    return w;
}

/* Returns true when the transition hook ran. */
static bool apply(struct fleet *f, struct worker *w, enum worker_input input, int64_t now_wall,
                  void *cause)
{
    struct transition t = worker_transition(w->rec.state, input);
    if (t.next == w->rec.state)
        return false;
    enum worker_state prev = w->rec.state;
    int64_t prev_since = w->rec.state_since_ms;
    f->state_counts[prev]--;
    f->state_counts[t.next]++;
    w->rec.state = t.next;
    w->rec.state_since_ms = now_wall;
    mark_changed(f, w);
    if (!t.emits_event || !f->on_transition)
        return false;
    f->on_transition(&w->rec, t.kind, prev, prev_since, cause, f->ctx);
    return true;
}

void fleet_restore(struct fleet *fleet, const struct worker_record *rec, int64_t now_mono)
{
    struct worker *w = NULL;
    HASH_FIND_STR(fleet->by_name, rec->name, w);
    if (!w && !(w = worker_add(fleet, rec->name)))
        return;
    fleet->state_counts[w->rec.state]--;
    fleet->state_counts[rec->state]++;
    w->rec = *rec;
    if (w->rec.state == WORKER_UP)
        up_list_append(fleet, w, now_mono + fleet->fail_timeout_ms);
}

int fleet_heartbeat(struct fleet *fleet, const struct heartbeat *hb, const char *ip,
                    int64_t now_mono, int64_t now_wall, void *cause)
{
    struct worker *w = NULL;
    HASH_FIND_STR(fleet->by_name, hb->name, w);
    bool first = !w;
    if (!w) {
        if (!(w = worker_add(fleet, hb->name)))
            return -1;
        w->rec.first_seen_ms = now_wall;
        w->rec.state_since_ms = now_wall;
    }
    struct worker_record *r = &w->rec;
    int prev_gpus = r->gpus;
    snprintf(r->ip, sizeof r->ip, "%s", ip);
    memcpy(r->version, hb->version, sizeof r->version);
    memcpy(r->site, hb->site, sizeof r->site);
    r->gpus = hb->gpus;
    r->uptime_s = hb->uptime_s;
    r->last_seen_ms = now_wall;
    mark_changed(fleet, w);
    up_list_append(fleet, w, now_mono + fleet->fail_timeout_ms);
    bool changed = apply(fleet, w, INPUT_HEARTBEAT, now_wall, cause);
    if (!first && prev_gpus != r->gpus && fleet->on_gpus)
        fleet->on_gpus(r, prev_gpus, fleet->gpus_ctx);
    return changed ? 1 : 0;
}

int64_t fleet_expire(struct fleet *fleet, int64_t now_mono, int64_t now_wall)
{
    while (fleet->up_head && fleet->up_head->deadline_mono <= now_mono) {
        struct worker *w = fleet->up_head;
        up_list_remove(fleet, w);
        apply(fleet, w, INPUT_TIMEOUT, now_wall, NULL);
    }
    return fleet->up_head ? fleet->up_head->deadline_mono : -1;
}

int64_t fleet_next_deadline(const struct fleet *fleet)
{
    return fleet->up_head ? fleet->up_head->deadline_mono : -1;
}

size_t fleet_each_overdue(const struct fleet *fleet, int64_t now_mono,
                          void (*fn)(const struct worker_record *w, void *ctx), void *ctx)
{
    size_t n = 0;
    for (const struct worker *w = fleet->up_head; w && w->deadline_mono <= now_mono; w = w->next) {
        if (fn)
            fn(&w->rec, ctx);
        n++;
    }
    return n;
}

void fleet_regrace(struct fleet *fleet, int64_t now_mono)
{
    for (struct worker *w = fleet->up_head; w; w = w->next)
        w->deadline_mono = now_mono + fleet->fail_timeout_ms;
}

const struct worker_record *fleet_find(const struct fleet *fleet, const char *name)
{
    struct worker *w = NULL;
    HASH_FIND_STR(fleet->by_name, name, w);
    return w ? &w->rec : NULL;
}

size_t fleet_count(const struct fleet *fleet)
{
    return HASH_COUNT(fleet->by_name);
}

void fleet_count_states(const struct fleet *fleet, size_t counts[3])
{
    for (int i = 0; i < 3; i++)
        counts[i] = fleet->state_counts[i];
}

static int by_name(const void *a, const void *b)
{
    const struct worker *const *wa = a, *const *wb = b;
    return strcmp((*wa)->rec.name, (*wb)->rec.name);
}

void fleet_each(const struct fleet *fleet, bool sorted,
                void (*fn)(const struct worker_record *w, void *ctx), void *ctx)
{
    size_t n = HASH_COUNT(fleet->by_name), i = 0;
    struct worker **all = sorted ? malloc(n * sizeof *all) : NULL;
    for (struct worker *w = fleet->by_name; w; w = w->hh.next) {
        if (all)
            all[i++] = w;
        else
            fn(&w->rec, ctx);
    }
    if (!all)
        return;
    qsort(all, n, sizeof *all, by_name);
    for (i = 0; i < n; i++)
        fn(&all[i]->rec, ctx);
    free(all);
}

void fleet_flush_changed(struct fleet *fleet,
                         void (*save)(const struct worker_record *recs, size_t n, void *ctx),
                         void *ctx)
{
    if (!fleet->changed_head)
        return;
    struct worker_record *batch = malloc(FLUSH_CHUNK * sizeof *batch);
    if (!batch)
        return; /* the marks stay; the next flush tries again */
    size_t n = 0;
    while (fleet->changed_head) {
        struct worker *w = fleet->changed_head;
        fleet->changed_head = w->changed_next;
        w->changed = false;
        w->changed_next = NULL;
        batch[n++] = w->rec;
        if (n == FLUSH_CHUNK) {
            save(batch, n, ctx);
            n = 0;
        }
    }
    if (n)
        save(batch, n, ctx);
    free(batch);
}
