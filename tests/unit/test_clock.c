/* test_clock.c — clock_parse_iso: the forms it accepts with their exact values, and what it
 * refuses (dates that do not exist, times without a zone, values out of range). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"

struct good_time {
    const char *text;
    int64_t wall_ms;
};

static const struct good_time good_times[] = {
    {"2026-11-21T10:00:00Z", 1795255200000LL},
    {"2026-11-21T10:00:00.123Z", 1795255200123LL},
    {"2026-11-21T10:00:00.1Z", 1795255200100LL},
    {"2026-11-21T10:00:00.123456789Z", 1795255200123LL},
    {"2026-11-21T10:00:00+00:00", 1795255200000LL},
    {"2026-11-21T12:30:00+02:30", 1795255200000LL},
    {"2026-11-21T05:00:00-05:00", 1795255200000LL},
    {"1795255200", 1795255200000LL},
    {"2024-02-29T00:00:00Z", 1709164800000LL},
    {"2000-02-29T23:59:59.999Z", 951868799999LL},
    {"2000-01-01T00:00:00Z", 946684800000LL},
    {"946684800", 946684800000LL},
    {"2099-12-31T23:59:59.999Z", 4102444799999LL},
    {"2026-12-31T23:59:59Z", 1798761599000LL},
};

static void test_accepted(void **state)
{
    for (size_t i = 0; i < sizeof good_times / sizeof good_times[0]; i++) {
        int64_t ms = 0;
        if (clock_parse_iso(good_times[i].text, &ms) != 0)
            fail_msg("refused %s", good_times[i].text);
        if (ms != good_times[i].wall_ms)
            fail_msg("%s: got %lld, expected %lld", good_times[i].text, (long long)ms,
                     (long long)good_times[i].wall_ms);
    }
}

static const char *const bad_times[] = {
    "2026-02-30T10:00:00Z", /* no such day */
    "2026-02-29T10:00:00Z", /* not a leap year */
    "2100-02-29T10:00:00Z", /* not a leap year either, and out of range */
    "2026-04-31T10:00:00Z", /* April has 30 days */
    "2026-13-01T10:00:00Z", /* no such month */
    "2026-00-10T10:00:00Z",
    "2026-11-00T10:00:00Z",
    "2026-11-21T23:59:60Z", /* leap seconds are refused */
    "2026-11-21T24:00:00Z",
    "2026-11-21T10:60:00Z",
    "2026-11-21T10:00:00",   /* no zone */
    "2026-11-21T10:00:00.5", /* no zone */
    "2026-11-21T10:00:00z",
    "2026-11-21T10:00:00+0000",
    "2026-11-21T10:00:00+24:00",
    "2026-11-21T10:00:00+01:60",
    "2026-11-21T10:00:00Z ",
    "2026-11-21T10:00:00.Z", /* a fraction needs a digit */
    "2026-11-21T10:00:00.1234567890Z",
    "2026-11-21 10:00:00Z",
    "2026-11-21T10:00Z",
    "2026-11-21",
    "2026-1-21T10:00:00Z",
    " 2026-11-21T10:00:00Z",
    "+2026-11-21T10:00:00Z",
    "1999-12-31T23:59:59.999Z",  /* before the range */
    "2100-01-01T00:00:00Z",      /* the end of the range is not in it */
    "2000-01-01T00:30:00+01:00", /* 1999 in UTC */
    "9223372036854775807",       /* overflowed to -1000 once */
    "4102444800",
    "946684799",
    "0",
    "-1",
    "1795255200.5",
    "",
    "yesterday",
};

static void test_refused(void **state)
{
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        int64_t ms = 42;
        if (clock_parse_iso(bad_times[i], &ms) != -1)
            fail_msg("accepted \"%s\" as %lld", bad_times[i], (long long)ms);
        assert_int_equal(ms, 42);
    }
}

/* Every time the server writes reads back as itself. */
static void test_format_round_trip(void **state)
{
    const int64_t times[] = {946684800000LL, 1795255332123LL, 1709164800999LL, 4102444799999LL};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char iso[CLOCK_ISO_LEN];
        int64_t ms = 0;
        clock_format_iso(times[i], iso, sizeof iso);
        assert_int_equal(clock_parse_iso(iso, &ms), 0);
        assert_int_equal(ms, times[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
