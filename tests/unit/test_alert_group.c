/* test_alert_group.c — grouping of alerts (alert/group.h): rows of one group merged into one
 * row per channel listing the members; a group held for its wait on a real loop, then handed
 * on once; a group of one handed on as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alert/group.h"

static struct outbox_record row(const char *channel, const char *name, const char *text)
{
    struct outbox_record r = {.created_ms = 1};
    snprintf(r.channel, sizeof r.channel, "%s", channel);
    snprintf(r.dedup_key, sizeof r.dedup_key, "check:%s", name);
    r.text = strdup(text);
    char fields[256];
    snprintf(fields, sizeof fields, "{\"kind\":\"check\",\"name\":\"%s\",\"subject\":\"%s is critical\"}",
             name, name);
    r.fields_json = strdup(fields);
    return r;
}

static void test_merge(void **state)
{
    struct outbox_record rows[] = {row("ops", "a", "CRITICAL: a"), row("pager", "a", "CRITICAL: a"),
                                   row("ops", "b", "CRITICAL: b"), row("ops", "c", "CRITICAL: c")};
    struct outbox_record out[4];
    size_t n = alert_groups_merge(rows, 4, "db-host", out);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].channel, "ops");
    assert_string_equal(out[0].text, "CRITICAL: a\nCRITICAL: b\nCRITICAL: c");
    json_t *f = json_loads(out[0].fields_json, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(f, "subject")),
                        "3 alerts of db-host: a, b, c");
    assert_string_equal(json_string_value(json_object_get(f, "group")), "db-host");
    json_decref(f);
    assert_string_equal(out[1].channel, "pager");
    assert_string_equal(out[1].text, "CRITICAL: a");
    for (size_t i = 0; i < n; i++) {
        free((char *)out[i].text);
        free((char *)out[i].fields_json);
    }
    for (size_t i = 0; i < 4; i++) {
        free((char *)rows[i].text);
        free((char *)rows[i].fields_json);
    }
}

struct flushed {
    int calls;
    size_t rows;
    char text[256];
};

static void on_flush(const struct outbox_record *rows, size_t n, void *ctx)
{
    struct flushed *f = ctx;
    f->calls++;
    f->rows += n;
    snprintf(f->text, sizeof f->text, "%s", n ? rows[0].text : "");
}

static void add(struct alert_groups *g, const char *key, const char *name)
{
    struct alert_batch b = {0};
    b.rows = calloc(1, sizeof *b.rows);
    b.cap = b.n = 1;
    b.rows[0] = row("ops", name, name);
    assert_int_equal(alert_groups_add(g, key, false, &b), 0);
    assert_int_equal(b.n, 0);
}

static void test_held_for_the_wait(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct flushed f = {0};
    struct alert_groups *g = alert_groups_new(&loop, 50, on_flush, &f);
    assert_non_null(g);
    add(g, "db-host", "a");
    add(g, "db-host", "b");
    add(g, "web-host", "w");
    assert_int_equal(f.calls, 0); /* held */
    uv_run(&loop, UV_RUN_ONCE);   /* the wait */
    while (f.calls < 2)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(f.calls, 2);
    assert_int_equal(f.rows, 2); /* db-host merged into one row, web-host as it was */
    alert_groups_free(g);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_free_flushes(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct flushed f = {0};
    struct alert_groups *g = alert_groups_new(&loop, 60000, on_flush, &f);
    add(g, "db-host", "a");
    alert_groups_free(g);
    assert_int_equal(f.calls, 1);
    assert_string_equal(f.text, "a");
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_held_for_the_wait),
        cmocka_unit_test(test_free_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
