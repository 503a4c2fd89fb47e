/* store_job.h — what an entity file (store_events.c, store_incidents.c, ...) gives store.c: each
 * kind of work is a const struct store_job_ops, and each piece of work a struct that embeds a
 * struct store_job as its member `base`. store.c queues jobs, runs them in batched
 * transactions on the store thread and completes them on the loop; it never looks inside one.
 * Internal to src/store: callers use store.h. */
#ifndef FAULTLINE_STORE_JOB_H
#define FAULTLINE_STORE_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/store.h"
#include "store/store_backend.h"

#define STORE_ERR_LEN 256

struct store_job;

/* A kind of job. run and free MUST be set; the others MAY be NULL (or false). */
struct store_job_ops {
    const char *name; /* for log lines: "worker save" */
    /* Reads only. A read runs outside any transaction, after the writes taken with it have
     * committed, so it sees every write queued before it; while those writes keep failing (a
     * full disk), it runs at once, on what the database holds, instead of waiting behind them.
     * A read that fails is not retried: it completes with status -1. */
    bool reads;
    /* Store thread, inside the batch's open transaction: does the work through the backend.
     * Returns 0 or a store_backend_result, with err set. */
    int (*run)(struct store_job *job, const struct store_backend *backend, void *db, char *err,
               size_t errlen);
    /* Loop thread: calls the caller's callback with job->status (0, or -1 when it failed for
     * good). Called only for jobs whose has_callback is set. */
    void (*complete)(struct store_job *job);
    /* Store thread: forgets what a failed attempt produced (ids, rows read), so the job can run
     * again. NULL: a failed attempt leaves nothing behind. */
    void (*reset)(struct store_job *job);
    /* Frees the job and everything it owns. Called on whichever thread finishes with it. */
    void (*free)(struct store_job *job);
    /* A few words for log lines, more precise than name (e.g. "event of gpu-01 with 2
     * messages"). NULL: name. */
    void (*describe)(const struct store_job *job, char *buf, size_t len);
    /* What a write carries, as one line of JSON, for the log when the store closes while the
     * database still refuses it (e.g. {"worker":"gpu-01","kind":"up",...}). The caller frees
     * the text. NULL: only described. */
    char *(*record)(const struct store_job *job);
};

/* The part of every job that store.c owns. An entity job embeds it as `base`. */
struct store_job {
    const struct store_job_ops *ops;
    struct store_job *next; /* in a queue or a batch */
    bool has_callback;      /* complete() must run on the loop thread */
    bool sync;              /* store_run_sync() waits for it and keeps it */
    bool finished;          /* synchronous jobs: set under the store's lock when done */
    int status;             /* 0, or -1 once it failed for good */
    char err[STORE_ERR_LEN]; /* why status is -1 */
};

/* The entity job that embeds base (e.g. STORE_JOB_OF(job, struct event_job)). */
#define STORE_JOB_OF(job, type) ((type *)(void *)((char *)(job) - offsetof(type, base)))

/* Allocates a zeroed entity job of size bytes whose base has ops; NULL when out of memory. */
struct store_job *store_job_new(const struct store_job_ops *ops, size_t size);

/* store_job_new() for a synchronous read: NULL with err set when s is NULL or out of memory. */
struct store_job *store_sync_job_new(struct store *s, const struct store_job_ops *ops, size_t size,
                                     char *err, size_t errlen);

/* Queues a job for the store thread; the store owns it from here. A closed store completes it
 * at once with status -1. */
void store_enqueue(struct store *store, struct store_job *job);

/* Queues a job and waits (on the loop thread) until it is committed or failed. The job stays
 * the caller's, who frees it with job->ops->free. Returns 0, or -1 with err set. */
int store_run_sync(struct store *store, struct store_job *job, char *err, size_t errlen);

/* Marks a job failed for good before it is queued: it completes with status -1 and runs no
 * SQL. */
void store_job_fail(struct store_job *job, const char *err);

/* Logs that something was dropped for lack of memory. */
void store_out_of_memory(const char *what);

/* A query's limit as the backends take it: 1..1000, 100 for <= 0. */
int store_query_limit(int limit);

/* ---- records shared by several entities ---- */

#define STORE_TERMINATE(field) ((field)[sizeof(field) - 1] = '\0')

/* Grows an array so that one more item fits. Returns 0 or -1 (out of memory). */
int store_array_reserve(void **items, size_t *cap, size_t n, size_t size);

/* store_workers.c: a copy with its fixed strings terminated. */
void store_worker_copy(struct worker_record *dst, const struct worker_record *src);

/* store_outbox.c: messages other entities append in their transaction. The copy clears ids,
 * defaults created_ms to now and owns the texts; on -1 (out of memory) *out holds the *n_out
 * copied so far, for store_outbox_msgs_free(). store_outbox_msgs_run inserts them and writes
 * the ids they got into them. */
int store_outbox_msgs_copy(const struct outbox_record *msgs, size_t n, struct outbox_record **out,
                           size_t *n_out);
void store_outbox_msgs_free(struct outbox_record *msgs, size_t n);
int store_outbox_msgs_run(const struct store_backend *b, void *db, struct outbox_record *msgs,
                          size_t n, char *err, size_t errlen);

/* ---- ids from the database (store_ids.c) ---- */

/* The sequences the store hands ids from; each has a row in the sequences table. */
enum store_sequence { STORE_SEQUENCE_INCIDENTS, STORE_SEQUENCE_COUNT };

/* One sequence's ids on the loop thread: [next, end) is the block in use, [spare_next,
 * spare_end) the one reserved ahead; refill is the reservation job queued ahead, until its
 * completion runs. */
struct store_ids {
    int64_t next, end;
    int64_t spare_next, spare_end;
    struct store_job *refill;
};

/* The loop thread's id state of seq (store.c keeps it on the handle). */
struct store_ids *store_ids_of(struct store *store, enum store_sequence seq);

/* Reserves the first block of every sequence, synchronously (store_open). */
int store_ids_start(struct store *store, char *err, size_t errlen);

/* The next id of seq, reserving ahead in the background; -1 when none can be had (logged). */
int64_t store_ids_next(struct store *store, enum store_sequence seq);

#endif
