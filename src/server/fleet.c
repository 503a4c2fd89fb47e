/* fleet.c — worker registry (uthash by name), deadline list, state machine and what is due for
 * saving (a FIFO of workers); see fleet.h. */
#include "server/fleet.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct worker {
    struct worker_record rec;
    int64_t deadline_mono;      /* when an UP worker becomes overdue */
    struct worker *prev, *next; /* UP list, earliest deadline first */
    struct worker *due_next;    /* FIFO of workers due for saving */
    int64_t saved_last_seen_ms; /* rec.last_seen_ms when the record was last handed for saving */
    uint64_t state_seq;         /* state changes handed to the hook so far */
    uint64_t settled_seq;       /* the latest of them written or refused for good */
    uint64_t recorded_seq;      /* the latest of them known to be on disk */
    bool in_up_list;
    bool due;
    struct flap_state flap;   /* its observations, for flapping (fleet_flap_observe) */
    int64_t flap_observed_ms; /* wall time of its last observation; 0: none */
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
    struct worker *due_head, *due_tail;
    struct worker_record *slice; /* FLEET_SAVE_SLICE records handed to save, reused */
    size_t state_counts[3];      /* workers per enum worker_state, kept as states change */
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
    free(fleet->slice);
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

static void mark_due(struct fleet *f, struct worker *w)
{
    if (w->due)
        return;
    w->due = true;
    w->due_next = NULL;
    if (f->due_tail)
        f->due_tail->due_next = w;
    else
        f->due_head = w;
    f->due_tail = w;
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
    if (!t.emits_event || !f->on_transition) {
        mark_due(f, w);
        return false;
    }
    w->state_seq++;
    w->saved_last_seen_ms = w->rec.last_seen_ms; /* the event's transaction saves the record */
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
    w->saved_last_seen_ms = rec->last_seen_ms;
    if (w->rec.state == WORKER_UP)
        up_list_append(fleet, w, now_mono + fleet->fail_timeout_ms);
}

/* Whether a heartbeat changes what the stored record says beyond its last_seen and uptime_s. */
static bool heartbeat_changes_record(const struct worker_record *r, const struct heartbeat *hb,
                                     const char *ip)
{
    return strcmp(r->ip, ip) != 0 || strcmp(r->version, hb->version) != 0 ||
           strcmp(r->site, hb->site) != 0 || r->gpus != hb->gpus;
}

int fleet_heartbeat(struct fleet *fleet, const struct heartbeat *hb, const char *ip,
                    int64_t now_mono, int64_t now_wall, void *cause)
{
    struct worker *w = NULL;
    HASH_FIND_STR(fleet->by_name, hb->name, w);
    bool first = !w;
    if (!w) {
        if (!(w = worker_add(fleet, hb->name)))
            return FLEET_HEARTBEAT_NO_MEMORY;
        w->rec.first_seen_ms = now_wall;
        w->rec.state_since_ms = now_wall;
    }
    struct worker_record *r = &w->rec;
    int prev_gpus = r->gpus;
    bool record_changed = heartbeat_changes_record(r, hb, ip);
    snprintf(r->ip, sizeof r->ip, "%s", ip);
    memcpy(r->version, hb->version, sizeof r->version);
    memcpy(r->site, hb->site, sizeof r->site);
    r->gpus = hb->gpus;
    r->uptime_s = hb->uptime_s;
    r->last_seen_ms = now_wall;
    up_list_append(fleet, w, now_mono + fleet->fail_timeout_ms);
    bool changed = apply(fleet, w, INPUT_HEARTBEAT, now_wall, cause);
    if (!first && prev_gpus != r->gpus && fleet->on_gpus)
        fleet->on_gpus(r, prev_gpus, fleet->gpus_ctx);
    if (changed)
        return FLEET_HEARTBEAT_CHANGED; /* saved with the event */
    if (record_changed || now_wall - w->saved_last_seen_ms >= FLEET_LAST_SEEN_LAG_MS)
        mark_due(fleet, w);
    return w->settled_seq == w->state_seq ? FLEET_HEARTBEAT_SEEN : FLEET_HEARTBEAT_UNRECORDED;
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

static struct worker *worker_find(const struct fleet *fleet, const char *name)
{
    struct worker *w = NULL;
    HASH_FIND_STR(fleet->by_name, name, w);
    return w;
}

/* The periods of FAIL_TIMEOUT w's state lasted since its last observation, each observed as no
 * change (at most a window's worth); FLAP_STOPPED when flapping stopped among them. */
static enum flap_change flap_observe_quiet(const struct fleet *f, struct worker *w,
                                           int64_t now_wall)
{
    enum flap_change result = FLAP_SAME;
    if (w->flap_observed_ms == 0 || f->fail_timeout_ms <= 0) {
        w->flap_observed_ms = now_wall;
        return result;
    }
    int64_t periods = (now_wall - w->flap_observed_ms) / f->fail_timeout_ms;
    for (int64_t i = 0; i < periods && i < FLAP_WINDOW; i++)
        if (flap_update(&w->flap, false, now_wall, NULL) == FLAP_STOPPED)
            result = FLAP_STOPPED;
    if (periods > 0)
        w->flap_observed_ms += periods * f->fail_timeout_ms;
    return result;
}

enum flap_change fleet_flap_observe(struct fleet *fleet, const char *name, int64_t now_wall)
{
    struct worker *w = worker_find(fleet, name);
    if (!w)
        return FLAP_SAME;
    enum flap_change quiet = flap_observe_quiet(fleet, w, now_wall);
    enum flap_change change = flap_update(&w->flap, true, now_wall, NULL);
    w->flap_observed_ms = now_wall;
    return change != FLAP_SAME ? change : quiet;
}

size_t fleet_flap_tick(struct fleet *fleet, int64_t now_wall,
                       void (*stopped)(const struct worker_record *w, void *ctx), void *ctx)
{
    size_t flapping = 0;
    struct worker *w, *tmp;
    HASH_ITER(hh, fleet->by_name, w, tmp)
    {
        if (!w->flap.flapping)
            continue;
        if (flap_observe_quiet(fleet, w, now_wall) == FLAP_STOPPED)
            stopped(&w->rec, ctx);
        else
            flapping++;
    }
    return flapping;
}

const struct flap_state *fleet_flap(const struct fleet *fleet, const char *name)
{
    struct worker *w = worker_find(fleet, name);
    return w ? &w->flap : NULL;
}

const struct worker_record *fleet_find(const struct fleet *fleet, const char *name)
{
    struct worker *w = worker_find(fleet, name);
    return w ? &w->rec : NULL;
}

uint64_t fleet_state_seq(const struct fleet *fleet, const char *name)
{
    struct worker *w = worker_find(fleet, name);
    return w ? w->state_seq : 0;
}

void fleet_state_settled(struct fleet *fleet, const char *name, uint64_t seq, bool on_disk)
{
    struct worker *w = worker_find(fleet, name);
    if (w && seq > w->settled_seq)
        w->settled_seq = seq;
    if (w && on_disk && seq > w->recorded_seq)
        w->recorded_seq = seq;
}

bool fleet_is_recorded(const struct fleet *fleet, const char *name)
{
    struct worker *w = worker_find(fleet, name);
    return !w || w->recorded_seq == w->state_seq;
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

size_t fleet_save_due(struct fleet *fleet, size_t max,
                      void (*save)(const struct worker_record *recs, size_t n, void *ctx),
                      void *ctx)
{
    if (!fleet->due_head)
        return 0;
    if (!fleet->slice && !(fleet->slice = malloc(FLEET_SAVE_SLICE * sizeof *fleet->slice)))
        return 0; /* the workers stay due; the next call tries again */
    size_t handed = 0, n = 0;
    while (fleet->due_head && handed < max) {
        struct worker *w = fleet->due_head;
        fleet->due_head = w->due_next;
        if (!fleet->due_head)
            fleet->due_tail = NULL;
        w->due = false;
        w->due_next = NULL;
        w->saved_last_seen_ms = w->rec.last_seen_ms;
        fleet->slice[n++] = w->rec;
        handed++;
        if (n == FLEET_SAVE_SLICE) {
            save(fleet->slice, n, ctx);
            n = 0;
        }
    }
    if (n)
        save(fleet->slice, n, ctx);
    return handed;
}

void fleet_save_all(struct fleet *fleet,
                    void (*save)(const struct worker_record *recs, size_t n, void *ctx),
                    void *ctx)
{
    for (struct worker *w = fleet->by_name; w; w = w->hh.next)
        if (w->rec.last_seen_ms != w->saved_last_seen_ms)
            mark_due(fleet, w);
    fleet_save_due(fleet, SIZE_MAX, save, ctx);
}
