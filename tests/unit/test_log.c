/* test_log.c — the budget for lines outsiders can cause (base/log.h, struct log_limit): a
 * burst, then one line per interval, and a note of how many were held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/log.h"

static void test_limit_allows_a_burst_then_one_per_interval(void **state)
{
    struct log_limit limit = {.interval_ms = 100, .burst = 3};
    char note[64];
    static const struct {
        int64_t at_ms;
        bool passes;
        const char *note;
    } steps[] = {
        {1000, true, ""},
        {1000, true, ""},
        {1000, true, ""},
        {1000, false, NULL},
        {1050, false, NULL},
        {1100, true, " (2 similar lines held back)"},
        {1100, false, NULL},
        {2000, true, " (1 similar lines held back)"}, /* refilled to the burst, no more */
        {2000, true, ""},
        {2000, true, ""},
        {2000, false, NULL},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        assert_int_equal(log_limit_pass(&limit, steps[i].at_ms, note, sizeof note),
                         steps[i].passes);
        if (steps[i].passes)
            assert_string_equal(note, steps[i].note);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_allows_a_burst_then_one_per_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
