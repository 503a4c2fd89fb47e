/* test_silence.c — silences (alert/silence.h): definitions read from JSON with the exact error
 * for each bad member, the matchers (name globs, kind, severity, labels with =, != and =~), the
 * time of one-off silences and of recurring windows in Europe/Berlin, the set's match, the
 * `silences:` YAML section (errors name file, line and column) and the API's JSON shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alert/silence.h"
#include "base/config.h"
#include "base/tz.h"

#define NOW 1796040000000LL /* Monday 2026-11-30 12:00:00Z */

static struct silence *parse(const char *text, const char **field, char *err)
{
    json_error_t jerr;
    json_t *def = json_loads(text, 0, &jerr);
    assert_non_null(def);
    struct silence *s = silence_parse(def, NOW, NULL, field, err, 300);
    json_decref(def);
    return s;
}

struct bad_def {
    const char *json, *field, *error;
};

static const struct bad_def bad_defs[] = {
    {"[]", "body", "body: expected a JSON object"},
    {"{\"name\":\"a\",\"duration\":\"1h\",\"colour\":1}", "body",
     "colour: unknown member (expected name, kind, severity, labels, starts_at, ends_at, "
     "duration, cron, tz, comment, author)"},
    {"{\"duration\":\"1h\"}", "name",
     "name: at least one matcher is required (name, kind, severity or labels)"},
    {"{\"name\":5,\"duration\":\"1h\"}", "name", "name: expected text of 1 to 256 bytes"},
    {"{\"name\":\"\",\"duration\":\"1h\"}", "name", "name: expected text of 1 to 256 bytes"},
    {"{\"labels\":[\"region\"],\"duration\":\"1h\"}", "labels",
     "labels: expected key=value, key!=value or key=~regex, got \"region\""},
    {"{\"labels\":[\"=eu\"],\"duration\":\"1h\"}", "labels",
     "labels: expected key=value, key!=value or key=~regex, got \"=eu\""},
    {"{\"labels\":\"region=eu\",\"duration\":\"1h\"}", "labels",
     "labels: expected a list of at most 16 matchers such as \"region=eu\""},
    {"{\"labels\":[\"rack=~a(\"],\"duration\":\"1h\"}", "labels",
     "labels: expected a POSIX extended regex after =~, got \"a(\""},
    {"{\"name\":\"a\"}", "ends_at", "ends_at: required (or duration, or cron with duration)"},
    {"{\"name\":\"a\",\"duration\":\"2x\"}", "duration",
     "duration: expected a positive duration of at most 366d such as 2h, 1h30m, 90m or 45s, "
     "got \"2x\""},
    {"{\"name\":\"a\",\"duration\":0}", "duration",
     "duration: expected a positive duration of at most 366d such as 2h, 1h30m, 90m or 45s, "
     "got 0"},
    {"{\"name\":\"a\",\"duration\":\"400d\"}", "duration",
     "duration: expected a positive duration of at most 366d such as 2h, 1h30m, 90m or 45s, "
     "got \"400d\""},
    {"{\"name\":\"a\",\"starts_at\":\"tomorrow\",\"duration\":\"1h\"}", "starts_at",
     "starts_at: expected an ISO 8601 time such as 2026-11-30T22:00:00Z or ms since the epoch, "
     "got \"tomorrow\""},
    {"{\"name\":\"a\",\"starts_at\":\"2026-12-01T00:00:00Z\",\"ends_at\":\"2026-11-30T00:00:00Z\"}",
     "ends_at", "ends_at: expected a time after starts_at"},
    {"{\"name\":\"a\",\"ends_at\":\"2026-12-01T00:00:00Z\",\"duration\":\"1h\"}", "ends_at",
     "ends_at: give ends_at or duration, not both"},
    {"{\"name\":\"a\",\"cron\":\"0 25 * * *\",\"duration\":\"1h\"}", "cron",
     "cron: field 2 (hour): expected 0-23, got \"25\""},
    {"{\"name\":\"a\",\"cron\":\"0 2 * * *\"}", "duration",
     "duration: required with cron (how long each window lasts, such as 3h)"},
    {"{\"name\":\"a\",\"cron\":\"0 2 * * *\",\"duration\":\"1h\",\"tz\":\"Mars/Base\"}", "tz",
     "tz: unknown time zone \"Mars/Base\" (expected an IANA name such as Europe/Berlin)"},
    {"{\"name\":\"a\",\"duration\":\"1h\",\"tz\":\"UTC\"}", "tz",
     "tz: only with cron (a recurring window)"},
    {"{\"name\":\"a\",\"cron\":\"0 2 * * *\",\"duration\":\"1h\",\"ends_at\":1}", "ends_at",
     "ends_at: not allowed with cron (a recurring window)"},
};

static void test_bad_definitions(void **state)
{
    for (size_t i = 0; i < sizeof bad_defs / sizeof bad_defs[0]; i++) {
        const char *field = NULL;
        char err[300] = "";
        struct silence *s = parse(bad_defs[i].json, &field, err);
        if (s)
            fail_msg("accepted %s", bad_defs[i].json);
        assert_string_equal(err, bad_defs[i].error);
        assert_string_equal(field, bad_defs[i].field);
    }
}

static void test_durations(void **state)
{
    static const struct {
        const char *json;
        int64_t seconds; /* -1: refused */
    } cases[] = {
        {"\"2h\"", 7200},   {"\"1h30m\"", 5400}, {"\"90m\"", 5400}, {"\"45s\"", 45},
        {"\"1d\"", 86400},  {"\"90\"", 90},      {"3600", 3600},    {"\"1d2h3m4s\"", 93784},
        {"\"366d\"", 366 * 86400},
        {"\"1h30\"", -1},   {"\"\"", -1},        {"\"h\"", -1},     {"\"2x\"", -1},
        {"\"367d\"", -1},   {"-5", -1},          {"1.5", -1},       {"\"9999999999999d\"", -1},
        {"\" 2h\"", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[128], err[300];
        const char *field;
        snprintf(json, sizeof json, "{\"name\":\"a\",\"duration\":%s}", cases[i].json);
        struct silence *s = parse(json, &field, err);
        if (cases[i].seconds < 0) {
            if (s)
                fail_msg("accepted %s", cases[i].json);
            assert_string_equal(field, "duration");
            continue;
        }
        if (!s)
            fail_msg("refused %s: %s", cases[i].json, err);
        assert_true(silence_active(s, NOW + cases[i].seconds * 1000 - 1));
        assert_false(silence_active(s, NOW + cases[i].seconds * 1000));
        silence_free(s);
    }
}

/* Patterns whose unrolled size glibc's regcomp would blow up are refused before it sees them. */
static void test_regex_size(void **state)
{
    static const struct {
        const char *pattern;
        bool accepted;
    } cases[] = {
        {"a[0-9]+", true},
        {"(eu|us)-[[:alpha:]]{1,3}[]x]*", true},
        {"a{64}", true},
        {"((a+)+)+", true},
        {"a\\+\\+\\+\\+\\+\\+\\+\\+\\+\\+\\+\\+\\+", true}, /* escaped: literal plus signs */
        {"[+++++++++++++++++++++]", true},                 /* inside brackets too */
        {"a++++++++++++++++++++", false},                  /* 2^20 */
        {"((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+", false},
        {"a{100}{100}", false},
        {"a+*", false},                                    /* a repetition of a repetition */
        {"a++++*+++++0 3 * *+++++na++[0-9]+", false},      /* seconds in glibc */
        {"(a+)*", true},
        {"(a{999999999999}){2}", false},
        {"(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))", false}, /* 33 deep */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *def = json_pack("{s:s, s:[s+]}", "duration", "1h", "labels", "k=~", cases[i].pattern);
        const char *field;
        char err[300];
        struct silence *s = silence_parse(def, NOW, NULL, &field, err, sizeof err);
        json_decref(def);
        if (cases[i].accepted != (s != NULL))
            fail_msg("%s: %s", cases[i].pattern, s ? "accepted" : err);
        if (!s)
            assert_true(strstr(err, "labels: the regex after =~ repeats too much") == err);
        silence_free(s);
    }
}

static bool matches(struct silence *s, const char *kind, const char *name, const char *severity,
                    const struct label_set *labels)
{
    struct alert_match_input in = {kind, name, labels, severity};
    return silence_matches(s, &in);
}

static void test_matchers(void **state)
{
    const char *field;
    char err[300];
    struct silence *s = parse("{\"name\":\"gpu-*\",\"kind\":\"worker\",\"labels\":[\"region=eu\","
                              "\"role!=db\",\"rack=~a[0-9]+\"],\"duration\":\"2h\"}",
                              &field, err);
    assert_non_null(s);
    const struct label good[] = {{"region", "eu"}, {"role", "gpu"}, {"rack", "a12"}};
    const struct label_set set = {good, 3};
    assert_true(matches(s, "worker", "gpu-01", NULL, &set));
    assert_false(matches(s, "worker", "cpu-01", NULL, &set));   /* glob */
    assert_false(matches(s, "check", "gpu-01", NULL, &set));    /* kind */
    assert_false(matches(s, NULL, "gpu-01", NULL, &set));
    const struct label db[] = {{"region", "eu"}, {"role", "db"}, {"rack", "a1"}};
    assert_false(matches(s, "worker", "gpu-01", NULL, &(struct label_set){db, 3})); /* != */
    const struct label rack[] = {{"region", "eu"}, {"rack", "a1b"}};
    assert_false(matches(s, "worker", "gpu-01", NULL, &(struct label_set){rack, 2})); /* anchored */
    const struct label us[] = {{"region", "us"}, {"rack", "a1"}};
    assert_false(matches(s, "worker", "gpu-01", NULL, &(struct label_set){us, 2}));
    /* A missing label: "=" fails, "!=" holds (empty value), "=~" sees "". */
    const struct label no_role[] = {{"region", "eu"}, {"rack", "a7"}};
    assert_true(matches(s, "worker", "gpu-01", NULL, &(struct label_set){no_role, 2}));
    assert_false(matches(s, "worker", "gpu-01", NULL, NULL));
    silence_free(s);

    s = parse("{\"severity\":\"warning\",\"name\":\"web-[ab]?\",\"duration\":60}", &field, err);
    assert_non_null(s);
    assert_true(matches(s, "check", "web-a1", "warning", NULL));
    assert_false(matches(s, "check", "web-c1", "warning", NULL));
    assert_false(matches(s, "check", "web-a1", "critical", NULL));
    silence_free(s);
}

static void test_one_off_time(void **state)
{
    const char *field;
    char err[300];
    struct silence *s = parse("{\"name\":\"a\",\"duration\":\"1h30m\",\"comment\":\"c\","
                              "\"author\":\"alice\"}",
                              &field, err);
    assert_non_null(s);
    assert_true(silence_active(s, NOW));
    assert_true(silence_active(s, NOW + 90 * 60000 - 1));
    assert_false(silence_active(s, NOW + 90 * 60000));
    assert_false(silence_active(s, NOW - 1));
    assert_int_equal(silence_next_start(s, NOW), -1);
    silence_set_times(s, NOW, NOW + 60000);
    assert_false(silence_active(s, NOW + 60000)); /* expired */
    assert_true(silence_active(s, NOW + 59999));
    silence_free(s);

    s = parse("{\"name\":\"a\",\"starts_at\":\"2026-12-01T00:00:00Z\",\"ends_at\":1796169600000}",
              &field, err);
    assert_non_null(s);
    assert_false(silence_active(s, NOW));
    assert_int_equal(silence_next_start(s, NOW), 1796083200000LL);
    assert_true(silence_active(s, 1796083200000LL));
    silence_free(s);
}

static void test_recurring_window(void **state)
{
    const char *field;
    char err[300];
    /* Saturdays 02:00-05:00 in Berlin: 01:00Z-04:00Z in winter. */
    struct silence *s = parse("{\"kind\":\"worker\",\"cron\":\"0 2 * * 6\",\"duration\":\"3h\","
                              "\"tz\":\"Europe/Berlin\"}",
                              &field, err);
    assert_non_null(s);
    const int64_t sat = 1796432400000LL; /* 2026-12-05T01:00:00Z */
    assert_false(silence_active(s, NOW));
    assert_int_equal(silence_next_start(s, NOW), sat);
    assert_false(silence_active(s, sat - 1000));
    assert_true(silence_active(s, sat));
    assert_true(silence_active(s, sat + 3 * 3600000 - 1000));
    assert_false(silence_active(s, sat + 3 * 3600000));
    assert_int_equal(silence_next_start(s, sat), sat + 7 * 86400000LL);
    json_t *j = silence_json(s, sat);
    assert_true(json_is_true(json_object_get(j, "active")));
    assert_string_equal(json_string_value(json_object_get(j, "next_start")),
                        "2026-12-12T01:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(j, "duration")), "3h");
    assert_string_equal(json_string_value(json_object_get(j, "tz")), "Europe/Berlin");
    assert_string_equal(json_string_value(json_object_get(j, "source")), "api");
    assert_true(json_is_null(json_object_get(j, "expired_ms")));
    json_decref(j);
    silence_free(s);

    /* In summer, the same window is 00:00Z-03:00Z. */
    s = parse("{\"kind\":\"worker\",\"cron\":\"0 2 * * 6\",\"duration\":\"3h\","
              "\"tz\":\"Europe/Berlin\"}",
              &field, err);
    const int64_t summer_sat = 1783728000000LL; /* 2026-07-11T00:00:00Z */
    assert_true(silence_active(s, summer_sat));
    assert_false(silence_active(s, summer_sat - 1000));
    silence_free(s);
}

/* A cron window's zone is read once per name and then shared: after its file is gone, a second
 * silence in that zone still parses (and keeps the zone's offset), while a zone never loaded
 * is refused. */
static void test_zone_read_once(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_silence_tz_XXXXXX", cmd[256], path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "mkdir -p %s/Test && cp %s/Europe/Berlin %s/Test/Here", dir, TZ_DIR,
             dir);
    assert_int_equal(system(cmd), 0);
    const char *def = "{\"kind\":\"worker\",\"cron\":\"0 2 * * 6\",\"duration\":\"3h\","
                      "\"tz\":\"Test/Here\"}";
    json_t *j = json_loads(def, 0, NULL);
    const char *field;
    char err[300];
    struct silence *first = silence_parse(j, NOW, dir, &field, err, sizeof err);
    assert_non_null(first);
    snprintf(path, sizeof path, "%s/Test/Here", dir);
    assert_int_equal(remove(path), 0);
    silence_free(first);
    struct silence *again = silence_parse(j, NOW, dir, &field, err, sizeof err);
    assert_non_null(again);
    assert_int_equal(silence_next_start(again, NOW), 1796432400000LL); /* 02:00 CET = 01:00Z */
    silence_free(again);
    json_decref(j);

    j = json_loads("{\"kind\":\"worker\",\"cron\":\"0 2 * * 6\",\"duration\":\"3h\","
                   "\"tz\":\"Test/Gone\"}",
                   0, NULL);
    assert_null(silence_parse(j, NOW, dir, &field, err, sizeof err));
    assert_string_equal(field, "tz");
    assert_string_equal(err, "tz: unknown time zone \"Test/Gone\" (expected an IANA name such as "
                             "Europe/Berlin)");
    json_decref(j);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_set(void **state)
{
    const char *field;
    char err[300];
    struct silences *set = silences_new();
    struct silence *a = parse("{\"name\":\"db-*\",\"duration\":\"1h\"}", &field, err);
    struct silence *b = parse("{\"name\":\"gpu-*\",\"duration\":\"1h\"}", &field, err);
    silence_set_id(a, "1");
    silence_set_id(b, "2");
    assert_int_equal(silences_add(set, a), 0);
    assert_int_equal(silences_add(set, b), 0);
    struct alert_match_input in = {.kind = "worker", .name = "gpu-7"};
    assert_ptr_equal(silences_match(set, &in, NOW), b);
    assert_null(silences_match(set, &in, NOW + 3600000));
    assert_null(silences_match(NULL, &in, NOW));
    assert_ptr_equal(silences_find(set, "1"), a);
    assert_null(silences_find(set, "3"));
    silence_set_times(b, NOW, NOW + 1);
    assert_null(silences_match(set, &in, NOW + 1));
    struct silences *other = silences_new();
    assert_int_equal(silences_move(other, set), 0);
    assert_int_equal(silences_count(set), 0);
    assert_int_equal(silences_count(other), 2);
    silences_free(set);
    silences_free(other);
    silences_free(NULL);
}

static int load_yaml(const char *text, struct silence_settings *ss, char *err)
{
    struct config cfg;
    config_init(&cfg);
    config_attach(&cfg, &silence_settings_table, ss);
    int rc = config_apply_yaml_text(&cfg, "f.yaml", text, strlen(text), err, 300);
    config_free(&cfg);
    return rc;
}

static void test_yaml_section(void **state)
{
    struct silence_settings ss = {0};
    char err[300] = "";
    const char *yaml = "silences:\n"
                       "  - name: gpu-*\n"
                       "    labels: [region=eu]\n"
                       "    duration: 2h\n"
                       "    comment: planned\n"
                       "  - kind: worker\n"
                       "    cron: 0 2 * * 6\n"
                       "    duration: 3h\n"
                       "    tz: Europe/Berlin\n";
    assert_int_equal(load_yaml(yaml, &ss, err), 0);
    assert_int_equal(silences_count(ss.configured), 2);
    struct silence *first = silences_at(ss.configured, 0);
    assert_string_equal(silence_id(first), "config-1");
    assert_string_equal(silence_source(first), "f.yaml");
    assert_string_equal(silence_id(silences_at(ss.configured, 1)), "config-2");
    silences_free(ss.configured);

    static const struct {
        const char *yaml, *error;
    } bad[] = {
        {"silences:\n  - name: a\n    duration: 2x\n",
         "f.yaml:3:15: silences[0].duration: expected a positive duration of at most 366d such "
         "as 2h, 1h30m, 90m or 45s, got \"2x\""},
        {"silences:\n  - name: a\n    duration: 1h\n  - name: b\n",
         "f.yaml:4:5: silences[1]: ends_at: required (or duration, or cron with duration)"},
        {"silences:\n  - cron: 0 25 * * *\n    name: a\n    duration: 1h\n",
         "f.yaml:2:11: silences[0].cron: field 2 (hour): expected 0-23, got \"25\""},
        {"silences: none\n", "f.yaml:1:11: silences: expected a list of silences"},
        {"silences:\n  - just text\n", "f.yaml:2:5: silences[0]: expected a mapping"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct silence_settings none = {0};
        assert_int_equal(load_yaml(bad[i].yaml, &none, err), -1);
        assert_string_equal(err, bad[i].error);
        assert_null(none.configured);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_definitions), cmocka_unit_test(test_durations),
        cmocka_unit_test(test_regex_size),      cmocka_unit_test(test_matchers),
        cmocka_unit_test(test_one_off_time),    cmocka_unit_test(test_recurring_window),
        cmocka_unit_test(test_zone_read_once),  cmocka_unit_test(test_set),
        cmocka_unit_test(test_yaml_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
