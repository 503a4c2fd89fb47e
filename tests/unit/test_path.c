/* test_path.c — reading MTR paths: the "mtr" JSON of docs/rca.md, where a path stops answering
 * (rate limiting is not a fault), where that fault lies, and the fault point traces share. Each
 * trace is written as the JSON an agent logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "probe/path.h"

/* Hops: answering without loss, silent (no answer at all), or losing some of 5 probes. */
#define SILENT(ttl)                                                                                \
    "{\"ttl\":" #ttl ",\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100,\"best_ms\":null," \
    "\"avg_ms\":null,\"worst_ms\":null}"
#define GOOD(ttl, addr)                                                                            \
    "{\"ttl\":" #ttl ",\"addr\":\"" addr "\",\"sent\":5,\"received\":5,\"loss_pct\":0,"            \
    "\"best_ms\":1.0,\"avg_ms\":2.0,\"worst_ms\":3.0}"
#define LOSSY(ttl, addr, loss, received)                                                           \
    "{\"ttl\":" #ttl ",\"addr\":\"" addr "\",\"sent\":5,\"received\":" #received                   \
    ",\"loss_pct\":" #loss ",\"best_ms\":1.0,\"avg_ms\":2.0,\"worst_ms\":9.0}"
#define TRACE(reached, ...)                                                                        \
    "{\"target\":\"fl.example.net\",\"addr\":\"203.0.113.10\",\"method\":\"raw\",\"rounds\":5,"    \
    "\"reached\":" #reached ",\"hops\":[" __VA_ARGS__ "]}"

struct fault_case {
    const char *what;
    const char *mtr;
    int rc;
    bool found;
    int ttl;
    const char *addr;
    int last_good_ttl;
    const char *last_good_addr;
    enum path_segment segment;
};

static const struct fault_case fault_cases[] = {
    {"clean path to the target",
     TRACE(true, GOOD(1, "10.1.0.1") "," GOOD(2, "192.0.2.1") "," GOOD(3, "203.0.113.10")), 0,
     false, 0, "", 0, "", PATH_SEGMENT_NONE},
    {"rate-limited intermediate hop is not a fault",
     TRACE(true, GOOD(1, "10.1.0.1") "," LOSSY(2, "192.0.2.1", 60, 2) "," GOOD(
                     3, "198.51.100.1") "," GOOD(4, "203.0.113.10")),
     0, false, 0, "", 0, "", PATH_SEGMENT_NONE},
    {"silent intermediate hop is not a fault",
     TRACE(true, GOOD(1, "10.1.0.1") "," SILENT(2) "," GOOD(3, "203.0.113.10")), 0, false, 0, "", 0,
     "", PATH_SEGMENT_NONE},
    {"rate limiting before the real fault: the fault is where loss persists",
     TRACE(false, GOOD(1, "10.1.0.1") "," LOSSY(2, "192.0.2.1", 60, 2) "," GOOD(
                      3, "198.51.100.1") "," SILENT(4) "," SILENT(5)),
     0, true, 4, "", 3, "198.51.100.1", PATH_SEGMENT_TRANSIT},
    {"loss persisting from hop 4 to a lossy target",
     TRACE(true, GOOD(1, "10.1.0.1") "," GOOD(2, "192.0.2.1") "," GOOD(3, "198.51.100.1") "," LOSSY(
                     4, "198.51.100.9", 40, 3) "," LOSSY(5, "203.0.113.10", 40, 3)),
     0, true, 4, "198.51.100.9", 3, "198.51.100.1", PATH_SEGMENT_TRANSIT},
    {"loss below 20% at the end is not a fault",
     TRACE(true, GOOD(1, "10.1.0.1") "," LOSSY(2, "192.0.2.1", 10, 4) "," LOSSY(3, "203.0.113.10",
                                                                                10, 4)),
     0, false, 0, "", 0, "", PATH_SEGMENT_NONE},
    {"target not reached while all hops answer: server side",
     TRACE(false, GOOD(1, "10.1.0.1") "," GOOD(2, "192.0.2.1") "," GOOD(3, "198.51.100.1")), 0,
     true, 4, "203.0.113.10", 3, "198.51.100.1", PATH_SEGMENT_TARGET},
    {"the target itself loses while the hop before answers",
     TRACE(true, GOOD(1, "10.1.0.1") "," GOOD(2, "192.0.2.1") "," LOSSY(3, "203.0.113.10", 80, 1)),
     0, true, 3, "203.0.113.10", 2, "192.0.2.1", PATH_SEGMENT_TARGET},
    {"nothing answers, not even the gateway: local network",
     TRACE(false, SILENT(1) "," SILENT(2) "," SILENT(3)), 0, true, 1, "", 0, "",
     PATH_SEGMENT_LOCAL},
    {"gateway loses and so does everything after it",
     TRACE(false, LOSSY(1, "10.1.0.1", 60, 2) "," SILENT(2)), 0, true, 1, "10.1.0.1", 0, "",
     PATH_SEGMENT_LOCAL},
    {"probe error: nothing to judge",
     "{\"target\":\"fl.example.net\",\"addr\":\"\",\"method\":\"none\",\"rounds\":0,\"reached\":"
     "false,"
     "\"hops\":[],\"error\":\"no socket allowed\"}",
     -1, false, 0, "", 0, "", PATH_SEGMENT_NONE},
    {"no hops: nothing to judge", TRACE(false, ), -1, false, 0, "", 0, "", PATH_SEGMENT_NONE},
};

static void parse_ok(const char *text, struct trace_result *t)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        fail_msg("fixture is not JSON: %s: %s", jerr.text, text);
    char err[256] = "";
    int rc = trace_result_from_json(j, t, err, sizeof err);
    json_decref(j);
    if (rc != 0)
        fail_msg("trace_result_from_json: %s", err);
}

static void test_fault_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fault_cases / sizeof fault_cases[0]; i++) {
        const struct fault_case *c = &fault_cases[i];
        struct trace_result t;
        struct path_fault f;
        parse_ok(c->mtr, &t);
        int rc = path_fault_of(&t, &f);
        print_message("case: %s\n", c->what);
        assert_int_equal(rc, c->rc);
        assert_int_equal(f.found, c->found);
        assert_int_equal(f.segment, c->segment);
        if (!c->found)
            continue;
        assert_int_equal(f.ttl, c->ttl);
        assert_string_equal(f.addr, c->addr);
        assert_int_equal(f.last_good_ttl, c->last_good_ttl);
        assert_string_equal(f.last_good_addr, c->last_good_addr);
        assert_int_equal(f.agreeing, 1);
    }
}

static void test_common_fault_of_three_traces(void **state)
{
    (void)state;
    struct trace_result ts[4];
    /* Two agents behind one site stop after 10.0.0.1 (at different TTLs), one elsewhere. */
    parse_ok(TRACE(false, GOOD(1, "192.168.1.1") "," GOOD(2, "10.0.0.1") "," SILENT(3)), &ts[0]);
    parse_ok(TRACE(false, GOOD(1, "10.9.0.1") "," GOOD(2, "192.0.2.7") "," SILENT(3)), &ts[1]);
    parse_ok(TRACE(false, GOOD(1, "192.168.2.1") "," GOOD(2, "192.168.1.1") "," GOOD(
                              3, "10.0.0.1") "," LOSSY(4, "198.51.100.5", 60, 2)),
             &ts[2]);
    parse_ok(TRACE(true, GOOD(1, "10.1.0.1") "," GOOD(2, "203.0.113.10")), &ts[3]);
    struct path_fault f;
    assert_int_equal(path_common_fault(ts, 4, &f), 0);
    assert_true(f.found);
    assert_int_equal(f.agreeing, 2);
    assert_string_equal(f.last_good_addr, "10.0.0.1");
    assert_int_equal(f.last_good_ttl, 2);                /* the first trace of the group */
    assert_true(f.loss_pct > 79.9 && f.loss_pct < 80.1); /* (100 + 60) / 2 */

    /* All three agree. */
    parse_ok(TRACE(false, GOOD(1, "10.9.0.1") "," GOOD(2, "10.0.0.1") "," SILENT(3)), &ts[1]);
    assert_int_equal(path_common_fault(ts, 3, &f), 0);
    assert_true(f.found);
    assert_int_equal(f.agreeing, 3);
    assert_string_equal(f.last_good_addr, "10.0.0.1");

    /* No fault anywhere. */
    assert_int_equal(path_common_fault(&ts[3], 1, &f), 0);
    assert_false(f.found);
    assert_int_equal(f.agreeing, 0);
    assert_int_equal(path_common_fault(ts, 0, &f), 0);
    assert_false(f.found);
}

static void test_common_fault_without_last_good_uses_ttl(void **state)
{
    (void)state;
    struct path_fault fs[3] = {
        {.found = true, .ttl = 1, .loss_pct = 100, .agreeing = 1},
        {.found = true, .ttl = 2, .loss_pct = 100, .agreeing = 1},
        {.found = true, .ttl = 1, .loss_pct = 50, .agreeing = 1},
    };
    struct path_fault f;
    assert_int_equal(path_faults_common(fs, 3, &f), 0);
    assert_true(f.found);
    assert_int_equal(f.ttl, 1);
    assert_int_equal(f.agreeing, 2);
    assert_true(f.loss_pct > 74.9 && f.loss_pct < 75.1);
}

static void test_from_json_tolerant(void **state)
{
    (void)state;
    struct trace_result t;
    /* Hops out of order, a gap (TTL 3 missing), a missing addr, null RTTs, no loss_pct. */
    parse_ok("{\"target\":\"fl.example.net\",\"addr\":\"203.0.113.10\",\"method\":\"udp-recverr\","
             "\"reached\":null,\"hops\":["
             "{\"ttl\":4,\"addr\":\"203.0.113.10\",\"sent\":4,\"received\":1,\"best_ms\":null},"
             "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":5,\"avg_ms\":0.4},"
             "{\"ttl\":2,\"sent\":5,\"received\":0,\"avg_ms\":null}]}",
             &t);
    assert_string_equal(t.target, "fl.example.net");
    assert_int_equal(t.method, PROBE_METHOD_UDP);
    assert_false(t.reached);
    assert_int_equal(t.n_hops, 3);
    assert_int_equal(t.hops[0].ttl, 1);
    assert_true(t.hops[0].avg_ms > 0.39 && t.hops[0].avg_ms < 0.41);
    assert_int_equal(t.hops[1].ttl, 2);
    assert_string_equal(t.hops[1].addr, "");
    assert_true(t.hops[1].loss_pct > 99.9);
    assert_int_equal(t.hops[2].ttl, 4);
    assert_true(t.hops[2].loss_pct > 74.9 && t.hops[2].loss_pct < 75.1);
    assert_true(t.hops[2].best_ms == 0);

    /* Hops without a TTL are numbered after the one before. */
    parse_ok("{\"hops\":[{\"addr\":\"10.1.0.1\",\"received\":1},{\"addr\":\"10.2.0.1\"}]}", &t);
    assert_int_equal(t.hops[0].ttl, 1);
    assert_int_equal(t.hops[1].ttl, 2);

    /* A probe that could not run may have no hops at all. */
    parse_ok("{\"error\":\"no socket allowed\"}", &t);
    assert_string_equal(t.error, "no socket allowed");
    assert_int_equal(t.n_hops, 0);
}

struct json_error_case {
    const char *json;
    const char *expected;
};

static const struct json_error_case json_errors[] = {
    {"\"mtr\"", "mtr: expected an object, got \"mtr\""},
    {"{\"target\":\"x\"}", "mtr.hops: expected an array of hops, got nothing"},
    {"{\"hops\":{}}", "mtr.hops: expected an array of hops, got an object"},
    {"{\"hops\":[7]}", "mtr.hops[0]: expected an object, got 7"},
    {"{\"hops\":[{\"ttl\":1},{\"ttl\":\"x\"}]}",
     "mtr.hops[1].ttl: expected an integer from 1 to 255, got \"x\""},
    {"{\"hops\":[{\"ttl\":0}]}", "mtr.hops[0].ttl: expected an integer from 1 to 255, got 0"},
    {"{\"hops\":[{\"ttl\":1,\"loss_pct\":150}]}",
     "mtr.hops[0].loss_pct: expected a number from 0 to 100, got 150"},
    {"{\"hops\":[{\"ttl\":1,\"addr\":5}]}", "mtr.hops[0].addr: expected a string, got 5"},
    {"{\"hops\":[{\"ttl\":1,\"avg_ms\":\"fast\"}]}",
     "mtr.hops[0].avg_ms: expected a number from 0 to 1e+09, got \"fast\""},
    {"{\"reached\":\"yes\",\"hops\":[]}", "mtr.reached: expected true or false, got \"yes\""},
    {"{\"rounds\":-1,\"hops\":[]}", "mtr.rounds: expected an integer from 0 to 1000000, got -1"},
};

static void test_from_json_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof json_errors / sizeof json_errors[0]; i++) {
        json_t *j = json_loads(json_errors[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        struct trace_result t;
        char err[256] = "";
        t.n_hops = 99;
        assert_int_equal(trace_result_from_json(j, &t, err, sizeof err), -1);
        json_decref(j);
        assert_string_equal(err, json_errors[i].expected);
        assert_int_equal(t.n_hops, 0);
    }
    struct trace_result t;
    char err[64];
    assert_int_equal(trace_result_from_json(NULL, &t, err, sizeof err), -1);
    assert_string_equal(err, "mtr: expected an object, got nothing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_cases),
        cmocka_unit_test(test_common_fault_of_three_traces),
        cmocka_unit_test(test_common_fault_without_last_good_uses_ttl),
        cmocka_unit_test(test_from_json_tolerant),
        cmocka_unit_test(test_from_json_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
