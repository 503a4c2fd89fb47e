/* test_alert_group.c — grouping of alerts (alert/group.h): the rows of one group share its
 * deadline (the first member's time + the wait) and carry its key; a group past its deadline
 * starts anew; problems and resolves are grouped apart; each row waits its route's group_wait
 * (batch.timing), 0 sending it at once; a merged message's subject lists the members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alert/group.h"

static struct outbox_record row(const char *channel, const char *name)
{
    struct outbox_record r = {.created_ms = 1};
    snprintf(r.channel, sizeof r.channel, "%s", channel);
    snprintf(r.dedup_key, sizeof r.dedup_key, "check:%s", name);
    r.text = strdup(name);
    char fields[256];
    snprintf(fields, sizeof fields, "{\"kind\":\"check\",\"name\":\"%s\",\"subject\":\"%s is critical\"}",
             name, name);
    r.fields_json = strdup(fields);
    return r;
}

/* Holds one row of name for channels ops and pager in group key at now; returns its deadline. */
static int64_t hold(struct alert_groups *g, const char *key, bool resolve, const char *name,
                    int64_t now)
{
    struct alert_batch b = {0};
    b.rows = calloc(2, sizeof *b.rows);
    b.cap = b.n = 2;
    b.rows[0] = row("ops", name);
    b.rows[1] = row("pager", name);
    assert_int_equal(alert_groups_hold(g, key, resolve, now, &b), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.rows[0].next_attempt_ms, b.rows[1].next_attempt_ms);
    json_t *f = json_loads(b.rows[1].fields_json, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(f, "group")), key);
    assert_string_equal(json_string_value(json_object_get(f, "name")), name);
    json_decref(f);
    int64_t due = b.rows[0].next_attempt_ms;
    alert_batch_free(&b);
    return due;
}

static void test_hold(void **state)
{
    struct alert_groups *g = alert_groups_new(10000);
    assert_non_null(g);
    assert_int_equal(hold(g, "db-host", false, "a", 1000), 11000);
    assert_int_equal(hold(g, "db-host", false, "b", 5000), 11000);   /* joins a's group */
    assert_int_equal(hold(g, "web-host", false, "w", 5000), 15000);  /* its own */
    assert_int_equal(hold(g, "db-host", true, "a", 6000), 16000);    /* resolves apart */
    assert_int_equal(hold(g, "db-host", false, "c", 11000), 21000);  /* past the deadline */
    alert_groups_free(g);
}

/* Rows with their own timing: ops waits 1 s, pager its default (none: 0, at once). */
static void test_hold_route_timing(void **state)
{
    struct alert_groups *g = alert_groups_new(10000);
    struct alert_batch b = {0};
    b.rows = calloc(3, sizeof *b.rows);
    b.timing = calloc(3, sizeof *b.timing);
    b.cap = b.n = 3;
    b.rows[0] = row("ops", "a");
    b.rows[1] = row("pager", "a");
    b.rows[2] = row("slow", "a");
    b.timing[0].group_wait_ms = 1000;
    b.timing[1].group_wait_ms = 0;
    b.timing[2].group_wait_ms = 10000;
    assert_int_equal(alert_groups_hold(g, "db-host", false, 5000, &b), 0);
    assert_int_equal(b.rows[0].next_attempt_ms, 6000);
    assert_int_equal(b.rows[1].next_attempt_ms, 0); /* at once, not marked */
    assert_null(strstr(b.rows[1].fields_json, "\"group\""));
    assert_int_equal(b.rows[2].next_attempt_ms, 15000);
    alert_batch_free(&b);
    assert_int_equal(hold(g, "db-host", false, "b", 5500), 15000); /* joins the 10 s group */
    alert_groups_free(g);
}

static void test_merge_fields(void **state)
{
    json_t *m[3] = {json_pack("{ss ss ss}", "name", "a", "subject", "a is critical", "severity",
                              "critical"),
                    json_pack("{ss}", "name", "b"), json_pack("{ss}", "name", "c")};
    json_t *f = alert_groups_merge_fields(m, 3, "db-host");
    assert_string_equal(json_string_value(json_object_get(f, "subject")),
                        "3 alerts of db-host: a, b, c");
    assert_string_equal(json_string_value(json_object_get(f, "group")), "db-host");
    assert_string_equal(json_string_value(json_object_get(f, "severity")), "critical");
    json_decref(f);
    for (size_t i = 0; i < 3; i++)
        json_decref(m[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold),
        cmocka_unit_test(test_hold_route_timing),
        cmocka_unit_test(test_merge_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
