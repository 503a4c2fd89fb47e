/* store_diagnostics.c — the diagnostics entity of the store (records agents upload from their
 * backlog): the deduplicating append and the query, as store jobs (store_job.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "store/store_job.h"

/* Records to append, or the records read; each owns its body_json. */
struct diag_list {
    struct diag_record *items;
    size_t n, cap;
};

/* Copies src into dst with its own body (NULL gets "{}"). Returns 0 or -1 (out of memory). */
static int diag_copy(struct diag_record *dst, const struct diag_record *src)
{
    *dst = *src;
    STORE_TERMINATE(dst->worker);
    STORE_TERMINATE(dst->record_id);
    STORE_TERMINATE(dst->kind);
    dst->body_json = strdup(src->body_json ? src->body_json : "{}");
    return dst->body_json ? 0 : -1;
}

static void diag_list_free(struct diag_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free((char *)list->items[i].body_json);
    free(list->items);
    *list = (struct diag_list){0};
}

/* ---- the append ---- */

struct diag_append_job {
    struct store_job base;
    struct diag_list recs;
    size_t stored, duplicates; /* set once committed */
    store_backlog_done_cb done;
    void *ctx;
};

static int diag_append_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    struct diag_append_job *d = STORE_JOB_OF(job, struct diag_append_job);
    int rc = b->append_diagnostics(db, d->recs.items, d->recs.n, &d->stored, err, errlen);
    if (!rc)
        d->duplicates = d->recs.n - d->stored;
    return rc;
}

static void diag_append_complete(struct store_job *job)
{
    struct diag_append_job *d = STORE_JOB_OF(job, struct diag_append_job);
    d->done(job->status, d->stored, d->duplicates, d->ctx);
}

static void diag_append_reset(struct store_job *job)
{
    struct diag_append_job *d = STORE_JOB_OF(job, struct diag_append_job);
    d->stored = d->duplicates = 0;
}

static void diag_append_free(struct store_job *job)
{
    struct diag_append_job *d = STORE_JOB_OF(job, struct diag_append_job);
    diag_list_free(&d->recs);
    free(d);
}

static void diag_append_describe(const struct store_job *job, char *buf, size_t len)
{
    snprintf(buf, len, "upload of %zu diagnostic records",
             STORE_JOB_OF(job, const struct diag_append_job)->recs.n);
}

static const struct store_job_ops diag_append_ops = {
    .name = "diagnostics upload",
    .run = diag_append_run,
    .complete = diag_append_complete,
    .reset = diag_append_reset,
    .free = diag_append_free,
    .describe = diag_append_describe,
};

/* Copies the records into list, received_ms defaulted to now; returns -1 when out of memory
 * (list then holds the records copied so far, for diag_list_free()). */
static int diag_list_fill(struct diag_list *list, const struct diag_record *recs, size_t n)
{
    int64_t now = clock_wall_ms();
    if (n == 0)
        return 0;
    list->items = calloc(n, sizeof *list->items);
    if (!list->items)
        return -1;
    list->cap = n;
    for (; list->n < n; list->n++) {
        struct diag_record *d = &list->items[list->n];
        if (diag_copy(d, &recs[list->n]) != 0)
            return -1;
        d->id = 0;
        if (!d->received_ms)
            d->received_ms = now;
    }
    return 0;
}

void store_append_diagnostics(struct store *s, const struct diag_record *recs, size_t n,
                              store_backlog_done_cb done, void *ctx)
{
    struct store_job *job =
        s ? store_job_new(&diag_append_ops, sizeof(struct diag_append_job)) : NULL;
    struct diag_append_job *d = job ? STORE_JOB_OF(job, struct diag_append_job) : NULL;
    if (job && diag_list_fill(&d->recs, recs, n) != 0) {
        diag_append_free(job);
        job = NULL;
    }
    if (!job) {
        if (s)
            store_out_of_memory("diagnostics upload");
        if (done)
            done(-1, 0, 0, ctx);
        return;
    }
    job->has_callback = done != NULL;
    d->done = done;
    d->ctx = ctx;
    store_enqueue(s, job);
}

/* ---- the query ---- */

struct diag_query_job {
    struct store_job base;
    struct diag_query q; /* owns q.worker and q.kind */
    struct diag_list result;
    store_diags_cb done;
    void *ctx;
};

/* Row visitor: out of memory is worth a retry, the batch runs again after a pause. */
static int diag_query_push(const struct diag_record *rec, void *ctx)
{
    struct diag_list *list = ctx;
    if (store_array_reserve((void **)&list->items, &list->cap, list->n, sizeof *rec) != 0 ||
        diag_copy(&list->items[list->n], rec) != 0)
        return STORE_ERR_RETRY;
    list->n++;
    return 0;
}

static int diag_query_run(struct store_job *job, const struct store_backend *b, void *db,
                          char *err, size_t errlen)
{
    struct diag_query_job *q = STORE_JOB_OF(job, struct diag_query_job);
    return b->query_diagnostics(db, &q->q, diag_query_push, &q->result, err, errlen);
}

static void diag_query_complete(struct store_job *job)
{
    struct diag_query_job *q = STORE_JOB_OF(job, struct diag_query_job);
    q->done(job->status, q->result.items, q->result.n, q->ctx);
}

static void diag_query_reset(struct store_job *job)
{
    diag_list_free(&STORE_JOB_OF(job, struct diag_query_job)->result);
}

static void diag_query_free(struct store_job *job)
{
    struct diag_query_job *q = STORE_JOB_OF(job, struct diag_query_job);
    free((char *)q->q.worker);
    free((char *)q->q.kind);
    diag_list_free(&q->result);
    free(q);
}

static const struct store_job_ops diag_query_ops = {
    .name = "diagnostics query",
    .reads = true,
    .run = diag_query_run,
    .complete = diag_query_complete,
    .reset = diag_query_reset,
    .free = diag_query_free,
};

void store_query_diagnostics(struct store *s, const struct diag_query *q, store_diags_cb done,
                             void *ctx)
{
    struct store_job *job =
        s ? store_job_new(&diag_query_ops, sizeof(struct diag_query_job)) : NULL;
    struct diag_query_job *qj = job ? STORE_JOB_OF(job, struct diag_query_job) : NULL;
    if (qj) {
        qj->q = *q;
        qj->q.worker = q->worker ? strdup(q->worker) : NULL;
        qj->q.kind = q->kind ? strdup(q->kind) : NULL;
    }
    if (!job || (q->worker && !qj->q.worker) || (q->kind && !qj->q.kind)) {
        if (job)
            diag_query_free(job);
        if (s)
            store_out_of_memory("diagnostics query");
        if (done)
            done(-1, NULL, 0, ctx);
        return;
    }
    qj->q.limit = store_query_limit(q->limit);
    job->has_callback = done != NULL;
    qj->done = done;
    qj->ctx = ctx;
    store_enqueue(s, job);
}
