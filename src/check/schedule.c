/* schedule.c — the check schedule (schedule.h): a 4-ary min-heap of entries by due time, each
 * entry knowing its slot so that removal is O(log n), and one timer armed for the earliest. Each
 * heap node holds its entry's due time beside the pointer, so that sifting through 100,000
 * entries compares within the array instead of reading every entry (a cache miss each); what
 * is left is the slot written into each entry moved, one per level: four children a node (one
 * cache line of nodes) halve the levels of a binary heap, and with them those writes. */
#include <stdbool.h>
#include <stdlib.h>

#include "check/schedule.h"

#define ARITY 4

struct node {
    uint64_t due; /* a copy of entry->due */
    struct schedule_entry *entry;
};

struct schedule {
    uv_timer_t timer;
    schedule_fire_cb fire;
    void *ctx;
    struct node *heap;
    size_t n, cap;
    struct schedule_stats stats;
};

static void place(struct schedule *s, size_t i, struct node n)
{
    s->heap[i] = n;
    n.entry->slot = i + 1;
}

static void sift_up(struct schedule *s, size_t i)
{
    struct node n = s->heap[i];
    while (i > 0 && s->heap[(i - 1) / ARITY].due > n.due) {
        place(s, i, s->heap[(i - 1) / ARITY]);
        i = (i - 1) / ARITY;
    }
    place(s, i, n);
}

static void sift_down(struct schedule *s, size_t i)
{
    struct node n = s->heap[i];
    for (;;) {
        size_t first = ARITY * i + 1, child = first;
        if (first >= s->n)
            break;
        for (size_t c = first + 1; c < first + ARITY && c < s->n; c++)
            if (s->heap[c].due < s->heap[child].due)
                child = c;
        if (s->heap[child].due >= n.due)
            break;
        place(s, i, s->heap[child]);
        i = child;
    }
    place(s, i, n);
}

static void on_timer(uv_timer_t *t);

static void arm(struct schedule *s)
{
    if (!s->n) {
        uv_timer_stop(&s->timer);
        return;
    }
    uint64_t now = uv_now(s->timer.loop), due = s->heap[0].due;
    uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct schedule *s = t->data;
    uint64_t now = uv_now(t->loop);
    while (s->n && s->heap[0].due <= now) {
        struct schedule_entry *e = s->heap[0].entry;
        s->stats.fired++;
        /* the clock now, not the loop's time of this turn: firing many takes time too */
        s->stats.late += uv_hrtime() / 1000000 > e->due + SCHEDULE_LATE_MS;
        e->due += e->interval;
        if (e->due <= now) { /* fell behind: skip the missed slots, keep the phase */
            uint64_t missed = (now - e->due) / e->interval + 1;
            s->stats.skipped += missed;
            e->due += missed * e->interval;
        }
        s->heap[0].due = e->due;
        sift_down(s, 0);
        s->fire(e, s->ctx);
    }
    arm(s);
}

struct schedule *schedule_new(uv_loop_t *loop, schedule_fire_cb fire, void *ctx)
{
    struct schedule *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->fire = fire;
    s->ctx = ctx;
    return s;
}

static void on_closed(uv_handle_t *h)
{
    struct schedule *s = h->data;
    free(s->heap);
    free(s);
}

void schedule_free(struct schedule *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        s->heap[i].entry->slot = 0;
    uv_close((uv_handle_t *)&s->timer, on_closed);
}

void schedule_add_at(struct schedule *s, struct schedule_entry *e, uint64_t interval_ms,
                     uint64_t first_ms)
{
    schedule_remove(s, e);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct node *grown = realloc(s->heap, cap * sizeof *grown);
        if (!grown)
            return;
        s->heap = grown;
        s->cap = cap;
    }
    e->interval = interval_ms ? interval_ms : 1;
    e->due = uv_now(s->timer.loop) + first_ms;
    s->heap[s->n] = (struct node){.due = e->due, .entry = e};
    sift_up(s, s->n++);
    if (s->heap[0].entry == e)
        arm(s);
}

uint64_t schedule_jitter(const char *name, uint64_t spread_ms)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return spread_ms ? h % spread_ms : 0;
}

void schedule_add(struct schedule *s, struct schedule_entry *e, const char *name,
                  uint64_t interval_ms, uint64_t spread_ms)
{
    uint64_t spread = interval_ms < spread_ms ? interval_ms : spread_ms;
    schedule_add_at(s, e, interval_ms, schedule_jitter(name, spread));
}

void schedule_remove(struct schedule *s, struct schedule_entry *e)
{
    if (!e->slot)
        return;
    size_t i = e->slot - 1;
    bool was_first = i == 0;
    e->slot = 0;
    struct node last = s->heap[--s->n];
    if (i < s->n) {
        place(s, i, last);
        sift_up(s, i);
        sift_down(s, last.entry->slot - 1);
    }
    if (was_first)
        arm(s);
}

size_t schedule_count(const struct schedule *s)
{
    return s->n;
}

struct schedule_stats schedule_stats(const struct schedule *s)
{
    return s->stats;
}
