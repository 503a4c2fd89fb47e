/* test_monitor_alerts.c — the monitor's cross-node rules on hand-made snapshots, where the
 * integration tests cannot reach: version numbers compared number by number, clock skew
 * judged against the median (one wrong clock among three, two clocks that disagree), reports
 * whose members have the wrong types (rules skipped, never a crash), and the order of alerts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/alerts.h"
#include "monitor/settings.h"

#define T0 1795950000000LL

struct node_case {
    const char *name;
    const char *report; /* JSON; NULL: unreachable */
    int64_t seen_at_ms;
};

static void snapshot_of(const struct node_case *nodes, size_t n, struct monitor_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    snap->results = calloc(n, sizeof *snap->results);
    snap->count = n;
    for (size_t i = 0; i < n; i++) {
        struct monitor_result *r = &snap->results[i];
        r->host = strdup("127.0.0.1");
        r->name = strdup(nodes[i].name);
        r->report = nodes[i].report ? json_loads(nodes[i].report, 0, NULL) : NULL;
        assert_true(!nodes[i].report || r->report);
        if (!r->report)
            strcpy(r->error, "no answer within 10 s");
        r->seen_at_ms = nodes[i].seen_at_ms;
        r->received_ms = -1;
    }
}

/* The alerts as "severity subsystem node: message" lines joined by '\n'. */
static char *derive(const struct node_case *nodes, size_t n)
{
    struct monitor_snapshot snap;
    struct monitor_settings s;
    struct monitor_alerts alerts = {0};
    snapshot_of(nodes, n, &snap);
    monitor_settings_init(&s);
    assert_int_equal(monitor_alerts_derive(&snap, &s.thresholds, &alerts), 0);
    char *text = calloc(1, 8192);
    for (size_t i = 0; i < alerts.count; i++) {
        size_t used = strlen(text);
        snprintf(text + used, 8192 - used, "%s%s %s %s: %s", i ? "\n" : "",
                 monitor_severity_name(alerts.items[i].severity), alerts.items[i].subsystem,
                 alerts.items[i].node, alerts.items[i].message);
    }
    monitor_alerts_free(&alerts);
    monitor_snapshot_clear(&snap);
    return text;
}

static void expect(const struct node_case *nodes, size_t n, const char *expected)
{
    char *got = derive(nodes, n);
    assert_string_equal(got, expected);
    free(got);
}

static void test_versions_compare_number_by_number(void **state)
{
    const struct node_case nodes[] = {
        {"a", "{\"version\":\"0.10.0\"}", -1},
        {"b", "{\"version\":\"0.9.7\"}", -1},
        {"c", "{\"version\":\"0.10.0\"}", -1},
        {"d", "{\"version\":\"0.10.0-rc1\"}", -1},
    };
    expect(nodes, 4,
           "warning version b: runs faultline 0.9.7, older than 0.10.0 on 2 other nodes\n"
           "warning version d: runs faultline 0.10.0-rc1, older than 0.10.0 on 2 other nodes");
}

static void test_one_wrong_clock_among_three(void **state)
{
    const struct node_case nodes[] = {
        {"a", "{\"timestamp_ms\":1795950000100}", T0},
        {"b", "{\"timestamp_ms\":1795950007000}", T0},
        {"c", "{\"timestamp_ms\":1795949999900}", T0},
    };
    expect(nodes, 3, "warning clock b: clock 6.9 s ahead of the other nodes' (threshold 5 s)");
}

static void test_the_round_trip_midpoint_is_the_reference(void **state)
{
    /* The same node clock seen at different moments: only the offsets count. */
    const struct node_case nodes[] = {
        {"a", "{\"timestamp_ms\":1795950000000}", T0},
        {"b", "{\"timestamp_ms\":1795950020000}", T0 + 20000},
        {"c", "{\"timestamp_ms\":1795949980000}", T0 - 20000},
    };
    expect(nodes, 3, "");
}

static void test_two_clocks_that_disagree_are_both_named(void **state)
{
    const struct node_case nodes[] = {
        {"a", "{\"timestamp_ms\":1795950000000}", T0},
        {"b", "{\"timestamp_ms\":1795950020000}", T0},
    };
    expect(nodes, 2,
           "warning clock a: clock 10.0 s behind the other nodes' (threshold 5 s)\n"
           "warning clock b: clock 10.0 s ahead of the other nodes' (threshold 5 s)");
}

static void test_wrong_types_skip_rules(void **state)
{
    const struct node_case nodes[] = {
        {"a",
         "{\"version\":7,\"timestamp_ms\":\"x\",\"system\":{\"mem_used_pct\":\"95\",\"disks\":{}},"
         "\"services\":{\"failed_units\":[1,null],\"units\":\"x\"},\"network\":{\"wireguard\":"
         "{\"interfaces\":[{\"peers\":7}]}},\"tls\":{\"endpoints\":[{\"days_left\":null}]}}",
         T0},
        {"b", "[]", T0},
        {"c", NULL, T0},
    };
    expect(nodes, 3, "critical ssh c: unreachable: no answer within 10 s");
}

static void test_sorted_by_severity_then_node_order(void **state)
{
    const struct node_case nodes[] = {
        {"a", "{\"processes\":{\"zombie_count\":1},\"system\":{\"mem_used_pct\":99}}", -1},
        {"b", "{\"system\":{\"oom_kills\":1}}", -1},
    };
    expect(nodes, 2,
           "critical system b: 1 OOM kill since boot\n"
           "warning system a: memory 99.0% used (threshold 90%)\n"
           "info processes a: 1 zombie process");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_compare_number_by_number),
        cmocka_unit_test(test_one_wrong_clock_among_three),
        cmocka_unit_test(test_the_round_trip_midpoint_is_the_reference),
        cmocka_unit_test(test_two_clocks_that_disagree_are_both_named),
        cmocka_unit_test(test_wrong_types_skip_rules),
        cmocka_unit_test(test_sorted_by_severity_then_node_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
