/* backlog_parse.c — validation of backlog chunks; see backlog_parse.h. jansson builds the tree
 * (chunks are rare and up to 1 MiB, unlike heartbeats); json_input names the place of what
 * jansson refuses without one: bytes that are not UTF-8 and repeated member names. */
#include "server/backlog_parse.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/label.h"
#include "server/json_input.h"

#define SHOWN_MAX 48 /* bytes of a bad value quoted back */

static int fail(struct backlog_error *err, int status, const char *field, long record,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Fills err; returns -1. */
static int fail(struct backlog_error *err, int status, const char *field, long record,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->status = status;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    err->record = record;
    return -1;
}

/* The value as compact ASCII JSON, cut to SHOWN_MAX bytes ("..." marks a cut), or "nothing". */
static void show(const json_t *v, char buf[SHOWN_MAX + 4])
{
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (!text) {
        snprintf(buf, SHOWN_MAX + 4, "nothing");
        return;
    }
    size_t n = strlen(text);
    snprintf(buf, SHOWN_MAX + 4, "%.*s%s", SHOWN_MAX, text, n > SHOWN_MAX ? "..." : "");
    free(text);
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

/* Checks records[i] and fills out (body_json malloc'd, freed with the records). */
static int parse_record(json_t *rec, long i, struct diag_record *out, struct backlog_error *err)
{
    char field[48], shown[SHOWN_MAX + 4];
    snprintf(field, sizeof field, "records[%ld]", i);
    if (!json_is_object(rec)) {
        show(rec, shown);
        return fail(err, 400, field, i, "%s: expected a JSON object, got %s", field, shown);
    }
    json_t *kind = json_object_get(rec, "kind"), *id = json_object_get(rec, "id"),
           *time = json_object_get(rec, "time");
    const char *id_text = json_string_value(id);
    if (id_text && printable_id(id_text))
        snprintf(err->record_id, sizeof err->record_id, "%s", id_text);
    if (!json_is_string(kind) || (strcmp(json_string_value(kind), "metric") &&
                                  strcmp(json_string_value(kind), "diagnostic"))) {
        show(kind, shown);
        snprintf(field, sizeof field, "records[%ld].kind", i);
        return fail(err, 400, field, i, "%s: expected \"metric\" or \"diagnostic\", got %s", field,
                    shown);
    }
    if (!id_text || !printable_id(id_text)) {
        show(id, shown);
        snprintf(field, sizeof field, "records[%ld].id", i);
        return fail(err, 400, field, i,
                    "%s: expected 1-64 printable ASCII characters without spaces, got %s", field,
                    shown);
    }
    *out = (struct diag_record){0};
    if (!json_is_string(time) || clock_parse_iso(json_string_value(time), &out->time_ms) != 0) {
        show(time, shown);
        snprintf(field, sizeof field, "records[%ld].time", i);
        return fail(err, 400, field, i,
                    "%s: expected an ISO 8601 time with a zone (\"2026-11-21T10:00:00.123Z\") "
                    "from 2000 to 2099, got %s",
                    field, shown);
    }
    snprintf(out->record_id, sizeof out->record_id, "%s", id_text);
    snprintf(out->kind, sizeof out->kind, "%s", json_string_value(kind));
    out->body_json = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (!out->body_json)
        return fail(err, 503, NULL, -1, "server out of memory");
    err->record_id[0] = '\0';
    return 0;
}

static int by_id_then_index(const void *a, const void *b, void *records)
{
    const struct diag_record *recs = records;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(recs[i].record_id, recs[j].record_id);
    return c ? c : (i > j) - (i < j);
}

/* Two records with one id must be the same record: the store keeps the first of them only. */
static int check_ids(const struct backlog_records *r, struct backlog_error *err)
{
    size_t *order = malloc(r->count * sizeof *order);
    if (!order)
        return fail(err, 503, NULL, -1, "server out of memory");
    for (size_t i = 0; i < r->count; i++)
        order[i] = i;
    qsort_r(order, r->count, sizeof *order, by_id_then_index, r->records);
    int rc = 0;
    for (size_t k = 1; k < r->count && rc == 0; k++) {
        const struct diag_record *first = &r->records[order[k - 1]], *again = &r->records[order[k]];
        if (strcmp(first->record_id, again->record_id) ||
            !strcmp(first->body_json, again->body_json))
            continue;
        char field[48];
        snprintf(field, sizeof field, "records[%zu].id", order[k]);
        snprintf(err->record_id, sizeof err->record_id, "%s", again->record_id);
        rc = fail(err, 400, field, (long)order[k],
                  "%s: \"%s\" is already the id of records[%zu], whose content differs", field,
                  again->record_id, order[k - 1]);
    }
    free(order);
    return rc;
}

/* The index N of a path that starts "records[N]", or -1. */
static long record_of_path(const char *path)
{
    long i;
    char close;
    return sscanf(path, "records[%ld%c", &i, &close) == 2 && close == ']' ? i : -1;
}

/* The id of records[index] of a body jansson refused, read leniently (repeated members allowed,
 * bytes that are not UTF-8 read as spaces, which no valid id holds) so that the refusal can name
 * it; "" when it has no valid one. */
static void lenient_record_id(const char *body, size_t len, long index,
                              char id[DIAG_RECORD_ID_MAX + 1])
{
    id[0] = '\0';
    char *copy = index >= 0 ? malloc(len) : NULL;
    if (!copy)
        return;
    memcpy(copy, body, len);
    for (size_t at = 0; (at += json_input_utf8_error(copy + at, len - at)) < len;)
        copy[at] = ' ';
    json_t *root = json_loadb(copy, len, 0, NULL);
    json_t *rec = json_array_get(json_object_get(root, "records"), (size_t)index);
    const char *text = json_string_value(json_object_get(rec, "id"));
    if (text && printable_id(text))
        snprintf(id, DIAG_RECORD_ID_MAX + 1, "%s", text);
    json_decref(root);
    free(copy);
}

/* Loads the body as JSON, refusing with the place named what jansson refuses without one. */
static json_t *load(const char *body, size_t len, struct backlog_error *err)
{
    size_t bad = json_input_utf8_error(body, len);
    if (bad < len) {
        char field[BACKLOG_FIELD_MAX];
        json_input_path_at(body, len, bad, field, sizeof field);
        fail(err, 400, field, record_of_path(field),
             "%s: expected UTF-8 text, got the byte 0x%02X at offset %zu",
             field[0] ? field : "body", (unsigned char)body[bad], bad);
        lenient_record_id(body, len, err->record, err->record_id);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root)
        return root;
    char text[sizeof jerr.text * 4];
    json_input_printable(jerr.text, strlen(jerr.text), text, sizeof text);
    if (json_error_code(&jerr) == json_error_duplicate_key && jerr.position > 0) {
        char field[BACKLOG_FIELD_MAX];
        json_input_path_at(body, len, (size_t)jerr.position - 1, field, sizeof field);
        fail(err, 400, field, record_of_path(field), "%s: member given twice",
             field[0] ? field : "body");
        lenient_record_id(body, len, err->record, err->record_id);
    } else
        fail(err, 400, NULL, -1, "body: not valid JSON (%s)", text);
    return NULL;
}

static int parse_chunk(json_t *root, int64_t received_ms, struct backlog_records *out,
                       struct backlog_error *err)
{
    char shown[SHOWN_MAX + 4];
    if (!json_is_object(root))
        return fail(err, 400, NULL, -1, "body: expected a JSON object");
    json_t *name = json_object_get(root, "name");
    if (!json_is_string(name) || !label_valid(json_string_value(name))) {
        show(name, shown);
        return fail(err, 400, "name", -1, "name: expected %s, got %s", LABEL_RULE, shown);
    }
    json_t *records = json_object_get(root, "records");
    size_t count = json_array_size(records);
    if (!json_is_array(records) || count == 0 || count > BACKLOG_MAX_RECORDS)
        return fail(err, 400, "records", -1, "records: expected an array of 1 to %d records",
                    BACKLOG_MAX_RECORDS);
    snprintf(out->worker, sizeof out->worker, "%s", json_string_value(name));
    out->records = calloc(count, sizeof *out->records);
    if (!out->records)
        return fail(err, 503, NULL, -1, "server out of memory");
    for (size_t i = 0; i < count; i++) {
        struct diag_record *r = &out->records[i];
        if (parse_record(json_array_get(records, i), (long)i, r, err) != 0)
            return -1;
        out->count = i + 1;
        snprintf(r->worker, sizeof r->worker, "%s", out->worker);
        r->received_ms = received_ms;
        if (i == 0 || r->time_ms < out->first_ms)
            out->first_ms = r->time_ms;
        if (i == 0 || r->time_ms > out->last_ms)
            out->last_ms = r->time_ms;
    }
    return check_ids(out, err);
}

int backlog_parse(const char *body, size_t len, int64_t received_ms, struct backlog_records *out,
                  struct backlog_error *err)
{
    *out = (struct backlog_records){0};
    *err = (struct backlog_error){.record = -1};
    json_t *root = load(body, len, err);
    if (!root)
        return -1;
    int rc = parse_chunk(root, received_ms, out, err);
    json_decref(root);
    if (rc != 0)
        backlog_records_free(out);
    return rc;
}

void backlog_records_free(struct backlog_records *r)
{
    for (size_t i = 0; i < r->count; i++)
        free((char *)r->records[i].body_json);
    free(r->records);
    *r = (struct backlog_records){0};
}
