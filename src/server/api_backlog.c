/* api_backlog.c — POST /api/v1/backlog (agents): what an agent recorded while it could not reach the server
 * (heartbeat attempts and diagnoses, docs/rca.md), uploaded in chunks once it can. Every record
 * is validated, then the chunk is committed in one transaction and only then answered
 * 200 {"stored":N,"duplicates":M}; (worker, id) is unique, so a retried chunk stores nothing
 * twice. Once stored, the worker's records are handed to the follow-up analysis. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/label.h"
#include "base/log.h"
#include "server/api.h"
#include "server/followup.h"
#include "store/store.h"

#define BACKLOG_MAX_RECORDS 500

/* A chunk on its way to the store: the request to answer and what to analyse afterwards. */
struct backlog_upload {
    struct followup *followup;
    struct http_request *req;
    char worker[WORKER_NAME_MAX + 1];
    int64_t first_ms, last_ms;
};

static int reject(struct http_request *req, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers 400 with the message and the field it names; returns -1. */
static int reject(struct http_request *req, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_respond_error(req, 400, msg, field);
    return -1;
}

static bool printable_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > DIAG_RECORD_ID_MAX)
        return false;
    for (const char *p = id; *p; p++)
        if (*p <= ' ' || *p > '~')
            return false;
    return true;
}

/* Checks records[i] and fills out (body_json is malloc'd: the caller frees it). */
static int parse_record(struct http_request *req, json_t *rec, size_t i, struct diag_record *out)
{
    char field[48];
    if (!json_is_object(rec)) {
        snprintf(field, sizeof field, "records[%zu]", i);
        return reject(req, field, "%s: expected a JSON object", field);
    }
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *time = json_string_value(json_object_get(rec, "time"));
    snprintf(field, sizeof field, "records[%zu].kind", i);
    if (!kind || (strcmp(kind, "metric") && strcmp(kind, "diagnostic")))
        return reject(req, field, "%s: expected \"metric\" or \"diagnostic\"", field);
    snprintf(field, sizeof field, "records[%zu].id", i);
    if (!id || !printable_id(id))
        return reject(req, field, "%s: expected 1-64 printable ASCII characters", field);
    *out = (struct diag_record){0};
    snprintf(field, sizeof field, "records[%zu].time", i);
    if (!time || clock_parse_iso(time, &out->time_ms) != 0)
        return reject(req, field, "%s: expected an ISO 8601 UTC time", field);
    snprintf(out->record_id, sizeof out->record_id, "%s", id);
    snprintf(out->kind, sizeof out->kind, "%s", kind);
    out->body_json = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (!out->body_json) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return -1;
    }
    return 0;
}

static void free_records(struct diag_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)recs[i].body_json);
    free(recs);
}

/* Validates the whole chunk; on success *recs holds n records (caller frees with
 * free_records). Answers 400 and returns -1 otherwise. */
static int parse_chunk(struct http_request *req, json_t *root, char worker[WORKER_NAME_MAX + 1],
                       struct diag_record **recs, size_t *n)
{
    const char *name = json_string_value(json_object_get(root, "name"));
    if (!json_is_object(root))
        return reject(req, NULL, "body: expected a JSON object");
    if (!name || !label_valid(name))
        return reject(req, "name", "name: expected %s", LABEL_RULE);
    json_t *records = json_object_get(root, "records");
    size_t count = json_array_size(records);
    if (!json_is_array(records) || count == 0 || count > BACKLOG_MAX_RECORDS)
        return reject(req, "records", "records: expected an array of 1 to %d records",
                      BACKLOG_MAX_RECORDS);
    snprintf(worker, WORKER_NAME_MAX + 1, "%s", name);
    *recs = calloc(count, sizeof **recs);
    if (!*recs) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return -1;
    }
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < count; i++) {
        if (parse_record(req, json_array_get(records, i), i, &(*recs)[i]) != 0) {
            free_records(*recs, i);
            *recs = NULL;
            return -1;
        }
        snprintf((*recs)[i].worker, sizeof(*recs)[i].worker, "%s", worker);
        (*recs)[i].received_ms = now;
    }
    *n = count;
    return 0;
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
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root) {
        reject(req, NULL, "body: not valid JSON (%s)", jerr.text);
        return;
    }
    struct backlog_upload *up = calloc(1, sizeof *up);
    struct diag_record *recs = NULL;
    size_t n = 0;
    if (!up) {
        http_respond_error(req, 503, "server out of memory", NULL);
    } else if (parse_chunk(req, root, up->worker, &recs, &n) == 0) {
        *up = (struct backlog_upload){
            .followup = api->followup, .req = req, .first_ms = recs[0].time_ms, .last_ms = recs[0].time_ms};
        snprintf(up->worker, sizeof up->worker, "%s", recs[0].worker);
        for (size_t i = 1; i < n; i++) {
            if (recs[i].time_ms < up->first_ms)
                up->first_ms = recs[i].time_ms;
            if (recs[i].time_ms > up->last_ms)
                up->last_ms = recs[i].time_ms;
        }
        http_suspend(req);
        store_append_diagnostics(api->store, recs, n, on_backlog_stored, up);
        up = NULL;
    }
    free(up);
    free_records(recs, n);
    json_decref(root);
}
