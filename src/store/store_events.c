/* store_events.c — the events entity of the store: an event appended with its worker's row and
 * its outbox messages in one transaction, messages alone, and the event query, as store jobs
 * (store_job.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "model/json.h"
#include "store/store_job.h"

/* Copies src into dst with its own details ("{}" when NULL); -1 when out of memory. */
static int event_copy(struct event_record *dst, const struct event_record *src)
{
    *dst = *src;
    STORE_TERMINATE(dst->worker);
    dst->details_json = strdup(src->details_json ? src->details_json : "{}");
    return dst->details_json ? 0 : -1;
}

struct event_append_job {
    struct store_job base;
    bool has_worker, has_event;
    struct worker_record worker;
    struct event_record ev;     /* owns details_json */
    struct outbox_record *msgs; /* owned, and each owns its text */
    size_t n_msgs;
    store_event_done_cb done;
    void *ctx;
};

static int event_append_run(struct store_job *job, const struct store_backend *b, void *db,
                            char *err, size_t errlen)
{
    struct event_append_job *a = STORE_JOB_OF(job, struct event_append_job);
    int rc = 0;
    if (a->has_worker)
        rc = b->save_workers(db, &a->worker, 1, err, errlen);
    if (!rc && a->has_event)
        rc = b->append_event(db, &a->ev, &a->ev.id, err, errlen);
    for (size_t i = 0; !rc && a->has_event && i < a->n_msgs; i++)
        a->msgs[i].event_id = a->ev.id;
    return rc ? rc : store_outbox_msgs_run(b, db, a->msgs, a->n_msgs, err, errlen);
}

static void event_append_complete(struct store_job *job)
{
    struct event_append_job *a = STORE_JOB_OF(job, struct event_append_job);
    a->done(job->status, a->has_event ? &a->ev : NULL, a->msgs, a->n_msgs, a->ctx);
}

static void event_append_reset(struct store_job *job)
{
    struct event_append_job *a = STORE_JOB_OF(job, struct event_append_job);
    a->ev.id = 0;
    for (size_t i = 0; i < a->n_msgs; i++) {
        a->msgs[i].id = 0;
        if (a->has_event)
            a->msgs[i].event_id = 0;
    }
}

static void event_append_free(struct store_job *job)
{
    struct event_append_job *a = STORE_JOB_OF(job, struct event_append_job);
    free((char *)a->ev.details_json);
    store_outbox_msgs_free(a->msgs, a->n_msgs);
    free(a);
}

static void event_append_describe(const struct store_job *job, char *buf, size_t len)
{
    const struct event_append_job *a = STORE_JOB_OF(job, const struct event_append_job);
    snprintf(buf, len, "event of %s with %zu messages", a->has_event ? a->ev.worker : "(none)",
             a->n_msgs);
}

/* {"event":{...},"worker":{...},"messages":[{"channel","text"}]}, the parts the job has. */
static char *event_append_record(const struct store_job *job)
{
    const struct event_append_job *a = STORE_JOB_OF(job, const struct event_append_job);
    json_t *rec = json_object(), *msgs = json_array();
    if (a->has_event) {
        json_t *ev = event_json(&a->ev);
        json_object_del(ev, "id");
        json_object_set_new(rec, "event", ev);
    }
    if (a->has_worker)
        json_object_set_new(rec, "worker", worker_json(&a->worker));
    for (size_t i = 0; i < a->n_msgs; i++)
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "channel", a->msgs[i].channel,
                                              "text", a->msgs[i].text));
    json_object_set_new(rec, "messages", msgs);
    char *text = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(rec);
    return text;
}

static const struct store_job_ops event_append_ops = {
    .name = "event append",
    .run = event_append_run,
    .complete = event_append_complete,
    .reset = event_append_reset,
    .free = event_append_free,
    .describe = event_append_describe,
    .record = event_append_record,
};

/* Copies the worker, the event and its messages into a; returns -1 when out of memory. */
static int event_append_fill(struct event_append_job *a, const struct worker_record *worker,
                             const struct event_record *ev, const struct outbox_record *msgs,
                             size_t n_msgs)
{
    if (worker) {
        a->has_worker = true;
        store_worker_copy(&a->worker, worker);
    }
    if (ev) {
        a->has_event = true;
        if (event_copy(&a->ev, ev) != 0)
            return -1;
        a->ev.id = 0;
    }
    return store_outbox_msgs_copy(msgs, n_msgs, &a->msgs, &a->n_msgs);
}

void store_append_event(struct store *s, const struct worker_record *worker,
                        const struct event_record *ev, const struct outbox_record *msgs,
                        size_t n_msgs, store_event_done_cb done, void *ctx)
{
    enum event_kind kind;
    struct store_job *job =
        s ? store_job_new(&event_append_ops, sizeof(struct event_append_job)) : NULL;
    struct event_append_job *a = job ? STORE_JOB_OF(job, struct event_append_job) : NULL;
    if (job && event_append_fill(a, worker, ev, msgs, n_msgs) != 0) {
        event_append_free(job);
        job = NULL;
    }
    if (!job) {
        if (s)
            store_out_of_memory("event");
        if (done)
            done(-1, ev, msgs, n_msgs, ctx);
        return;
    }
    job->has_callback = done != NULL;
    a->done = done;
    a->ctx = ctx;
    if (ev && event_kind_parse(event_kind_name(ev->kind), &kind) != 0) {
        log_error("store: event of %s has unknown kind %d; not written", a->ev.worker,
                  (int)ev->kind);
        store_job_fail(job, "unknown event kind"); /* completes with -1 through the queue */
    }
    store_enqueue(s, job);
}

void store_append_messages(struct store *s, const struct outbox_record *msgs, size_t n_msgs,
                           store_event_done_cb done, void *ctx)
{
    store_append_event(s, NULL, NULL, msgs, n_msgs, done, ctx);
}

/* ---- the query ---- */

struct event_query_job {
    struct store_job base;
    struct event_query q;        /* owns q.worker */
    struct event_record *items;  /* the result; each owns its details_json */
    size_t n, cap;
    store_events_cb done;
    void *ctx;
};

/* Row visitor: out of memory is worth a retry, the batch runs again after a pause. */
static int event_query_push(const struct event_record *rec, void *ctx)
{
    struct event_query_job *q = ctx;
    if (store_array_reserve((void **)&q->items, &q->cap, q->n, sizeof *rec) ||
        event_copy(&q->items[q->n], rec) != 0)
        return STORE_ERR_RETRY;
    q->n++;
    return 0;
}

static int event_query_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    struct event_query_job *q = STORE_JOB_OF(job, struct event_query_job);
    return b->query_events(db, &q->q, event_query_push, q, err, errlen);
}

static void event_query_complete(struct store_job *job)
{
    struct event_query_job *q = STORE_JOB_OF(job, struct event_query_job);
    q->done(job->status, q->items, q->n, q->ctx);
}

static void event_query_reset(struct store_job *job)
{
    struct event_query_job *q = STORE_JOB_OF(job, struct event_query_job);
    for (size_t i = 0; i < q->n; i++)
        free((char *)q->items[i].details_json);
    free(q->items);
    q->items = NULL;
    q->n = q->cap = 0;
}

static void event_query_free(struct store_job *job)
{
    struct event_query_job *q = STORE_JOB_OF(job, struct event_query_job);
    event_query_reset(job);
    free((char *)q->q.worker);
    free(q);
}

static const struct store_job_ops event_query_ops = {
    .name = "event query",
    .reads = true,
    .run = event_query_run,
    .complete = event_query_complete,
    .reset = event_query_reset,
    .free = event_query_free,
};

void store_query_events(struct store *s, const struct event_query *q, store_events_cb done,
                        void *ctx)
{
    struct store_job *job =
        s ? store_job_new(&event_query_ops, sizeof(struct event_query_job)) : NULL;
    struct event_query_job *qj = job ? STORE_JOB_OF(job, struct event_query_job) : NULL;
    if (qj) {
        qj->q = *q;
        qj->q.worker = q->worker ? strdup(q->worker) : NULL;
    }
    if (!job || (q->worker && !qj->q.worker)) {
        if (job)
            event_query_free(job);
        if (s)
            store_out_of_memory("event query");
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
