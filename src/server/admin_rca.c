/* admin_rca.c — the admin API of root-cause analysis: GET /admin/api/rca (incidents, open and
 * recent, from the store), GET /admin/api/diagnostics (what agents uploaded) and
 * GET /admin/api/analysis (who is down now, grouped, with the current classification). Behind
 * the same HTTP Basic as the rest of /admin; store reads run on the store thread with the
 * request suspended. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/label.h"
#include "server/server_internal.h"

#define RCA_DEFAULT_LIMIT 50
#define DIAG_DEFAULT_LIMIT 100

/* Parses a JSON text stored by the server itself; fallback (a new reference) if it is not. */
static json_t *stored_json(const char *text, json_t *fallback)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (!v)
        return fallback;
    json_decref(fallback);
    return v;
}

json_t *admin_incident_json(const struct incident_record *inc)
{
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "id", (json_int_t)inc->id,
                     "classification", inc->classification, "scope",
                     stored_json(inc->scope_json, json_object()), "workers",
                     stored_json(inc->workers_json, json_array()), "opened_at",
                     admin_iso_time(inc->opened_ms), "closed_at", admin_iso_time(inc->closed_ms),
                     "updated_at", admin_iso_time(inc->updated_ms), "open", inc->closed_ms <= 0,
                     "evidence", stored_json(inc->evidence_json, json_object()));
}

static void on_incidents(int status, const struct incident_record *incs, size_t n, void *ctx)
{
    struct http_request *req = ctx;
    if (status != 0) {
        http_respond_error(req, 503, "incident store unavailable", NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, admin_incident_json(&incs[i]));
    admin_respond_json(req, 200, json_pack("{s:o}", "incidents", list));
}

/* ?limit= from 1 to 1000; answers 400 and returns -1 when bad. */
int admin_query_limit(struct http_request *req, int fallback, int *out)
{
    const char *text = http_query(req, "limit");
    *out = fallback;
    if (!text)
        return 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 1 || v > 1000) {
        char err[128];
        snprintf(err, sizeof err, "limit: expected a number from 1 to 1000, got \"%.40s\"", text);
        http_respond_error(req, 400, err, "limit");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* ?NAME= as an ISO 8601 time (absent: 0); answers 400 and returns -1 when bad. */
int admin_query_time(struct http_request *req, const char *name, int64_t *out)
{
    const char *text = http_query(req, name);
    *out = 0;
    if (!text || clock_parse_iso(text, out) == 0)
        return 0;
    char err[128];
    snprintf(err, sizeof err, "%s: expected an ISO 8601 UTC time, got \"%.40s\"", name, text);
    http_respond_error(req, 400, err, name);
    return -1;
}

void admin_api_rca(struct http_request *req, void *ctx)
{
    struct server *srv = ctx;
    struct incident_query q = {0};
    if (!admin_authorized(req, srv) || admin_query_limit(req, RCA_DEFAULT_LIMIT, &q.limit) ||
        admin_query_time(req, "since", &q.since_ms))
        return;
    const char *open = http_query(req, "open");
    q.open_only = open && (!strcmp(open, "1") || !strcmp(open, "true"));
    http_suspend(req);
    store_query_incidents(srv->store, &q, on_incidents, req);
}

static json_t *diag_json(const struct diag_record *d)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)d->id, "worker",
                     d->worker, "record_id", d->record_id, "kind", d->kind, "time",
                     admin_iso_time(d->time_ms), "received_at", admin_iso_time(d->received_ms),
                     "record", stored_json(d->body_json, json_object()));
}

static void on_diagnostics(int status, const struct diag_record *recs, size_t n, void *ctx)
{
    struct http_request *req = ctx;
    if (status != 0) {
        http_respond_error(req, 503, "diagnostics store unavailable", NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, diag_json(&recs[i]));
    admin_respond_json(req, 200, json_pack("{s:o}", "diagnostics", list));
}

void admin_api_diagnostics(struct http_request *req, void *ctx)
{
    struct server *srv = ctx;
    struct diag_query q = {.worker = http_query(req, "worker"), .kind = http_query(req, "kind")};
    if (!admin_authorized(req, srv) || admin_query_limit(req, DIAG_DEFAULT_LIMIT, &q.limit) ||
        admin_query_time(req, "since", &q.since_ms) || admin_query_time(req, "until", &q.until_ms))
        return;
    if (q.worker && !label_valid(q.worker)) {
        http_respond_error(req, 400, "worker: expected " LABEL_RULE, "worker");
        return;
    }
    if (q.kind && strcmp(q.kind, "metric") && strcmp(q.kind, "diagnostic")) {
        http_respond_error(req, 400, "kind: expected metric or diagnostic", "kind");
        return;
    }
    http_suspend(req);
    store_query_diagnostics(srv->store, &q, on_diagnostics, req);
}

/* The latest path probe of one worker, for GET /admin/api/worker/NAME: calls done with
 * {"time":ISO,"record_id":...,"mtr":{...}} or null. */
struct latest_mtr {
    void (*done)(json_t *mtr, void *ctx);
    void *ctx;
};

static void on_latest_mtr(int status, const struct diag_record *recs, size_t n, void *ctx)
{
    struct latest_mtr *lm = ctx;
    json_t *out = json_null();
    if (status == 0 && n > 0) {
        json_t *body = stored_json(recs[0].body_json, json_object());
        json_t *mtr = json_object_get(body, "mtr");
        if (json_is_object(mtr)) {
            json_decref(out);
            out = json_pack("{s:o, s:s, s:O}", "time", admin_iso_time(recs[0].time_ms), "record_id",
                            recs[0].record_id, "mtr", mtr);
        }
        json_decref(body);
    }
    lm->done(out, lm->ctx);
    free(lm);
}

void admin_latest_mtr(struct server *srv, const char *worker, void (*done)(json_t *, void *),
                      void *ctx)
{
    struct latest_mtr *lm = malloc(sizeof *lm);
    if (!lm) {
        done(json_null(), ctx);
        return;
    }
    *lm = (struct latest_mtr){.done = done, .ctx = ctx};
    struct diag_query q = {.limit = 1, .worker = worker, .kind = "diagnostic", .with_mtr = 1};
    store_query_diagnostics(srv->store, &q, on_latest_mtr, lm);
}
