/* store_workers.c — the workers entity of the store: upserts by name (fire and forget) and the
 * start-up load, as store jobs (store_job.h). */
#include <stdio.h>
#include <stdlib.h>

#include "store/store_job.h"

/* Workers to save, or the workers loaded (which the job owns). */
struct worker_job {
    struct store_job base;
    struct worker_record *items;
    size_t n, cap;
};

void store_worker_copy(struct worker_record *dst, const struct worker_record *src)
{
    *dst = *src;
    STORE_TERMINATE(dst->name);
    STORE_TERMINATE(dst->ip);
    STORE_TERMINATE(dst->version);
    STORE_TERMINATE(dst->site);
}

static void worker_job_free(struct store_job *job)
{
    struct worker_job *w = STORE_JOB_OF(job, struct worker_job);
    free(w->items);
    free(w);
}

static int worker_save_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    struct worker_job *w = STORE_JOB_OF(job, struct worker_job);
    return b->save_workers(db, w->items, w->n, err, errlen);
}

static void worker_save_describe(const struct store_job *job, char *buf, size_t len)
{
    snprintf(buf, len, "save of %zu workers", STORE_JOB_OF(job, struct worker_job)->n);
}

static const struct store_job_ops worker_save_ops = {
    .name = "worker save",
    .run = worker_save_run,
    .free = worker_job_free,
    .describe = worker_save_describe,
};

void store_save_workers(struct store *s, const struct worker_record *recs, size_t n)
{
    if (!s || n == 0)
        return;
    struct store_job *job = store_job_new(&worker_save_ops, sizeof(struct worker_job));
    struct worker_record *copy = malloc(n * sizeof *copy);
    if (!job || !copy) {
        free(job);
        free(copy);
        store_out_of_memory("worker save");
        return;
    }
    for (size_t i = 0; i < n; i++)
        store_worker_copy(&copy[i], &recs[i]);
    struct worker_job *w = STORE_JOB_OF(job, struct worker_job);
    w->items = copy;
    w->n = w->cap = n;
    store_enqueue(s, job);
}

/* Row visitor: out of memory is worth a retry, the batch runs again after a pause. */
static int worker_job_push(const struct worker_record *rec, void *ctx)
{
    struct worker_job *w = ctx;
    if (store_array_reserve((void **)&w->items, &w->cap, w->n, sizeof *rec) != 0)
        return STORE_ERR_RETRY;
    store_worker_copy(&w->items[w->n++], rec);
    return 0;
}

static int worker_load_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    return b->load_workers(db, worker_job_push, STORE_JOB_OF(job, struct worker_job), err, errlen);
}

static void worker_load_reset(struct store_job *job)
{
    struct worker_job *w = STORE_JOB_OF(job, struct worker_job);
    free(w->items);
    w->items = NULL;
    w->n = w->cap = 0;
}

static const struct store_job_ops worker_load_ops = {
    .name = "worker load",
    .reads = true,
    .run = worker_load_run,
    .reset = worker_load_reset,
    .free = worker_job_free,
};

int store_load_workers(struct store *s, void (*cb)(const struct worker_record *rec, void *ctx),
                       void *ctx, char *err, size_t errlen)
{
    struct store_job *job =
        store_sync_job_new(s, &worker_load_ops, sizeof(struct worker_job), err, errlen);
    if (!job)
        return -1;
    int rc = store_run_sync(s, job, err, errlen);
    struct worker_job *w = STORE_JOB_OF(job, struct worker_job);
    for (size_t i = 0; rc == 0 && i < w->n; i++)
        cb(&w->items[i], ctx);
    job->ops->free(job);
    return rc;
}
