/* test_metric_text.c — the Prometheus text reader: what it accepts (names, labels sorted and
 * unescaped, values, families of histograms), and for every rule the exact error of the line
 * that breaks it, with the rest of the text kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/metric_text.h"

/* What a read handed on: the samples as one line each, and the refusals. */
struct seen {
    char samples[4096];
    char refusals[4096];
};

static int on_sample(void *ctx, const struct metric_text_sample *s, char *err, size_t errlen)
{
    struct seen *seen = ctx;
    size_t n = strlen(seen->samples);
    n += (size_t)snprintf(seen->samples + n, sizeof seen->samples - n, "%zu %s/%s/%s %s{", s->line,
                          s->family, s->type, s->help ? s->help : "-", s->name);
    for (size_t i = 0; i < s->nlabels; i++)
        n += (size_t)snprintf(seen->samples + n, sizeof seen->samples - n, "%s%s=%s", i ? "," : "",
                              s->labels[i].name, s->labels[i].value);
    snprintf(seen->samples + n, sizeof seen->samples - n, "} %g\n", s->value);
    return 0;
}

static void on_refused(void *ctx, size_t line, const char *error)
{
    struct seen *seen = ctx;
    size_t n = strlen(seen->refusals);
    snprintf(seen->refusals + n, sizeof seen->refusals - n, "%zu: %s\n", line, error);
}

static int read_text(const char *text, struct seen *seen)
{
    memset(seen, 0, sizeof *seen);
    return metric_text_each(text, strlen(text), on_sample, on_refused, seen);
}

static void test_accepts_valid_text(void **state)
{
    struct seen seen;
    const char *text = "# HELP node_load1 1m load\\naverage \\\\ here.\n"
                       "# TYPE node_load1 gauge\n"
                       "node_load1 0.5\n"
                       "\n"
                       "# a comment\n"
                       "# TYPE node_cpu_seconds_total counter\n"
                       "node_cpu_seconds_total{mode=\"idle\",cpu=\"0\",} 1e3 1700000000000\r\n"
                       "  node_cpu_seconds_total { cpu = \"1\" , mode=\"a\\\"b\\\\c\\nd\" }\t-2.5\n"
                       "app:requests_total{path=\"caf\xc3\xa9\",empty=\"\"} +Inf\n"
                       "nan_value NaN\n"
                       "neg -Inf -5\n"
                       "# TYPE lat histogram\n"
                       "lat_bucket{le=\"0.1\"} 3\n"
                       "lat_bucket{le=\"+Inf\"} 4\n"
                       "lat_sum .5\n"
                       "lat_count 4\n"
                       "# TYPE q summary\n"
                       "q{quantile=\"0.5\"} 1\n"
                       "q_sum 2\n"
                       "q_count 3\n"
                       "q_bucket 1\n";
    int accepted = read_text(text, &seen);
    assert_string_equal(seen.refusals, "");
    assert_int_equal(accepted, 14);
    assert_string_equal(seen.samples,
                        "3 node_load1/gauge/1m load\naverage \\ here. node_load1{} 0.5\n"
                        "7 node_cpu_seconds_total/counter/- node_cpu_seconds_total{cpu=0,mode=idle}"
                        " 1000\n"
                        "8 node_cpu_seconds_total/counter/- node_cpu_seconds_total{cpu=1,"
                        "mode=a\"b\\c\nd} -2.5\n"
                        "9 app:requests_total/untyped/- app:requests_total{path=caf\xc3\xa9} inf\n"
                        "10 nan_value/untyped/- nan_value{} nan\n"
                        "11 neg/untyped/- neg{} -inf\n"
                        "13 lat/histogram/- lat_bucket{le=0.1} 3\n"
                        "14 lat/histogram/- lat_bucket{le=+Inf} 4\n"
                        "15 lat/histogram/- lat_sum{} 0.5\n"
                        "16 lat/histogram/- lat_count{} 4\n"
                        "18 q/summary/- q{quantile=0.5} 1\n"
                        "19 q/summary/- q_sum{} 2\n"
                        "20 q/summary/- q_count{} 3\n"
                        "21 q_bucket/untyped/- q_bucket{} 1\n");
}

struct bad_line {
    const char *text; /* the line refused is the last one */
    const char *error;
};

static const struct bad_line bad_lines[] = {
    {"2up 1", "metric name \"2up\": expected [a-zA-Z_:][a-zA-Z0-9_:]*"},
    {"up-time 1", "metric name \"up-time\": expected [a-zA-Z_:][a-zA-Z0-9_:]*"},
    {"caf\xc3\xa9 1", "metric name \"caf\\xc3\\xa9\": expected [a-zA-Z_:][a-zA-Z0-9_:]*"},
    {"up{2x=\"1\"} 1", "label name \"2x\" of metric \"up\": expected [a-zA-Z_][a-zA-Z0-9_]* not "
                       "starting with \"__\""},
    {"up{__name__=\"x\"} 1", "label name \"__name__\" of metric \"up\": expected "
                             "[a-zA-Z_][a-zA-Z0-9_]* not starting with \"__\""},
    {"up{a:b=\"x\"} 1", "label name \"a:b\" of metric \"up\": expected [a-zA-Z_][a-zA-Z0-9_]* not "
                        "starting with \"__\""},
    {"up{a=\"1\",a=\"2\"} 1", "label \"a\" of metric \"up\" given twice"},
    {"up{a=1} 1", "value of label \"a\" of metric \"up\": expected a string in double quotes"},
    {"up{a=\"x\\t\"} 1",
     "value of label \"a\" of metric \"up\": bad escape \"\\t\"; expected \\\\, \\\" or \\n"},
    {"up{a=\"x} 1", "value of label \"a\" of metric \"up\": no closing quote"},
    {"up{a=\"\xff\"} 1", "value of label \"a\" of metric \"up\": expected UTF-8 text"},
    {"up{a=\"\xed\xa0\x80\"} 1", "value of label \"a\" of metric \"up\": expected UTF-8 text"},
    {"up{a=\"x\" b=\"y\"} 1",
     "labels of metric \"up\": expected \",\" or \"}\" after the value of \"a\", got \"b\""},
    {"up{a=\"x\"", "labels of metric \"up\": no closing \"}\""},
    {"up", "value of metric \"up\": expected a float (or NaN, +Inf, -Inf), got \"\""},
    {"up one", "value of metric \"up\": expected a float (or NaN, +Inf, -Inf), got \"one\""},
    {"up 1.5e", "value of metric \"up\": expected a float (or NaN, +Inf, -Inf), got \"1.5e\""},
    {"up 0x10", "value of metric \"up\": expected a float (or NaN, +Inf, -Inf), got \"0x10\""},
    {"up 1 1.5", "timestamp of metric \"up\": expected an integer of milliseconds, got \"1.5\""},
    {"up 1 99999999999999999999",
     "timestamp of metric \"up\": expected an integer of milliseconds, got "
     "\"99999999999999999999\""},
    {"up 1 2 3", "metric \"up\": unexpected text after the timestamp: \"3\""},
    {"up{a=\"1\"} 1\nup{a=\"1\"} 2", "series of metric \"up\" given twice (first on line 1)"},
    {"up{b=\"2\",a=\"1\"} 1\nup{a=\"1\",b=\"2\"} 2",
     "series of metric \"up\" given twice (first on line 1)"},
    {"up 1\nup{a=\"\"} 2", "series of metric \"up\" given twice (first on line 1)"},
    {"# TYPE up gauge\n# TYPE up gauge", "TYPE of metric \"up\" given twice"},
    {"up 1\n# TYPE up gauge", "TYPE of metric \"up\" after its samples: expected it before the "
                              "first one"},
    {"# TYPE up gaug", "TYPE of metric \"up\": expected counter, gauge, histogram, summary or "
                       "untyped, got \"gaug\""},
    {"# TYPE 1up gauge", "TYPE line: metric name \"1up\": expected [a-zA-Z_:][a-zA-Z0-9_:]*"},
    {"# HELP up a\n# HELP up b", "HELP of metric \"up\" given twice"},
    {"# HELP up a\\tb", "HELP of metric \"up\": bad escape \"\\t\"; expected \\\\ or \\n"},
    {"# HELP up \xc3", "HELP of metric \"up\": expected UTF-8 text"},
};

static void test_refuses_each_bad_line(void **state)
{
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        struct seen seen;
        char text[512], expected[600];
        /* a good line after the bad one shows the rest of the text is kept */
        snprintf(text, sizeof text, "%s\nafter 1\n", bad_lines[i].text);
        size_t line = 1;
        for (const char *p = bad_lines[i].text; *p; p++)
            line += *p == '\n';
        int accepted = read_text(text, &seen);
        snprintf(expected, sizeof expected, "%zu: %s\n", line, bad_lines[i].error);
        if (strcmp(seen.refusals, expected) != 0)
            fail_msg("text %zu \"%s\": refused\n%s\nexpected\n%s", i, bad_lines[i].text,
                     seen.refusals, expected);
        assert_non_null(strstr(seen.samples, "after{} 1\n"));
        assert_true(accepted >= 1);
    }
}

static void test_line_too_long(void **state)
{
    size_t len = METRIC_TEXT_LINE_MAX + 10;
    char *text = malloc(len + 16);
    memset(text, 'a', len);
    memcpy(text + len, " 1\nb 2\n", 8);
    struct seen seen;
    assert_int_equal(read_text(text, &seen), 1);
    assert_string_equal(seen.refusals, "1: line longer than 65536 bytes\n");
    free(text);
}

static int refuse_odd(void *ctx, const struct metric_text_sample *s, char *err, size_t errlen)
{
    if (s->value == 1)
        return 0;
    snprintf(err, errlen, "metric \"%s\": not wanted", s->name);
    return 1;
}

static void test_callback_may_refuse(void **state)
{
    struct seen seen = {0};
    const char *text = "a 1\nb 2\nc 1\n";
    assert_int_equal(metric_text_each(text, strlen(text), refuse_odd, on_refused, &seen), 2);
    assert_string_equal(seen.refusals, "2: metric \"b\": not wanted\n");
}

static void test_parse_into_list(void **state)
{
    struct metric_list list = {0};
    struct seen seen = {0};
    const char *text = "# TYPE c_total counter\nc_total{z=\"1\",a=\"2\"} 3\n# TYPE h histogram\n"
                       "h_count 1\nbad{ 1\ng 4\n";
    assert_int_equal(metric_text_parse(text, strlen(text), &list, on_refused, &seen), 3);
    assert_int_equal(list.count, 3);
    assert_string_equal(list.items[0].name, "c_total");
    assert_string_equal(list.items[0].type, "counter");
    assert_int_equal(list.items[0].nlabels, 2);
    assert_string_equal(list.items[0].labels[0].name, "a");
    assert_string_equal(list.items[0].labels[0].value, "2");
    assert_string_equal(list.items[0].labels[1].name, "z");
    assert_true(list.items[0].value == 3);
    assert_string_equal(list.items[1].type, "histogram"); /* a histogram's part, kept as one */
    assert_string_equal(list.items[1].family, "h");
    assert_null(list.items[0].family);
    assert_string_equal(list.items[2].name, "g");
    assert_null(list.items[2].help);
    assert_string_equal(seen.refusals, "5: label name \"1\" of metric \"bad\": expected "
                                       "[a-zA-Z_][a-zA-Z0-9_]* not starting with \"__\"\n");
    metric_list_free(&list);
    assert_int_equal(list.count, 0);
    metric_list_free(NULL);
}

/* Values are read as strtod reads them, the short decimals it is spared included. */
static void test_values_as_strtod(void **state)
{
    static const char *const values[] = {"0",
                                         "-0",
                                         "+7",
                                         "1",
                                         "0.1",
                                         "0.3",
                                         "1.005",
                                         "123456789012345",
                                         "999999999999999",
                                         "1234567890123456",
                                         "9007199254740993",
                                         "4001.00",
                                         "-6001.50",
                                         "2151618412544",
                                         "0.0000000000000000000001",
                                         "0.00000000000000000000001",
                                         "1.7976931348623157e308",
                                         "1e-5",
                                         "3.14159265358979",
                                         "12.",
                                         ".5",
                                         "-.25",
                                         "1795255200.123",
                                         "00012.50"};
    char text[128];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct metric_list list = {0};
        snprintf(text, sizeof text, "m %s\n", values[i]);
        assert_int_equal(metric_text_parse(text, strlen(text), &list, NULL, NULL), 1);
        double expected = strtod(values[i], NULL);
        if (memcmp(&list.items[0].value, &expected, sizeof expected) != 0)
            fail_msg("%s read as %.17g, strtod gives %.17g", values[i], list.items[0].value,
                     expected);
        metric_list_free(&list);
    }
}

static void test_empty_and_binary_input(void **state)
{
    struct seen seen;
    assert_int_equal(read_text("", &seen), 0);
    const char bin[] = {'a', ' ', '1', '\0', 'x', '\n', '\0', '\n'};
    memset(&seen, 0, sizeof seen);
    assert_int_equal(metric_text_each(bin, sizeof bin, on_sample, on_refused, &seen), 0);
    assert_string_equal(seen.refusals,
                        "1: value of metric \"a\": expected a float (or NaN, +Inf, -Inf), got "
                        "\"1\\x00x\"\n"
                        "2: metric name \"\\x00\": expected [a-zA-Z_:][a-zA-Z0-9_:]*\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_valid_text),     cmocka_unit_test(test_refuses_each_bad_line),
        cmocka_unit_test(test_line_too_long),          cmocka_unit_test(test_callback_may_refuse),
        cmocka_unit_test(test_parse_into_list),        cmocka_unit_test(test_values_as_strtod),
        cmocka_unit_test(test_empty_and_binary_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
