/* test_agent_metrics.c — the agents' pushed samples: the exact /metrics text they make (worker
 * and site labels added, metrics grouped across agents), a push replacing the last one, the
 * TTL, the series cap with its one summary error, and the refusals of what the server owns
 * (the worker and site labels, its own metric names) or of a TYPE other agents disagree with;
 * a block built apart and swapped in later; and a scrape's snapshot, which keeps the blocks it
 * took whole while pushes replace them, expiry drops their agents, and another thread writes
 * it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/agent_metrics.h"
#include "server/exposition.h"

#define TTL 60000

static char refusals[2048];

static void on_refused(void *ctx, size_t line, const char *error)
{
    size_t n = strlen(refusals);
    snprintf(refusals + n, sizeof refusals - n, "%zu: %s\n", line, error);
}

static bool reserved(const char *name)
{
    return !strcmp(name, "process_open_fds");
}

/* A push as the server does it: the block built (on the pool there), then swapped in. */
static int push_text(struct agent_metrics *am, const char *worker, const char *site,
                     const char *text, int64_t now_mono, int64_t now_wall,
                     void (*refused)(void *ctx, size_t line, const char *error),
                     struct agent_metrics_push *r)
{
    struct agent_metrics_limits limits;
    agent_metrics_limits(am, &limits);
    struct agent_block *b =
        agent_block_build(&limits, worker, site, text, strlen(text), refused, NULL);
    assert_non_null(b);
    return agent_metrics_swap(am, worker, b, now_mono, now_wall, refused, NULL, r);
}

static struct agent_metrics_push push(struct agent_metrics *am, const char *worker,
                                      const char *site, const char *text, int64_t now)
{
    struct agent_metrics_push r;
    refusals[0] = '\0';
    assert_int_equal(push_text(am, worker, site, text, now, 1700000000000 + now, on_refused, &r),
                     0);
    return r;
}

/* The render as a C string (freed by the caller). */
static char *render(struct agent_metrics *am, int64_t now)
{
    struct expo out = {0};
    struct agent_metrics_snapshot *snap = agent_metrics_snapshot(am, now);
    assert_non_null(snap);
    agent_metrics_snapshot_write(snap, &out);
    agent_metrics_snapshot_free(snap);
    assert_false(out.oom);
    char *text = malloc(out.len + 1);
    memcpy(text, out.data, out.len);
    text[out.len] = '\0';
    expo_free(&out);
    return text;
}

static void test_render_groups_metrics_across_agents(void **state)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, reserved);
    struct agent_metrics_push r = push(am, "gpu-01", "lab",
                                       "# HELP node_load1 Load.\n# TYPE node_load1 gauge\n"
                                       "node_load1 0.5\nzeta 1\nalpha{a=\"q\\\"\"} 2\n",
                                       1000);
    assert_int_equal(r.accepted, 3);
    assert_int_equal(r.refused, 0);
    push(am, "gpu-02", NULL, "alpha 3\n# TYPE node_load1 gauge\nnode_load1 1.25\n", 2000);
    char *text = render(am, 3000);
    assert_string_equal(text, "# HELP alpha Pushed by the agents (no HELP given).\n"
                              "# TYPE alpha untyped\n"
                              "alpha{a=\"q\\\"\",site=\"lab\",worker=\"gpu-01\"} 2\n"
                              "alpha{worker=\"gpu-02\"} 3\n"
                              "# HELP node_load1 Load.\n"
                              "# TYPE node_load1 gauge\n"
                              "node_load1{site=\"lab\",worker=\"gpu-01\"} 0.5\n"
                              "node_load1{worker=\"gpu-02\"} 1.25\n"
                              "# HELP zeta Pushed by the agents (no HELP given).\n"
                              "# TYPE zeta untyped\n"
                              "zeta{site=\"lab\",worker=\"gpu-01\"} 1\n"
                              "# HELP faultline_push_time_seconds When the worker last pushed its "
                              "metrics, in seconds since the epoch.\n"
                              "# TYPE faultline_push_time_seconds gauge\n"
                              "faultline_push_time_seconds{worker=\"gpu-01\"} 1700000001\n"
                              "faultline_push_time_seconds{worker=\"gpu-02\"} 1700000002\n");
    free(text);
    struct agent_metrics_summary sum;
    agent_metrics_summarize(am, 3000, &sum);
    assert_int_equal(sum.agents, 2);
    assert_int_equal(sum.series, 5);
    assert_int_equal(sum.last_push_wall_ms, 1700000002000);
    agent_metrics_free(am);
}

static void test_push_replaces_and_ttl_drops(void **state)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, reserved);
    push(am, "w", NULL, "a 1\nb 2\n", 0);
    push(am, "w", NULL, "b 3\n", 10000);
    char *text = render(am, 10000 + TTL);
    assert_non_null(strstr(text, "b{worker=\"w\"} 3\n"));
    assert_null(strstr(text, "# TYPE a "));
    free(text);
    text = render(am, 10000 + TTL + 1);
    assert_string_equal(text, "");
    free(text);
    struct agent_metrics_summary sum;
    agent_metrics_summarize(am, 10000 + TTL + 1, &sum);
    assert_int_equal(sum.agents, 0);
    assert_int_equal(sum.last_push_wall_ms, 0);
    agent_metrics_free(am);
}

static void test_series_cap(void **state)
{
    struct agent_metrics *am = agent_metrics_new(2, TTL, NULL);
    struct agent_metrics_push r = push(am, "w", NULL, "a 1\nbad{ 1\nb 2\nc 3\nd 4\n", 0);
    assert_int_equal(r.accepted, 2);
    assert_int_equal(r.refused, 3);
    assert_string_equal(refusals, "2: label name \"1\" of metric \"bad\": expected "
                                  "[a-zA-Z_][a-zA-Z0-9_]* not starting with \"__\"\n"
                                  "4: over the series cap (METRICS_MAX_SERIES, 2): 2 samples from "
                                  "this line on refused\n");
    agent_metrics_free(am);
}

static void test_refuses_what_the_server_owns(void **state)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, reserved);
    struct agent_metrics_push r = push(am, "w", NULL,
                                       "a{worker=\"x\"} 1\na{site=\"y\"} 1\nprocess_open_fds 3\n"
                                       "ok 1\n",
                                       0);
    assert_int_equal(r.accepted, 1);
    assert_string_equal(refusals,
                        "1: label \"worker\" of metric \"a\": reserved (the server adds the worker "
                        "and site labels)\n"
                        "2: label \"site\" of metric \"a\": reserved (the server adds the worker "
                        "and site labels)\n"
                        "3: metric \"process_open_fds\": reserved for the server's own metrics\n");
    agent_metrics_free(am);
}

static void test_type_is_the_same_for_every_agent(void **state)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, NULL);
    push(am, "w1", NULL, "# TYPE jobs counter\njobs 1\n", 0);
    struct agent_metrics_push r = push(am, "w2", NULL, "# TYPE jobs gauge\njobs 2\n", 0);
    assert_int_equal(r.accepted, 0);
    assert_string_equal(refusals, "2: metric \"jobs\": TYPE gauge here, but other workers push it "
                                  "as counter\n");
    /* once w1 no longer has it, w2's TYPE stands */
    push(am, "w1", NULL, "other 1\n", 0);
    r = push(am, "w2", NULL, "# TYPE jobs gauge\njobs 2\n", 0);
    assert_int_equal(r.accepted, 1);
    char *text = render(am, 0);
    assert_non_null(strstr(text, "# TYPE jobs gauge\njobs{worker=\"w2\"} 2\n"));
    free(text);
    agent_metrics_free(am);
}

static void test_histogram_keeps_its_family(void **state)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, NULL);
    push(am, "w", NULL,
         "# HELP lat Latency.\n# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 2\n"
         "lat_sum 0.5\nlat_count 2\n",
         0);
    char *text = render(am, 0);
    assert_true(strncmp(text,
                        "# HELP lat Latency.\n# TYPE lat histogram\n"
                        "lat_bucket{le=\"+Inf\",worker=\"w\"} 2\nlat_sum{worker=\"w\"} 0.5\n"
                        "lat_count{worker=\"w\"} 2\n",
                        116) == 0);
    free(text);
    agent_metrics_free(am);
}

static void test_escapes_survive(void **state)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, NULL);
    push(am, "w", "a\\b", "# HELP e Two\\nlines \\\\ here.\ne{v=\"q\\\"x\\ny\\\\z\"} -Inf\n", 0);
    char *text = render(am, 0);
    const char *expected = "# HELP e Two\\nlines \\\\ here.\n# TYPE e untyped\n"
                           "e{v=\"q\\\"x\\ny\\\\z\",site=\"a\\\\b\",worker=\"w\"} -Inf\n";
    assert_true(strncmp(text, expected, strlen(expected)) == 0);
    free(text);
    agent_metrics_free(am);
}

/* A metric whose samples come apart in the push still comes out as one group. */
static void test_scattered_metric_comes_out_together(void **state)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, NULL);
    struct agent_metrics_push r = push(am, "w", NULL, "a 1\nb 2\na{x=\"1\"} 3\nb{x=\"1\"} 4\n", 0);
    assert_int_equal(r.accepted, 4);
    char *text = render(am, 0);
    assert_non_null(strstr(text, "# TYPE a untyped\na{worker=\"w\"} 1\na{x=\"1\",worker=\"w\"} 3\n"
                                 "# HELP b"));
    assert_non_null(strstr(text, "# TYPE b untyped\nb{worker=\"w\"} 2\nb{x=\"1\",worker=\"w\"} 4\n"
                                 "# HELP faultline_push_time_seconds"));
    free(text);
    agent_metrics_free(am);
}

/* The snapshot written, as a C string (freed by the caller). */
static char *written(const struct agent_metrics_snapshot *snap)
{
    struct expo out = {0};
    agent_metrics_snapshot_write(snap, &out);
    assert_false(out.oom);
    char *text = malloc(out.len + 1);
    memcpy(text, out.data, out.len);
    text[out.len] = '\0';
    expo_free(&out);
    return text;
}

static const char OLD_SCRAPE[] = "# HELP a Pushed by the agents (no HELP given).\n"
                                 "# TYPE a untyped\n"
                                 "a{worker=\"w1\"} 1\n"
                                 "# HELP gone Goes away.\n"
                                 "# TYPE gone counter\n"
                                 "gone{worker=\"w2\"} 7\n"
                                 "# HELP faultline_push_time_seconds When the worker last pushed "
                                 "its metrics, in seconds since the epoch.\n"
                                 "# TYPE faultline_push_time_seconds gauge\n"
                                 "faultline_push_time_seconds{worker=\"w1\"} 1700000000\n"
                                 "faultline_push_time_seconds{worker=\"w2\"} 1700000000\n";

static struct agent_metrics *old_fleet(void)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, NULL);
    push(am, "w1", NULL, "a 1\n", 0);
    push(am, "w2", NULL, "# HELP gone Goes away.\n# TYPE gone counter\ngone 7\n", 0);
    return am;
}

static void test_snapshot_keeps_the_blocks_it_took(void **state)
{
    struct agent_metrics *am = old_fleet();
    struct agent_metrics_snapshot *snap = agent_metrics_snapshot(am, 0);
    assert_non_null(snap);
    /* w1's block replaced, "a" given another TYPE, w2 and its metric "gone" expired */
    push(am, "w1", NULL, "# TYPE a gauge\na 2\n", TTL);
    assert_int_equal(agent_metrics_expire(am, TTL + 1), 1);
    char *text = written(snap);
    assert_string_equal(text, OLD_SCRAPE);
    free(text);
    agent_metrics_snapshot_free(snap);
    text = render(am, TTL + 1);
    assert_non_null(strstr(text, "# TYPE a gauge\na{worker=\"w1\"} 2\n"));
    assert_null(strstr(text, "gone"));
    free(text);
    agent_metrics_free(am);
}

static void test_snapshot_outlives_the_agent_metrics(void **state)
{
    struct agent_metrics *am = old_fleet();
    struct agent_metrics_snapshot *snap = agent_metrics_snapshot(am, 0);
    agent_metrics_free(am); /* as when the server stops with a scrape on the thread pool */
    char *text = written(snap);
    assert_string_equal(text, OLD_SCRAPE);
    free(text);
    agent_metrics_snapshot_free(snap);
}

struct writer {
    const struct agent_metrics_snapshot *snap;
    int rounds;
    int torn; /* writes that differed from OLD_SCRAPE */
};

static void *write_rounds(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        char *text = written(w->snap);
        w->torn += strcmp(text, OLD_SCRAPE) != 0;
        free(text);
    }
    return NULL;
}

/* As on the server: the snapshot is written on another thread while the loop's pushes replace
 * its blocks; every write is the old scrape, whole. (Under ASan a block freed early shows.) */
static void test_snapshot_written_while_pushes_replace_it(void **state)
{
    struct agent_metrics *am = old_fleet();
    struct agent_metrics_snapshot *snap = agent_metrics_snapshot(am, 0);
    struct writer w = {snap, 200, 0};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, write_rounds, &w), 0);
    for (int i = 0; i < 2000; i++) {
        char text[64];
        snprintf(text, sizeof text, "a %d\nnew_%d 1\n", i, i % 7);
        struct agent_metrics_push r;
        assert_int_equal(push_text(am, i % 2 ? "w1" : "w2", NULL, text, 1, 1, NULL, &r), 0);
    }
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(w.torn, 0);
    agent_metrics_snapshot_free(snap);
    char *text = render(am, 1);
    assert_non_null(strstr(text, "a{worker=\"w1\"} 1999\na{worker=\"w2\"} 1998\n"));
    free(text);
    agent_metrics_free(am);
}

/* A block built apart (as on the thread pool) meets the other agents' TYPEs only when swapped
 * in: the disagreeing metric is refused there, line by line, and the rest kept. */
static void test_block_built_apart_then_swapped(void **state)
{
    struct agent_metrics *am = agent_metrics_new(100, TTL, NULL);
    push(am, "w1", NULL, "# TYPE jobs counter\njobs{q=\"a\"} 1\n", 0);
    struct agent_metrics_limits limits;
    agent_metrics_limits(am, &limits);
    const char *text = "# TYPE jobs gauge\njobs{q=\"a\"} 2\nok 1\njobs{q=\"b\"} 3\nbad{ 1\n";
    refusals[0] = '\0';
    struct agent_block *b =
        agent_block_build(&limits, "w2", "lab", text, strlen(text), on_refused, NULL);
    assert_non_null(b);
    assert_string_equal(refusals, "5: label name \"1\" of metric \"bad\": expected "
                                  "[a-zA-Z_][a-zA-Z0-9_]* not starting with \"__\"\n");
    /* one never swapped in is freed as it is */
    struct agent_block *unused =
        agent_block_build(&limits, "w3", NULL, text, strlen(text), NULL, NULL);
    agent_block_free(unused);
    refusals[0] = '\0';
    struct agent_metrics_push r;
    assert_int_equal(agent_metrics_swap(am, "w2", b, 0, 1700000000000, on_refused, NULL, &r), 0);
    assert_int_equal(r.accepted, 1);
    assert_int_equal(r.refused, 3);
    assert_string_equal(refusals,
                        "2: metric \"jobs\": TYPE gauge here, but other workers push it as counter\n"
                        "4: metric \"jobs\": TYPE gauge here, but other workers push it as counter\n");
    char *out = render(am, 0);
    assert_non_null(strstr(out, "ok{site=\"lab\",worker=\"w2\"} 1\n"));
    assert_null(strstr(out, "jobs{q=\"a\",site=\"lab\""));
    free(out);
    agent_metrics_free(am);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_groups_metrics_across_agents),
        cmocka_unit_test(test_push_replaces_and_ttl_drops),
        cmocka_unit_test(test_series_cap),
        cmocka_unit_test(test_refuses_what_the_server_owns),
        cmocka_unit_test(test_type_is_the_same_for_every_agent),
        cmocka_unit_test(test_histogram_keeps_its_family),
        cmocka_unit_test(test_escapes_survive),
        cmocka_unit_test(test_scattered_metric_comes_out_together),
        cmocka_unit_test(test_snapshot_keeps_the_blocks_it_took),
        cmocka_unit_test(test_snapshot_outlives_the_agent_metrics),
        cmocka_unit_test(test_snapshot_written_while_pushes_replace_it),
        cmocka_unit_test(test_block_built_apart_then_swapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
