/* api_ping.c — GET and POST /ping/NAME (the uptime-rca-bot's clients, ?api_key= or X-API-Key):
 * a heartbeat, answered 200 {"status": 1, "msg": "Heartbeat received"} as the bot answers it.
 * NAME(N) is worker NAME with N GPUs and NAME(GPU_ERR) the same worker whose GPU check failed
 * (analyze/uptimebot.h), so a machine keeps one identity, and one history, when its count
 * changes. A POST may carry the client's recovery backlog, {"backlog": [...], "recovery": true}:
 * its records are mapped to faultline's diagnostics, stored under an id made from their content
 * (a backlog sent again stores nothing twice) and handed to the follow-up like an agent's. A
 * record that does not fit is refused by name in the answer; the heartbeat and the other records
 * still count. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/uptimebot.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/api.h"
#include "server/events.h"
#include "server/fleet.h"
#include "server/followup.h"
#include "server/json_input.h"
#include "store/store.h"

#define PING_PREFIX "/ping/"
#define PING_OK "{\"status\":1,\"msg\":\"Heartbeat received\"}"
#define PING_BACKLOG_MAX 500
#define PING_VERSION "uptime-rca-bot"
/* The client diagnoses after its 2nd failed heartbeat and every 5th after: 150 s apart at
 * PING_INTERVAL 30. Records further apart than this are not one outage. */
#define PING_OUTAGE_GAP_MS (10 * 60 * 1000)

/* A backlog on its way to the store: the request to answer and what to tell afterwards. */
struct ping_backlog {
    struct followup *followup;
    struct http_request *req;
    char worker[WORKER_NAME_MAX + 1];
    int64_t first_ms, last_ms;
    json_t *refused; /* [{"field","error"}] */
};

static void ping_backlog_free(struct ping_backlog *b, struct diag_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)recs[i].body_json);
    free(recs);
    if (b)
        json_decref(b->refused);
    free(b);
}

static void answer_backlog(struct ping_backlog *b, size_t stored, size_t duplicates)
{
    http_respond_json(b->req, 200,
                      json_pack("{s:i, s:s, s:I, s:I, s:O}", "status", 1, "msg",
                                "Heartbeat received", "stored", (json_int_t)stored, "duplicates",
                                (json_int_t)duplicates, "refused", b->refused));
}

static void on_backlog_stored(int status, size_t stored, size_t duplicates, void *ctx)
{
    struct ping_backlog *b = ctx;
    if (status != 0) {
        http_respond_error(b->req, 503, "diagnostics store unavailable; nothing stored", NULL);
    } else {
        answer_backlog(b, stored, duplicates);
        log_info("server: backlog from %s (uptime-rca-bot): %zu records stored, %zu already had, "
                 "%zu refused",
                 b->worker, stored, duplicates, json_array_size(b->refused));
        if (stored > 0)
            followup_backlog_stored(b->followup, b->worker, b->first_ms, b->last_ms);
    }
    ping_backlog_free(b, NULL, 0);
}

/* Maps records[i] into *out (body_json malloc'd), or adds it to b->refused by name. */
static bool map_record(struct ping_backlog *b, const json_t *rec, size_t i, int64_t now,
                       struct diag_record *out)
{
    char field[96], err[256], named_field[128], named_err[300];
    json_t *mapped = uptimebot_record_map(rec, 0, field, sizeof field, err, sizeof err);
    const char *kind = json_string_value(json_object_get(mapped, "kind"));
    const char *id = json_string_value(json_object_get(mapped, "id"));
    const char *time = json_string_value(json_object_get(mapped, "time"));
    *out = (struct diag_record){.received_ms = now};
    if (mapped && kind && id && time && clock_parse_iso(time, &out->time_ms) == 0 &&
        (out->body_json = json_dumps(mapped, JSON_COMPACT | JSON_REAL_PRECISION(10)))) {
        snprintf(out->worker, sizeof out->worker, "%s", b->worker);
        snprintf(out->record_id, sizeof out->record_id, "%s", id);
        snprintf(out->kind, sizeof out->kind, "%s", kind);
        json_decref(mapped);
        return true;
    }
    json_decref(mapped);
    snprintf(named_field, sizeof named_field, "backlog[%zu].%s", i, field[0] ? field : "record");
    snprintf(named_err, sizeof named_err, "backlog[%zu].%s", i, err[0] ? err : "out of memory");
    json_array_append_new(b->refused,
                          json_pack("{s:s, s:s}", "field", named_field, "error", named_err));
    return false;
}

static int by_time(const void *a, const void *b)
{
    const struct diag_record *x = a, *y = b;
    return (x->time_ms > y->time_ms) - (x->time_ms < y->time_ms);
}

/* The span of the last outage in the records: the client keeps its last diagnoses, the one it
 * ran when it started included, which may be days older than the outage it reports; the
 * follow-up looks for the incident that the latest run of them (no gap over
 * PING_OUTAGE_GAP_MS) explains. Sorts recs by time. */
static void outage_span(struct diag_record *recs, size_t n, int64_t *first_ms, int64_t *last_ms)
{
    if (n == 0)
        return;
    qsort(recs, n, sizeof *recs, by_time);
    size_t i = n - 1;
    while (i > 0 && recs[i].time_ms - recs[i - 1].time_ms <= PING_OUTAGE_GAP_MS)
        i--;
    *first_ms = recs[i].time_ms;
    *last_ms = recs[n - 1].time_ms;
}

/* The records of a POST body: its "backlog" array, or the body itself when it is one record
 * (older clients posted one diagnosis). NULL with err when neither. */
static const json_t *backlog_of(const json_t *body, json_t **one, char *err, size_t errlen)
{
    const json_t *backlog = json_object_get(body, "backlog");
    *one = NULL;
    if (json_is_array(backlog) && json_array_size(backlog) <= PING_BACKLOG_MAX)
        return backlog;
    if (!backlog && uptimebot_format_of(body) != UPTIMEBOT_NONE)
        return *one = json_pack("[O]", body);
    snprintf(err, errlen,
             backlog ? "backlog: expected an array of at most %d records"
                     : "body: expected {\"backlog\": [...]} with at most %d records",
             PING_BACKLOG_MAX);
    return NULL;
}

/* The body as JSON, or NULL with err (and field, when one member is to blame) as the backlog of
 * faultline's agents is refused: bytes that are not UTF-8 named by their member, repeated
 * members refused. */
static json_t *load_body(const char *body, size_t len, char *field, size_t fieldlen, char *err,
                         size_t errlen)
{
    size_t bad = json_input_utf8_error(body, len);
    if (bad < len) {
        json_input_path_at(body, len, bad, field, fieldlen);
        snprintf(err, errlen, "%s: expected UTF-8 text, got the byte 0x%02X at offset %zu",
                 field[0] ? field : "body", (unsigned char)body[bad], bad);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char text[160];
        json_input_printable(jerr.text, strlen(jerr.text), text, sizeof text);
        snprintf(err, errlen, "body: not valid JSON (%s)", text);
    }
    return root;
}

/* Stores what a POST carries, and answers; the heartbeat is already counted. */
static void take_backlog(struct api_context *api, struct http_request *req, const char *worker,
                         const char *body, size_t len)
{
    char err[256], field[96] = "";
    json_t *root = load_body(body, len, field, sizeof field, err, sizeof err), *one = NULL;
    const json_t *records = root ? backlog_of(root, &one, err, sizeof err) : NULL;
    if (!records) {
        if (root && json_object_get(root, "backlog"))
            snprintf(field, sizeof field, "backlog");
        http_respond_error(req, 400, err, field[0] ? field : NULL);
        json_decref(root);
        return;
    }
    size_t count = json_array_size(records), n = 0;
    struct ping_backlog *b = calloc(1, sizeof *b);
    struct diag_record *recs = calloc(count ? count : 1, sizeof *recs);
    if (!b || !recs || !(b->refused = json_array())) {
        http_respond_error(req, 503, "server out of memory", NULL);
        ping_backlog_free(b, recs, 0);
        json_decref(one);
        json_decref(root);
        return;
    }
    b->followup = api->followup;
    b->req = req;
    snprintf(b->worker, sizeof b->worker, "%s", worker);
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < count; i++) {
        if (map_record(b, json_array_get(records, i), i, now, &recs[n]))
            n++;
    }
    outage_span(recs, n, &b->first_ms, &b->last_ms);
    json_decref(one);
    json_decref(root);
    if (n == 0) {
        answer_backlog(b, 0, 0);
        ping_backlog_free(b, recs, 0);
        return;
    }
    http_suspend(req);
    store_append_diagnostics(api->store, recs, n, on_backlog_stored, b);
    ping_backlog_free(NULL, recs, n);
}

static bool has_body(const char *body, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (body[i] != ' ' && body[i] != '\t' && body[i] != '\r' && body[i] != '\n')
            return true;
    return false;
}

void api_ping(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct heartbeat hb = {.version = PING_VERSION};
    char err[200];
    if (uptimebot_name_parse(http_path(req) + strlen(PING_PREFIX), hb.name, &hb.gpus, err,
                             sizeof err) != 0) {
        http_respond_error(req, 400, err, "worker");
        return;
    }
    size_t len;
    const char *body = http_body(req, &len);
    bool backlog = !strcmp(http_method(req), "POST") && body && has_body(body, len);
    /* A plain heartbeat is answered once a state change it causes is stored (events.h); one that
     * carries a backlog is answered once the backlog is. */
    struct heartbeat_answer answer = {.req = req, .ok_json = PING_OK};
    int rc = fleet_heartbeat(api->fleet, &hb, http_client_ip(req), clock_mono_ms(), clock_wall_ms(),
                             backlog ? NULL : &answer);
    if (rc < 0)
        http_respond_error(req, 503, "server out of memory", NULL);
    else if (backlog)
        take_backlog(api, req, hb.name, body, len);
    else if (rc == FLEET_HEARTBEAT_UNRECORDED)
        events_refuse_heartbeat(req);
    else if (rc == FLEET_HEARTBEAT_SEEN)
        http_respond_json_text(req, 200, PING_OK);
    /* rc 1 without a backlog: the event recorder took the request (events.c). */
}
