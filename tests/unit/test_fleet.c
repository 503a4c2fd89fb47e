/* test_fleet.c — the worker state machine, deadlines, restore grace, change tracking and GPU
 * count changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "server/fleet.h"

struct transition_case {
    enum worker_state from;
    enum worker_input input;
    enum worker_state next;
    bool emits_event;
    enum event_kind kind;
};

static const struct transition_case transitions[] = {
    {WORKER_UNKNOWN, INPUT_HEARTBEAT, WORKER_UP, true, EVENT_UP},
    {WORKER_UP, INPUT_HEARTBEAT, WORKER_UP, false, EVENT_UP},
    {WORKER_DOWN, INPUT_HEARTBEAT, WORKER_UP, true, EVENT_UP},
    {WORKER_UP, INPUT_TIMEOUT, WORKER_DOWN, true, EVENT_DOWN},
    {WORKER_DOWN, INPUT_TIMEOUT, WORKER_DOWN, false, EVENT_UP},
    {WORKER_UNKNOWN, INPUT_TIMEOUT, WORKER_UNKNOWN, false, EVENT_UP},
};

static void test_transition_table(void **state)
{
    for (size_t i = 0; i < sizeof transitions / sizeof transitions[0]; i++) {
        const struct transition_case *c = &transitions[i];
        struct transition t = worker_transition(c->from, c->input);
        assert_int_equal(t.next, c->next);
        assert_int_equal(t.emits_event, c->emits_event);
        if (c->emits_event)
            assert_int_equal(t.kind, c->kind);
    }
}

struct seen {
    int count;
    char name[8][WORKER_NAME_MAX + 1];
    enum event_kind kind[8];
    enum worker_state prev[8];
    int64_t prev_since[8];
};

static void record(const struct worker_record *w, enum event_kind kind, enum worker_state prev,
                   int64_t prev_since, void *cause, void *ctx)
{
    struct seen *s = ctx;
    assert_true(s->count < 8);
    snprintf(s->name[s->count], sizeof s->name[0], "%s", w->name);
    s->kind[s->count] = kind;
    s->prev[s->count] = prev;
    s->prev_since[s->count] = prev_since;
    s->count++;
}

static struct heartbeat hb(const char *name)
{
    struct heartbeat h = {.gpus = 4, .uptime_s = 100};
    snprintf(h.name, sizeof h.name, "%s", name);
    snprintf(h.version, sizeof h.version, "0.1.0");
    return h;
}

static void test_up_down_up_with_deadlines(void **state)
{
    struct seen s = {0};
    struct fleet *f = fleet_new(1000, record, &s);
    struct heartbeat a = hb("a"), b = hb("b");
    assert_int_equal(fleet_heartbeat(f, &a, "10.0.0.1", 0, 5000, NULL), 1); /* UNKNOWN -> UP */
    assert_int_equal(s.count, 1);
    assert_int_equal(s.kind[0], EVENT_UP);
    assert_int_equal(s.prev[0], WORKER_UNKNOWN);
    fleet_heartbeat(f, &b, "10.0.0.2", 500, 5500, NULL);
    assert_int_equal(fleet_expire(f, 999, 5999), 1000); /* a's deadline is next */
    assert_int_equal(s.count, 2);
    fleet_heartbeat(f, &a, "10.0.0.9", 900, 5900, NULL); /* a refreshed: b is now first */
    assert_int_equal(fleet_expire(f, 1000, 6000), 1500);
    assert_int_equal(s.count, 2);
    assert_int_equal(fleet_expire(f, 1500, 6500), 1900);
    assert_int_equal(s.count, 3);
    assert_string_equal(s.name[2], "b");
    assert_int_equal(s.kind[2], EVENT_DOWN);
    assert_int_equal(fleet_find(f, "b")->state, WORKER_DOWN);
    assert_int_equal(fleet_find(f, "b")->state_since_ms, 6500);
    assert_string_equal(fleet_find(f, "a")->ip, "10.0.0.9");
    assert_int_equal(fleet_expire(f, 1900, 6900), -1);
    assert_int_equal(s.count, 4);
    /* b comes back: UP event with the time it went down */
    fleet_heartbeat(f, &b, "10.0.0.2", 3000, 8000, NULL);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.kind[4], EVENT_UP);
    assert_int_equal(s.prev[4], WORKER_DOWN);
    assert_int_equal(s.prev_since[4], 6500);
    size_t counts[3];
    fleet_count_states(f, counts);
    assert_int_equal(counts[WORKER_UP], 1);
    assert_int_equal(counts[WORKER_DOWN], 1);
    assert_int_equal(fleet_count(f), 2);
    fleet_free(f);
}

static void test_restore_gives_grace(void **state)
{
    struct seen s = {0};
    struct fleet *f = fleet_new(1000, record, &s);
    struct worker_record up = {.name = "up1", .state = WORKER_UP, .last_seen_ms = 1};
    struct worker_record down = {.name = "down1", .state = WORKER_DOWN};
    fleet_restore(f, &up, 50000);
    fleet_restore(f, &down, 50000);
    assert_int_equal(fleet_expire(f, 50999, 0), 51000);
    assert_int_equal(s.count, 0); /* no DOWN within FAIL_TIMEOUT of the restart */
    fleet_expire(f, 51000, 0);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.name[0], "up1");
    assert_int_equal(fleet_find(f, "down1")->state, WORKER_DOWN);
    fleet_free(f);
}

static size_t saved;
static void count_saved(const struct worker_record *recs, size_t n, void *ctx)
{
    assert_true(n <= FLEET_SAVE_SLICE);
    saved += n;
}

/* A worker is due for saving once per change of its record, not per heartbeat, and the due
 * ones are handed out in bounded slices. */
static void test_save_due_in_slices(void **state)
{
    struct fleet *f = fleet_new(1000, NULL, NULL);
    char name[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "w%d", i);
        struct heartbeat h = hb(name);
        fleet_heartbeat(f, &h, "::1", i, i, NULL);
        fleet_heartbeat(f, &h, "::1", i, i, NULL);
    }
    saved = 0;
    assert_int_equal(fleet_save_due(f, 3000, count_saved, NULL), 3000);
    assert_int_equal(saved, 3000);
    assert_int_equal(fleet_save_due(f, SIZE_MAX, count_saved, NULL), 7000);
    assert_int_equal(fleet_save_due(f, SIZE_MAX, count_saved, NULL), 0);
    assert_int_equal(saved, 10000);
    fleet_free(f);
}

static void test_save_due_only_on_change_or_lag(void **state)
{
    struct fleet *f = fleet_new(1000 * 1000, NULL, NULL);
    struct heartbeat h = hb("a");
    fleet_heartbeat(f, &h, "10.0.0.1", 0, 1000, NULL);
    saved = 0;
    fleet_save_due(f, SIZE_MAX, count_saved, NULL);
    assert_int_equal(saved, 1);
    /* Same record, newer last_seen within the lag: not due. */
    fleet_heartbeat(f, &h, "10.0.0.1", 10, 1000 + FLEET_LAST_SEEN_LAG_MS - 1, NULL);
    assert_int_equal(fleet_save_due(f, SIZE_MAX, count_saved, NULL), 0);
    /* The lag reached: due. */
    fleet_heartbeat(f, &h, "10.0.0.1", 20, 1000 + FLEET_LAST_SEEN_LAG_MS, NULL);
    assert_int_equal(fleet_save_due(f, SIZE_MAX, count_saved, NULL), 1);
    /* A new ip, version, site or gpus: due at once. */
    fleet_heartbeat(f, &h, "10.0.0.2", 30, 2000 + FLEET_LAST_SEEN_LAG_MS, NULL);
    assert_int_equal(fleet_save_due(f, SIZE_MAX, count_saved, NULL), 1);
    h.gpus = 8;
    fleet_heartbeat(f, &h, "10.0.0.2", 40, 3000 + FLEET_LAST_SEEN_LAG_MS, NULL);
    assert_int_equal(fleet_save_due(f, SIZE_MAX, count_saved, NULL), 1);
    /* At a stop, a last_seen newer than the saved one is saved however small the lag. */
    fleet_heartbeat(f, &h, "10.0.0.2", 50, 4000 + FLEET_LAST_SEEN_LAG_MS, NULL);
    saved = 0;
    fleet_save_all(f, count_saved, NULL);
    assert_int_equal(saved, 1);
    saved = 0;
    fleet_save_all(f, count_saved, NULL);
    assert_int_equal(saved, 0);
    fleet_free(f);
}

/* A state whose event the hook took is unrecorded until the recorder says it is on disk; the
 * worker's heartbeats say so meanwhile. A state change saves the record with its event. */
static void test_recorded_states(void **state)
{
    struct seen s = {0};
    struct fleet *f = fleet_new(1000, record, &s);
    struct heartbeat h = hb("a");
    assert_int_equal(fleet_heartbeat(f, &h, "::1", 0, 0, NULL), FLEET_HEARTBEAT_CHANGED);
    assert_false(fleet_is_recorded(f, "a"));
    uint64_t seq = fleet_state_seq(f, "a");
    assert_int_equal(seq, 1);
    assert_int_equal(fleet_heartbeat(f, &h, "::1", 1, 1, NULL), FLEET_HEARTBEAT_UNRECORDED);
    fleet_state_settled(f, "a", seq, true);
    assert_true(fleet_is_recorded(f, "a"));
    assert_int_equal(fleet_heartbeat(f, &h, "::1", 2, 2, NULL), FLEET_HEARTBEAT_SEEN);
    /* DOWN, then UP again before the DOWN is on disk: only the newest recorded counts. */
    fleet_expire(f, 2000, 2000);
    assert_int_equal(fleet_heartbeat(f, &h, "::1", 2001, 2001, NULL), FLEET_HEARTBEAT_CHANGED);
    fleet_state_settled(f, "a", 2, true);
    assert_false(fleet_is_recorded(f, "a"));
    fleet_state_settled(f, "a", 3, true);
    assert_true(fleet_is_recorded(f, "a"));
    assert_true(fleet_is_recorded(f, "nobody"));
    /* An event refused for good leaves the state unrecorded, but heartbeats pass again. */
    fleet_expire(f, 4100, 4100);
    assert_int_equal(fleet_heartbeat(f, &h, "::1", 4101, 4101, NULL), FLEET_HEARTBEAT_CHANGED);
    assert_int_equal(fleet_heartbeat(f, &h, "::1", 4102, 4102, NULL), FLEET_HEARTBEAT_UNRECORDED);
    fleet_state_settled(f, "a", 5, false);
    assert_false(fleet_is_recorded(f, "a"));
    assert_int_equal(fleet_heartbeat(f, &h, "::1", 4103, 4103, NULL), FLEET_HEARTBEAT_SEEN);
    assert_int_equal(fleet_save_due(f, SIZE_MAX, count_saved, NULL), 0);
    fleet_free(f);
}

static const char *order[4];
static int order_n;
static void collect(const struct worker_record *w, void *ctx)
{
    order[order_n++] = w->name;
}

static void test_sorted_iteration(void **state)
{
    struct fleet *f = fleet_new(1000, NULL, NULL);
    const char *names[] = {"m", "c", "x", "a"};
    for (int i = 0; i < 4; i++) {
        struct heartbeat h = hb(names[i]);
        fleet_heartbeat(f, &h, "1.2.3.4", 0, 0, NULL);
    }
    order_n = 0;
    fleet_each(f, true, collect, NULL);
    assert_string_equal(order[0], "a");
    assert_string_equal(order[3], "x");
    fleet_free(f);
}

static void count_stopped(const struct worker_record *w, void *ctx)
{
    (*(int *)ctx)++;
}

/* Flapping: every change with no quiet FAIL_TIMEOUT between starts it at the 9th change (weighted
 * share over 50%); a change after 3 quiet FAIL_TIMEOUTs counts them; ticks observe the quiet
 * time of flapping workers until the share is under 25%. */
static void test_worker_flapping(void **state)
{
    struct fleet *f = fleet_new(1000, NULL, NULL);
    struct heartbeat h = hb("w");
    fleet_heartbeat(f, &h, "1.2.3.4", 0, 0, NULL);
    assert_int_equal(fleet_flap_observe(f, "nobody", 1), FLAP_SAME);
    int64_t t = 1000;
    int started_at = 0;
    for (int i = 1; i <= 12 && !started_at; i++, t += 500)
        if (fleet_flap_observe(f, "w", t) == FLAP_STARTED)
            started_at = i;
    assert_int_equal(started_at, 9);
    t -= 500; /* the 9th change's time */
    assert_true(fleet_flap(f, "w")->flapping);
    int stopped = 0;
    assert_int_equal(fleet_flap_tick(f, t + 999, count_stopped, &stopped), 1); /* no period yet */
    assert_int_equal(fleet_flap(f, "w")->observed, 9);
    int64_t now = t;
    while (!stopped && now < t + 30000) {
        now += 1000;
        fleet_flap_tick(f, now, count_stopped, &stopped);
    }
    assert_int_equal(stopped, 1);
    assert_false(fleet_flap(f, "w")->flapping);
    assert_int_equal(fleet_flap_tick(f, now + 1000, count_stopped, &stopped), 0);
    /* A change after 3 quiet periods counts them: 3 unchanged observations, then the change. */
    int before = fleet_flap(f, "w")->observed;
    fleet_flap_observe(f, "w", now + 3500);
    assert_int_equal(fleet_flap(f, "w")->observed, before + 4 > 20 ? 20 : before + 4);
    assert_int_equal(fleet_flap(f, "w")->history & 0xf, 1);
    fleet_free(f);
}

/* The GPU hook: every change of count after the first heartbeat, with the count before. */
struct gpu_changes {
    int count;
    int prev[8], now[8];
};

static void record_gpus(const struct worker_record *w, int prev_gpus, void *ctx)
{
    struct gpu_changes *c = ctx;
    assert_true(c->count < 8);
    c->prev[c->count] = prev_gpus;
    c->now[c->count] = w->gpus;
    c->count++;
}

static void test_gpu_changes(void **state)
{
    struct seen seen = {0};
    struct gpu_changes changes = {0};
    struct fleet *f = fleet_new(1000, record, &seen);
    fleet_on_gpu_change(f, record_gpus, &changes);
    struct heartbeat h = hb("gpu-box");
    const int sent[] = {4, 4, 3, WORKER_GPUS_FAILED, WORKER_GPUS_FAILED, 4, 8};
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
        h.gpus = sent[i];
        fleet_heartbeat(f, &h, "10.0.0.1", (int64_t)i, (int64_t)i, NULL);
    }
    assert_int_equal(changes.count, 4); /* not the first heartbeat, not an unchanged count */
    const int prev[] = {4, 3, WORKER_GPUS_FAILED, 4}, now[] = {3, WORKER_GPUS_FAILED, 4, 8};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(changes.prev[i], prev[i]);
        assert_int_equal(changes.now[i], now[i]);
    }
    assert_int_equal(fleet_find(f, "gpu-box")->gpus, 8);
    /* Without a hook the count is kept all the same. */
    fleet_on_gpu_change(f, NULL, NULL);
    h.gpus = 2;
    fleet_heartbeat(f, &h, "10.0.0.1", 10, 10, NULL);
    assert_int_equal(changes.count, 4);
    assert_int_equal(fleet_find(f, "gpu-box")->gpus, 2);
    fleet_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpu_changes),
        cmocka_unit_test(test_transition_table),
        cmocka_unit_test(test_up_down_up_with_deadlines),
        cmocka_unit_test(test_restore_gives_grace),
        cmocka_unit_test(test_save_due_in_slices),
        cmocka_unit_test(test_save_due_only_on_change_or_lag),
        cmocka_unit_test(test_recorded_states),
        cmocka_unit_test(test_sorted_iteration),
        cmocka_unit_test(test_worker_flapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
