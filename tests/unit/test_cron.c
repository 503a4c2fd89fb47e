/* test_cron.c — cron expressions (cron.h) and time zones read from the tz database (tz.h): what
 * the parser accepts and refuses with its exact errors, next firings in UTC and in
 * Europe/Berlin across both clock changes, and the TZif reader's offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cron.h"
#include "base/tz.h"

struct next_case {
    const char *expr, *zone; /* zone NULL: UTC */
    int64_t after, expected;
};

static const struct next_case next_cases[] = {
    /* Monday 2026-11-30 12:00Z: the next Saturday 02:00 in Berlin is 01:00Z (CET). */
    {"0 2 * * 6", "Europe/Berlin", 1796040000, 1796432400},
    /* 2026-03-29 02:30 does not exist in Berlin: it is taken as 03:30 CEST, 01:30Z. */
    {"30 2 * * *", "Europe/Berlin", 1774699200, 1774747800},
    /* 2026-10-25 02:30 happens twice: the first one (CEST, 00:30Z) fires ... */
    {"30 2 * * *", "Europe/Berlin", 1792843200, 1792888200},
    /* ... and the repeat (01:30Z) does not: the next is the 26th, 02:30 CET. */
    {"30 2 * * *", "Europe/Berlin", 1792888200, 1792978200},
    {"*/15 * * * *", NULL, 1796033250, 1796033700},
    {"*/15 * * * *", "UTC", 1796033250, 1796033700},
    {"0 0 29 2 *", NULL, 1772323200, 1835395200},       /* the next 29 February, in 2028 */
    {"0 0 13 * 5", NULL, 1796040000, 1796342400},       /* day 13 or a Friday: Friday the 4th */
    {"0 0 * * *", NULL, 1796040000, 1796083200},        /* midnight of 1 December */
    {"@daily", NULL, 1796040000, 1796083200},
    {"0 9 * jan-mar mon-fri", "Europe/Berlin", 1796040000, 1798790400}, /* Fri 1 Jan 2027 */
    {"0 9 * JAN-MAR Mon-Fri", "Europe/Berlin", 1796040000, 1798790400},
    {"0 0 * * 7", NULL, 1796040000, 1796515200},        /* 7 is Sunday: 6 December */
    {"0 0 30 2 *", NULL, 1796040000, -1},               /* never */
};

static void test_next(void **state)
{
    for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
        const struct next_case *c = &next_cases[i];
        struct cron cron;
        char err[200] = "";
        assert_int_equal(cron_parse(c->expr, &cron, err, sizeof err), 0);
        struct tz *tz = c->zone ? tz_load(c->zone, NULL, err, sizeof err) : NULL;
        if (c->zone)
            assert_non_null(tz);
        int64_t got = cron_next(&cron, tz, c->after);
        if (got != c->expected)
            fail_msg("%s in %s after %lld: got %lld, expected %lld", c->expr,
                     c->zone ? c->zone : "UTC", (long long)c->after, (long long)got,
                     (long long)c->expected);
        tz_free(tz);
    }
}

struct bad_case {
    const char *expr, *error;
};

static const struct bad_case bad_cases[] = {
    {"0 25 * * *", "field 2 (hour): expected 0-23, got \"25\""},
    {"0 2 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
    {"0 2 * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got more"},
    {"", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"},
    {"60 * * * *", "field 1 (minute): expected 0-59, got \"60\""},
    {"* * 0 * *", "field 3 (day-of-month): expected 1-31, got \"0\""},
    {"* * * 13 *", "field 4 (month): expected 1-12 or a name, got \"13\""},
    {"* * * foo *", "field 4 (month): expected 1-12 or a name, got \"foo\""},
    {"* * * * 8", "field 5 (day-of-week): expected 0-7 or a name, got \"8\""},
    {"5-1 * * * *", "field 1 (minute): expected 0-59, got \"5-1\""},
    {"*/0 * * * *", "field 1 (minute): expected 0-59, got \"*/0\""},
    {"1,,2 * * * *", "field 1 (minute): expected 0-59, got \"1,,2\""},
    {"1, * * * *", "field 1 (minute): expected 0-59, got \"1,\""},
    {"1x * * * *", "field 1 (minute): expected 0-59, got \"1x\""},
    {"@never", "expected 5 fields (minute hour day-of-month month day-of-week), got 1"},
};

static void test_refused(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct cron cron;
        char err[200] = "";
        if (cron_parse(bad_cases[i].expr, &cron, err, sizeof err) != -1)
            fail_msg("accepted \"%s\"", bad_cases[i].expr);
        assert_string_equal(err, bad_cases[i].error);
    }
    char err[200];
    struct cron cron;
    assert_int_equal(cron_parse(NULL, &cron, err, sizeof err), -1);
    assert_string_equal(err, "expected a cron expression, got nothing");
}

static void test_fields(void **state)
{
    struct cron c;
    char err[200];
    assert_int_equal(cron_parse("5/20 1-3,7 * * sun", &c, err, sizeof err), 0);
    assert_true(c.minutes == (1ull << 5 | 1ull << 25 | 1ull << 45));
    assert_int_equal(c.hours, 1u << 1 | 1u << 2 | 1u << 3 | 1u << 7);
    assert_int_equal(c.weekdays, 1);
    assert_true(c.days_star);
    assert_false(c.weekdays_star);
}

static void test_tz(void **state)
{
    char err[200] = "";
    struct tz *berlin = tz_load("Europe/Berlin", NULL, err, sizeof err);
    assert_non_null(berlin);
    assert_string_equal(tz_name(berlin), "Europe/Berlin");
    assert_int_equal(tz_offset(berlin, 1796040000), 3600);   /* November: CET */
    assert_int_equal(tz_offset(berlin, 1782820800), 7200);   /* July 2026: CEST */
    assert_int_equal(tz_offset(berlin, 1774746000 - 1), 3600); /* 2026-03-29 01:00Z - 1 s */
    assert_int_equal(tz_offset(berlin, 1774746000), 7200);
    /* 2026-10-25 02:30 local: first occurrence 00:30Z. */
    assert_int_equal(tz_local_to_utc(berlin, 1792895400), 1792888200);
    tz_free(berlin);
    struct tz *ny = tz_load("America/New_York", NULL, err, sizeof err);
    assert_non_null(ny);
    assert_int_equal(tz_offset(ny, 1796040000), -5 * 3600);
    tz_free(ny);
    struct tz *utc = tz_load("UTC", NULL, err, sizeof err);
    assert_non_null(utc);
    assert_int_equal(tz_offset(utc, 1796040000), 0);
    tz_free(utc);
    assert_null(tz_load("Mars/Base", NULL, err, sizeof err));
    assert_string_equal(err,
                        "unknown time zone \"Mars/Base\" (expected an IANA name such as "
                        "Europe/Berlin)");
    assert_null(tz_load("../../etc/passwd", NULL, err, sizeof err));
    assert_string_equal(err, "expected an IANA time zone name such as Europe/Berlin, got "
                             "\"../../etc/passwd\"");
    assert_null(tz_load("/etc/passwd", NULL, err, sizeof err));
    assert_null(tz_load("", NULL, err, sizeof err));
    /* A file that is not TZif. */
    assert_null(tz_load("zone.tab", NULL, err, sizeof err));
    tz_free(NULL);
}

/* After the last transition a file lists, its POSIX TZ rule decides (the files list up to
 * 2037); Python's zoneinfo gave the expected offsets. */
static void test_tz_rule_after_the_transitions(void **state)
{
    static const struct {
        const char *zone;
        int64_t at;
        int32_t offset;
    } cases[] = {
        {"Europe/Berlin", 2224756800, 7200},      /* 2040-07-01T12:00:00Z */
        {"Europe/Berlin", 2210241600, 3600},      /* 2040-01-15 */
        {"Europe/Berlin", 2216249999, 3600},      /* 2040-03-25T00:59:59Z */
        {"Europe/Berlin", 2216250000, 7200},      /* 01:00Z: summer time */
        {"Europe/Berlin", 2234998799, 7200},      /* 2040-10-28T00:59:59Z */
        {"Europe/Berlin", 2234998800, 3600},
        {"Australia/Sydney", 2224756800, 36000},  /* southern: winter in July */
        {"Australia/Sydney", 2210241600, 39600},
        {"America/Sao_Paulo", 2210241600, -10800}, /* "<-03>3": no summer time */
        {"America/New_York", 2382782400, -14400}, /* 2045-07-04 */
    };
    char err[200];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tz *tz = tz_load(cases[i].zone, NULL, err, sizeof err);
        assert_non_null(tz);
        if (tz_offset(tz, cases[i].at) != cases[i].offset)
            fail_msg("%s at %lld: %d, expected %d", cases[i].zone, (long long)cases[i].at,
                     tz_offset(tz, cases[i].at), cases[i].offset);
        tz_free(tz);
    }
}

/* A "slim" file: no transitions at all, only the rule. */
static void test_tz_slim_file(void **state)
{
    char dir[] = "/tmp/faultline-tz-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/Slim", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    /* Header (version 2, counts: isut isstd leap time type char), one type (+1h, "CET"). */
    static const unsigned char header[44] = {'T', 'Z', 'i', 'f', '2', [39] = 1, [43] = 4};
    static const unsigned char data[] = {0, 0, 0x0e, 0x10, 0, 0, 'C', 'E', 'T', 0};
    for (int part = 0; part < 2; part++) {
        fwrite(header, 1, sizeof header, f);
        fwrite(data, 1, sizeof data, f);
    }
    fputs("\nCET-1CEST,M3.5.0,M10.5.0/3\n", f);
    fclose(f);
    char err[200] = "";
    struct tz *tz = tz_load("Slim", dir, err, sizeof err);
    if (!tz)
        fail_msg("%s", err);
    assert_int_equal(tz_offset(tz, 1782907200), 7200); /* 2026-07-01 */
    assert_int_equal(tz_offset(tz, 1796040000), 3600); /* 2026-11-30 */
    struct cron c;
    assert_int_equal(cron_parse("0 2 * * 6", &c, err, sizeof err), 0);
    assert_int_equal(cron_next(&c, tz, 1796040000), 1796432400); /* as with the full file */
    tz_free(tz);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_tz),
        cmocka_unit_test(test_tz_rule_after_the_transitions),
        cmocka_unit_test(test_tz_slim_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
