/* test_check_agents.c — agents as runners: tag parsing and run_on matching (check/tags.h); on a
 * real loop and store with the fake check type, the checks_version of an agent's assignments
 * (changes with the set and with its tags), the assignments themselves, result batches validated
 * whole with the member named, the quorum folding of runners, one of which goes stale, the
 * message naming the failing location and where its path stops, and agents' labels and the
 * checks' states kept across a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "check/tags.h"
#include "server/checks.h"
#include "store/store.h"
#include "fake_probe.h"
#include "checks_fixture.h"

/* ---- tags ------------------------------------------------------------------------------------ */

static void test_tags_parse(void **state)
{
    char err[256];
    json_t *t = tags_parse("region=eu,role=gpu", "fra1", err, sizeof err);
    assert_non_null(t);
    char *text = json_dumps(t, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"region\":\"eu\",\"role\":\"gpu\",\"site\":\"fra1\"}");
    free(text);
    json_decref(t);
    t = tags_parse(NULL, NULL, err, sizeof err);
    assert_int_equal(json_object_size(t), 0);
    json_decref(t);
    assert_null(tags_parse("region", NULL, err, sizeof err));
    assert_string_equal(err,
                        "TAGS: expected " TAGS_EXPECTED
                        " (names and values 1-64 letters, digits or ._-:()@+), got \"region\"");
    assert_null(tags_parse("region=eu,region=us", NULL, err, sizeof err));
    assert_string_equal(err, "TAGS: the tag \"region\" is given twice");
    assert_null(tags_parse("a=b c", NULL, err, sizeof err));
    assert_null(tags_parse("a=b,", NULL, err, sizeof err)); /* an empty pair */
    assert_string_equal(err, "TAGS: expected " TAGS_EXPECTED
                             " (names and values 1-64 letters, digits or ._-:()@+), got \"\"");
    assert_true(tags_valid("a=1"));
    assert_false(tags_valid("=1"));
}

static void test_tags_match(void **state)
{
    json_t *have = json_pack("{ss ss ss}", "region", "eu", "role", "gpu", "site", "fra1");
    json_t *want = json_pack("{ss}", "region", "eu");
    assert_true(tags_match(want, have));
    json_object_set_new(want, "site", json_string("fra1"));
    assert_true(tags_match(want, have));
    json_object_set_new(want, "role", json_string("cpu"));
    assert_false(tags_match(want, have));
    json_t *empty = json_object();
    assert_true(tags_match(empty, have));
    json_t *def = json_pack("{s{s{ss}}}", "run_on", "tags", "region", "eu");
    assert_true(tags_runs_on_agents(def));
    assert_false(tags_runs_on_server(def));
    json_object_set_new(json_object_get(def, "run_on"), "server", json_true());
    assert_true(tags_runs_on_server(def));
    assert_true(tags_runs_on_server(empty));
    assert_false(tags_runs_on_agents(empty));
    json_decref(def);
    json_decref(empty);
    json_decref(want);
    json_decref(have);
}

/* ---- the engine ------------------------------------------------------------------------------ */

/* The engine on fx's loop, store and directory (at setup, and again as after a restart). */
static void open_checks(struct fixture *fx)
{
    fixture_open_checks(fx, fake_find, 300);
}

static int setup(void **state)
{
    struct fixture *fx = fixture_new("faultline-cagents");
    open_checks(fx);
    *state = fx;
    return 0;
}

static void run_for(struct fixture *fx, uint64_t ms)
{
    uv_update_time(&fx->loop);
    uint64_t end = uv_now(&fx->loop) + ms;
    while (uv_now(&fx->loop) < end)
        uv_run(&fx->loop, UV_RUN_ONCE);
}

static const char agents_yaml[] =
    "checks:\n"
    "  - {name: eu, type: fake, target: api:443, interval: 100ms, fail_threshold: 1,\n"
    "     run_on: {tags: {region: eu}}}\n"
    "  - {name: two, type: fake, target: api:443, interval: 100ms, fail_threshold: 1,\n"
    "     quorum: 2, run_on: {tags: {region: eu}}}\n"
    "  - {name: local, type: fake, target: x:1, interval: 1h}\n";

/* Loads agents_yaml and waits for it. */
static void load(struct fixture *fx)
{
    write_file(fx, "a.yaml", agents_yaml);
    for (int i = 0; i < 2000; i++) {
        json_t *j = checks_get_json(fx->checks, "two");
        json_decref(j);
        if (j)
            return;
        uv_run(&fx->loop, UV_RUN_ONCE);
    }
    fail_msg("the checks did not load");
}

static void seen(struct fixture *fx, const char *name, const char *site, const char *tags,
                 char *version)
{
    char err[256];
    if (checks_agent_seen(fx->checks, name, site, tags, version, CHECKS_VERSION_MAX, err,
                          sizeof err) != 0)
        fail_msg("%s", err);
}

static void test_version_and_assignments(void **state)
{
    struct fixture *fx = *state;
    char v1[CHECKS_VERSION_MAX], v2[CHECKS_VERSION_MAX], v3[CHECKS_VERSION_MAX], err[256];
    assert_null(checks_agent_assignments(fx->checks, "a1"));
    seen(fx, "a1", "fra1", "region=eu", v1);
    load(fx);
    seen(fx, "a1", "fra1", "region=eu", v2);
    assert_string_not_equal(v1, v2); /* the set changed */
    seen(fx, "a1", "fra1", "region=eu", v3);
    assert_string_equal(v2, v3); /* nothing changed */
    json_t *a = checks_agent_assignments(fx->checks, "a1");
    assert_string_equal(json_string_value(json_object_get(a, "version")), v3);
    json_t *list = json_object_get(a, "checks");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "eu");
    json_decref(a);
    seen(fx, "a1", "fra1", "region=us", v3);
    assert_string_not_equal(v2, v3); /* its tags changed */
    a = checks_agent_assignments(fx->checks, "a1");
    assert_int_equal(json_array_size(json_object_get(a, "checks")), 0);
    json_decref(a);
    assert_int_equal(
        checks_agent_seen(fx->checks, "a1", "", "region", v3, sizeof v3, err, sizeof err), -1);
    assert_non_null(strstr(err, "got \"region\""));
}

/* POSTs one batch (JSON text); returns the answer, or NULL with field set on a 400. */
static json_t *post(struct fixture *fx, const char *agent, const char *text, char *field)
{
    json_t *body = json_loads(text, 0, NULL);
    assert_non_null(body);
    json_t *answer = NULL;
    char err[384];
    field[0] = '\0';
    checks_agent_results(fx->checks, agent, body, &answer, field, 96, err, sizeof err);
    json_decref(body);
    return answer;
}

static void test_result_batches(void **state)
{
    struct fixture *fx = *state;
    char v[CHECKS_VERSION_MAX], field[96];
    load(fx);
    seen(fx, "a1", "fra1", "region=eu", v);
    assert_null(
        post(fx, "a1", "{\"results\": [{\"check\": \"eu\", \"state\": \"ok\"}, {}]}", field));
    assert_string_equal(field, "results[1].check");
    assert_null(post(fx, "a1", "{\"results\": [{\"check\": \"eu\", \"state\": \"bad\"}]}", field));
    assert_string_equal(field, "results[0].state");
    assert_null(post(fx, "a1",
                     "{\"results\": [{\"check\": \"eu\", \"state\": \"ok\", "
                     "\"message\": 5}]}",
                     field));
    assert_string_equal(field, "results[0].message");
    assert_null(post(fx, "a1", "{\"results\": {}}", field));
    assert_string_equal(field, "results");
    /* nothing of the refused batches was applied */
    json_t *k = checks_get_json(fx->checks, "eu");
    assert_int_equal(json_array_size(json_object_get(k, "runners")), 0);
    json_decref(k);
    json_t *a = post(fx, "a1",
                     "{\"results\": [{\"check\": \"eu\", \"state\": \"ok\", \"latency_ms\": 3},"
                     " {\"check\": \"local\", \"state\": \"ok\"}, {\"check\": \"gone\", "
                     "\"state\": \"ok\"}]}",
                     field);
    assert_non_null(a);
    assert_int_equal(json_integer_value(json_object_get(a, "accepted")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "ignored")), 2);
    json_decref(a);
    /* an agent never seen: ignored */
    a = post(fx, "stranger", "{\"results\": [{\"check\": \"eu\", \"state\": \"ok\"}]}", field);
    assert_int_equal(json_integer_value(json_object_get(a, "ignored")), 1);
    json_decref(a);
}

static const char *state_of(struct fixture *fx, const char *name, char *buf, char *message)
{
    json_t *k = checks_get_json(fx->checks, name);
    snprintf(buf, 32, "%s", json_string_value(json_object_get(k, "state")));
    const json_t *m = json_object_get(k, "message");
    snprintf(message, 600, "%s", json_is_string(m) ? json_string_value(m) : "");
    json_decref(k);
    return buf;
}

static void report(struct fixture *fx, const char *agent, const char *check, const char *state)
{
    char text[256], field[96];
    snprintf(text, sizeof text,
             "{\"results\": [{\"check\": \"%s\", \"state\": \"%s\", \"message\": \"refused\"}]}",
             check, state);
    json_t *a = post(fx, agent, text, field);
    assert_non_null(a);
    json_decref(a);
}

static void test_quorum_and_stale(void **state)
{
    struct fixture *fx = *state;
    char v[CHECKS_VERSION_MAX], s[32], m[600];
    load(fx);
    seen(fx, "a1", "fra1", "region=eu", v);
    seen(fx, "a2", "ams1", "region=eu", v);
    seen(fx, "a3", "", "region=eu", v);
    for (const char *const *c = (const char *const[]){"eu", "two", NULL}; *c; c++) {
        report(fx, "a1", *c, "critical");
        report(fx, "a2", *c, "ok");
        report(fx, "a3", *c, "ok");
    }
    /* one of three fails: a WARNING naming that location */
    assert_string_equal(state_of(fx, "eu", s, m), "warning");
    assert_string_equal(m,
                        "api:443 is unreachable from fra1 only (2 of 3 locations fine): refused");
    /* two of three: more than half, CRITICAL; a3 has no site, so its name is its location */
    report(fx, "a3", "eu", "critical");
    assert_string_equal(state_of(fx, "eu", s, m), "critical");
    assert_string_equal(
        m, "api:443 is unreachable from fra1, a3 only (1 of 3 locations fine): refused");
    /* quorum: 2 → CRITICAL at two failing runners, not before */
    assert_string_equal(state_of(fx, "two", s, m), "warning");
    report(fx, "a2", "two", "critical");
    assert_string_equal(state_of(fx, "two", s, m), "critical");
    /* a2 and a1 keep reporting, a3 stops: after 3 intervals (at least 300 ms here) it is stale
     * and not counted; for "eu" a1 fails and a2 is fine: 1 of 2 is not more than half */
    for (int i = 0; i < 12; i++) {
        report(fx, "a1", "eu", "critical");
        report(fx, "a2", "eu", "ok");
        run_for(fx, 100);
    }
    assert_string_equal(state_of(fx, "eu", s, m), "warning");
    assert_string_equal(m,
                        "api:443 is unreachable from fra1 only (1 of 2 locations fine): refused");
    json_t *k = checks_get_json(fx->checks, "eu");
    json_t *runners = json_object_get(k, "runners");
    assert_int_equal(json_array_size(runners), 3);
    size_t i;
    json_t *r;
    json_array_foreach(runners, i, r)
    {
        bool a3 = strcmp(json_string_value(json_object_get(r, "agent")), "a3") == 0;
        assert_int_equal(json_is_true(json_object_get(r, "stale")), a3);
        if (a3)
            assert_string_equal(json_string_value(json_object_get(r, "state")), "unknown");
    }
    json_decref(k);
}

static size_t runner_count(struct fixture *fx, const char *name)
{
    json_t *k = checks_get_json(fx->checks, name);
    size_t n = json_array_size(json_object_get(k, "runners"));
    json_decref(k);
    return n;
}

/* An agent that fetched its checks is a runner before its first result; one whose worker goes
 * DOWN is not counted until it reports again; one whose tags no longer match is forgotten. */
static void test_assigned_down_and_retagged(void **state)
{
    struct fixture *fx = *state;
    char v[CHECKS_VERSION_MAX], s[32], m[600];
    load(fx);
    seen(fx, "a1", "fra1", "region=eu", v);
    seen(fx, "a2", "ams1", "region=eu", v);
    json_decref(checks_agent_assignments(fx->checks, "a1"));
    json_decref(checks_agent_assignments(fx->checks, "a2"));
    assert_int_equal(runner_count(fx, "eu"), 2);
    report(fx, "a2", "eu", "ok");
    assert_string_equal(state_of(fx, "eu", s, m), "ok"); /* a1 has not decided: no WARNING */
    report(fx, "a1", "eu", "critical");
    assert_string_equal(state_of(fx, "eu", s, m), "warning"); /* 1 of 2: not more than half */
    checks_agent_down(fx->checks, "a2");
    assert_string_equal(state_of(fx, "eu", s, m), "critical"); /* a2 no longer counted */
    report(fx, "a2", "eu", "ok");
    assert_string_equal(state_of(fx, "eu", s, m), "warning");
    seen(fx, "a2", "ams1", "region=us", v);
    for (int i = 0; i < 12; i++) {
        report(fx, "a1", "eu", "critical");
        run_for(fx, 100);
    }
    assert_int_equal(runner_count(fx, "eu"), 1);
    assert_string_equal(state_of(fx, "eu", s, m), "critical");
    assert_string_equal(m, "api:443 is unreachable from fra1: refused");
}

/* A failing runner's path: the message says where it stops; an OK result drops it. */
static void test_path_evidence(void **state)
{
    struct fixture *fx = *state;
    char v[CHECKS_VERSION_MAX], s[32], m[600], field[96];
    load(fx);
    seen(fx, "a1", "fra1", "region=eu", v);
    seen(fx, "a2", "ams1", "region=eu", v);
    report(fx, "a1", "eu", "critical");
    report(fx, "a2", "eu", "ok");
    json_t *a = post(fx, "a1",
                     "{\"results\": [{\"check\": \"eu\", \"path\": {\"target\": \"api\", "
                     "\"reached\": false, \"hops\": ["
                     "{\"ttl\": 1, \"addr\": \"10.1.0.1\", \"sent\": 3, \"received\": 3},"
                     "{\"ttl\": 2, \"addr\": \"203.0.113.1\", \"sent\": 3, \"received\": 3},"
                     "{\"ttl\": 3, \"addr\": null, \"sent\": 3, \"received\": 0}]}}]}",
                     field);
    if (!a)
        fail_msg("path refused: %s", field);
    json_decref(a);
    assert_string_equal(state_of(fx, "eu", s, m), "warning");
    assert_string_equal(m, "api:443 is unreachable from fra1 only (1 of 2 locations fine): the "
                           "path from fra1 stops after hop 2 (203.0.113.1)");
    json_t *k = checks_get_json(fx->checks, "eu");
    const json_t *r = json_array_get(json_object_get(k, "runners"), 0);
    assert_string_equal(json_string_value(json_object_get(r, "agent")), "a1");
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "path"), "hops")), 3);
    json_decref(k);
    report(fx, "a1", "eu", "ok");
    assert_string_equal(state_of(fx, "eu", s, m), "ok");
    assert_string_equal(m, "");
    k = checks_get_json(fx->checks, "eu");
    assert_true(
        json_is_null(json_object_get(json_array_get(json_object_get(k, "runners"), 0), "path")));
    json_decref(k);
}

/* After a restart a check on agents keeps its state until a runner decides: an agent's first
 * failure, short of fail_threshold, does not make it unknown; its first OK resolves it. */
static void test_state_survives_restart(void **state)
{
    struct fixture *fx = *state;
    char v[CHECKS_VERSION_MAX], before[CHECKS_VERSION_MAX], s[32], m[600];
    write_file(fx, "a.yaml",
               "checks:\n  - {name: eu, type: fake, target: api:443, interval: 1h, "
               "fail_threshold: 2, run_on: {tags: {region: eu}}}\n");
    assert_int_equal(checks_reload(fx->checks), 0);
    seen(fx, "a1", "fra1", "region=eu", before);
    report(fx, "a1", "eu", "critical");
    report(fx, "a1", "eu", "critical");
    assert_string_equal(state_of(fx, "eu", s, m), "critical");
    checks_close(fx->checks);
    open_checks(fx);
    assert_string_equal(state_of(fx, "eu", s, m), "critical");
    assert_string_equal(m, "api:443 is unreachable from fra1: refused");
    /* the same set loaded again, but by a new engine: an agent holding the old version must
     * fetch, since the set may have changed while the server was down */
    seen(fx, "a1", "fra1", "region=eu", v);
    assert_string_not_equal(v, before);
    /* its labels were kept: its first batch is taken before its next heartbeat */
    char field[96];
    json_t *answer = post(fx, "a1",
                          "{\"results\": [{\"check\": \"eu\", \"state\": \"critical\", "
                          "\"message\": \"refused\"}]}",
                          field);
    assert_int_equal(json_integer_value(json_object_get(answer, "accepted")), 1);
    assert_int_equal(json_integer_value(json_object_get(answer, "ignored")), 0);
    json_decref(answer);
    seen(fx, "a1", "fra1", "region=eu", v); /* the same labels: nothing new */
    assert_string_equal(state_of(fx, "eu", s, m), "critical");
    report(fx, "a1", "eu", "ok");
    assert_string_equal(state_of(fx, "eu", s, m), "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags_parse),
        cmocka_unit_test(test_tags_match),
        cmocka_unit_test_setup_teardown(test_version_and_assignments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quorum_and_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assigned_down_and_retagged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
