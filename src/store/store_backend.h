/* store_backend.h — what a database backend gives the store: one const table of functions that
 * only the store thread calls (store.c owns the queue, the thread and the loop completions; the
 * store_*.c entity files call the slots). A backend claims a URI scheme (sqlite://PATH) and
 * applies the shared schema (schema.h) in its own dialect. Adding a backend is one file that
 * defines a table plus one row in store.c's backends[]. */
#ifndef FAULTLINE_STORE_BACKEND_H
#define FAULTLINE_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Backend results besides 0. ERR_JOB: this piece of work can never succeed (bad data, SQL
 * error); retrying it alone will fail again. ERR_RETRY: the database is busy, unreachable or
 * out of space; the same batch may succeed later. */
enum store_backend_result { STORE_ERR_JOB = -1, STORE_ERR_RETRY = -2 };

/* One change to an outbox row. Strings are borrowed for the call. */
enum outbox_status { OUTBOX_PENDING = 0, OUTBOX_SENT = 1, OUTBOX_FAILED = 2 };

struct outbox_update {
    int64_t id;
    enum outbox_status status; /* PENDING: a retry is scheduled */
    int attempts;              /* PENDING, FAILED */
    int64_t time_ms;           /* SENT: sent_ms; PENDING: next_attempt_ms; FAILED: unused */
    const char *error;         /* PENDING, FAILED: last error, may be NULL */
    const char *ref;           /* SENT: the channel's id of the message, NULL or "" if none */
};

/* Row visitors: the record is valid only during the call; return 0 to go on, or a negative
 * store_backend_result to stop when out of memory (the read then returns that value, with
 * "out of memory" in err). */
typedef int (*store_worker_row_fn)(const struct worker_record *rec, void *ctx);
typedef int (*store_outbox_row_fn)(const struct outbox_record *rec, void *ctx);
typedef int (*store_event_row_fn)(const struct event_record *rec, void *ctx);
typedef int (*store_incident_row_fn)(const struct incident_record *rec, void *ctx);
typedef int (*store_diag_row_fn)(const struct diag_record *rec, void *ctx);
typedef int (*store_report_row_fn)(const struct node_report_record *rec, void *ctx);
typedef int (*store_silence_row_fn)(const struct silence_record *rec, void *ctx);
typedef int (*store_check_row_fn)(const char *name, const char *definition, void *ctx);

/* A stored check as loaded (store_checks.c owns the strings). */
struct store_check_row {
    char *name, *definition;
};

/* Every slot MUST be set. db is the handle open() made. Functions that can fail return 0 or a
 * store_backend_result and write a message (without the "store: " prefix) into err. Writes are
 * only called between begin() and commit()/rollback(); reads may be too. */
struct store_backend {
    const char *scheme;   /* the URI scheme it claims: "sqlite" for sqlite://PATH */
    const char *uri_form; /* what its URIs look like, for error messages: "sqlite://PATH" */
    /* Whether location (the URI after "scheme://") has the form uri_form says. */
    bool (*location_valid)(const char *location);

    /* Opens location (already valid): creates what is missing (directory, database, schema),
     * migrates old schemas and makes sure no other server uses the same database. */
    int (*open)(const char *location, void **db, char *err, size_t errlen);
    void (*close)(void *db);

    /* begin() takes the write lock at once, so a batch never fails half-way for locking. */
    int (*begin)(void *db, char *err, size_t errlen);
    /* Durable when it returns 0: nothing acknowledged after a commit is lost in a crash. */
    int (*commit)(void *db, char *err, size_t errlen);
    /* Undoes the open transaction, if any; safe to call when none is open. */
    void (*rollback)(void *db);

    /* Upserts by name. */
    int (*save_workers)(void *db, const struct worker_record *recs, size_t n, char *err,
                        size_t errlen);
    /* Inserts ev (ev->id ignored) and sets *id. NULL details_json is stored as "{}". */
    int (*append_event)(void *db, const struct event_record *ev, int64_t *id, char *err,
                        size_t errlen);
    /* Inserts a pending message (msg->id ignored) and sets *id. A correction (msg->replaces)
     * gets msg->ref from the message it replaces. */
    int (*append_outbox)(void *db, struct outbox_record *msg, int64_t *id, char *err,
                         size_t errlen);
    /* An unknown id is not an error. */
    int (*outbox_update)(void *db, const struct outbox_update *u, char *err, size_t errlen);

    int (*load_workers)(void *db, store_worker_row_fn row, void *ctx, char *err, size_t errlen);
    /* Pending messages, oldest (lowest id) first. */
    int (*load_pending_outbox)(void *db, store_outbox_row_fn row, void *ctx, char *err,
                               size_t errlen);
    /* The channels told of a problem not resolved yet: for each (dedup_key, channel), the
     * latest message under that key if it is not a resolve: dedup_key, channel, text,
     * fields_json and created_ms (its sent_ms when later) are set. */
    int (*load_told_outbox)(void *db, store_outbox_row_fn row, void *ctx, char *err,
                            size_t errlen);
    /* Events matching q, newest (highest id) first (oldest first with q->after_id), at most
     * q->limit (already 1..1000). */
    int (*query_events)(void *db, const struct event_query *q, store_event_row_fn row, void *ctx,
                        char *err, size_t errlen);

    /* Upserts by inc->id (> 0). NULL JSON fields are stored as "{}" or "[]"; closed_ms <= 0 is
     * stored as "open". */
    int (*save_incident)(void *db, const struct incident_record *inc, char *err, size_t errlen);
    /* Reserves count (> 0) ids of the named sequence (a row of the sequences table) and sets
     * *first: [*first, *first + count) is this handle's alone, whoever else uses the database,
     * once the transaction commits. */
    int (*reserve_ids)(void *db, const char *sequence, int64_t count, int64_t *first, char *err,
                       size_t errlen);
    /* Open incidents, oldest (lowest id) first. */
    int (*load_open_incidents)(void *db, store_incident_row_fn row, void *ctx, char *err,
                               size_t errlen);
    /* Incidents matching q, newest (highest id) first, at most q->limit (already 1..1000). */
    int (*query_incidents)(void *db, const struct incident_query *q, store_incident_row_fn row,
                           void *ctx, char *err, size_t errlen);
    /* Inserts the records (id ignored) that are not stored yet, by (worker, record_id), and
     * adds how many were new to *stored. A record already stored is not an error. */
    int (*append_diagnostics)(void *db, const struct diag_record *recs, size_t n, size_t *stored,
                              char *err, size_t errlen);
    /* Records matching q in time order (q->oldest_first), at most q->limit (already 1..1000). */
    int (*query_diagnostics)(void *db, const struct diag_query *q, store_diag_row_fn row, void *ctx,
                             char *err, size_t errlen);
    /* Upserts by worker: the worker's previous report is replaced. */
    int (*save_report)(void *db, const struct node_report_record *rec, char *err, size_t errlen);
    /* The stored reports, by worker name; only worker's when it is not NULL. */
    int (*query_reports)(void *db, const char *worker, store_report_row_fn row, void *ctx,
                         char *err, size_t errlen);
    /* Inserts a silence (rec->id ignored) and sets *id. */
    int (*append_silence)(void *db, const struct silence_record *rec, int64_t *id, char *err,
                          size_t errlen);
    /* Sets expired_ms of silence id; an unknown id is not an error. */
    int (*expire_silence)(void *db, int64_t id, int64_t expired_ms, char *err, size_t errlen);
    /* Every silence, oldest (lowest id) first. */
    int (*load_silences)(void *db, store_silence_row_fn row, void *ctx, char *err, size_t errlen);
    /* Checks created through the API: upsert by name, delete by name (unknown: not an error),
     * and every one, by name. */
    int (*save_check)(void *db, const char *name, const char *definition, int64_t updated_ms,
                      char *err, size_t errlen);
    int (*delete_check)(void *db, const char *name, char *err, size_t errlen);
    int (*load_checks)(void *db, store_check_row_fn row, void *ctx, char *err, size_t errlen);
    /* The latest check_state event of each check (its name is the event's worker), by id. */
    int (*load_check_states)(void *db, store_event_row_fn row, void *ctx, char *err,
                             size_t errlen);
    /* The records of a store_check_table by name: upsert (body NULL: delete; unknown: not an
     * error), and every one, by name. */
    int (*save_check_record)(void *db, enum store_check_table table, const char *name,
                             const char *body, int64_t updated_ms, char *err, size_t errlen);
    int (*load_check_records)(void *db, enum store_check_table table, store_check_row_fn row,
                              void *ctx, char *err, size_t errlen);
};

extern const struct store_backend store_backend_sqlite;

#endif
