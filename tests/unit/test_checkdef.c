/* test_checkdef.c — check definitions: a YAML file with every member read into the values the
 * docs state (defaults included), durations and their range, and each kind of error with its
 * exact file:line:column: field: message, from YAML and from JSON; duplicates across files,
 * among 20,000 names too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "check/checkdef.h"
#include "fake_probe.h"

static const char good_yaml[] = "checks:\n"
                                "  - name: api\n"
                                "    type: fake\n"
                                "    target: api.example.com:443\n"
                                "    interval: 30s\n"
                                "    timeout: 2s\n"
                                "    fail_threshold: 3\n"
                                "    success_threshold: 2\n"
                                "    conditions:\n"
                                "      - \"[CONNECTED] == true\"\n"
                                "      - warning: \"[RESPONSE_TIME] < 300ms\"\n"
                                "    tags: {team: web}\n"
                                "    run_on: {tags: {region: eu}}\n"
                                "    quorum: 2\n"
                                "    enabled: false\n"
                                "    description: the public API\n"
                                "    alerters: {warning: [telegram], critical: [telegram, pager]}\n"
                                "    depends_on: [db]\n"
                                "  - name: db\n"
                                "    type: fake\n"
                                "    target: db:5432\n";

static void test_good_file(void **state)
{
    struct checkdef_set set;
    checkdef_set_init(&set);
    assert_int_equal(checkdef_load_text(&set, "a.yaml", good_yaml, sizeof good_yaml - 1, fake_find),
                     0);
    assert_int_equal(set.n, 2);
    const struct checkdef *c = set.defs[0];
    assert_string_equal(c->name, "api");
    assert_ptr_equal(c->type, &fake_type);
    assert_int_equal(c->interval_ms, 30000);
    assert_int_equal(c->timeout_ms, 2000);
    assert_int_equal(c->fail_threshold, 3);
    assert_int_equal(c->success_threshold, 2);
    assert_int_equal(c->n_conditions, 2);
    assert_false(condition_is_warning(c->conditions[0]));
    assert_true(condition_is_warning(c->conditions[1]));
    assert_false(c->enabled);
    assert_string_equal(c->file, "a.yaml");
    assert_int_equal(c->quorum, 2);
    const struct checkdef *d = set.defs[1]; /* the defaults */
    assert_int_equal(d->interval_ms, 60000);
    assert_int_equal(d->timeout_ms, 10000);
    assert_int_equal(d->fail_threshold, 1);
    assert_int_equal(d->success_threshold, 1);
    assert_int_equal(d->n_conditions, 0);
    assert_true(d->enabled);
    checkdef_set_free(&set);
}

struct duration {
    const char *text;
    int64_t ms; /* -1: refused */
};

static const struct duration durations[] = {
    {"100ms", 100},  {"1.5s", 1500},      {"30s", 30000},        {"5m", 300000},
    {"2h", 7200000}, {"14d", 1209600000}, {"1y", 31536000000LL}, {"30", -1},
    {"s", -1},       {"5 s", -1},         {"-1s", -1},           {"1w", -1},
    {"", -1},
};

static void test_durations(void **state)
{
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        int64_t ms = -1;
        int rc = checkdef_duration_parse(durations[i].text, &ms);
        if (durations[i].ms < 0 ? rc == 0 : (rc != 0 || ms != durations[i].ms))
            fail_msg("%s: rc %d, %lld ms", durations[i].text, rc, (long long)ms);
    }
}

struct bad_file {
    const char *yaml;
    const char *error; /* the first error's text */
    int count;
};

#define CHECK_HEAD "checks:\n  - name: x\n    type: fake\n    target: h:1\n"

static const struct bad_file bad_files[] = {
    {CHECK_HEAD "    interval: 50ms\n",
     "f.yaml:5:5: checks[0].interval: 50ms is out of range (expected 100ms to 1y)", 1},
    {CHECK_HEAD "    interval: 30\n",
     "f.yaml:5:5: checks[0].interval: 30 is not a duration (expected a number and a unit: ms, "
     "s, m, h, d or y, e.g. 30s)",
     1},
    {CHECK_HEAD "    timeout: 2y\n",
     "f.yaml:5:5: checks[0].timeout: 2y is out of range "
     "(expected 100ms to 1y)",
     1},
    {CHECK_HEAD "    conditions:\n      - \"[STATUS] == 200\"\n      - \"[NOPE] > 1\"\n",
     "f.yaml:7:9: checks[0].conditions[1]: [NOPE] > 1: at column 1: unknown placeholder [NOPE]", 1},
    {"checks:\n  - name: x\n    type: fexec\n    target: h:1\n    conditions: [\"[STATUS] == "
     "1\"]\n",
     "f.yaml:5:18: checks[0].conditions[0]: [STATUS] == 1: at column 1: [STATUS] is not filled "
     "by this check's type",
     1},
    {CHECK_HEAD "    colour: red\n",
     "f.yaml:5:5: checks[0].colour: unknown member (expected "
     "a member of every check, or of fake: target, delay_ms)",
     1},
    {"checks:\n  - name: x\n    type: fexec\n    target: h:1\n    colour: red\n",
     "f.yaml:5:5: checks[0].colour: unknown member (expected target or delay_ms)", 1},
    {CHECK_HEAD "    fail_threshold: 0\n    enabled: yes\n",
     "f.yaml:5:5: checks[0].fail_threshold: 0 is not a count (expected a whole number 1 to "
     "1000)",
     2},
    {"checks:\n  - type: fake\n    target: h:1\n",
     "f.yaml:2:5: checks[0].name: missing (every check has a name)", 1},
    {"checks:\n  - name: x\n    type: smtp\n",
     "f.yaml:3:5: checks[0].type: unknown type \"smtp\" (expected tcp, http, dns, icmp or exec)",
     1},
    {"checks:\n  - name: x\n    type: fake\n    target: nocolon\n",
     "f.yaml:4:5: checks[0].target: expected host:port", 1},
    {CHECK_HEAD "    run_on: {tags: {region: 1}}\n",
     "f.yaml:5:21: checks[0].run_on.tags.region: expected text (quote numbers: \"1\")", 1},
    {CHECK_HEAD "    alerters: {warn: [telegram]}\n",
     "f.yaml:5:16: checks[0].alerters.warn: unknown member (expected warning or critical)", 1},
    {CHECK_HEAD "  - name: x\n    type: fake\n    target: h:2\n",
     "f.yaml:5:5: checks[1].name: duplicate check name \"x\" (also defined in f.yaml)", 1},
    {"check:\n  - name: x\n",
     "f.yaml:1:1: check: unknown member (a checks file has one "
     "member: checks)",
     1},
    {"checks: [\n", "f.yaml:2:1: : did not find expected node content", 1},
    {"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, "
     "*c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, "
     "*e]\n",
     "f.yaml:1:32: f[0][6][8][8][8][8]: too large (200000 values at most, aliases expanded)", 7},
    {"checks:\n  - name: bad name\n    type: fake\n    target: h:1\n",
     "f.yaml:2:5: checks[0].name: \"bad name\" is not a name (expected letters, digits, '_', "
     "'.', '-', at most 64, starting with a letter or digit)",
     1},
    {"checks:\n  - name: errors\n    type: fake\n    target: h:1\n",
     "f.yaml:2:5: checks[0].name: \"errors\" is reserved (/api/v1/checks/errors is a route of "
     "its own)",
     1},
    {"checks:\n  - name: results\n    type: fake\n    target: h:1\n",
     "f.yaml:2:5: checks[0].name: \"results\" is reserved (/api/v1/checks/results is a route of "
     "its own)",
     1},
};

static void test_bad_files(void **state)
{
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        struct checkdef_set set;
        checkdef_set_init(&set);
        int n = checkdef_load_text(&set, "f.yaml", bad_files[i].yaml, strlen(bad_files[i].yaml),
                                   fake_find);
        char text[512] = "";
        if (json_array_size(set.errors))
            checkdef_error_text(json_array_get(set.errors, 0), text, sizeof text);
        if (n != bad_files[i].count || (size_t)n != json_array_size(set.errors) ||
            strcmp(text, bad_files[i].error) != 0)
            fail_msg("case %zu: %d errors, first '%s', expected %d, '%s'", i, n, text,
                     bad_files[i].count, bad_files[i].error);
        checkdef_set_free(&set);
    }
}

static void test_duplicate_across_files(void **state)
{
    struct checkdef_set set;
    checkdef_set_init(&set);
    const char *a = "checks:\n  - {name: web, type: fake, target: \"a:1\"}\n";
    assert_int_equal(checkdef_load_text(&set, "a.yaml", a, strlen(a), fake_find), 0);
    assert_int_equal(checkdef_load_text(&set, "b.yaml", a, strlen(a), fake_find), 1);
    char text[256];
    checkdef_error_text(json_array_get(set.errors, 0), text, sizeof text);
    assert_string_equal(text, "b.yaml:2:6: checks[0].name: duplicate check name \"web\" (also "
                              "defined in a.yaml)");
    assert_int_equal(set.n, 1);
    checkdef_set_free(&set);
}

/* 20,000 checks in two files (the name index grows many times): every one kept in order, and a
 * name of the first file repeated in the second is still found. */
static void test_many_names(void **state)
{
    enum { PER_FILE = 10000 };
    size_t cap = PER_FILE * 64 + 64;
    char *text = malloc(cap);
    struct checkdef_set set;
    checkdef_set_init(&set);
    for (int f = 0; f < 2; f++) {
        size_t used = (size_t)snprintf(text, cap, "checks:\n");
        for (int i = 0; i < PER_FILE; i++)
            used += (size_t)snprintf(text + used, cap - used,
                                     "  - {name: c%05d, type: fake, target: \"h:1\"}\n",
                                     f * PER_FILE + i);
        assert_int_equal(checkdef_load_text(&set, f ? "b.yaml" : "a.yaml", text, used, fake_find),
                         0);
    }
    assert_int_equal(set.n, 2 * PER_FILE);
    for (size_t i = 0; i < set.n; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%05zu", i);
        assert_string_equal(set.defs[i]->name, name);
    }
    const char *again = "checks:\n  - {name: c04321, type: fake, target: \"h:1\"}\n";
    assert_int_equal(checkdef_load_text(&set, "c.yaml", again, strlen(again), fake_find), 1);
    char msg[256];
    checkdef_error_text(json_array_get(set.errors, 0), msg, sizeof msg);
    assert_string_equal(msg, "c.yaml:2:6: checks[0].name: duplicate check name \"c04321\" (also "
                             "defined in a.yaml)");
    assert_int_equal(set.n, 2 * PER_FILE);
    checkdef_set_free(&set);
    free(text);
}

static void test_json_errors(void **state)
{
    json_t *errors = json_array();
    json_t *def =
        json_pack("{ss ss ss ss}", "name", "x", "type", "fake", "target", "h:1", "interval", "1w");
    assert_null(checkdef_parse(def, fake_find, NULL, NULL, "", errors));
    char text[256];
    checkdef_error_text(json_array_get(errors, 0), text, sizeof text);
    assert_string_equal(text, "interval: \"1w\" is not a duration (expected a number and a "
                              "unit: ms, s, m, h, d or y, e.g. 30s)");
    json_object_set_new(def, "interval", json_string("1m"));
    struct checkdef *c = checkdef_parse(def, fake_find, NULL, NULL, "", errors);
    assert_non_null(c);
    assert_null(c->file);
    struct checkdef *same = checkdef_parse(def, fake_find, NULL, NULL, "", errors);
    assert_true(checkdef_same(c, same));
    checkdef_free(same);
    checkdef_free(c);
    json_decref(def);
    json_decref(errors);
}

static void test_load_dir(void **state)
{
    char dir[] = "/tmp/test_checkdef.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    const char *files[][2] = {
        {"b.yaml", "checks:\n  - {name: two, type: fake, target: \"b:1\"}\n"},
        {"a.yml", "checks:\n  - {name: one, type: fake, target: \"a:1\"}\n"},
        {"notes.txt", "not read"},
        {".hidden.yaml", "not read either"},
    };
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path, "w");
        fputs(files[i][1], f);
        fclose(f);
    }
    struct checkdef_set set;
    checkdef_set_init(&set);
    assert_int_equal(checkdef_load_dir(&set, dir, fake_find), 0);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.defs[0]->name, "one");
    assert_string_equal(set.defs[1]->name, "two");
    checkdef_set_free(&set);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        unlink(path);
    }
    rmdir(dir);
    checkdef_set_init(&set);
    assert_int_equal(checkdef_load_dir(&set, "/nonexistent/checks.d", fake_find), 0);
    assert_int_equal(set.n, 0);
    checkdef_set_free(&set);
    /* a directory that cannot be read is an error, not an empty set (every check removed) */
    checkdef_set_init(&set);
    assert_int_equal(checkdef_load_dir(&set, "/dev/null", fake_find), 1);
    char text[256];
    checkdef_error_text(json_array_get(set.errors, 0), text, sizeof text);
    assert_string_equal(text, "/dev/null: : cannot read the directory: Not a directory");
    checkdef_set_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),   cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bad_files),   cmocka_unit_test(test_duplicate_across_files),
        cmocka_unit_test(test_json_errors), cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_many_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
