/* test_flap.c — flapping detection (alert/flap.h): the weighted share of change as Nagios
 * computes it, entering above the high threshold once, staying quiet while it lasts, and
 * leaving below the low threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alert/flap.h"

static void test_percent(void **state)
{
    struct flap_state st = {0};
    assert_true(flap_percent(&st) == 0.0);
    for (int i = 0; i < FLAP_WINDOW; i++)
        flap_update(&st, true, i, NULL);
    /* Every observation a change: the weights 0.75..1.25 average 1, so 100%. */
    assert_true(flap_percent(&st) > 99.999 && flap_percent(&st) < 100.001);
    struct flap_state one_new = {.history = 1, .observed = FLAP_WINDOW};
    struct flap_state one_old = {.history = 1u << (FLAP_WINDOW - 1), .observed = FLAP_WINDOW};
    /* The newest change weighs 1.25 (6.25%), the oldest 0.75 (3.75%). */
    assert_true(flap_percent(&one_new) > 6.249 && flap_percent(&one_new) < 6.251);
    assert_true(flap_percent(&one_old) > 3.749 && flap_percent(&one_old) < 3.751);
}

static void test_enters_once_and_leaves(void **state)
{
    struct flap_state st = {0};
    int started = 0, stopped = 0;
    int64_t now = 1000;
    /* Stable for 20 observations: never flapping. */
    for (int i = 0; i < FLAP_WINDOW; i++)
        assert_int_equal(flap_update(&st, false, now++, NULL), FLAP_SAME);
    /* Changing every time: starts once, past 50%. */
    int64_t start_at = 0;
    for (int i = 0; i < FLAP_WINDOW; i++) {
        enum flap_change c = flap_update(&st, true, now, NULL);
        if (c == FLAP_STARTED) {
            started++;
            start_at = now;
            assert_true(st.percent > FLAP_HIGH_DEFAULT);
        }
        assert_int_not_equal(c, FLAP_STOPPED);
        now++;
    }
    assert_int_equal(started, 1);
    assert_true(st.flapping);
    assert_int_equal(st.since_ms, start_at);
    /* A 9th change started it: 8 would be at most 8 * 1.25 * 5 = 50%, not above. */
    assert_int_equal(start_at, 1000 + FLAP_WINDOW + 8);
    /* Stable again: stops once, below 25%, and then stays quiet. */
    for (int i = 0; i < FLAP_WINDOW; i++) {
        enum flap_change c = flap_update(&st, false, now++, NULL);
        if (c == FLAP_STOPPED) {
            stopped++;
            assert_true(st.percent < FLAP_LOW_DEFAULT);
        }
        assert_int_not_equal(c, FLAP_STARTED);
    }
    assert_int_equal(stopped, 1);
    assert_false(st.flapping);
    assert_int_equal(st.since_ms, 0);
}

static void test_thresholds(void **state)
{
    /* Between the thresholds the state holds: hysteresis. */
    const struct flap_thresholds t = {20.0, 5.0};
    struct flap_state st = {0};
    enum flap_change last = FLAP_SAME;
    for (int i = 0; i < 5 && last != FLAP_STARTED; i++)
        last = flap_update(&st, true, i, &t);
    assert_int_equal(last, FLAP_STARTED); /* 4 newest changes: 4 * ~1.2 * 5 > 20% */
    for (int i = 0; i < 10; i++)
        assert_int_equal(flap_update(&st, i % 5 == 0, 100 + i, &t), FLAP_SAME);
    assert_true(st.flapping);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_enters_once_and_leaves),
        cmocka_unit_test(test_thresholds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
