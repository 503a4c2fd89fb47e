/* fuzz_monitor.c — libFuzzer target for what `faultline monitor` reads from outside: the first
 * byte picks the input. 0: a node's report (what `faultline report --json` printed over ssh),
 * given to three nodes with different clocks, then every alert rule and every view; 1: the body
 * of a server's GET /api/v1/reports, then the rules and views; 2: a nodes file (its `nodes:`
 * and `thresholds:` sections). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "monitor/alerts.h"
#include "monitor/settings.h"
#include "monitor/source.h"
#include "monitor/views.h"

static void show(struct monitor_snapshot *snap)
{
    struct monitor_settings s;
    monitor_settings_init(&s);
    struct monitor_alerts alerts = {0};
    monitor_alerts_derive(snap, &s.thresholds, &alerts);
    FILE *null = fopen("/dev/null", "w");
    for (int v = MONITOR_VIEW_CLUSTER; v <= MONITOR_VIEW_REPORT; v++) {
        monitor_view_print(null, (enum monitor_view)v, snap, &alerts);
        json_decref(monitor_view_json((enum monitor_view)v, snap, &alerts));
    }
    fclose(null);
    monitor_alerts_free(&alerts);
}

static void one_report(const char *text, size_t len)
{
    json_t *doc = json_loadb(text, len, 0, NULL);
    struct monitor_snapshot snap = {.count = 3};
    snap.results = calloc(3, sizeof *snap.results);
    for (size_t i = 0; i < 3; i++) {
        snap.results[i].host = strdup("127.0.0.1");
        snap.results[i].name = strdup(i == 0 ? "a" : i == 1 ? "b" : "c");
        snap.results[i].report = i < 2 ? json_incref(doc) : NULL;
        snap.results[i].seen_at_ms = 1795950000000 + (int64_t)i * 60000;
        snap.results[i].received_ms = i == 1 ? 1795950000000 : -1;
    }
    show(&snap);
    monitor_snapshot_clear(&snap);
    json_decref(doc);
}

static void server_body(const char *text, size_t len)
{
    struct monitor_snapshot snap = {0};
    monitor_server_reports_read(text, len, len % 2 ? "w1" : NULL, &snap);
    show(&snap);
    monitor_snapshot_clear(&snap);
}

static void nodes_file(const char *text, size_t len)
{
    static const struct config_table *const tables[] = {&monitor_settings_table};
    config_register_tables(tables, 1);
    struct config cfg;
    struct monitor_settings s;
    config_init(&cfg);
    monitor_settings_init(&s);
    config_attach(&cfg, &monitor_settings_table, &s);
    char err[512];
    config_apply_yaml_text(&cfg, "nodes.yaml", text, len, err, sizeof err);
    monitor_settings_free(&s);
    config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        one_report(text, size - 1);
        break;
    case 1:
        server_body(text, size - 1);
        break;
    default:
        nodes_file(text, size - 1);
    }
    free(text);
    return 0;
}
