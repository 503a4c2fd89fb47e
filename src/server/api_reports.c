/* api_reports.c — the reports agents push (docs/report.md): POST /api/v1/reports/NAME (agents)
 * checks the body's shape (report/report.h: report_check), stores it as the worker's latest and
 * answers once it is committed; GET /api/v1/reports and GET /api/v1/reports/NAME (admin) serve
 * them from the store, with the request suspended while the store thread reads. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/label.h"
#include "base/log.h"
#include "model/json.h"
#include "report/report.h"
#include "server/api.h"
#include "store/store.h"

#define REPORTS_PREFIX "/api/v1/reports/"

struct report_push {
    struct http_request *req;
    char worker[WORKER_NAME_MAX + 1];
    int64_t received_ms;
};

static void on_report_stored(int status, void *ctx)
{
    struct report_push *p = ctx;
    if (status != 0)
        http_respond_error(p->req, 503, "report store unavailable; nothing stored", NULL);
    else
        http_respond_json(
            p->req, 200,
            json_pack("{s:s, s:o}", "worker", p->worker, "received", json_time(p->received_ms)));
    free(p);
}

/* The worker name after the prefix, or NULL after answering 400. */
static const char *report_worker(struct http_request *req)
{
    const char *name = http_path(req) + strlen(REPORTS_PREFIX);
    if (label_valid(name))
        return name;
    char err[200];
    snprintf(err, sizeof err, "worker name \"%.64s\": expected " LABEL_RULE, name);
    http_respond_error(req, 400, err, "name");
    return NULL;
}

void api_report_push(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    const char *name = report_worker(req);
    if (!name)
        return;
    size_t len;
    const char *body = http_body(req, &len);
    json_error_t jerr;
    json_t *doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    char err[300];
    if (!doc) {
        snprintf(err, sizeof err, "body: not JSON (line %d, column %d: %s)", jerr.line, jerr.column,
                 jerr.text);
        http_respond_error(req, 400, err, "body");
        return;
    }
    if (report_check(doc, err, sizeof err) != 0) {
        json_decref(doc);
        char field[128];
        snprintf(field, sizeof field, "%.*s", (int)strcspn(err, ":"), err);
        http_respond_error(req, 400, err, field);
        return;
    }
    json_decref(doc);
    struct report_push *p = malloc(sizeof *p);
    if (!p) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    *p = (struct report_push){.req = req, .received_ms = clock_wall_ms()};
    snprintf(p->worker, sizeof p->worker, "%s", name);
    /* The body is NUL-terminated by the HTTP layer and stays valid until the answer. */
    struct node_report_record rec = {.received_ms = p->received_ms, .body_json = body};
    snprintf(rec.worker, sizeof rec.worker, "%s", name);
    http_suspend(req);
    store_save_report(api->store, &rec, on_report_stored, p);
    log_debug("server: report from %s (%zu bytes)", name, len);
}

static void on_reports(int status, const struct node_report_record *recs, size_t n, void *ctx)
{
    struct http_request *req = ctx;
    if (status != 0) {
        http_respond_error(req, 503, "report store unavailable", NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, node_report_json(&recs[i]));
    http_respond_json(req, 200, json_pack("{s:o}", "reports", list));
}

void api_reports(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    http_suspend(req);
    store_query_reports(api->store, NULL, on_reports, req);
}

static void on_report(int status, const struct node_report_record *recs, size_t n, void *ctx)
{
    struct http_request *req = ctx;
    if (status != 0)
        http_respond_error(req, 503, "report store unavailable", NULL);
    else if (n == 0)
        http_respond_error(req, 404, "no report from this worker", "name");
    else
        http_respond_json(req, 200, node_report_json(&recs[0]));
}

void api_report(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    const char *name = report_worker(req);
    if (!name)
        return;
    http_suspend(req);
    store_query_reports(api->store, name, on_report, req);
}
