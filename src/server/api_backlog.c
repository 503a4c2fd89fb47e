/* api_backlog.c — POST /api/v1/backlog (agents): what an agent recorded while it could not reach
 * the server (heartbeat attempts and diagnoses, docs/rca.md), uploaded in chunks once it can. Every
 * record is validated (backlog_parse.h), then the chunk is committed in one transaction and only
 * then answered 200 {"stored":N,"duplicates":M}; (worker, id) is unique, so a retried chunk stores
 * nothing twice. A refused chunk stores nothing, and its 400 names the record to blame in
 * "record" so that the agent can set that one aside. Once stored, the worker's records are
 * handed to the follow-up analysis. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/api.h"
#include "server/backlog_parse.h"
#include "server/followup.h"
#include "store/store.h"

/* A chunk on its way to the store: the request to answer and what to analyse afterwards. */
struct backlog_upload {
    struct followup *followup;
    struct http_request *req;
    char worker[WORKER_NAME_MAX + 1];
    int64_t first_ms, last_ms;
};

/* {"error":..., "field":..., "record":{"index":N,"id":"..."|null}} as documented in api.md. */
static void respond_refused(struct http_request *req, const struct backlog_error *err)
{
    json_t *body = json_pack("{s:s}", "error", err->message);
    if (body && err->field[0])
        json_object_set_new(body, "field", json_string(err->field));
    if (body && err->record >= 0)
        json_object_set_new(
            body, "record",
            json_pack("{s:I,s:o}", "index", (json_int_t)err->record, "id",
                      err->record_id[0] ? json_string(err->record_id) : json_null()));
    http_respond_json(req, err->status, body);
}

static void on_backlog_stored(int status, size_t stored, size_t duplicates, void *ctx)
{
    struct backlog_upload *up = ctx;
    if (status != 0) {
        http_respond_error(up->req, 503, "diagnostics store unavailable; nothing stored", NULL);
        free(up);
        return;
    }
    char body[96];
    snprintf(body, sizeof body, "{\"stored\":%zu,\"duplicates\":%zu}", stored, duplicates);
    http_respond_json_text(up->req, 200, body);
    log_info("server: backlog from %s: %zu records stored, %zu already had", up->worker, stored,
             duplicates);
    if (stored > 0)
        followup_backlog_stored(up->followup, up->worker, up->first_ms, up->last_ms);
    free(up);
}

void api_backlog(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    size_t len;
    const char *body = http_body(req, &len);
    struct backlog_records chunk;
    struct backlog_error err;
    if (backlog_parse(body, len, clock_wall_ms(), &chunk, &err) != 0) {
        respond_refused(req, &err);
        return;
    }
    struct backlog_upload *up = malloc(sizeof *up);
    if (!up) {
        http_respond_error(req, 503, "server out of memory", NULL);
    } else {
        *up = (struct backlog_upload){.followup = api->followup,
                                      .req = req,
                                      .first_ms = chunk.first_ms,
                                      .last_ms = chunk.last_ms};
        snprintf(up->worker, sizeof up->worker, "%s", chunk.worker);
        http_suspend(req);
        store_append_diagnostics(api->store, chunk.records, chunk.count, on_backlog_stored, up);
    }
    backlog_records_free(&chunk);
}
