/* api_events.c — GET /admin/api/events (admin): recorded events (DOWN, UP, GPU lost and back),
 * newest first, filtered by ?limit&type&worker&since (or the uptime-rca-bot's since_minutes),
 * read on the store thread with the request suspended; answered with their count. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "model/json.h"
#include "server/api.h"
#include "store/store.h"

#define EVENTS_DEFAULT_LIMIT 50
#define EVENTS_MAX_MINUTES (366 * 24 * 60)

/* Parses "down,up" into a kinds mask; returns -1 on an unknown kind. */
static int parse_kinds(const char *text, unsigned *kinds)
{
    *kinds = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        enum event_kind kind;
        if (event_kind_parse(k, &kind) != 0)
            return -1;
        *kinds |= 1u << kind;
    }
    return 0;
}

/* Fills q from the query; returns the name of the bad parameter (err says why), or NULL. */
static const char *parse_query(struct http_request *req, struct event_query *q, char *err,
                               size_t errlen)
{
    const char *type = http_query(req, "type");
    *q = (struct event_query){.worker = http_query(req, "worker")};
    if (http_query_int(req, "limit", 1, 1000, EVENTS_DEFAULT_LIMIT, &q->limit, err, errlen))
        return "limit";
    if (type && parse_kinds(type, &q->kinds) != 0) {
        snprintf(err, errlen,
                 "type: expected a list of up,down,gpu_lost,gpu_back, got \"%.40s\"", type);
        return "type";
    }
    if (http_query_time(req, "since", &q->since_ms, err, errlen))
        return "since";
    int minutes;
    if (http_query_int(req, "since_minutes", 1, EVENTS_MAX_MINUTES, 0, &minutes, err, errlen))
        return "since_minutes";
    int64_t since = minutes ? clock_wall_ms() - (int64_t)minutes * 60000 : 0;
    if (since > q->since_ms)
        q->since_ms = since;
    return NULL;
}

static void on_events(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct http_request *req = ctx;
    if (status != 0) {
        http_respond_error(req, 503, "event store unavailable", NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, event_json(&evs[i]));
    http_respond_json(req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)n, "events", list));
}

void api_events(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct event_query q;
    char err[160];
    const char *bad = parse_query(req, &q, err, sizeof err);
    if (bad) {
        http_respond_error(req, 400, err, bad);
        return;
    }
    http_suspend(req);
    store_query_events(api->store, &q, on_events, req);
}
