/* test_checks.c — the server's check engine on a real loop, store and directory, with the fake
 * check types: a file in CHECKS_DIR is running within 1 s, an edit is live within 1 s, a bad file
 * keeps the running checks and lists its errors, unchanged checks keep their state across a
 * reload, thresholds, each state change stored as a check_state event, the bounded history,
 * enable/disable, an edit read off the loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "server/checks.h"
#include "store/store.h"
#include "fake_probe.h"
#include "checks_fixture.h"

/* A type lookup that, while held, blocks the thread that reads CHECKS_DIR until released:
 * to catch the directory being read on the loop, and a close while it is read. */
static atomic_bool hold_reads, read_waiting;
static int release_pipe[2];

static const struct probe_type *holding_find(const char *name)
{
    if (atomic_load(&hold_reads)) {
        atomic_store(&read_waiting, true);
        /* on the loop's own thread nothing would release it: give up after 3 s, and the test
         * then sees the edit applied where it must not be yet */
        struct pollfd p = {.fd = release_pipe[0], .events = POLLIN};
        char c;
        if (poll(&p, 1, 3000) == 1 && read(release_pipe[0], &c, 1) != 1)
            abort();
    }
    return fake_find(name);
}

/* The engine on fx's loop, store and directory (at setup, and again as after a restart). */
static void open_checks(struct fixture *fx)
{
    fixture_open_checks(fx, holding_find, 0);
}

static int setup(void **state)
{
    struct fixture *fx = fixture_new("faultline-checks");
    open_checks(fx);
    fake_next_result = (struct probe_result){.ran = true, .connected = true, .response_time_ms = 1};
    *state = fx;
    return 0;
}

/* The check's member as text (state, since, message), or "" when absent. */
static const char *member(struct fixture *fx, const char *name, const char *key, char *buf,
                          size_t len)
{
    json_t *j = checks_get_json(fx->checks, name);
    const json_t *v = json_object_get(j, key);
    snprintf(buf, len, "%s", json_is_string(v) ? json_string_value(v) : "");
    json_decref(j);
    return buf;
}

/* Runs the loop until name's state is want; returns the ms it took, or fails after limit_ms. */
static uint64_t wait_state(struct fixture *fx, const char *name, const char *want,
                           uint64_t limit_ms)
{
    uv_update_time(&fx->loop);
    uint64_t start = uv_now(&fx->loop);
    char buf[64];
    while (strcmp(member(fx, name, "state", buf, sizeof buf), want) != 0) {
        if (uv_now(&fx->loop) - start > limit_ms)
            fail_msg("%s: state '%s' after %llu ms, expected %s", name, buf,
                     (unsigned long long)limit_ms, want);
        uv_run(&fx->loop, UV_RUN_ONCE);
    }
    return uv_now(&fx->loop) - start;
}

/* One run now, waited for. */
static void run_once(struct fixture *fx, const char *name)
{
    json_t *j = checks_get_json(fx->checks, name);
    json_int_t before = json_integer_value(json_object_get(j, "runs"));
    size_t results = json_array_size(json_object_get(j, "results"));
    json_decref(j);
    assert_int_equal(checks_run_now(fx->checks, name), 0);
    for (int i = 0; i < 1000; i++) {
        j = checks_get_json(fx->checks, name);
        bool done = json_integer_value(json_object_get(j, "runs")) == before + 1 &&
                    (json_array_size(json_object_get(j, "results")) > results || results == 3);
        json_decref(j);
        if (done && i > 2)
            return;
        uv_run(&fx->loop, UV_RUN_ONCE);
    }
    fail_msg("%s did not run", name);
}

static const char web_yaml[] = "checks:\n"
                               "  - name: web\n"
                               "    type: fake\n"
                               "    target: web:80\n"
                               "    interval: 200ms\n"
                               "    delay_ms: 1\n";

static void test_file_runs_within_a_second(void **state)
{
    struct fixture *fx = *state;
    write_file(fx, "web.yaml", web_yaml);
    uint64_t ms = wait_state(fx, "web", "ok", 1000);
    printf("checks: a new file's check was ok after %llu ms\n", (unsigned long long)ms);
    /* an edit is live within 1 s: the target becomes unreachable */
    fake_next_result.connected = false;
    snprintf(fake_next_result.error, sizeof fake_next_result.error, "connection refused");
    write_file(fx, "web.yaml",
               "checks:\n  - {name: web, type: fake, target: \"web:81\", "
               "interval: 200ms, delay_ms: 1}\n");
    ms = wait_state(fx, "web", "critical", 1000);
    char buf[256];
    assert_string_equal(member(fx, "web", "message", buf, sizeof buf),
                        "[CONNECTED] == true failed: false (connection refused)");
    json_t *j = checks_get_json(fx->checks, "web");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "config"), "target")),
                        "web:81");
    json_decref(j);
}

static const char slow_yaml[] = "checks:\n"
                                "  - name: db\n"
                                "    type: fake\n"
                                "    target: db:5432\n"
                                "    interval: 1h\n"
                                "    fail_threshold: 2\n"
                                "    success_threshold: 2\n"
                                "    tags: {team: data}\n";

static void test_thresholds_and_events(void **state)
{
    struct fixture *fx = *state;
    write_file(fx, "db.yaml", slow_yaml);
    assert_int_equal(checks_reload(fx->checks), 0);
    char buf[64];
    fake_next_result.connected = false;
    run_once(fx, "db");
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "unknown"); /* 1 of 2 */
    run_once(fx, "db");
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "critical");
    fake_next_result.connected = true;
    run_once(fx, "db");
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "critical"); /* 1 of 2 */
    run_once(fx, "db");
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "ok");
    /* the history keeps the last 3, newest first */
    json_t *j = checks_get_json(fx->checks, "db");
    json_t *results = json_object_get(j, "results");
    assert_int_equal(json_array_size(results), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(results, 0), "state")),
                        "ok");
    assert_string_equal(json_string_value(json_object_get(json_array_get(results, 2), "state")),
                        "critical");
    json_decref(j);
    /* filters */
    j = checks_list_json(fx->checks, "ok", "team=data", "fake");
    assert_int_equal(json_array_size(json_object_get(j, "checks")), 1);
    json_decref(j);
    j = checks_list_json(fx->checks, "critical", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "checks")), 0);
    json_decref(j);
    j = checks_list_json(fx->checks, NULL, "team=web", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "checks")), 0);
    json_decref(j);
}

struct events_seen {
    int n;
    char kinds[4][96];
    bool done;
};

static void on_events(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct events_seen *seen = ctx;
    for (size_t i = 0; i < n && i < 4; i++) {
        json_t *d = json_loads(evs[i].details_json, 0, NULL);
        snprintf(seen->kinds[i], sizeof seen->kinds[i], "%s %s %s->%s",
                 event_kind_name(evs[i].kind), evs[i].worker,
                 json_string_value(json_object_get(d, "from")),
                 json_string_value(json_object_get(d, "to")));
        json_decref(d);
    }
    seen->n = (int)n;
    seen->done = true;
}

static void test_events_stored(void **state)
{
    struct fixture *fx = *state;
    write_file(fx, "db.yaml", slow_yaml);
    checks_reload(fx->checks);
    fake_next_result.connected = false;
    run_once(fx, "db");
    run_once(fx, "db");
    fake_next_result.connected = true;
    run_once(fx, "db");
    run_once(fx, "db");
    struct events_seen seen = {0};
    struct event_query q = {.limit = 10, .kinds = 1u << EVENT_CHECK_STATE};
    store_query_events(fx->store, &q, on_events, &seen);
    while (!seen.done)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(seen.n, 2); /* newest first */
    assert_string_equal(seen.kinds[0], "check_state db critical->ok");
    assert_string_equal(seen.kinds[1], "check_state db unknown->critical");
}

static void test_bad_file_keeps_running_set(void **state)
{
    struct fixture *fx = *state;
    write_file(fx, "db.yaml", slow_yaml);
    checks_reload(fx->checks);
    fake_next_result.connected = false;
    run_once(fx, "db");
    run_once(fx, "db");
    char since[64], buf[64];
    member(fx, "db", "since", since, sizeof since);
    write_file(fx, "zz.yaml",
               "checks:\n  - name: other\n    type: fake\n    target: x:1\n"
               "    interval: 10\n");
    assert_int_equal(checks_reload(fx->checks), 1);
    json_t *e = checks_errors_json(fx->checks);
    char text[512];
    checkdef_error_text(json_array_get(json_object_get(e, "errors"), 0), text, sizeof text);
    char want[512];
    snprintf(want, sizeof want,
             "%s/zz.yaml:5:5: checks[0].interval: 10 is not a duration "
             "(expected a number and a unit: ms, s, m, h, d or y, e.g. 30s)",
             fx->checks_dir);
    assert_string_equal(text, want);
    json_decref(e);
    assert_null(checks_get_json(fx->checks, "other"));
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "critical");
    /* fixed: both run; db was not changed, so it keeps its state and since */
    write_file(fx, "zz.yaml", "checks:\n  - {name: other, type: fake, target: \"x:1\"}\n");
    assert_int_equal(checks_reload(fx->checks), 0);
    e = checks_errors_json(fx->checks);
    assert_int_equal(json_array_size(json_object_get(e, "errors")), 0);
    json_decref(e);
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "critical");
    assert_string_equal(member(fx, "db", "since", buf, sizeof buf), since);
    assert_string_equal(member(fx, "other", "state", buf, sizeof buf), "unknown");
    /* removed from the files: gone */
    char path[160];
    snprintf(path, sizeof path, "%s/zz.yaml", fx->checks_dir);
    unlink(path);
    assert_int_equal(checks_reload(fx->checks), 0);
    assert_null(checks_get_json(fx->checks, "other"));
}

struct answer {
    int status;
    json_t *body;
    bool done;
};

static void on_answer(int status, json_t *body, void *ctx)
{
    struct answer *a = ctx;
    a->status = status;
    a->body = body;
    a->done = true;
}

/* POST .../enable or .../disable by admin, once stored: its status (the body dropped). */
static int set_enabled(struct fixture *fx, const char *name, bool enabled)
{
    struct answer a = {0};
    checks_set_enabled(fx->checks, name, enabled, "admin", on_answer, &a);
    while (!a.done)
        uv_run(&fx->loop, UV_RUN_ONCE);
    json_decref(a.body);
    return a.status;
}

static void test_enable_disable(void **state)
{
    struct fixture *fx = *state;
    write_file(fx, "web.yaml", web_yaml);
    wait_state(fx, "web", "ok", 1000);
    assert_int_equal(set_enabled(fx, "web", false), 200);
    json_t *j = checks_get_json(fx->checks, "web");
    json_int_t runs = json_integer_value(json_object_get(j, "runs"));
    assert_false(json_is_true(json_object_get(j, "enabled")));
    json_decref(j);
    uv_update_time(&fx->loop);
    uint64_t until = uv_now(&fx->loop) + 600; /* three intervals */
    while (uv_now(&fx->loop) < until)
        uv_run(&fx->loop, UV_RUN_ONCE);
    j = checks_get_json(fx->checks, "web");
    assert_int_equal(json_integer_value(json_object_get(j, "runs")), runs);
    json_decref(j);
    assert_int_equal(set_enabled(fx, "web", true), 200);
    assert_int_equal(set_enabled(fx, "nope", true), 404);
    assert_int_equal(checks_run_now(fx->checks, "nope"), -1);
}

static struct answer put(struct fixture *fx, const char *name, const char *json)
{
    struct answer a = {0};
    json_t *def = json_loads(json, 0, NULL);
    checks_put(fx->checks, name, def, on_answer, &a);
    json_decref(def);
    while (!a.done)
        uv_run(&fx->loop, UV_RUN_ONCE);
    return a;
}

static struct answer delete (struct fixture *fx, const char *name)
{
    struct answer a = {0};
    checks_delete(fx->checks, name, on_answer, &a);
    while (!a.done)
        uv_run(&fx->loop, UV_RUN_ONCE);
    return a;
}

static const char *error_of(const struct answer *a)
{
    return json_string_value(json_object_get(a->body, "error"));
}

static void reopen(struct fixture *fx)
{
    checks_close(fx->checks);
    open_checks(fx);
}

static void test_api_checks(void **state)
{
    struct fixture *fx = *state;
    struct answer a = put(fx, NULL,
                          "{\"name\": \"api1\", \"type\": \"fake\", \"target\": \"a:1\","
                          " \"interval\": \"1h\"}");
    assert_int_equal(a.status, 201);
    assert_string_equal(json_string_value(json_object_get(a.body, "source")), "api");
    json_decref(a.body);
    a = put(fx, NULL, "{\"name\": \"api1\", \"type\": \"fake\", \"target\": \"a:1\"}");
    assert_int_equal(a.status, 409);
    assert_string_equal(error_of(&a), "check api1 exists: PUT /api/v1/checks/api1 replaces it");
    json_decref(a.body);
    a = put(fx, NULL,
            "{\"name\": \"api2\", \"type\": \"fake\", \"target\": \"a:1\", "
            "\"interval\": \"5\"}");
    assert_int_equal(a.status, 400);
    assert_string_equal(error_of(&a), "interval: \"5\" is not a duration (expected a number and a "
                                      "unit: ms, s, m, h, d or y, e.g. 30s)");
    assert_string_equal(json_string_value(json_object_get(a.body, "field")), "interval");
    json_decref(a.body);
    a = put(fx, "api1", "{\"name\": \"other\", \"type\": \"fake\", \"target\": \"a:1\"}");
    assert_int_equal(a.status, 400);
    json_decref(a.body);
    a = put(fx, "api1", "{\"type\": \"fake\", \"target\": \"a:2\", \"interval\": \"1h\"}");
    assert_int_equal(a.status, 200);
    json_decref(a.body);
    /* a file's check cannot be changed or deleted here: 409 naming the file */
    write_file(fx, "db.yaml", slow_yaml);
    assert_int_equal(checks_reload(fx->checks), 0);
    a = put(fx, "db", "{\"type\": \"fake\", \"target\": \"a:1\"}");
    assert_int_equal(a.status, 409);
    char want[300];
    snprintf(want, sizeof want, "check db is defined in %s/db.yaml: change it there",
             fx->checks_dir);
    assert_string_equal(error_of(&a), want);
    json_decref(a.body);
    a = delete (fx, "db");
    assert_int_equal(a.status, 409);
    json_decref(a.body);
    /* a file may not take an API check's name */
    write_file(fx, "clash.yaml", "checks:\n  - {name: api1, type: fake, target: \"c:1\"}\n");
    assert_int_equal(checks_reload(fx->checks), 1);
    unlink(strcat(strcpy(want, fx->checks_dir), "/clash.yaml"));
    assert_int_equal(checks_reload(fx->checks), 0);
    /* disabled, kept across a restart with its new target */
    assert_int_equal(set_enabled(fx, "api1", false), 200);
    a = put(fx, NULL, "{\"name\": \"api3\", \"type\": \"fake\", \"target\": \"a:3\"}");
    assert_int_equal(a.status, 201);
    json_decref(a.body);
    reopen(fx);
    json_t *j = checks_get_json(fx->checks, "api1");
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "config"), "target")),
                        "a:2");
    assert_false(json_is_true(json_object_get(j, "enabled")));
    json_decref(j);
    a = delete (fx, "api1");
    assert_int_equal(a.status, 204);
    a = delete (fx, "api1");
    assert_int_equal(a.status, 404);
    json_decref(a.body);
    reopen(fx);
    assert_null(checks_get_json(fx->checks, "api1"));
    j = checks_get_json(fx->checks, "api3");
    assert_non_null(j);
    json_decref(j);
}

/* enabled, enabled_by and the override's user of a check, as "true api admin". */
static const char *enabled_view(struct fixture *fx, const char *name, char *buf, size_t len)
{
    json_t *j = checks_get_json(fx->checks, name);
    const json_t *ov = json_object_get(j, "override");
    snprintf(buf, len, "%s %s %s", json_is_true(json_object_get(j, "enabled")) ? "true" : "false",
             json_string_value(json_object_get(j, "enabled_by")),
             json_is_object(ov) ? json_string_value(json_object_get(ov, "by")) : "-");
    json_decref(j);
    return buf;
}

/* The API's enable/disable of a file's check holds across a restart and a reload, until the
 * file's own enabled changes; asking for what the file says clears it. */
static void test_enable_survives_restart(void **state)
{
    struct fixture *fx = *state;
    char buf[64];
    write_file(fx, "web.yaml", web_yaml);
    assert_int_equal(checks_reload(fx->checks), 0);
    assert_int_equal(set_enabled(fx, "web", false), 200);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "false api admin");
    reopen(fx);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "false api admin");
    assert_int_equal(checks_stats(fx->checks).scheduled, 0);
    /* another edit of the file that leaves enabled alone: the override holds */
    write_file(fx, "web.yaml",
               "checks:\n  - {name: web, type: fake, target: \"x:2\", "
               "interval: 200ms}\n");
    assert_int_equal(checks_reload(fx->checks), 0);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "false api admin");
    /* enabled as the file says: no override left, across a restart too */
    assert_int_equal(set_enabled(fx, "web", true), 200);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "true definition -");
    reopen(fx);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "true definition -");
    assert_int_equal(checks_stats(fx->checks).scheduled, 1);
    /* the file disables it, the API enables it: the API's word holds across a restart ... */
    write_file(fx, "web.yaml",
               "checks:\n  - {name: web, type: fake, target: \"x:2\", "
               "enabled: false}\n");
    assert_int_equal(checks_reload(fx->checks), 0);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "false definition -");
    assert_int_equal(set_enabled(fx, "web", true), 200);
    reopen(fx);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "true api admin");
    /* ... until the file's enabled changes: then the file decides, and goes on deciding */
    write_file(fx, "web.yaml", "checks:\n  - {name: web, type: fake, target: \"x:2\"}\n");
    assert_int_equal(checks_reload(fx->checks), 0);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "true definition -");
    write_file(fx, "web.yaml",
               "checks:\n  - {name: web, type: fake, target: \"x:2\", "
               "enabled: false}\n");
    assert_int_equal(checks_reload(fx->checks), 0);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "false definition -");
    reopen(fx);
    assert_string_equal(enabled_view(fx, "web", buf, sizeof buf), "false definition -");
}

/* The names of the running checks in list order, comma-separated, into out. */
static const char *names(struct fixture *fx, char *out, size_t len)
{
    json_t *l = checks_list_json(fx->checks, NULL, NULL, NULL);
    size_t i, used = 0;
    json_t *k;
    out[0] = '\0';
    json_array_foreach(json_object_get(l, "checks"), i, k)
    {
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "",
                                 json_string_value(json_object_get(k, "name")));
    }
    json_decref(l);
    return out;
}

/* A reload merges the files' checks (in file order, not name order) into the running set: an
 * unchanged check keeps its state and since (its members in another order too), a changed one
 * starts anew, a removed one goes, an API check stays; the list stays sorted by name. */
static void test_reload_merges(void **state)
{
    struct fixture *fx = *state;
    struct answer a = put(fx, NULL,
                          "{\"name\": \"m-api\", \"type\": \"fake\", \"target\": \"a:1\","
                          " \"interval\": \"1h\"}");
    assert_int_equal(a.status, 201);
    json_decref(a.body);
    write_file(fx, "b.yaml",
               "checks:\n  - {name: z-last, type: fake, target: \"z:1\", interval: 1h}\n"
               "  - {name: a-first, type: fake, target: \"a:1\", interval: 1h}\n");
    write_file(fx, "a.yaml",
               "checks:\n  - {name: n-next, type: fake, target: \"n:1\", interval: 1h}\n"
               "  - {name: k-mid, type: fake, target: \"k:1\", interval: 1h}\n");
    assert_int_equal(checks_reload(fx->checks), 0);
    char buf[256], since[64];
    assert_string_equal(names(fx, buf, sizeof buf), "a-first,k-mid,m-api,n-next,z-last");
    fake_next_result.connected = false;
    run_once(fx, "a-first");
    run_once(fx, "z-last");
    assert_string_equal(member(fx, "a-first", "state", buf, sizeof buf), "critical");
    member(fx, "a-first", "since", since, sizeof since);
    write_file(fx, "b.yaml",
               "checks:\n  - {name: z-last, type: fake, target: \"z:2\", interval: 1h}\n"
               "  - {target: \"a:1\", interval: 1h, type: fake, name: a-first}\n");
    write_file(fx, "a.yaml",
               "checks:\n  - {name: n-next, type: fake, target: \"n:1\", interval: 1h}\n"
               "  - {name: b-new, type: fake, target: \"b:1\", interval: 1h}\n");
    assert_int_equal(checks_reload(fx->checks), 0);
    assert_string_equal(names(fx, buf, sizeof buf), "a-first,b-new,m-api,n-next,z-last");
    assert_string_equal(member(fx, "a-first", "state", buf, sizeof buf), "critical");
    assert_string_equal(member(fx, "a-first", "since", buf, sizeof buf), since);
    assert_string_equal(member(fx, "z-last", "state", buf, sizeof buf), "unknown");
    assert_string_equal(member(fx, "b-new", "state", buf, sizeof buf), "unknown");
    assert_null(checks_get_json(fx->checks, "k-mid"));
}

/* A restart keeps each check's state, since and message (its latest check_state event): a
 * problem told before it is resolved after it, and the thresholds go on from the kept state. */
static void test_state_survives_restart(void **state)
{
    struct fixture *fx = *state;
    write_file(fx, "db.yaml", slow_yaml);
    assert_int_equal(checks_reload(fx->checks), 0);
    fake_next_result.connected = false;
    run_once(fx, "db");
    run_once(fx, "db");
    char since[64], buf[256];
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "critical");
    member(fx, "db", "since", since, sizeof since);
    reopen(fx);
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "critical");
    assert_string_equal(member(fx, "db", "since", buf, sizeof buf), since);
    assert_string_equal(member(fx, "db", "message", buf, sizeof buf),
                        "[CONNECTED] == true failed: false");
    fake_next_result.connected = true;
    run_once(fx, "db");
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "critical"); /* 1 of 2 */
    run_once(fx, "db");
    assert_string_equal(member(fx, "db", "state", buf, sizeof buf), "ok");
    struct events_seen seen = {0};
    struct event_query q = {.limit = 10, .kinds = 1u << EVENT_CHECK_STATE};
    store_query_events(fx->store, &q, on_events, &seen);
    while (!seen.done)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(seen.n, 2); /* newest first */
    assert_string_equal(seen.kinds[0], "check_state db critical->ok");
    assert_string_equal(seen.kinds[1], "check_state db unknown->critical");
}

/* An edit of CHECKS_DIR is read off the loop: while the read is held, the loop keeps serving
 * (the running check answers, timers fire); a close while it is read leaks nothing (ASan). */
static void test_edit_read_off_the_loop(void **state)
{
    struct fixture *fx = *state;
    write_file(fx, "web.yaml", web_yaml);
    wait_state(fx, "web", "ok", 1000);
    assert_int_equal(pipe(release_pipe), 0); /* left open: the held read may still be in it */
    atomic_store(&hold_reads, true);
    write_file(fx, "db.yaml", slow_yaml);
    uv_update_time(&fx->loop);
    uint64_t start = uv_now(&fx->loop);
    while (!atomic_load(&read_waiting)) {
        if (uv_now(&fx->loop) - start > 2000)
            fail_msg("the edit was not read within 2 s");
        uv_run(&fx->loop, UV_RUN_ONCE); /* returns: the loop is not the one reading */
    }
    char buf[64];
    assert_string_equal(member(fx, "web", "state", buf, sizeof buf), "ok");
    assert_null(checks_get_json(fx->checks, "db")); /* not applied while it is read */
    checks_close(fx->checks);
    fx->checks = NULL;
    atomic_store(&hold_reads, false);
    assert_int_equal(write(release_pipe[1], "x", 1), 1);
    uv_run(&fx->loop, UV_RUN_NOWAIT); /* teardown runs the loop until the read is done */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_runs_within_a_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thresholds_and_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_file_keeps_running_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_read_off_the_loop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
