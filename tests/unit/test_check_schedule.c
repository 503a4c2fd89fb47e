/* test_check_schedule.c — the check schedule on a real loop: 1,000 runs hold their period within
 * 1% (10 ms by default, per slot: a busy machine may make it skip some; SCHEDULE_DRIFT_MS=1000
 * measures the 1 s figure), jitter spreads first
 * runs evenly and is the same for the same name, missed slots are skipped, not burst (and
 * counted), a run more than 1 s behind is counted late, 2,000 entries fire in due order with
 * removals in between, and a removed entry never fires. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "check/schedule.h"

struct drift {
    struct schedule_entry entry;
    struct schedule *schedule;
    uint64_t first_ns, last_ns;
    uint64_t first_slot, last_slot; /* the due times (ms) that fired */
    int fired, runs;
};

static void drift_fire(struct schedule_entry *e, void *ctx)
{
    struct drift *d = ctx;
    uint64_t now = uv_hrtime(), slot = e->due - e->interval;
    if (d->fired++ == 0) {
        d->first_ns = now;
        d->first_slot = slot;
    }
    d->last_ns = now;
    d->last_slot = slot;
    if (d->fired == d->runs)
        schedule_remove(d->schedule, e);
}

static void test_no_drift(void **state)
{
    const char *env = getenv("SCHEDULE_DRIFT_MS");
    uint64_t period = env ? strtoull(env, NULL, 10) : 10;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct drift d = {.runs = 1000};
    d.schedule = schedule_new(&loop, drift_fire, &d);
    schedule_add_at(d.schedule, &d.entry, period, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d.fired, 1000);
    /* Per slot: a loop stalled past a whole interval skips slots (on purpose), which must not
     * shift the ones after it. */
    uint64_t slots = (d.last_slot - d.first_slot) / period;
    double mean_ms = (double)(d.last_ns - d.first_ns) / (double)slots / 1e6;
    printf("schedule: mean period %.4f ms over 1000 runs of %llu ms (%.3f%% off, %llu slots "
           "skipped)\n",
           mean_ms, (unsigned long long)period, (mean_ms - (double)period) / (double)period * 100,
           (unsigned long long)(slots - 999));
    assert_true(mean_ms > (double)period * 0.99 && mean_ms < (double)period * 1.01);
    schedule_free(d.schedule);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

static void test_jitter(void **state)
{
    int buckets[10] = {0};
    for (int i = 0; i < 10000; i++) {
        char name[32];
        snprintf(name, sizeof name, "check-%d", i);
        uint64_t j = schedule_jitter(name, 1000);
        assert_true(j < 1000);
        assert_int_equal(j, schedule_jitter(name, 1000));
        buckets[j / 100]++;
    }
    for (int b = 0; b < 10; b++)
        if (buckets[b] < 800 || buckets[b] > 1200)
            fail_msg("bucket %d holds %d of 10000 first runs", b, buckets[b]);
    assert_int_equal(schedule_jitter("x", 0), 0);
}

struct skip {
    struct schedule_entry entry;
    struct schedule *schedule;
    int fired;
    uint64_t fire_ms[4];
};

static void skip_fire(struct schedule_entry *e, void *ctx)
{
    struct skip *s = ctx;
    s->fire_ms[s->fired] = uv_now(s->schedule ? uv_default_loop() : NULL);
    if (++s->fired == 1)
        usleep(230 * 1000); /* the loop stalls for 4.6 intervals */
    if (s->fired == 3)
        schedule_remove(s->schedule, e);
}

static void test_skips_missed_slots(void **state)
{
    uv_loop_t *loop = uv_default_loop();
    struct skip s = {0};
    s.schedule = schedule_new(loop, skip_fire, &s);
    schedule_add_at(s.schedule, &s.entry, 50, 0);
    uint64_t first_due = s.entry.due; /* the phase; the first run itself may start a ms late */
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(s.fired, 3);
    /* after the stall: one run for the missed slots, then the next slot on the original phase
     * (300 ms after the first), not the missed ones in a burst */
    uint64_t second = s.fire_ms[1] - s.fire_ms[0], third = s.fire_ms[2] - s.fire_ms[0];
    if (second < 230 || third < 295)
        fail_msg("fired at +%llu ms then +%llu ms", (unsigned long long)second,
                 (unsigned long long)third);
    assert_int_equal(s.entry.due % 50, first_due % 50);
    struct schedule_stats st = schedule_stats(s.schedule);
    assert_int_equal(st.fired, 3);
    assert_int_equal(st.late, 0); /* 230 ms behind is not late */
    if (st.skipped < 3 || st.skipped > 5)
        fail_msg("%llu slots skipped over a stall of 4.6 intervals", (unsigned long long)st.skipped);
    schedule_free(s.schedule);
    uv_run(loop, UV_RUN_DEFAULT);
}

struct counted {
    struct schedule_entry entry;
    int fired;
};

static struct schedule *removal_schedule;
static int removal_total;

static void counted_fire(struct schedule_entry *e, void *ctx)
{
    struct counted *c = (struct counted *)e;
    c->fired++;
    schedule_remove(removal_schedule, e);
    if (++removal_total == 2)
        uv_stop(ctx);
}

static void test_remove(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct counted c[3] = {0};
    removal_schedule = schedule_new(&loop, counted_fire, &loop);
    schedule_add_at(removal_schedule, &c[0].entry, 1000, 30);
    schedule_add_at(removal_schedule, &c[1].entry, 1000, 10);
    schedule_add_at(removal_schedule, &c[2].entry, 1000, 20);
    assert_int_equal(schedule_count(removal_schedule), 3);
    schedule_remove(removal_schedule, &c[1].entry);
    schedule_remove(removal_schedule, &c[1].entry); /* twice: a no-op */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c[0].fired, 1);
    assert_int_equal(c[1].fired, 0);
    assert_int_equal(c[2].fired, 1);
    assert_int_equal(schedule_count(removal_schedule), 0);
    schedule_free(removal_schedule);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

static struct schedule *late_schedule;
static int late_total;

static void late_fire(struct schedule_entry *e, void *ctx)
{
    if (late_total++ == 0)
        usleep(1100 * 1000); /* the other one is due now: it fires 1.1 s late */
    schedule_remove(late_schedule, e);
}

static void test_counts_late(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct schedule_entry e[2] = {0};
    late_schedule = schedule_new(&loop, late_fire, NULL);
    schedule_add_at(late_schedule, &e[0], 60000, 5);
    schedule_add_at(late_schedule, &e[1], 60000, 5);
    uv_run(&loop, UV_RUN_DEFAULT);
    struct schedule_stats st = schedule_stats(late_schedule);
    assert_int_equal(st.fired, 2);
    assert_int_equal(st.late, 1);
    assert_int_equal(st.skipped, 0);
    schedule_free(late_schedule);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

/* 2,000 entries due within 40 ms, a fifth of them removed before they fire: the rest fire once
 * each, in due order. */
#define MANY 2000
struct ordered {
    struct schedule_entry entry;
    uint64_t due;
    int fired;
};
static struct schedule *order_schedule;
static uint64_t order_last;
static int order_fired, order_bad;

static void ordered_fire(struct schedule_entry *e, void *ctx)
{
    struct ordered *o = (struct ordered *)e;
    o->fired++;
    order_bad += o->due < order_last;
    order_last = o->due;
    order_fired++;
    schedule_remove(order_schedule, e);
}

static void test_many_in_order(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    static struct ordered o[MANY];
    order_schedule = schedule_new(&loop, ordered_fire, NULL);
    srand(8);
    for (int i = 0; i < MANY; i++) {
        schedule_add_at(order_schedule, &o[i].entry, 3600 * 1000, (uint64_t)(rand() % 40));
        o[i].due = o[i].entry.due;
    }
    for (int i = 0; i < MANY; i += 5)
        schedule_remove(order_schedule, &o[i].entry);
    assert_int_equal(schedule_count(order_schedule), MANY - MANY / 5);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(order_fired, MANY - MANY / 5);
    assert_int_equal(order_bad, 0);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(o[i].fired, i % 5 ? 1 : 0);
    assert_int_equal(schedule_stats(order_schedule).fired, MANY - MANY / 5);
    schedule_free(order_schedule);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_many_in_order),
        cmocka_unit_test(test_counts_late),
        cmocka_unit_test(test_skips_missed_slots),
        cmocka_unit_test(test_no_drift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
