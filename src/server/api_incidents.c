/* api_incidents.c — root-cause analysis over HTTP (admin): GET /admin/api/rca lists incidents,
 * open and recent, from the store (?limit&open&since), an open one with the checks it holds back;
 * GET /admin/api/analysis shows who is down now, grouped, with the current classification
 * (incidents.h) and the server's canaries. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "model/json.h"
#include "server/api.h"
#include "server/canary.h"
#include "server/checks.h"
#include "server/incidents.h"
#include "store/store.h"

#define RCA_DEFAULT_LIMIT 50

#define SUPPRESSED_CHECKS_MAX 256

/* What the store's answer needs: the request and the API (its check engine, read then). */
struct incidents_query {
    struct http_request *req;
    const struct api_context *api;
};

/* An open incident's entry lists the checks it holds back (they run only from a site it cut
 * off: "suppressed_checks"). */
static json_t *entry_json(const struct api_context *api, const struct incident_record *inc)
{
    json_t *o = incident_json(inc);
    if (inc->closed_ms != 0 || !api->checks)
        return o;
    const char *names[SUPPRESSED_CHECKS_MAX];
    size_t n = checks_held_by_incident(api->checks, inc->id, names, SUPPRESSED_CHECKS_MAX);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_string(names[i]));
    json_object_set_new(o, "suppressed_checks", list);
    return o;
}

static void on_incidents(int status, const struct incident_record *incs, size_t n, void *ctx)
{
    struct incidents_query *q = ctx;
    struct http_request *req = q->req;
    const struct api_context *api = q->api;
    free(q);
    if (status != 0) {
        http_respond_error(req, 503, "incident store unavailable", NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, entry_json(api, &incs[i]));
    http_respond_json(req, 200, json_pack("{s:o}", "incidents", list));
}

void api_incidents(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct incident_query q = {0};
    char err[160];
    if (http_query_int(req, "limit", 1, 1000, RCA_DEFAULT_LIMIT, &q.limit, err, sizeof err)) {
        http_respond_error(req, 400, err, "limit");
        return;
    }
    if (http_query_time(req, "since", &q.since_ms, err, sizeof err)) {
        http_respond_error(req, 400, err, "since");
        return;
    }
    const char *open = http_query(req, "open");
    q.open_only = open && (!strcmp(open, "1") || !strcmp(open, "true"));
    struct incidents_query *ctx_q = malloc(sizeof *ctx_q);
    if (!ctx_q) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    *ctx_q = (struct incidents_query){.req = req, .api = api};
    http_suspend(req);
    store_query_incidents(api->store, &q, on_incidents, ctx_q);
}

json_t *api_analysis_json(struct api_context *api)
{
    json_t *analysis = incidents_analysis(api->incidents, clock_wall_ms());
    if (analysis)
        json_object_set_new(analysis, "server_canaries", canaries_json(api->canaries));
    return analysis;
}

void api_analysis(struct http_request *req, void *ctx)
{
    json_t *analysis = api_analysis_json(ctx);
    if (!analysis) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    http_respond_json(req, 200, analysis);
}
