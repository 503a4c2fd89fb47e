/* backlog_parse.h — the body of POST /api/v1/backlog: parsing and validation, kept apart from
 * HTTP and the store so it can be tested and fuzzed alone. A refusal names the field and, when
 * one record is to blame, that record (its index and id), so that an agent can set it aside
 * and send the rest (docs/api.md). */
#ifndef FAULTLINE_BACKLOG_PARSE_H
#define FAULTLINE_BACKLOG_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "model/diagnostic.h"
#include "model/worker.h"

#define BACKLOG_MAX_RECORDS 500
#define BACKLOG_FIELD_MAX 128

/* A valid chunk. Ownership: records (and each record's body_json) are malloc'd by
 * backlog_parse and freed by backlog_records_free. */
struct backlog_records {
    char worker[WORKER_NAME_MAX + 1];
    struct diag_record *records;
    size_t count;
    int64_t first_ms, last_ms; /* the earliest and latest record time */
};

/* Why a chunk was refused. */
struct backlog_error {
    int status;                    /* 400, or 503 when memory ran out */
    char message[384];             /* "records[1].time: expected ..., got ..." (UTF-8) */
    char field[BACKLOG_FIELD_MAX]; /* "records[1].time"; "" when the body as a whole is wrong */
    long record;                   /* index of the record to blame, -1 when none is */
    char record_id[DIAG_RECORD_ID_MAX + 1]; /* its id when that is valid, else "" */
};

/* Parses body[0..len): {"name": label, "records": [1 to BACKLOG_MAX_RECORDS objects, each with
 * "kind" "metric" or "diagnostic", a printable "id" and a "time" clock_parse_iso takes]}. The
 * whole body must be UTF-8 without repeated member names, and two records with one id must be
 * the same record. Returns 0 and fills out (each record stamped with worker and received_ms),
 * or -1 and fills err (out is then empty). */
int backlog_parse(const char *body, size_t len, int64_t received_ms, struct backlog_records *out,
                  struct backlog_error *err);

/* Frees what backlog_parse put in r and empties it; safe on an empty r. */
void backlog_records_free(struct backlog_records *r);

#endif
