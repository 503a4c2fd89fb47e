/* server_source.c — the fleet as a faultline server saw it: GET /api/v1/reports (admin HTTP
 * Basic), each stored report a node, `received` the time it arrived; see source.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/admin_api.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/httpc.h"
#include "monitor/source.h"

#define SERVER_ANSWER_MAX (64 << 20) /* every worker's report: some thousands of nodes */

struct server_collection {
    struct monitor_collection base;
    struct httpc *http;
    struct monitor_snapshot snap;
    char url[2100]; /* without user:password: also what messages show */
    char *only_node;  /* owned; NULL: every worker */
    int64_t started_mono;
    monitor_collect_cb done;
    void *ctx;
};

static int add_report(struct monitor_snapshot *snap, const char *only_node, json_t *entry,
                      size_t index)
{
    const char *worker = json_string_value(json_object_get(entry, "worker"));
    const char *received = json_string_value(json_object_get(entry, "received"));
    json_t *report = json_object_get(entry, "report");
    if (!worker || !json_is_object(report))
        return err_set(snap->error, sizeof snap->error,
                       "reports[%zu]: expected worker (a text) and report (an object)", index);
    if (only_node && strcmp(only_node, worker) != 0)
        return 0;
    struct monitor_result *r = &snap->results[snap->count++];
    r->host = strdup(worker);
    r->name = strdup(worker);
    r->report = json_incref(report);
    r->received_ms = -1;
    if (received)
        clock_parse_iso(received, &r->received_ms);
    r->seen_at_ms = r->received_ms;
    return 0;
}

int monitor_server_reports_read(const char *body, size_t len, const char *only_node,
                                struct monitor_snapshot *snap)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    json_t *reports = json_object_get(doc, "reports");
    if (!json_is_array(reports)) {
        err_set(snap->error, sizeof snap->error, "expected {\"reports\":[...]}, got %s",
                doc ? "another shape" : jerr.text);
        json_decref(doc);
        return -1;
    }
    snap->results = calloc(json_array_size(reports) + 1, sizeof *snap->results);
    if (!snap->results) {
        json_decref(doc);
        return err_set(snap->error, sizeof snap->error, "out of memory");
    }
    size_t i;
    json_t *entry;
    int rc = 0;
    json_array_foreach(reports, i, entry)
    {
        if ((rc = add_report(snap, only_node, entry, i)) != 0)
            break;
    }
    json_decref(doc);
    return rc;
}

static void read_reports(struct server_collection *sc, const struct httpc_response *res)
{
    if (res->error) {
        err_set(sc->snap.error, sizeof sc->snap.error, "GET %s: %s", sc->url, res->error);
        return;
    }
    if (res->status != 200) {
        err_set(sc->snap.error, sizeof sc->snap.error, "GET %s: HTTP %ld%s", sc->url, res->status,
                res->status == 401 ? " (admin user and password: see FAULTLINE_ADMIN_USER)" : "");
        return;
    }
    if (res->body_cut) {
        err_set(sc->snap.error, sizeof sc->snap.error, "GET %s: answer larger than %d MiB",
                sc->url, SERVER_ANSWER_MAX >> 20);
        return;
    }
    if (monitor_server_reports_read(res->body, res->body_len, sc->only_node, &sc->snap) != 0) {
        char why[sizeof sc->snap.error];
        snprintf(why, sizeof why, "%s", sc->snap.error);
        err_set(sc->snap.error, sizeof sc->snap.error, "GET %s: %.200s", sc->url, why);
    }
}

static void on_response(const struct httpc_response *res, void *ctx)
{
    struct server_collection *sc = ctx;
    read_reports(sc, res);
    sc->snap.duration_ms = clock_mono_ms() - sc->started_mono;
    for (size_t i = 0; i < sc->snap.count; i++)
        sc->snap.results[i].collection_ms = sc->snap.duration_ms;
    struct monitor_snapshot snap = sc->snap;
    monitor_collect_cb done = sc->done;
    void *done_ctx = sc->ctx;
    httpc_close(sc->http);
    free(sc->only_node);
    free(sc);
    done(&snap, done_ctx);
}

static void server_cancel(struct monitor_collection *self)
{
    struct server_collection *sc = (struct server_collection *)self;
    struct httpc *http = sc->http;
    sc->http = NULL;
    httpc_close(http); /* runs on_response with "cancelled", which frees sc */
}

struct monitor_collection *monitor_server_start(uv_loop_t *loop, const char *url,
                                                const char *only_node, int64_t timeout_ms,
                                                monitor_collect_cb done, void *ctx, char *err,
                                                size_t errlen)
{
    struct admin_server server;
    if (admin_server_parse(url, &server) != 0) {
        err_set(err, errlen, "--server: expected %s, got \"%.100s\"", CONFIG_EXPECT_URL, url);
        return NULL;
    }
    struct server_collection *sc = calloc(1, sizeof *sc);
    if (!sc || !(sc->http = httpc_new(loop))) {
        free(sc);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    sc->base.cancel = server_cancel;
    snprintf(sc->url, sizeof sc->url, "%s/api/v1/reports", server.base);
    sc->only_node = only_node ? strdup(only_node) : NULL;
    sc->snap.started_ms = clock_wall_ms();
    sc->started_mono = clock_mono_ms();
    sc->done = done;
    sc->ctx = ctx;
    const char *headers[] = {server.auth, NULL};
    struct httpc_request req = {.method = "GET",
                                .url = sc->url,
                                .headers = headers,
                                .timeout_ms = (long)timeout_ms,
                                .max_body = SERVER_ANSWER_MAX};
    if (httpc_start(sc->http, &req, on_response, sc) != 0) {
        httpc_close(sc->http);
        free(sc->only_node);
        free(sc);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    return &sc->base;
}
