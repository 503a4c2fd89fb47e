/* api_events.c — the event log (admin). GET /admin/api/events: recorded events (DOWN, UP, GPU
 * lost and back), newest first, filtered by ?limit&type&worker&since (or the uptime-rca-bot's
 * since_minutes). GET /api/v1/events: the same query with the event types of the v1 API
 * (worker_down, ...) and `since` as ISO time or ms. Both read on the store thread with the
 * request suspended. GET /api/v1/events/stream: every event, live, as server-sent events once it
 * is on disk (the recorder tells api_events_publish), resumed from the store after
 * Last-Event-ID, with a heartbeat comment every EVENTS_HEARTBEAT_MS; each client has a bounded
 * buffer (http.h streams) and is dropped, with a last comment, when it overflows. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/num.h"
#include "model/json.h"
#include "server/api.h"
#include "store/store.h"

#define EVENTS_DEFAULT_LIMIT 50
#define EVENTS_MAX_MINUTES (366 * 24 * 60)

/* The v1 API's name of each kind of event ("type"); append-only, as the kinds. */
static const struct {
    enum event_kind kind;
    const char *type;
} event_types[] = {
    {EVENT_UP, "worker_up"},
    {EVENT_DOWN, "worker_down"},
    {EVENT_GPU_LOST, "gpu_lost"},
    {EVENT_GPU_BACK, "gpu_back"},
    {EVENT_CHECK_STATE, "check_state"},
    {EVENT_ALERT_FAILED, "alert_failed"},
};
#define EVENT_TYPES "worker_up,worker_down,gpu_lost,gpu_back,check_state,alert_failed"
#define EVENTS_STREAM_TYPE "text/event-stream; charset=utf-8"

static const char *event_type_name(enum event_kind kind)
{
    for (size_t i = 0; i < sizeof event_types / sizeof event_types[0]; i++)
        if (event_types[i].kind == kind)
            return event_types[i].type;
    return event_kind_name(kind);
}

/* Parses "down,up" (or, with v1, also "worker_down,worker_up") into a kinds mask; returns -1 on
 * an unknown kind. */
static int parse_kinds(const char *text, bool v1, unsigned *kinds)
{
    *kinds = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        enum event_kind kind;
        size_t i = 0;
        while (v1 && i < sizeof event_types / sizeof event_types[0] &&
               strcmp(k, event_types[i].type) != 0)
            i++;
        if (v1 && i < sizeof event_types / sizeof event_types[0])
            kind = event_types[i].kind;
        else if (event_kind_parse(k, &kind) != 0)
            return -1;
        *kinds |= 1u << kind;
    }
    return 0;
}

static json_t *event_v1_json(const struct event_record *ev)
{
    json_t *j = event_json(ev);
    json_object_set_new(j, "type", json_string(event_type_name(ev->kind)));
    return j;
}

/* Fills q from the query; returns the name of the bad parameter (err says why), or NULL. */
static const char *parse_query(struct http_request *req, struct event_query *q, char *err,
                               size_t errlen)
{
    const char *type = http_query(req, "type");
    *q = (struct event_query){.worker = http_query(req, "worker")};
    if (http_query_int(req, "limit", 1, 1000, EVENTS_DEFAULT_LIMIT, &q->limit, err, errlen))
        return "limit";
    if (type && parse_kinds(type, false, &q->kinds) != 0) {
        snprintf(err, errlen,
                 "type: expected a list of up,down,gpu_lost,gpu_back,alert_failed, got \"%.40s\"", type);
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

/* ---- GET /api/v1/events ---- */

/* ?since=: ISO 8601 with a zone, or ms since the epoch (digits only). */
static int parse_since_v1(struct http_request *req, int64_t *out, char *err, size_t errlen)
{
    const char *text = http_query(req, "since");
    *out = 0;
    if (!text)
        return 0;
    if (text[0] && strspn(text, "0123456789") == strlen(text))
        return num_parse_int64("since", text, 0, CLOCK_PARSE_END_MS, "an ISO 8601 time or ms "
                               "since the epoch", out, err, errlen);
    if (clock_parse_iso(text, out) == 0)
        return 0;
    snprintf(err, errlen, "since: expected an ISO 8601 time or ms since the epoch, got \"%.40s\"",
             text);
    return -1;
}

static void on_events_v1(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct http_request *req = ctx;
    if (status != 0) {
        http_respond_error(req, 503, "event store unavailable", NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, event_v1_json(&evs[i]));
    http_respond_json(req, 200, json_pack("{s:o, s:I}", "events", list, "count", (json_int_t)n));
}

void api_events_v1(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct event_query q = {.worker = http_query(req, "worker")};
    const char *type = http_query(req, "type");
    char err[200];
    const char *bad = NULL;
    if (http_query_int(req, "limit", 1, 1000, EVENTS_DEFAULT_LIMIT, &q.limit, err, sizeof err))
        bad = "limit";
    else if (type && parse_kinds(type, true, &q.kinds) != 0) {
        snprintf(err, sizeof err, "type: expected a list of " EVENT_TYPES ", got \"%.40s\"", type);
        bad = "type";
    } else if (parse_since_v1(req, &q.since_ms, err, sizeof err) != 0)
        bad = "since";
    if (bad) {
        http_respond_error(req, 400, err, bad);
        return;
    }
    http_suspend(req);
    store_query_events(api->store, &q, on_events_v1, req);
}

/* ---- GET /api/v1/events/stream ---- */

struct stream_client {
    struct event_streams *hub;
    struct stream_client *prev, *next;
    struct http_request *req;   /* until the stream is open */
    struct http_stream *stream; /* NULL until the first replay is done */
    unsigned kinds;             /* 0: all */
    int64_t last_id;            /* the last event written (or resumed from) */
    bool replaying;             /* a store read of what it missed is in flight */
    bool missed;                /* an event came while replaying: read again */
    bool dropped;               /* its buffer overflowed: ended, waiting for MHD to close it */
};

struct event_streams {
    uv_timer_t heartbeat;
    struct store *store;
    struct stream_client *clients;
};

static void client_unlink(struct stream_client *c)
{
    struct event_streams *hub = c->hub;
    if (c->prev)
        c->prev->next = c->next;
    else
        hub->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void on_stream_closed(void *ctx)
{
    struct stream_client *c = ctx;
    client_unlink(c);
    free(c);
}

/* Writes text, or drops the client when its buffer is full. */
static void client_write(struct stream_client *c, const char *text, size_t len)
{
    if (c->dropped || http_stream_write(c->stream, text, len) == 0)
        return;
    c->dropped = true;
    log_warn("events: dropped a stream client at %s: it read too slowly (%d KiB waiting)",
             http_stream_client_ip(c->stream), EVENTS_STREAM_BUFFER / 1024);
    http_stream_end(c->stream, ": dropped: this client read too slowly\n\n");
}

static void client_send_event(struct stream_client *c, const struct event_record *ev)
{
    c->last_id = ev->id;
    if (c->kinds && !(c->kinds & (1u << ev->kind)))
        return;
    json_t *j = event_v1_json(ev);
    char *data = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!data)
        return;
    size_t len = strlen(data) + 96;
    char *text = malloc(len);
    if (text) {
        int n = snprintf(text, len, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)ev->id,
                         event_type_name(ev->kind), data);
        client_write(c, text, (size_t)n);
    }
    free(text);
    free(data);
}

static void client_replay(struct stream_client *c);

/* What the client missed, oldest first; then it is live (or reads again what came meanwhile). */
static void on_replayed(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct stream_client *c = ctx;
    if (!c->stream) {
        struct http_request *req = c->req;
        c->req = NULL;
        if (status != 0) {
            client_unlink(c);
            free(c);
            http_respond_error(req, 503, "event store unavailable", NULL);
            return;
        }
        c->stream = http_respond_stream(req, EVENTS_STREAM_TYPE,
                                        EVENTS_STREAM_BUFFER, on_stream_closed, c);
        if (!c->stream) {
            client_unlink(c);
            free(c);
            return;
        }
        client_write(c, ": resumed\n\n", 11);
    }
    c->replaying = false;
    if (status != 0 && !c->dropped) { /* what it missed is unknown: it reconnects and resumes */
        c->dropped = true;
        http_stream_end(c->stream, ": the event store is unavailable; reconnect\n\n");
        return;
    }
    for (size_t i = 0; status == 0 && i < n; i++)
        client_send_event(c, &evs[i]);
    /* A full page, or events that came while reading: read on from the last one. */
    if (status == 0 && (n == EVENTS_REPLAY_PAGE || c->missed))
        client_replay(c);
}

static void client_replay(struct stream_client *c)
{
    struct event_query q = {.limit = EVENTS_REPLAY_PAGE, .kinds = 0, .after_id = c->last_id};
    c->replaying = true;
    c->missed = false;
    store_query_events(c->hub->store, &q, on_replayed, c);
}

void api_events_publish(const struct event_record *ev, void *ctx)
{
    struct api_context *api = ctx;
    struct event_streams *hub = api->event_streams;
    for (struct stream_client *c = hub ? hub->clients : NULL, *next; c; c = next) {
        next = c->next; /* a dropped client stays listed until MHD closes it */
        if (c->replaying)
            c->missed = true;
        else if (ev->id > c->last_id)
            client_send_event(c, ev);
    }
}

static void on_heartbeat(uv_timer_t *t)
{
    struct event_streams *hub = t->data;
    for (struct stream_client *c = hub->clients; c; c = c->next)
        if (c->stream)
            client_write(c, ": heartbeat\n\n", 13);
}

/* Last-Event-ID (the header, as EventSource resends it; or ?last_event_id=) into *out, 0 when
 * none. Returns NULL, or the name of the bad one with err set. */
static const char *parse_last_id(struct http_request *req, int64_t *out, char *err, size_t errlen)
{
    const char *header = http_header(req, "Last-Event-ID");
    const char *name = header ? "Last-Event-ID" : "last_event_id";
    const char *text = header ? header : http_query(req, "last_event_id");
    *out = 0;
    if (text && num_parse_int64(name, text, 0, INT64_MAX, "an event id", out, err, errlen) != 0)
        return name;
    return NULL;
}

void api_events_stream(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct event_streams *hub = api->event_streams;
    const char *type = http_query(req, "type"), *bad = NULL;
    unsigned kinds = 0;
    int64_t last_id;
    char err[200];
    if (type && parse_kinds(type, true, &kinds) != 0) {
        snprintf(err, sizeof err, "type: expected a list of " EVENT_TYPES ", got \"%.40s\"", type);
        bad = "type";
    } else {
        bad = parse_last_id(req, &last_id, err, sizeof err);
    }
    if (bad) {
        http_respond_error(req, 400, err, bad);
        return;
    }
    if (!strcmp(http_method(req), "HEAD")) { /* the headers alone: no stream to keep open */
        http_respond(req, 200, EVENTS_STREAM_TYPE, "", 0);
        return;
    }
    struct stream_client *c = hub ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    *c = (struct stream_client){.hub = hub, .kinds = kinds, .last_id = last_id, .req = req};
    c->next = hub->clients;
    if (c->next)
        c->next->prev = c;
    hub->clients = c;
    if (last_id > 0) {
        http_suspend(req);
        client_replay(c);
        return;
    }
    c->req = NULL;
    c->stream = http_respond_stream(req, EVENTS_STREAM_TYPE, EVENTS_STREAM_BUFFER,
                                    on_stream_closed, c);
    if (!c->stream) {
        client_unlink(c);
        free(c);
        return;
    }
    client_write(c, ": live\n\n", 8);
}

int api_events_start(struct api_context *api)
{
    struct event_streams *hub = calloc(1, sizeof *hub);
    if (!hub)
        return -1;
    hub->store = api->store;
    uv_timer_init(api->loop, &hub->heartbeat);
    hub->heartbeat.data = hub;
    uv_timer_start(&hub->heartbeat, on_heartbeat, EVENTS_HEARTBEAT_MS, EVENTS_HEARTBEAT_MS);
    api->event_streams = hub;
    return 0;
}

static void on_hub_closed(uv_handle_t *h)
{
    free(h->data);
}

void api_events_stop(struct api_context *api)
{
    struct event_streams *hub = api->event_streams;
    if (!hub)
        return;
    api->event_streams = NULL;
    uv_close((uv_handle_t *)&hub->heartbeat, on_hub_closed);
}
