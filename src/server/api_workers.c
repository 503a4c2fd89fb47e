/* api_workers.c — the workers (admin): GET /admin/api/status lists every worker with its state
 * from memory; GET /admin/api/worker/NAME shows one, with its recent events (read from the
 * store, the request suspended meanwhile), its latest diagnosis and its latest path probe. Both
 * also carry the uptime-rca-bot's fields where they do not clash with faultline's
 * (docs/migration.md): timestamp, active_workers, health; status, last_seen, recent_events,
 * last_diagnostics. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/uptimebot.h"
#include "base/clock.h"
#include "model/json.h"
#include "server/api.h"
#include "server/fleet.h"
#include "store/store.h"

#define WORKER_PREFIX "/admin/api/worker/"
#define WORKER_EVENTS 20

struct status_list {
    json_t *workers;
    const struct fleet *fleet;
};

/* The worker's JSON shape, plus "recorded": false while its state's event is not on disk. */
static void append_worker(const struct worker_record *w, void *ctx)
{
    struct status_list *list = ctx;
    json_t *obj = worker_json(w);
    json_object_set_new(obj, "recorded", json_boolean(fleet_is_recorded(list->fleet, w->name)));
    json_array_append_new(list->workers, obj);
}

void api_status(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    json_t *workers = json_array();
    struct status_list list = {.workers = workers, .fleet = api->fleet};
    fleet_each(api->fleet, true, append_worker, &list);
    size_t counts[3];
    fleet_count_states(api->fleet, counts);
    int64_t now = clock_wall_ms();
    http_respond_json(
        req, 200,
        json_pack("{s:o, s:I, s:{s:I, s:I, s:I}, s:f, s:o, s:o, s:I, s:o?}", "workers", workers,
                  "total", (json_int_t)fleet_count(api->fleet), "counts", "up",
                  (json_int_t)counts[WORKER_UP], "down", (json_int_t)counts[WORKER_DOWN],
                  "unknown", (json_int_t)counts[WORKER_UNKNOWN], "fail_timeout_s",
                  (double)api->fail_timeout_ms / 1000.0, "server_time", json_time(now),
                  "timestamp", json_time(now), "active_workers", (json_int_t)counts[WORKER_UP],
                  "health", api_analysis_json(api)));
}

/* GET /admin/api/worker/NAME while the store and the latest MTR are read. */
struct worker_view {
    struct api_context *api;
    struct http_request *req;
    char name[WORKER_NAME_MAX + 1];
    json_t *reply;
};

static void on_worker_mtr(json_t *mtr, void *ctx)
{
    struct worker_view *v = ctx;
    json_object_set_new(v->reply, "mtr", mtr);
    http_respond_json(v->req, 200, v->reply);
    free(v);
}

static void on_worker_diagnostic(json_t *record, void *ctx)
{
    struct worker_view *v = ctx;
    json_object_set_new(v->reply, "last_diagnostics", record);
    api_latest_mtr(v->api, v->name, on_worker_mtr, v);
}

static void on_worker_events(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct worker_view *v = ctx;
    if (status != 0) {
        http_respond_error(v->req, 503, "event store unavailable", NULL);
        free(v);
        return;
    }
    const struct worker_record *w = fleet_find(v->api->fleet, v->name);
    json_t *events = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(events, event_json(&evs[i]));
    v->reply = json_pack("{s:o, s:O, s:o, s:s, s:o}", "worker", w ? worker_json(w) : json_null(),
                         "events", events, "recent_events", events, "status",
                         worker_state_name(w ? w->state : WORKER_UNKNOWN), "last_seen",
                         json_time(w ? w->last_seen_ms : 0));
    api_latest_diagnostic(v->api, v->name, on_worker_diagnostic, v);
}

void api_worker(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    const char *name = http_path(req) + strlen(WORKER_PREFIX);
    char base[WORKER_NAME_MAX + 1], err[160];
    int gpus;
    /* The bot's URLs name a worker with its GPU count: brickbox-43(4) is brickbox-43. */
    if (!fleet_find(api->fleet, name) &&
        uptimebot_name_parse(name, base, &gpus, err, sizeof err) == 0)
        name = base;
    if (!fleet_find(api->fleet, name)) {
        http_respond_error(req, 404, "unknown worker", "name");
        return;
    }
    struct worker_view *v = calloc(1, sizeof *v);
    if (!v) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    *v = (struct worker_view){.api = api, .req = req};
    snprintf(v->name, sizeof v->name, "%s", name);
    struct event_query q = {.limit = WORKER_EVENTS, .worker = v->name};
    http_suspend(req);
    store_query_events(api->store, &q, on_worker_events, v);
}
