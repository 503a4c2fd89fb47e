/* test_router.c — the alert router (alert/router.h): every channel without routes, messages
 * that name channels, resolves sent exactly once to the channels that were told (also after the
 * problem was silenced), and the told channels restored from a real store (SQLite in a temp
 * dir) after a restart; routes' group_wait and repeat_interval read and given to each row;
 * reminders of open problems, stopped by the resolve, a silence or quiet, and scheduled from the
 * last one stored after a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "alert/router.h"
#include "base/clock.h"
#include "base/config.h"
#include "store/store.h"

static const char *const CHANNELS[] = {"ops-telegram", "team-slack", "pager"};
static const struct alert_settings NO_SETTINGS = {0};

static struct alert_router *router_new(void)
{
    char err[256];
    struct alert_router *r = alert_router_new(&NO_SETTINGS, CHANNELS, 3, err, sizeof err);
    assert_non_null(r);
    return r;
}

/* Dedup keys live here, one slot per message made, so messages never share one. */
static char keys[32][80];
static size_t n_keys;

static struct alert_message worker_msg(const char *name, bool resolve)
{
    char *key = keys[n_keys++ % 32];
    snprintf(key, 80, "worker:%s", name);
    return (struct alert_message){.kind = ALERT_KIND_WORKER,
                                  .severity = resolve ? ALERT_SEVERITY_INFO
                                                      : ALERT_SEVERITY_CRITICAL,
                                  .resolve = resolve,
                                  .name = name,
                                  .subject = resolve ? "UP" : "DOWN",
                                  .text = resolve ? "is UP" : "is DOWN",
                                  .dedup_key = key,
                                  .created_ms = 1000};
}

/* The channels of batch rows [from, n), comma-joined, into buf. */
static const char *channels_of(const struct alert_batch *b, size_t from, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = from; i < b->n; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i > from ? "," : "",
                                 b->rows[i].channel);
    return buf;
}

static void test_every_channel_without_routes(void **state)
{
    (void)state;
    struct alert_router *r = router_new();
    struct alert_batch b = {0};
    struct label site = {"site", "fra1"};
    struct alert_message m = worker_msg("box-1", false);
    m.labels = &site;
    m.n_labels = 1;
    assert_int_equal(alert_route(r, &m, &b), 3);
    char buf[128];
    assert_string_equal(channels_of(&b, 0, buf, sizeof buf), "ops-telegram,team-slack,pager");
    assert_string_equal(b.rows[0].text, "is DOWN");
    assert_string_equal(b.rows[0].dedup_key, "worker:box-1");
    assert_false(b.rows[0].resolve);
    json_t *f = json_loads(b.rows[1].fields_json, 0, NULL);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "kind")), "worker");
    assert_string_equal(json_string_value(json_object_get(f, "severity")), "critical");
    assert_string_equal(json_string_value(json_object_get(f, "name")), "box-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f, "labels"), "site")), "fra1");
    json_decref(f);
    assert_int_equal(alert_router_open_problems(r), 1);
    alert_batch_free(&b);
    alert_router_free(r);
}

/* Told channels get the resolve once; a second resolve, and a resolve nobody heard of, go
 * nowhere; an info message with a key is not a problem. */
static void test_resolve_exactly_once(void **state)
{
    (void)state;
    struct alert_router *r = router_new();
    struct alert_batch b = {0};
    struct alert_message down = worker_msg("box-2", false), up = worker_msg("box-2", true);
    assert_int_equal(alert_route(r, &down, &b), 3);
    assert_int_equal(alert_route(r, &down, &b), 3); /* told twice: still one resolve each */
    assert_int_equal(alert_route(r, &up, &b), 3);
    assert_true(b.rows[6].resolve);
    assert_int_equal(alert_route(r, &up, &b), 0);
    struct alert_message other = worker_msg("never-down", true);
    assert_int_equal(alert_route(r, &other, &b), 0);
    struct alert_message info = worker_msg("box-3", false);
    info.severity = ALERT_SEVERITY_INFO;
    assert_int_equal(alert_route(r, &info, &b), 3);
    assert_int_equal(alert_router_open_problems(r), 0);
    alert_batch_free(&b);
    alert_router_free(r);
}

static bool silence_all(const struct alert_message *msg, int64_t now_ms, void *ctx)
{
    (void)msg;
    (void)now_ms;
    (*(int *)ctx)++;
    return true;
}

/* A problem told, then silenced: its repeats are held back, its resolve still goes to every
 * channel told. A problem silenced from the start is resolved nowhere. */
static void test_silenced_problem_still_resolved(void **state)
{
    (void)state;
    struct alert_router *r = router_new();
    struct alert_batch b = {0};
    struct alert_message down = worker_msg("box-4", false);
    assert_int_equal(alert_route(r, &down, &b), 3);
    int asked = 0;
    struct alert_filters filters = {silence_all, &asked};
    alert_router_set_filters(r, &filters);
    assert_int_equal(alert_route(r, &down, &b), 0);
    assert_int_equal(b.silenced, 1);
    struct alert_message quiet = worker_msg("box-5", false);
    assert_int_equal(alert_route(r, &quiet, &b), 0);
    struct alert_message up = worker_msg("box-4", true);
    assert_int_equal(alert_route(r, &up, &b), 3);
    struct alert_message quiet_up = worker_msg("box-5", true);
    assert_int_equal(alert_route(r, &quiet_up, &b), 0);
    assert_int_equal(asked, 2); /* resolves are never asked about */
    alert_batch_free(&b);
    alert_router_free(r);
}

/* A message that names channels (a check's alerters) adds them; one named twice, or also
 * routed, gets one row; an unknown name is skipped. */
static void test_named_channels(void **state)
{
    (void)state;
    char err[256];
    struct alert_router *r = alert_router_new(&NO_SETTINGS, CHANNELS, 3, err, sizeof err);
    struct alert_batch b = {0};
    static const char *const named[] = {"pager", "pager", "nonexistent", "ops-telegram"};
    struct alert_message m = worker_msg("box-6", false);
    m.channels = named;
    m.n_channels = 4;
    assert_int_equal(alert_route(r, &m, &b), 3);
    alert_batch_free(&b);
    alert_router_free(r);
}

/* PUBLIC_URL makes the link; rows keep the created time. */
static void test_link(void **state)
{
    (void)state;
    char err[256];
    struct alert_settings s = {.public_url = "https://mon.example.org"};
    struct alert_router *r = alert_router_new(&s, CHANNELS, 1, err, sizeof err);
    struct alert_batch b = {0};
    struct alert_message m = worker_msg("box-7", false);
    assert_int_equal(alert_route(r, &m, &b), 1);
    json_t *f = json_loads(b.rows[0].fields_json, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(f, "link")),
                        "https://mon.example.org/admin/api/worker/box-7");
    assert_int_equal(b.rows[0].created_ms, 1000);
    json_decref(f);
    alert_batch_free(&b);
    alert_router_free(r);
}

/* ---- restart: who was told comes back from the store --------------------------------------- */

static void committed(int status, const struct event_record *ev, const struct outbox_record *msgs,
                      size_t n, void *ctx)
{
    (void)ev;
    (void)msgs;
    (void)n;
    assert_int_equal(status, 0);
    (*(int *)ctx)++;
}

static void restore(const struct outbox_record *rec, void *ctx)
{
    alert_router_told(ctx, rec);
}

static void test_told_survives_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_router_XXXXXX", uri[128], err[256];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(store_default_uri(dir, uri, sizeof uri), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct store *store;
    assert_int_equal(store_open(&loop, uri, &store, err, sizeof err), 0);
    struct alert_router *r = router_new();
    struct alert_batch b = {0};
    struct alert_message a = worker_msg("box-a", false), c = worker_msg("box-c", false);
    alert_route(r, &a, &b);
    alert_route(r, &c, &b);
    struct alert_message c_up = worker_msg("box-c", true);
    alert_route(r, &c_up, &b);
    int done = 0;
    store_append_messages(store, b.rows, b.n, committed, &done);
    alert_batch_free(&b);
    alert_router_free(r);
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    /* A new router over two of the three channels (one was removed from the configuration). */
    struct alert_router *again = alert_router_new(&NO_SETTINGS, CHANNELS + 1, 2, err, sizeof err);
    assert_int_equal(store_load_told_outbox(store, restore, again, err, sizeof err), 0);
    assert_int_equal(alert_router_open_problems(again), 1); /* box-a only: box-c was resolved */
    struct alert_message a_up = worker_msg("box-a", true);
    assert_int_equal(alert_route(again, &a_up, &b), 2);
    char buf[128];
    assert_string_equal(channels_of(&b, 0, buf, sizeof buf), "team-slack,pager");
    alert_batch_free(&b);
    alert_router_free(again);
    store_close(store);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A filter that silences everything while *ctx is true. */
static bool silence_if(const struct alert_message *msg, int64_t now_ms, void *ctx)
{
    return *(bool *)ctx;
}

/* A DOWN is reminded of every repeat_interval on the channels told, marked REMINDER, until its
 * resolve; not while silenced, nor once quiet. */
static void test_reminders(void **state)
{
    (void)state;
    struct alert_router *r = router_new();
    bool silenced = false;
    alert_router_set_filters(r, &(struct alert_filters){.silenced = silence_if, .ctx = &silenced});
    alert_router_set_timing(r, &(struct alert_timing){.repeat_interval_ms = 60000});
    struct alert_batch b = {0};
    struct alert_message down = worker_msg("box-r", false);
    down.created_ms = 1764496800000; /* 2025-11-30T10:00:00.000Z */
    int64_t now = clock_wall_ms();
    assert_int_equal(alert_route(r, &down, &b), 3);
    assert_int_equal(b.timing[0].repeat_interval_ms, 60000);
    alert_batch_free(&b);
    assert_int_equal(alert_router_remind(r, now + 59000, &b), 0);
    assert_int_equal(alert_router_remind(r, now + 61000, &b), 3);
    assert_string_equal(b.rows[0].text, "REMINDER (since 2025-11-30T10:00:00.000Z): is DOWN");
    assert_string_equal(b.rows[0].dedup_key, "worker:box-r");
    assert_false(b.rows[0].resolve);
    json_t *f = json_loads(b.rows[0].fields_json, 0, NULL);
    assert_true(json_is_true(json_object_get(f, "reminder")));
    assert_string_equal(json_string_value(json_object_get(f, "subject")), "DOWN");
    json_decref(f);
    alert_batch_free(&b);
    assert_int_equal(alert_router_remind(r, now + 62000, &b), 0); /* the next from this one */
    silenced = true;
    assert_int_equal(alert_router_remind(r, now + 122000, &b), 0);
    silenced = false;
    alert_router_quiet(r, "worker:box-r");
    assert_int_equal(alert_router_remind(r, now + 122000, &b), 0);
    assert_int_equal(alert_route(r, &down, &b), 3); /* told again: reminders go on */
    alert_batch_free(&b);
    assert_int_equal(alert_router_remind(r, now + 200000, &b), 3);
    alert_batch_free(&b);
    struct alert_message up = worker_msg("box-r", true);
    assert_int_equal(alert_route(r, &up, &b), 3);
    alert_batch_free(&b);
    assert_int_equal(alert_router_remind(r, now + 999000, &b), 0);
    alert_router_free(r);
}

/* After a restart the next reminder is scheduled from the last one stored, not sent at once,
 * and repeats the problem's text (one REMINDER prefix). */
static void test_reminders_survive_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_router_XXXXXX", uri[128], err[256];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(store_default_uri(dir, uri, sizeof uri), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct store *store;
    assert_int_equal(store_open(&loop, uri, &store, err, sizeof err), 0);
    struct alert_router *r = router_new();
    alert_router_set_timing(r, &(struct alert_timing){.repeat_interval_ms = 60000});
    struct alert_batch b = {0};
    struct alert_message down = worker_msg("box-s", false);
    down.created_ms = 1764496800000;
    int64_t now = clock_wall_ms();
    alert_route(r, &down, &b);
    assert_int_equal(alert_router_remind(r, now + 60000, &b), 3); /* a reminder at now + 60 s */
    int done = 0;
    store_append_messages(store, b.rows, b.n, committed, &done);
    alert_batch_free(&b);
    alert_router_free(r);
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    struct alert_router *again = router_new();
    alert_router_set_timing(again, &(struct alert_timing){.repeat_interval_ms = 60000});
    assert_int_equal(store_load_told_outbox(store, restore, again, err, sizeof err), 0);
    assert_int_equal(alert_router_remind(again, now + 100000, &b), 0);
    assert_int_equal(alert_router_remind(again, now + 120000, &b), 3);
    assert_string_equal(b.rows[0].text, "REMINDER (since 2025-11-30T10:00:00.000Z): is DOWN");
    alert_batch_free(&b);
    alert_router_free(again);
    store_close(store);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- channels: and routes: from the --config file ----------------------------------------- */

static const char ROUTED_YAML[] =
    "channels:\n"
    "  - name: ops\n"
    "    type: telegram\n"
    "    token: ${TEST_ROUTER_TOKEN}\n"
    "    chat_id: -100\n"
    "  - name: pager\n"
    "    type: telegram\n"
    "    token_file: %s\n"
    "    chat_id: '42'\n"
    "    url: http://127.0.0.1:9\n"
    "routes:\n"
    "  - match: {kind: worker, severity: critical, name: 'gpu-*', labels: {site: 'fra*'}}\n"
    "    channels: [pager]\n"
    "  - match: {kind: [worker, incident]}\n"
    "    channels: ops\n";

struct loaded {
    struct config cfg;
    struct alert_settings alert;
    const char *names[ALERT_CHANNELS_MAX];
};

static int load(struct loaded *l, const char *yaml, char *err)
{
    config_init(&l->cfg);
    config_attach(&l->cfg, &alert_settings_table, &l->alert);
    int rc = config_apply_yaml_text(&l->cfg, "alert.yaml", yaml, strlen(yaml), err, 256);
    for (size_t i = 0; rc == 0 && i < l->alert.n_channels; i++)
        l->names[i] = l->alert.channels[i].name;
    return rc;
}

static void test_channels_and_routes(void **state)
{
    (void)state;
    char secret[] = "/tmp/test_router_secret_XXXXXX", yaml[2048], err[256];
    int fd = mkstemp(secret);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "999:FILE\n", 9), 9);
    close(fd);
    setenv("TEST_ROUTER_TOKEN", "123:ENV", 1);
    snprintf(yaml, sizeof yaml, ROUTED_YAML, secret);
    struct loaded l;
    assert_int_equal(load(&l, yaml, err), 0);
    assert_int_equal(l.alert.n_channels, 2);
    assert_string_equal(alert_channel_text(&l.alert.channels[0], "token"), "123:ENV");
    assert_string_equal(alert_channel_text(&l.alert.channels[1], "token"), "999:FILE");
    assert_string_equal(alert_channel_text(&l.alert.channels[1], "chat_id"), "42");
    assert_int_equal(l.alert.n_routes, 2);
    struct alert_router *r = alert_router_new(&l.alert, l.names, 2, err, sizeof err);
    assert_non_null(r);
    struct alert_batch b = {0};
    char buf[64];
    struct label fra = {"site", "fra1"}, ams = {"site", "ams1"};
    struct alert_message m = worker_msg("gpu-7", false);
    m.labels = &fra;
    m.n_labels = 1;
    assert_int_equal(alert_route(r, &m, &b), 2);
    assert_string_equal(channels_of(&b, 0, buf, sizeof buf), "ops,pager");
    size_t at = b.n;
    m = worker_msg("gpu-8", false);
    m.labels = &ams;
    m.n_labels = 1;
    assert_int_equal(alert_route(r, &m, &b), 1);
    assert_string_equal(channels_of(&b, at, buf, sizeof buf), "ops");
    m = worker_msg("gpu-9", false);
    m.kind = ALERT_KIND_GPU;
    assert_int_equal(alert_route(r, &m, &b), 0); /* no route matches */
    alert_batch_free(&b);
    alert_router_free(r);
    config_free(&l.cfg);
    unlink(secret);
}

struct bad_config {
    const char *yaml;
    const char *error; /* a part of the message */
};

static const struct bad_config bad_configs[] = {
    {"channels: {name: x}\n", "alert.yaml:1:11: channels: expected a list of channels"},
    {"channels:\n  - type: telegram\n", "alert.yaml:2:5: channels[0].name: expected a name"},
    {"channels:\n  - name: a\n    type: fax\n",
     "alert.yaml:3:11: channels[0].type: expected one of telegram"},
    {"channels:\n  - name: a\n    type: telegram\n    chat_id: 1\n    colour: red\n",
     "alert.yaml:5:5: channels[0].colour: unknown field \"colour\" for type telegram"},
    {"channels:\n  - name: a\n    type: telegram\n    chat_id: 1\n",
     "alert.yaml:2:5: channels[0]: token: required for type telegram"},
    {"channels:\n  - name: a\n    type: telegram\n    chat_id: 1\n    token: ${NOT_SET_X}\n",
     "channels[0].token: environment variable NOT_SET_X is not set"},
    {"channels:\n  - name: a\n    type: telegram\n    chat_id: 1\n"
     "    token_file: /nonexistent/tok\n",
     "channels[0].token_file: cannot read /nonexistent/tok"},
    {"channels:\n  - {name: a, type: telegram, chat_id: 1, token: t}\n"
     "  - {name: a, type: telegram, chat_id: 2, token: t}\n",
     "channels[1].name: a channel named \"a\" is defined already"},
    {"routes:\n  - match: {kind: disk}\n    channels: [a]\n",
     "alert.yaml:2:19: routes[0].match.kind: expected worker, check"},
    {"routes:\n  - match: {severity: [info, fatal]}\n    channels: [a]\n",
     "routes[0].match.severity[1]: expected info, warning or critical, got \"fatal\""},
    {"routes:\n  - match: {kind: worker}\n", "routes[0].channels: required"},
    {"routes:\n  - when: {kind: worker}\n    channels: [a]\n",
     "routes[0].when: expected one of match, channels, group_wait, repeat_interval"},
    {"routes:\n  - channels: [a]\n    group_wait: 10\n",
     "alert.yaml:3:17: routes[0].group_wait: expected a duration with its unit (ms, s, m, h or d) "
     "such as 30s or 5m, at most 366d, got \"10\""},
    {"routes:\n  - channels: [a]\n    repeat_interval: [1h]\n",
     "alert.yaml:3:22: routes[0].repeat_interval: expected a duration with its unit"},
    {"routes:\n  - channels: [a]\n    repeat_interval: 400d\n",
     "routes[0].repeat_interval: expected a duration"},
};

static void test_config_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        struct loaded l;
        char err[256] = "";
        assert_int_not_equal(load(&l, bad_configs[i].yaml, err), 0);
        if (!strstr(err, bad_configs[i].error))
            fail_msg("config %zu: got \"%s\", expected \"%s\"", i, err, bad_configs[i].error);
        config_free(&l.cfg);
    }
}

/* Each row gets the timing of the routes that sent it to its channel: a route's own group_wait
 * and repeat_interval, else the defaults; a resolve gets its problem's (severity aside). */
static void test_route_timing(void **state)
{
    (void)state;
    struct loaded l;
    char err[256];
    assert_int_equal(load(&l,
                          "channels:\n"
                          "  - {name: fast, type: telegram, chat_id: 1, token: t}\n"
                          "  - {name: slow, type: telegram, chat_id: 2, token: t}\n"
                          "routes:\n"
                          "  - match: {kind: check, severity: critical}\n"
                          "    channels: [fast]\n"
                          "    group_wait: 1s\n"
                          "    repeat_interval: 2m\n"
                          "  - channels: [slow]\n"
                          "  - match: {name: 'db-*'}\n"
                          "    channels: [slow]\n"
                          "    group_wait: 500ms\n"
                          "    repeat_interval: 0s\n",
                          err),
                     0);
    assert_int_equal(l.alert.routes[0].group_wait_ms, 1000);
    assert_int_equal(l.alert.routes[0].repeat_interval_ms, 120000);
    assert_int_equal(l.alert.routes[1].group_wait_ms, ALERT_TIMING_GLOBAL);
    assert_int_equal(l.alert.routes[1].repeat_interval_ms, ALERT_TIMING_GLOBAL);
    assert_int_equal(l.alert.routes[2].repeat_interval_ms, 0);
    struct alert_router *r = alert_router_new(&l.alert, l.names, 2, err, sizeof err);
    assert_non_null(r);
    alert_router_set_timing(r, &(struct alert_timing){.group_wait_ms = 10000,
                                                      .repeat_interval_ms = 3600000});
    struct alert_batch b = {0};
    struct alert_message m = {.kind = ALERT_KIND_CHECK, .severity = ALERT_SEVERITY_CRITICAL,
                              .name = "api", .text = "CRITICAL", .dedup_key = "check:api"};
    assert_int_equal(alert_route(r, &m, &b), 2);
    assert_string_equal(b.rows[0].channel, "fast");
    assert_int_equal(b.timing[0].group_wait_ms, 1000);
    assert_int_equal(b.timing[0].repeat_interval_ms, 120000);
    assert_string_equal(b.rows[1].channel, "slow");
    assert_int_equal(b.timing[1].group_wait_ms, 10000);      /* the defaults */
    assert_int_equal(b.timing[1].repeat_interval_ms, 3600000);
    m = (struct alert_message){.kind = ALERT_KIND_CHECK, .severity = ALERT_SEVERITY_INFO,
                               .resolve = true, .name = "api", .dedup_key = "check:api"};
    assert_int_equal(alert_route(r, &m, &b), 2);
    assert_int_equal(b.timing[2].group_wait_ms, 1000); /* its problem's route */
    m = (struct alert_message){.kind = ALERT_KIND_CHECK, .severity = ALERT_SEVERITY_WARNING,
                               .name = "db-1", .dedup_key = "check:db-1"};
    assert_int_equal(alert_route(r, &m, &b), 1);
    assert_int_equal(b.timing[4].group_wait_ms, 500); /* the shortest of two routes */
    assert_int_equal(b.timing[4].repeat_interval_ms, 3600000); /* 0s (off) does not win */
    alert_batch_free(&b);
    alert_router_free(r);
    config_free(&l.cfg);
}

/* A route naming a channel that does not exist stops the router, naming the route. */
static void test_route_unknown_channel(void **state)
{
    (void)state;
    struct loaded l;
    char err[256];
    assert_int_equal(load(&l,
                          "channels:\n  - {name: a, type: telegram, chat_id: 1, token: t}\n"
                          "routes:\n  - channels: [a, b]\n",
                          err),
                     0);
    assert_null(alert_router_new(&l.alert, l.names, 1, err, sizeof err));
    assert_string_equal(err, "alert.yaml:4:5: routes[0]: channels: no channel named \"b\" (see "
                             "channels:)");
    config_free(&l.cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_channel_without_routes),
        cmocka_unit_test(test_resolve_exactly_once),
        cmocka_unit_test(test_silenced_problem_still_resolved),
        cmocka_unit_test(test_named_channels),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_told_survives_restart),
        cmocka_unit_test(test_reminders),
        cmocka_unit_test(test_reminders_survive_restart),
        cmocka_unit_test(test_route_timing),
        cmocka_unit_test(test_channels_and_routes),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_route_unknown_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
