/* api_incidents.c — root-cause analysis over HTTP (admin): GET /admin/api/rca lists incidents,
 * open and recent, from the store (?limit&open&since); GET /admin/api/analysis shows who is down
 * now, grouped, with the current classification (incidents.h) and the server's canaries. */
#include <jansson.h>
#include <string.h>

#include "base/clock.h"
#include "model/json.h"
#include "server/api.h"
#include "server/canary.h"
#include "server/incidents.h"
#include "store/store.h"

#define RCA_DEFAULT_LIMIT 50

static void on_incidents(int status, const struct incident_record *incs, size_t n, void *ctx)
{
    struct http_request *req = ctx;
    if (status != 0) {
        http_respond_error(req, 503, "incident store unavailable", NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, incident_json(&incs[i]));
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
    http_suspend(req);
    store_query_incidents(api->store, &q, on_incidents, req);
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
