/* store_incidents.c — the incidents entity of the store (root-cause analysis): an incident
 * upserted with its outbox messages in one transaction, the query, the start-up load of open
 * incidents, and incident ids from the database's "incidents" sequence (store_ids.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/store_job.h"

int64_t store_next_incident_id(struct store *s)
{
    return s ? store_ids_next(s, STORE_SEQUENCE_INCIDENTS) : -1;
}

static void incident_strings_free(struct incident_record *inc)
{
    free((char *)inc->scope_json); /* owned: see incident_copy() */
    free((char *)inc->workers_json);
    free((char *)inc->evidence_json);
    inc->scope_json = inc->workers_json = inc->evidence_json = NULL;
}

/* Copies src into dst with its own JSON strings (NULL ones get their defaults). Returns 0, or
 * -1 when out of memory, with dst's strings freed. */
static int incident_copy(struct incident_record *dst, const struct incident_record *src)
{
    *dst = *src;
    STORE_TERMINATE(dst->classification);
    dst->scope_json = strdup(src->scope_json ? src->scope_json : "{}");
    dst->workers_json = strdup(src->workers_json ? src->workers_json : "[]");
    dst->evidence_json = strdup(src->evidence_json ? src->evidence_json : "{}");
    if (dst->scope_json && dst->workers_json && dst->evidence_json)
        return 0;
    incident_strings_free(dst);
    return -1;
}

/* ---- the save ---- */

struct incident_save_job {
    struct store_job base;
    struct incident_record inc; /* owns its JSON strings */
    struct outbox_record *msgs; /* owned, and each owns its text */
    size_t n_msgs;
    store_incident_done_cb done;
    void *ctx;
};

static int incident_save_run(struct store_job *job, const struct store_backend *b, void *db,
                             char *err, size_t errlen)
{
    struct incident_save_job *j = STORE_JOB_OF(job, struct incident_save_job);
    int rc = b->save_incident(db, &j->inc, err, errlen);
    return rc ? rc : store_outbox_msgs_run(b, db, j->msgs, j->n_msgs, err, errlen);
}

static void incident_save_complete(struct store_job *job)
{
    struct incident_save_job *j = STORE_JOB_OF(job, struct incident_save_job);
    j->done(job->status, &j->inc, j->msgs, j->n_msgs, j->ctx);
}

static void incident_save_reset(struct store_job *job)
{
    struct incident_save_job *j = STORE_JOB_OF(job, struct incident_save_job);
    for (size_t i = 0; i < j->n_msgs; i++)
        j->msgs[i].id = 0;
}

static void incident_save_free(struct store_job *job)
{
    struct incident_save_job *j = STORE_JOB_OF(job, struct incident_save_job);
    incident_strings_free(&j->inc);
    store_outbox_msgs_free(j->msgs, j->n_msgs);
    free(j);
}

static void incident_save_describe(const struct store_job *job, char *buf, size_t len)
{
    const struct incident_save_job *j = STORE_JOB_OF(job, const struct incident_save_job);
    snprintf(buf, len, "save of incident %lld with %zu messages", (long long)j->inc.id,
             j->n_msgs);
}

static const struct store_job_ops incident_save_ops = {
    .name = "incident save",
    .run = incident_save_run,
    .complete = incident_save_complete,
    .reset = incident_save_reset,
    .free = incident_save_free,
    .describe = incident_save_describe,
};

void store_save_incident(struct store *s, const struct incident_record *inc,
                         const struct outbox_record *msgs, size_t n_msgs,
                         store_incident_done_cb done, void *ctx)
{
    struct store_job *job =
        s && inc ? store_job_new(&incident_save_ops, sizeof(struct incident_save_job)) : NULL;
    struct incident_save_job *j = job ? STORE_JOB_OF(job, struct incident_save_job) : NULL;
    if (job && (incident_copy(&j->inc, inc) != 0 ||
                store_outbox_msgs_copy(msgs, n_msgs, &j->msgs, &j->n_msgs) != 0)) {
        incident_save_free(job);
        job = NULL;
    }
    if (!job) {
        if (s && inc)
            store_out_of_memory("incident");
        else if (s)
            log_error("store: incident save without an incident; ignored");
        if (done)
            done(-1, inc, msgs, n_msgs, ctx);
        return;
    }
    job->has_callback = done != NULL;
    j->done = done;
    j->ctx = ctx;
    if (inc->id <= 0) {
        log_error("store: incident has id %lld, expected a positive id; not written",
                  (long long)inc->id);
        store_job_fail(job, "incident id must be positive"); /* completes with -1 */
    }
    store_enqueue(s, job);
}

/* ---- reads: the query, the open ones at start-up ---- */

/* Incidents read; the job owns their JSON strings. The query's q is unused by the load. */
struct incident_read_job {
    struct store_job base;
    struct incident_query q;
    struct incident_record *items;
    size_t n, cap;
    store_incidents_cb done;
    void *ctx;
};

/* Row visitor: out of memory is worth a retry, the batch runs again after a pause. */
static int incident_read_push(const struct incident_record *rec, void *ctx)
{
    struct incident_read_job *j = ctx;
    if (store_array_reserve((void **)&j->items, &j->cap, j->n, sizeof *rec) != 0 ||
        incident_copy(&j->items[j->n], rec) != 0)
        return STORE_ERR_RETRY;
    j->n++;
    return 0;
}

static void incident_read_reset(struct store_job *job)
{
    struct incident_read_job *j = STORE_JOB_OF(job, struct incident_read_job);
    for (size_t i = 0; i < j->n; i++)
        incident_strings_free(&j->items[i]);
    free(j->items);
    j->items = NULL;
    j->n = j->cap = 0;
}

static void incident_read_free(struct store_job *job)
{
    incident_read_reset(job);
    free(STORE_JOB_OF(job, struct incident_read_job));
}

static int incident_query_run(struct store_job *job, const struct store_backend *b, void *db,
                              char *err, size_t errlen)
{
    struct incident_read_job *j = STORE_JOB_OF(job, struct incident_read_job);
    return b->query_incidents(db, &j->q, incident_read_push, j, err, errlen);
}

static void incident_query_complete(struct store_job *job)
{
    struct incident_read_job *j = STORE_JOB_OF(job, struct incident_read_job);
    j->done(job->status, j->items, j->n, j->ctx);
}

static const struct store_job_ops incident_query_ops = {
    .name = "incident query",
    .reads = true,
    .run = incident_query_run,
    .complete = incident_query_complete,
    .reset = incident_read_reset,
    .free = incident_read_free,
};

void store_query_incidents(struct store *s, const struct incident_query *q, store_incidents_cb done,
                           void *ctx)
{
    struct store_job *job =
        s ? store_job_new(&incident_query_ops, sizeof(struct incident_read_job)) : NULL;
    if (!job) {
        if (s)
            store_out_of_memory("incident query");
        if (done)
            done(-1, NULL, 0, ctx);
        return;
    }
    struct incident_read_job *j = STORE_JOB_OF(job, struct incident_read_job);
    j->q = *q;
    j->q.limit = store_query_limit(q->limit);
    job->has_callback = done != NULL;
    j->done = done;
    j->ctx = ctx;
    store_enqueue(s, job);
}

static int incident_load_open_run(struct store_job *job, const struct store_backend *b, void *db,
                                  char *err, size_t errlen)
{
    struct incident_read_job *j = STORE_JOB_OF(job, struct incident_read_job);
    return b->load_open_incidents(db, incident_read_push, j, err, errlen);
}

static const struct store_job_ops incident_load_open_ops = {
    .name = "open incident load",
    .reads = true,
    .run = incident_load_open_run,
    .reset = incident_read_reset,
    .free = incident_read_free,
};

int store_load_open_incidents(struct store *s,
                              void (*cb)(const struct incident_record *rec, void *ctx), void *ctx,
                              char *err, size_t errlen)
{
    struct store_job *job = store_sync_job_new(s, &incident_load_open_ops,
                                               sizeof(struct incident_read_job), err, errlen);
    if (!job)
        return -1;
    int rc = store_run_sync(s, job, err, errlen);
    struct incident_read_job *j = STORE_JOB_OF(job, struct incident_read_job);
    for (size_t i = 0; rc == 0 && i < j->n; i++)
        cb(&j->items[i], ctx);
    incident_read_free(job);
    return rc;
}
