/* store_reports.c — the reports entity of the store (the latest report each worker's agent
 * pushed): the save, which replaces the worker's previous report, and the query, as store jobs
 * (store_job.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "store/store_job.h"

/* Reports read, each owning its body. */
struct report_list {
    struct node_report_record *items;
    size_t n, cap;
};

static int report_copy(struct node_report_record *dst, const struct node_report_record *src)
{
    *dst = *src;
    STORE_TERMINATE(dst->worker);
    dst->body_json = strdup(src->body_json ? src->body_json : "{}");
    return dst->body_json ? 0 : -1;
}

static void report_list_free(struct report_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free((char *)list->items[i].body_json);
    free(list->items);
    *list = (struct report_list){0};
}

/* ---- the save ---- */

struct report_save_job {
    struct store_job base;
    struct node_report_record rec; /* owns body_json */
    store_report_done_cb done;
    void *ctx;
};

static int report_save_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    return b->save_report(db, &STORE_JOB_OF(job, struct report_save_job)->rec, err, errlen);
}

static void report_save_complete(struct store_job *job)
{
    struct report_save_job *r = STORE_JOB_OF(job, struct report_save_job);
    r->done(job->status, r->ctx);
}

static void report_save_free(struct store_job *job)
{
    struct report_save_job *r = STORE_JOB_OF(job, struct report_save_job);
    free((char *)r->rec.body_json);
    free(r);
}

static void report_save_describe(const struct store_job *job, char *buf, size_t len)
{
    snprintf(buf, len, "report of %s", STORE_JOB_OF(job, const struct report_save_job)->rec.worker);
}

static const struct store_job_ops report_save_ops = {
    .name = "report save",
    .run = report_save_run,
    .complete = report_save_complete,
    .free = report_save_free,
    .describe = report_save_describe,
};

void store_save_report(struct store *s, const struct node_report_record *rec,
                       store_report_done_cb done, void *ctx)
{
    struct store_job *job =
        s ? store_job_new(&report_save_ops, sizeof(struct report_save_job)) : NULL;
    struct report_save_job *r = job ? STORE_JOB_OF(job, struct report_save_job) : NULL;
    if (r && report_copy(&r->rec, rec) != 0) {
        free(r);
        job = NULL;
    }
    if (!job) {
        if (s)
            store_out_of_memory("report save");
        if (done)
            done(-1, ctx);
        return;
    }
    if (!r->rec.received_ms)
        r->rec.received_ms = clock_wall_ms();
    job->has_callback = done != NULL;
    r->done = done;
    r->ctx = ctx;
    store_enqueue(s, job);
}

/* ---- the query ---- */

struct report_query_job {
    struct store_job base;
    char *worker; /* NULL: all */
    struct report_list result;
    store_reports_cb done;
    void *ctx;
};

static int report_query_push(const struct node_report_record *rec, void *ctx)
{
    struct report_list *list = ctx;
    if (store_array_reserve((void **)&list->items, &list->cap, list->n, sizeof *rec) != 0 ||
        report_copy(&list->items[list->n], rec) != 0)
        return STORE_ERR_RETRY;
    list->n++;
    return 0;
}

static int report_query_run(struct store_job *job, const struct store_backend *b, void *db,
                            char *err, size_t errlen)
{
    struct report_query_job *q = STORE_JOB_OF(job, struct report_query_job);
    return b->query_reports(db, q->worker, report_query_push, &q->result, err, errlen);
}

static void report_query_complete(struct store_job *job)
{
    struct report_query_job *q = STORE_JOB_OF(job, struct report_query_job);
    q->done(job->status, q->result.items, q->result.n, q->ctx);
}

static void report_query_reset(struct store_job *job)
{
    report_list_free(&STORE_JOB_OF(job, struct report_query_job)->result);
}

static void report_query_free(struct store_job *job)
{
    struct report_query_job *q = STORE_JOB_OF(job, struct report_query_job);
    free(q->worker);
    report_list_free(&q->result);
    free(q);
}

static const struct store_job_ops report_query_ops = {
    .name = "reports query",
    .reads = true,
    .run = report_query_run,
    .complete = report_query_complete,
    .reset = report_query_reset,
    .free = report_query_free,
};

void store_query_reports(struct store *s, const char *worker, store_reports_cb done, void *ctx)
{
    struct store_job *job =
        s ? store_job_new(&report_query_ops, sizeof(struct report_query_job)) : NULL;
    struct report_query_job *q = job ? STORE_JOB_OF(job, struct report_query_job) : NULL;
    if (q && worker && !(q->worker = strdup(worker))) {
        free(q);
        job = NULL;
    }
    if (!job) {
        if (s)
            store_out_of_memory("reports query");
        if (done)
            done(-1, NULL, 0, ctx);
        return;
    }
    job->has_callback = done != NULL;
    q->done = done;
    q->ctx = ctx;
    store_enqueue(s, job);
}
