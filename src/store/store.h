/* store.h — the server's durable state: workers, events, the notification outbox, incidents
 * and the diagnostics agents upload, plus the ids the database hands out.
 *
 * What must never be lost (events, outbox messages) is written here before it is acted on.
 * One store thread owns the database connection: every write is queued to it and committed in
 * batched transactions (transient errors are retried with backoff, nothing acknowledged is
 * dropped); completions come back on the libuv loop thread that opened the store.
 *
 * Inside, each entity is one file (store_workers.c, store_events.c, store_outbox.c,
 * store_incidents.c, store_diagnostics.c, store_ids.c) whose kinds of work are job tables
 * (store_job.h) that store.c queues, batches and completes. A backend (SQLite embedded,
 * PostgreSQL later) is a table of functions (struct store_backend, store_backend.h) opened from
 * a URI such as sqlite:///var/lib/faultline/faultline.db; the schema all backends share is in
 * schema.h. Callers see only this header.
 *
 * Ownership: every function that takes records copies what it needs before returning. Records
 * handed to callbacks are valid only during the callback. */
#ifndef FAULTLINE_STORE_H
#define FAULTLINE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "model/diagnostic.h"
#include "model/node_report.h"
#include "model/event.h"
#include "model/incident.h"
#include "model/message.h"
#include "model/silence.h"
#include "model/worker.h"

struct event_query {
    int limit;          /* 1..1000 */
    unsigned kinds;     /* bit (1 << kind) per kind wanted; 0 = all */
    const char *worker; /* NULL = all */
    int64_t since_ms;   /* 0 = no bound */
    int64_t after_id;   /* 0 = no bound; else only ids above it, oldest first (a resumed stream) */
};

struct store;

/* Checks a store URI without opening anything: "sqlite://PATH" (PATH relative or absolute, a
 * file, e.g. sqlite:///var/lib/faultline/faultline.db). Returns 0, or -1 with err saying what
 * was expected, e.g.
 *   expected sqlite://PATH, got "sqlite://"
 *   unknown backend "postgres" (known: sqlite)
 * (the caller puts the setting's name in front). */
int store_uri_check(const char *uri, char *err, size_t errlen);

/* Writes the URI of the default store of a data directory, "sqlite://DATA_DIR/faultline.db",
 * into buf. Returns 0, or -1 when it does not fit. */
int store_default_uri(const char *data_dir, char *buf, size_t len);

/* Opens the store at uri (see store_uri_check), creating the database (and the directories
 * above it) and migrating its schema as needed, refuses it when another server holds it
 * (SQLite: a lock on PATH without its ".db", plus ".lock", e.g. DATA_DIR/faultline.lock; the
 * error says "... is in use by another faultline server"), reserves the first block of ids and
 * starts the store thread. Returns 0, or -1 with err set; if it fails after the store thread
 * started, the loop must run once to free the store's handle, as after store_close(). */
int store_open(uv_loop_t *loop, const char *uri, struct store **out, char *err, size_t errlen);

/* Commits everything queued, stops the store thread and closes the database. Runs remaining
 * completion callbacks with their status before returning (work they queue is committed too).
 * NULL is a no-op. It may be called from a store callback. It closes the store's uv_async_t
 * with uv_close(), whose memory is freed by its close callback: run the loop afterwards (e.g.
 * uv_run(loop, UV_RUN_DEFAULT)) before uv_loop_close(). The store keeps the loop alive only
 * while done callbacks are outstanding. */
void store_close(struct store *store);

/* For /metrics (loop thread): jobs waiting for the store thread, and the batches it committed
 * with the seconds they took (begin to commit, retries included). */
struct store_stats {
    size_t queued;
    unsigned long long batches;
    double commit_seconds;
};
void store_get_stats(struct store *store, struct store_stats *out);

/* Startup reads: synchronous, for use before the loop runs (on the loop's thread); they see
 * every write queued before them. cb is called once per record, on the caller's thread. */
int store_load_workers(struct store *store,
                       void (*cb)(const struct worker_record *rec, void *ctx), void *ctx,
                       char *err, size_t errlen);
int store_load_pending_outbox(struct store *store,
                              void (*cb)(const struct outbox_record *rec, void *ctx), void *ctx,
                              char *err, size_t errlen);
/* The channels told of each problem not yet resolved: cb gets records with dedup_key, channel,
 * text, fields_json and created_ms (when it was told: sent, else written) of the latest message
 * of each (alert_router_told). */
int store_load_told_outbox(struct store *store,
                           void (*cb)(const struct outbox_record *rec, void *ctx), void *ctx,
                           char *err, size_t errlen);

/* Upserts workers (by name). Fire and forget: a failure is logged and retried by the store. */
void store_save_workers(struct store *store, const struct worker_record *recs, size_t n);

/* Called on the loop thread once the event and its messages are committed (status 0) with the
 * ids the store assigned, or with a negative status if the store is closing and they could not
 * be written. */
typedef void (*store_event_done_cb)(int status, const struct event_record *ev,
                                    const struct outbox_record *msgs, size_t n_msgs, void *ctx);

/* Writes, in one transaction, the worker's new row (may be NULL), the event and its outbox
 * messages. Transient database errors are retried; nothing is dropped. */
void store_append_event(struct store *store, const struct worker_record *worker,
                        const struct event_record *ev, const struct outbox_record *msgs,
                        size_t n_msgs, store_event_done_cb done, void *ctx);

/* Outbox bookkeeping, fire and forget. ref: the channel's id of the delivered message (NULL or
 * "" when it gave none), kept so that a correction can edit it. */
void store_outbox_sent(struct store *store, int64_t id, int attempts, int64_t sent_ms,
                       const char *ref);
void store_outbox_retry(struct store *store, int64_t id, int attempts, int64_t next_attempt_ms,
                        const char *error);
/* The channel refused the message for good (e.g. bad chat id): kept, marked failed. */
void store_outbox_failed(struct store *store, int64_t id, int attempts, const char *error);

/* Reads events, newest first, on the store thread; done runs on the loop thread. */
typedef void (*store_events_cb)(int status, const struct event_record *evs, size_t n, void *ctx);
void store_query_events(struct store *store, const struct event_query *q, store_events_cb done,
                        void *ctx);

/* ---- incidents (root-cause analysis) --------------------------------------------------------
 * An incident is a group of workers that went DOWN within RCA_WINDOW, with its classification.
 * Its id comes from store_next_incident_id before it is first saved, so a save is an upsert by
 * id and the loop (almost) never waits for an id. */
/* The conditions that are set must all hold. */
struct incident_query {
    int limit;        /* 1..1000; <= 0 means 100, more means 1000 */
    int open_only;    /* nonzero: closed_ms == 0 only */
    int64_t since_ms; /* opened or updated at or after; 0 = no bound */
    int64_t id;       /* nonzero: that incident only */
};

/* A new incident id (> 0), on the loop thread: never handed out before, by this store or any
 * other on the same database, and larger than every id stored before this store opened. Ids
 * come in blocks reserved ahead in the background, so this waits for the database only when
 * the block ran out and the next one has not arrived. -1 (logged) when the store is closed or
 * the database refuses. Ids handed out but never saved are skipped for good. */
int64_t store_next_incident_id(struct store *store);

/* Open incidents, oldest first. Synchronous, for start-up. */
int store_load_open_incidents(struct store *store,
                              void (*cb)(const struct incident_record *rec, void *ctx), void *ctx,
                              char *err, size_t errlen);

/* Upserts the incident (by id) and appends its outbox messages, in one transaction; done (may
 * be NULL) runs on the loop thread with the committed message ids, like store_append_event.
 * Nothing is dropped: transient errors are retried. The messages' event_id is stored as given
 * (0: none). An id <= 0 is refused: nothing is written and done gets status -1. */
typedef void (*store_incident_done_cb)(int status, const struct incident_record *inc,
                                       const struct outbox_record *msgs, size_t n_msgs,
                                       void *ctx);
void store_save_incident(struct store *store, const struct incident_record *inc,
                         const struct outbox_record *msgs, size_t n_msgs,
                         store_incident_done_cb done, void *ctx);

/* Incidents matching q, newest (highest id) first. */
typedef void (*store_incidents_cb)(int status, const struct incident_record *incs, size_t n,
                                   void *ctx);
void store_query_incidents(struct store *store, const struct incident_query *q,
                           store_incidents_cb done, void *ctx);

/* Outbox messages that need no event or incident row (e.g. a backlog follow-up). done (may be
 * NULL) gets ev NULL and the messages with their ids. */
void store_append_messages(struct store *store, const struct outbox_record *msgs, size_t n_msgs,
                           store_event_done_cb done, void *ctx);

/* ---- agent diagnostics (backlog uploads) -----------------------------------------------------
 * Records an agent logged (a heartbeat attempt or a diagnosis), as uploaded. (worker, record_id)
 * is unique: storing a record again stores nothing, so a retried upload is harmless. */
/* The conditions that are set must all hold. Ties in time are ordered by id. */
struct diag_query {
    int limit;          /* 1..1000; <= 0 means 100, more means 1000 */
    const char *worker; /* NULL = all */
    const char *kind;   /* NULL = all */
    int64_t since_ms;   /* time_ms at or after; 0 = no bound */
    int64_t until_ms;   /* time_ms at or before; 0 = no bound */
    int with_mtr;       /* nonzero: only bodies with an "mtr" object (not null, valid JSON) */
    int oldest_first;   /* nonzero: ascending time; else newest first */
};

/* Stores the records in one transaction; done (may be NULL) gets how many were new and how
 * many were already stored (a record repeated within recs counts as a duplicate too).
 * status < 0: nothing was stored (the store is closing). The store checks no field: the
 * caller validates the upload (non-empty worker and record_id, body a JSON object). */
typedef void (*store_backlog_done_cb)(int status, size_t stored, size_t duplicates, void *ctx);
void store_append_diagnostics(struct store *store, const struct diag_record *recs, size_t n,
                              store_backlog_done_cb done, void *ctx);

typedef void (*store_diags_cb)(int status, const struct diag_record *recs, size_t n, void *ctx);
void store_query_diagnostics(struct store *store, const struct diag_query *q, store_diags_cb done,
                             void *ctx);

/* ---- reports agents push (store_reports.c) ------------------------------------------------
 * The latest report of each worker, replacing the one before. */

/* Stores rec (copied; received_ms 0 is now); done (may be NULL) gets 0 once it is committed,
 * -1 when it was not stored (the store is closing, out of memory). The caller checks the body. */
typedef void (*store_report_done_cb)(int status, void *ctx);
void store_save_report(struct store *store, const struct node_report_record *rec,
                       store_report_done_cb done, void *ctx);

/* Every stored report by worker name, or only worker's (NULL: all). */
typedef void (*store_reports_cb)(int status, const struct node_report_record *recs, size_t n,
                                 void *ctx);
void store_query_reports(struct store *store, const char *worker, store_reports_cb done,
                         void *ctx);
/* ---- silences (alert/silence.h keeps them in memory; the store keeps them across restarts) --
 * Every silence ever made through the API, expired ones included, read once at start-up. */

/* Called on the loop thread once the silence is committed (status 0, id set), or -1. */
typedef void (*store_silence_done_cb)(int status, int64_t id, void *ctx);

/* Writes a new silence (rec->id ignored, expired_ms 0). Transient errors are retried. */
void store_append_silence(struct store *store, const struct silence_record *rec,
                          store_silence_done_cb done, void *ctx);
/* Marks silence id expired at expired_ms; done gets the id. */
void store_expire_silence(struct store *store, int64_t id, int64_t expired_ms,
                          store_silence_done_cb done, void *ctx);
/* Every stored silence, oldest (lowest id) first. Synchronous, for start-up. */
int store_load_silences(struct store *store,
                        void (*cb)(const struct silence_record *rec, void *ctx), void *ctx,
                        char *err, size_t errlen);

/* ---- checks created through the API (store_checks.c) ---- */

/* Called on the loop thread once the write is committed (status 0) or failed for good (-1). */
typedef void (*store_check_done_cb)(int status, void *ctx);
/* Upserts a check's definition (JSON text) by name. Strings are copied. */
void store_save_check(struct store *store, const char *name, const char *definition,
                      int64_t updated_ms, store_check_done_cb done, void *ctx);
/* Deletes a check by name (an unknown name is not an error). */
void store_delete_check(struct store *store, const char *name, store_check_done_cb done,
                        void *ctx);
/* Reads every stored check, by name, at start (waits for the store thread). */
int store_load_checks(struct store *store,
                      void (*cb)(const char *name, const char *definition, void *ctx), void *ctx,
                      char *err, size_t errlen);
/* The latest check_state event of each check (ev->worker is its name), at start (waits for the
 * store thread): the state a check had when the server stopped. */
int store_load_check_states(struct store *store,
                            void (*cb)(const struct event_record *ev, void *ctx), void *ctx,
                            char *err, size_t errlen);

/* Small records the check engine keeps by name, as JSON text. */
enum store_check_table {
    STORE_CHECK_OVERRIDES, /* by check: the API's enable/disable over its definition */
    STORE_CHECK_AGENTS,    /* by agent: the labels (SITE, TAGS) of its latest heartbeat */
};
/* Upserts (body NULL: deletes) the record name of table; done (may be NULL) runs once it is
 * committed or failed. Strings are copied. Deleting a check (store_delete_check) also deletes
 * its STORE_CHECK_OVERRIDES record, in the same transaction. */
void store_save_check_record(struct store *store, enum store_check_table table, const char *name,
                             const char *body, int64_t updated_ms, store_check_done_cb done,
                             void *ctx);
/* Reads every record of table, by name, at start (waits for the store thread). */
int store_load_check_records(struct store *store, enum store_check_table table,
                             void (*cb)(const char *name, const char *body, void *ctx), void *ctx,
                             char *err, size_t errlen);

#endif
