/* api_silences.c — the silences API (admin): GET and POST /api/v1/silences, GET and DELETE
 * /api/v1/silences/ID. Silences live in memory (alert/silence.h) and are written to the store
 * before the API says they exist or are expired; those from the --config file cannot be
 * deleted here (409 naming the file). docs/api.md, docs/silences.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/silence.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/api.h"
#include "store/store.h"

#define SILENCE_PREFIX "/api/v1/silences/"

/* A silence not shown without ?expired=1: expired through the API, or a one-off whose end has
 * passed. */
static bool silence_over(const struct silence *s, int64_t now_ms)
{
    return silence_expired_ms(s) > 0 ||
           (!silence_active(s, now_ms) && silence_next_start(s, now_ms) < 0);
}

void api_silences_list(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    int expired;
    char err[160];
    if (http_query_int(req, "expired", 0, 1, 0, &expired, err, sizeof err) != 0) {
        http_respond_error(req, 400, err, "expired");
        return;
    }
    int64_t now = clock_wall_ms();
    json_t *list = json_array();
    for (size_t i = 0; i < silences_count(api->silences); i++) {
        const struct silence *s = silences_at(api->silences, i);
        if (expired || !silence_over(s, now))
            json_array_append_new(list, silence_json(s, now));
    }
    http_respond_json(req, 200, json_pack("{s:o}", "silences", list));
}

/* A POST or DELETE waiting for the store. */
struct silence_write {
    struct api_context *api;
    struct http_request *req;
    struct silence *silence; /* POST: owned until added to the set; DELETE: the set's */
    int64_t expired_ms;
};

static void on_silence_added(int status, int64_t id, void *ctx)
{
    struct silence_write *w = ctx;
    if (status != 0 || !w->api->silences) {
        http_respond_error(w->req, 503, "silence store unavailable", NULL);
        silence_free(w->silence);
        free(w);
        return;
    }
    char text[SILENCE_ID_MAX];
    snprintf(text, sizeof text, "%" PRId64, id);
    silence_set_id(w->silence, text);
    struct silence *s = w->silence;
    if (silences_add(w->api->silences, s) != 0) {
        http_respond_error(w->req, 503, "server out of memory", NULL);
    } else {
        log_info("silences: added silence %s", text);
        http_respond_json(w->req, 201, silence_json(s, clock_wall_ms()));
    }
    free(w);
}

void api_silences_create(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    size_t len;
    const char *body = http_body(req, &len);
    json_error_t jerr;
    json_t *def = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!def) {
        char err[200];
        snprintf(err, sizeof err, "body: not valid JSON (%.120s)", jerr.text);
        http_respond_error(req, 400, err, "body");
        return;
    }
    const char *field;
    char err[300];
    int64_t now = clock_wall_ms();
    struct silence *s = silence_parse(def, now, NULL, &field, err, sizeof err);
    json_decref(def);
    struct silence_write *w = s ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        http_respond_error(req, s ? 503 : 400, s ? "server out of memory" : err,
                           s ? NULL : field);
        silence_free(s);
        return;
    }
    *w = (struct silence_write){.api = api, .req = req, .silence = s};
    json_t *stored = silence_definition_json(s);
    char *text = json_dumps(stored, JSON_COMPACT);
    json_decref(stored);
    struct silence_record rec = {.body_json = text, .created_ms = now};
    http_suspend(req);
    store_append_silence(api->store, &rec, on_silence_added, w);
    free(text);
}

/* The silence the path names, or NULL after answering 404. */
static struct silence *silence_of_path(struct http_request *req, struct api_context *api)
{
    const char *id = http_path(req) + strlen(SILENCE_PREFIX);
    struct silence *s = silences_find(api->silences, id);
    if (!s)
        http_respond_error(req, 404, "unknown silence", "id");
    return s;
}

void api_silence_get(struct http_request *req, void *ctx)
{
    struct silence *s = silence_of_path(req, ctx);
    if (s)
        http_respond_json(req, 200, silence_json(s, clock_wall_ms()));
}

static void on_silence_expired(int status, int64_t id, void *ctx)
{
    struct silence_write *w = ctx;
    if (status != 0 || !w->api->silences) {
        http_respond_error(w->req, 503, "silence store unavailable", NULL);
    } else {
        silence_set_expired(w->silence, w->expired_ms);
        log_info("silences: expired silence %s", silence_id(w->silence));
        http_respond_json(w->req, 200, silence_json(w->silence, clock_wall_ms()));
    }
    free(w);
}

void api_silence_expire(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct silence *s = silence_of_path(req, api);
    if (!s)
        return;
    if (silence_source(s)) {
        char err[600];
        snprintf(err, sizeof err,
                 "silence %s is defined in %s: remove it there (and restart the server)",
                 silence_id(s), silence_source(s));
        http_respond_error(req, 409, err, "id");
        return;
    }
    if (silence_expired_ms(s) > 0) { /* expiring twice changes nothing */
        http_respond_json(req, 200, silence_json(s, clock_wall_ms()));
        return;
    }
    struct silence_write *w = calloc(1, sizeof *w);
    if (!w) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    *w = (struct silence_write){.api = api, .req = req, .silence = s,
                                .expired_ms = clock_wall_ms()};
    char *end;
    int64_t id = strtoll(silence_id(s), &end, 10);
    http_suspend(req);
    store_expire_silence(api->store, id, w->expired_ms, on_silence_expired, w);
}
