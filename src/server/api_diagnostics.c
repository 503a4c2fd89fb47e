/* api_diagnostics.c — GET /admin/api/diagnostics (admin): the records agents uploaded with
 * their backlogs, filtered by ?worker&kind&since&until&limit; and the latest diagnosis and path
 * probe of one worker, for GET /admin/api/worker/NAME. Store reads run on the store thread with
 * the request suspended. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/label.h"
#include "model/json.h"
#include "server/api.h"
#include "store/store.h"

#define DIAG_DEFAULT_LIMIT 100

static void on_diagnostics(int status, const struct diag_record *recs, size_t n, void *ctx)
{
    struct http_request *req = ctx;
    if (status != 0) {
        http_respond_error(req, 503, "diagnostics store unavailable", NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, diagnostic_json(&recs[i]));
    http_respond_json(req, 200, json_pack("{s:o}", "diagnostics", list));
}

/* Fills q from the query; returns the name of the bad parameter (err says why), or NULL. */
static const char *parse_query(struct http_request *req, struct diag_query *q, char *err,
                               size_t errlen)
{
    *q = (struct diag_query){.worker = http_query(req, "worker"), .kind = http_query(req, "kind")};
    if (http_query_int(req, "limit", 1, 1000, DIAG_DEFAULT_LIMIT, &q->limit, err, errlen))
        return "limit";
    if (http_query_time(req, "since", &q->since_ms, err, errlen))
        return "since";
    if (http_query_time(req, "until", &q->until_ms, err, errlen))
        return "until";
    if (q->worker && !label_valid(q->worker)) {
        snprintf(err, errlen, "worker: expected %s", LABEL_RULE);
        return "worker";
    }
    if (q->kind && strcmp(q->kind, "metric") && strcmp(q->kind, "diagnostic")) {
        snprintf(err, errlen, "kind: expected metric or diagnostic");
        return "kind";
    }
    return NULL;
}

void api_diagnostics(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct diag_query q;
    char err[160];
    const char *bad = parse_query(req, &q, err, sizeof err);
    if (bad) {
        http_respond_error(req, 400, err, bad);
        return;
    }
    http_suspend(req);
    store_query_diagnostics(api->store, &q, on_diagnostics, req);
}

struct latest_record {
    void (*done)(json_t *record, void *ctx);
    void *ctx;
    bool mtr_only;
};

static void on_latest_record(int status, const struct diag_record *recs, size_t n, void *ctx)
{
    struct latest_record *lr = ctx;
    json_t *out = json_null();
    if (status == 0 && n > 0 && !lr->mtr_only) {
        json_decref(out);
        out = diagnostic_json(&recs[0]);
    } else if (status == 0 && n > 0) {
        json_t *body = json_stored(recs[0].body_json, json_object());
        json_t *mtr = json_object_get(body, "mtr");
        if (json_is_object(mtr)) {
            json_decref(out);
            out = json_pack("{s:o, s:s, s:O}", "time", json_time(recs[0].time_ms), "record_id",
                            recs[0].record_id, "mtr", mtr);
        }
        json_decref(body);
    }
    lr->done(out, lr->ctx);
    free(lr);
}

/* The worker's newest diagnosis (with an mtr when mtr_only) handed to done, as the caller says. */
static void latest_record(struct api_context *api, const char *worker, bool mtr_only,
                          void (*done)(json_t *, void *), void *ctx)
{
    struct latest_record *lr = malloc(sizeof *lr);
    if (!lr) {
        done(json_null(), ctx);
        return;
    }
    *lr = (struct latest_record){.done = done, .ctx = ctx, .mtr_only = mtr_only};
    struct diag_query q = {
        .limit = 1, .worker = worker, .kind = "diagnostic", .with_mtr = mtr_only};
    store_query_diagnostics(api->store, &q, on_latest_record, lr);
}

void api_latest_mtr(struct api_context *api, const char *worker, void (*done)(json_t *, void *),
                    void *ctx)
{
    latest_record(api, worker, true, done, ctx);
}

void api_latest_diagnostic(struct api_context *api, const char *worker,
                           void (*done)(json_t *, void *), void *ctx)
{
    latest_record(api, worker, false, done, ctx);
}
