/* store.c — the store's job queue, its thread and the completions on the loop (see store.h).
 * The loop thread queues jobs; the store thread takes everything queued, runs it as one
 * transaction through a backend (store_backend.h) and hands finished jobs back via a uv_async_t.
 *
 * Threads: store->lock guards queue, done, closing and job->finished; everything else in
 * struct store belongs to the loop thread, except db and backend, which only the store thread
 * touches between store_open() and the join in store_close(). */
#include "store/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "store/store_backend.h"

#define STORE_BACKOFF_FIRST_MS 100
#define STORE_BACKOFF_MAX_MS 5000
#define STORE_CLOSE_ATTEMPTS 5 /* retries of a failing batch once store_close() was called */
#define STORE_QUERY_LIMIT_DEFAULT 100
#define STORE_QUERY_LIMIT_MAX 1000
#define STORE_ERR_LEN 256

static const struct store_backend *const backends[] = {&store_backend_sqlite};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum job_kind {
    JOB_SAVE_WORKERS,
    JOB_APPEND_EVENT,
    JOB_OUTBOX_UPDATE,
    JOB_QUERY_EVENTS,
    JOB_SAVE_INCIDENT,
    JOB_QUERY_INCIDENTS,
    JOB_APPEND_DIAGS,
    JOB_QUERY_DIAGS,
    JOB_LOAD_WORKERS,    /* synchronous: the caller waits for job->finished */
    JOB_LOAD_OUTBOX,     /* synchronous */
    JOB_LOAD_INCIDENTS,  /* synchronous */
    JOB_MAX_INCIDENT_ID, /* synchronous */
};

/* Growable arrays of records read from the database. The event, outbox, incident and diag
 * lists own the strings their records point to (details_json, text, the *_json fields). */
struct worker_list {
    struct worker_record *items;
    size_t n, cap;
};
struct event_list {
    struct event_record *items;
    size_t n, cap;
};
struct outbox_list {
    struct outbox_record *items;
    size_t n, cap;
};
struct incident_list {
    struct incident_record *items;
    size_t n, cap;
};
struct diag_list {
    struct diag_record *items;
    size_t n, cap;
};

struct append_job {
    bool has_worker, has_event;
    struct worker_record worker;
    struct event_record ev;     /* owns details_json */
    struct outbox_record *msgs; /* owned, and each owns its text */
    size_t n_msgs;
    store_event_done_cb done;
    void *ctx;
};

struct incident_job {
    struct incident_record inc; /* owns its JSON strings */
    struct outbox_record *msgs; /* owned, and each owns its text */
    size_t n_msgs;
    store_incident_done_cb done;
    void *ctx;
};

struct incident_query_job {
    struct incident_query q;
    struct incident_list result;
    store_incidents_cb done;
    void *ctx;
};

struct diag_append_job {
    struct diag_list recs;
    size_t stored, duplicates; /* set once committed */
    store_backlog_done_cb done;
    void *ctx;
};

struct diag_query_job {
    struct diag_query q; /* owns q.worker and q.kind */
    struct diag_list result;
    store_diags_cb done;
    void *ctx;
};

struct update_job {
    struct outbox_update u; /* owns u.error */
};

struct query_job {
    struct event_query q; /* owns q.worker */
    struct event_list result;
    store_events_cb done;
    void *ctx;
};

/* One unit of work. Allocated on the calling thread, run on the store thread, completed and
 * freed on the loop thread (or by the store thread when nobody waits for it). */
struct job {
    struct job *next;
    enum job_kind kind;
    int status;              /* 0, or -1 once it failed for good */
    bool finished;           /* synchronous jobs: set under store->lock when done */
    char err[STORE_ERR_LEN]; /* why status is -1 */
    union {
        struct worker_list save; /* JOB_SAVE_WORKERS */
        struct append_job append;
        struct update_job update;
        struct query_job query;
        struct incident_job incident;             /* JOB_SAVE_INCIDENT */
        struct incident_query_job incident_query; /* JOB_QUERY_INCIDENTS */
        struct diag_append_job diag_append;       /* JOB_APPEND_DIAGS */
        struct diag_query_job diag_query;         /* JOB_QUERY_DIAGS */
        struct worker_list workers;               /* JOB_LOAD_WORKERS */
        struct outbox_list outbox;                /* JOB_LOAD_OUTBOX */
        struct incident_list incidents;           /* JOB_LOAD_INCIDENTS */
        int64_t max_incident_id;                  /* JOB_MAX_INCIDENT_ID */
    } u;
};

struct job_queue {
    struct job *head, *tail;
};

struct store {
    uv_loop_t *loop;
    uv_async_t *async; /* own allocation, freed by its close callback after the store is gone */
    const struct store_backend *backend;
    void *db;
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t wake;        /* to the store thread: work queued, or closing */
    uv_cond_t sync_done;   /* to synchronous callers: a job finished */
    struct job_queue todo; /* for the store thread */
    struct job_queue done; /* for the loop thread */
    bool closing;          /* store_close() has begun: drain, then stop */
    bool closed;           /* loop thread: store_close() is over */
    size_t callbacks_due;  /* loop thread: queued jobs whose callback has not run */
    int callback_depth;    /* loop thread: > 0 while a done callback runs */
};

/* ---- copies of the caller's records ---- */

#define TERMINATE(field) ((field)[sizeof(field) - 1] = '\0')

static void worker_copy(struct worker_record *dst, const struct worker_record *src)
{
    *dst = *src;
    TERMINATE(dst->name);
    TERMINATE(dst->ip);
    TERMINATE(dst->version);
    TERMINATE(dst->site);
}

/* Grows an array so that one more item fits. Returns 0 or -1 (out of memory). */
static int array_reserve(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t new_cap = *cap ? *cap * 2 : 64;
    void *p = realloc(*items, new_cap * size);
    if (!p)
        return -1;
    *items = p;
    *cap = new_cap;
    return 0;
}

static void worker_list_free(struct worker_list *list)
{
    free(list->items);
    *list = (struct worker_list){0};
}

static void event_list_free(struct event_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free((char *)list->items[i].details_json); /* owned: see struct event_list */
    free(list->items);
    *list = (struct event_list){0};
}

static void outbox_msgs_free(struct outbox_record *msgs, size_t n)
{
    for (size_t i = 0; msgs && i < n; i++)
        free((char *)msgs[i].text); /* owned: see struct outbox_list, struct append_job */
    free(msgs);
}

static void outbox_list_free(struct outbox_list *list)
{
    outbox_msgs_free(list->items, list->n);
    *list = (struct outbox_list){0};
}

static void incident_strings_free(struct incident_record *inc)
{
    free((char *)inc->scope_json); /* owned: see struct incident_list, struct incident_job */
    free((char *)inc->workers_json);
    free((char *)inc->evidence_json);
    inc->scope_json = inc->workers_json = inc->evidence_json = NULL;
}

/* Copies src into dst with its own JSON strings (NULL ones get their defaults). Returns 0, or
 * -1 when out of memory, with dst's strings freed. */
static int incident_copy(struct incident_record *dst, const struct incident_record *src)
{
    *dst = *src;
    TERMINATE(dst->classification);
    dst->scope_json = strdup(src->scope_json ? src->scope_json : "{}");
    dst->workers_json = strdup(src->workers_json ? src->workers_json : "[]");
    dst->evidence_json = strdup(src->evidence_json ? src->evidence_json : "{}");
    if (dst->scope_json && dst->workers_json && dst->evidence_json)
        return 0;
    incident_strings_free(dst);
    return -1;
}

static void incident_list_free(struct incident_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        incident_strings_free(&list->items[i]);
    free(list->items);
    *list = (struct incident_list){0};
}

/* Copies src into dst with its own body (NULL gets "{}"). Returns 0 or -1 (out of memory). */
static int diag_copy(struct diag_record *dst, const struct diag_record *src)
{
    *dst = *src;
    TERMINATE(dst->worker);
    TERMINATE(dst->record_id);
    TERMINATE(dst->kind);
    dst->body_json = strdup(src->body_json ? src->body_json : "{}");
    return dst->body_json ? 0 : -1;
}

static void diag_list_free(struct diag_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free((char *)list->items[i].body_json); /* owned: see struct diag_list */
    free(list->items);
    *list = (struct diag_list){0};
}

/* Row visitors for the backend's reads: they copy into the job's lists. Out of memory is
 * worth a retry: the batch runs again after a pause. */
static int worker_list_push(const struct worker_record *rec, void *ctx)
{
    struct worker_list *list = ctx;
    if (array_reserve((void **)&list->items, &list->cap, list->n, sizeof *rec) != 0)
        return STORE_ERR_RETRY;
    worker_copy(&list->items[list->n++], rec);
    return 0;
}

static int event_list_push(const struct event_record *rec, void *ctx)
{
    struct event_list *list = ctx;
    char *details = strdup(rec->details_json ? rec->details_json : "{}");
    if (!details || array_reserve((void **)&list->items, &list->cap, list->n, sizeof *rec)) {
        free(details);
        return STORE_ERR_RETRY;
    }
    struct event_record *ev = &list->items[list->n++];
    *ev = *rec;
    TERMINATE(ev->worker);
    ev->details_json = details;
    return 0;
}

static int outbox_list_push(const struct outbox_record *rec, void *ctx)
{
    struct outbox_list *list = ctx;
    char *text = strdup(rec->text ? rec->text : "");
    if (!text || array_reserve((void **)&list->items, &list->cap, list->n, sizeof *rec)) {
        free(text);
        return STORE_ERR_RETRY;
    }
    struct outbox_record *msg = &list->items[list->n++];
    *msg = *rec;
    TERMINATE(msg->channel);
    msg->text = text;
    return 0;
}

static int incident_list_push(const struct incident_record *rec, void *ctx)
{
    struct incident_list *list = ctx;
    if (array_reserve((void **)&list->items, &list->cap, list->n, sizeof *rec) != 0 ||
        incident_copy(&list->items[list->n], rec) != 0)
        return STORE_ERR_RETRY;
    list->n++;
    return 0;
}

static int diag_list_push(const struct diag_record *rec, void *ctx)
{
    struct diag_list *list = ctx;
    if (array_reserve((void **)&list->items, &list->cap, list->n, sizeof *rec) != 0 ||
        diag_copy(&list->items[list->n], rec) != 0)
        return STORE_ERR_RETRY;
    list->n++;
    return 0;
}

/* ---- jobs ---- */

static struct job *job_new(enum job_kind kind)
{
    struct job *job = calloc(1, sizeof *job);
    if (job)
        job->kind = kind;
    return job;
}

static void job_free(struct job *job)
{
    if (!job)
        return;
    switch (job->kind) {
    case JOB_SAVE_WORKERS:
        worker_list_free(&job->u.save);
        break;
    case JOB_APPEND_EVENT:
        free((char *)job->u.append.ev.details_json);
        outbox_msgs_free(job->u.append.msgs, job->u.append.n_msgs);
        break;
    case JOB_OUTBOX_UPDATE:
        free((char *)job->u.update.u.error);
        break;
    case JOB_QUERY_EVENTS:
        free((char *)job->u.query.q.worker);
        event_list_free(&job->u.query.result);
        break;
    case JOB_LOAD_WORKERS:
        worker_list_free(&job->u.workers);
        break;
    case JOB_LOAD_OUTBOX:
        outbox_list_free(&job->u.outbox);
        break;
    case JOB_SAVE_INCIDENT:
        incident_strings_free(&job->u.incident.inc);
        outbox_msgs_free(job->u.incident.msgs, job->u.incident.n_msgs);
        break;
    case JOB_QUERY_INCIDENTS:
        incident_list_free(&job->u.incident_query.result);
        break;
    case JOB_APPEND_DIAGS:
        diag_list_free(&job->u.diag_append.recs);
        break;
    case JOB_QUERY_DIAGS:
        free((char *)job->u.diag_query.q.worker);
        free((char *)job->u.diag_query.q.kind);
        diag_list_free(&job->u.diag_query.result);
        break;
    case JOB_LOAD_INCIDENTS:
        incident_list_free(&job->u.incidents);
        break;
    case JOB_MAX_INCIDENT_ID:
        break;
    }
    free(job);
}

static bool job_is_sync(const struct job *job)
{
    return job->kind == JOB_LOAD_WORKERS || job->kind == JOB_LOAD_OUTBOX ||
           job->kind == JOB_LOAD_INCIDENTS || job->kind == JOB_MAX_INCIDENT_ID;
}

static bool job_has_callback(const struct job *job)
{
    switch (job->kind) {
    case JOB_APPEND_EVENT:
        return job->u.append.done;
    case JOB_QUERY_EVENTS:
        return job->u.query.done;
    case JOB_SAVE_INCIDENT:
        return job->u.incident.done;
    case JOB_QUERY_INCIDENTS:
        return job->u.incident_query.done;
    case JOB_APPEND_DIAGS:
        return job->u.diag_append.done;
    case JOB_QUERY_DIAGS:
        return job->u.diag_query.done;
    default:
        return false;
    }
}

/* A few words for log lines about a job. */
static void job_describe(const struct job *job, char *buf, size_t len)
{
    switch (job->kind) {
    case JOB_SAVE_WORKERS:
        snprintf(buf, len, "save of %zu workers", job->u.save.n);
        break;
    case JOB_APPEND_EVENT:
        snprintf(buf, len, "event of %s with %zu messages",
                 job->u.append.has_event ? job->u.append.ev.worker : "(none)",
                 job->u.append.n_msgs);
        break;
    case JOB_OUTBOX_UPDATE:
        snprintf(buf, len, "update of outbox message %lld", (long long)job->u.update.u.id);
        break;
    case JOB_QUERY_EVENTS:
        snprintf(buf, len, "event query");
        break;
    case JOB_LOAD_WORKERS:
        snprintf(buf, len, "worker load");
        break;
    case JOB_LOAD_OUTBOX:
        snprintf(buf, len, "outbox load");
        break;
    case JOB_SAVE_INCIDENT:
        snprintf(buf, len, "save of incident %lld with %zu messages",
                 (long long)job->u.incident.inc.id, job->u.incident.n_msgs);
        break;
    case JOB_QUERY_INCIDENTS:
        snprintf(buf, len, "incident query");
        break;
    case JOB_APPEND_DIAGS:
        snprintf(buf, len, "upload of %zu diagnostic records", job->u.diag_append.recs.n);
        break;
    case JOB_QUERY_DIAGS:
        snprintf(buf, len, "diagnostics query");
        break;
    case JOB_LOAD_INCIDENTS:
        snprintf(buf, len, "open incident load");
        break;
    case JOB_MAX_INCIDENT_ID:
        snprintf(buf, len, "incident id read");
        break;
    }
}

/* Forgets what a failed attempt produced, so the job can run again. */
static void job_reset(struct job *job)
{
    struct append_job *a = &job->u.append;
    switch (job->kind) {
    case JOB_APPEND_EVENT:
        a->ev.id = 0;
        for (size_t i = 0; i < a->n_msgs; i++) {
            a->msgs[i].id = 0;
            if (a->has_event)
                a->msgs[i].event_id = 0;
        }
        break;
    case JOB_QUERY_EVENTS:
        event_list_free(&job->u.query.result);
        break;
    case JOB_LOAD_WORKERS:
        worker_list_free(&job->u.workers);
        break;
    case JOB_LOAD_OUTBOX:
        outbox_list_free(&job->u.outbox);
        break;
    case JOB_SAVE_INCIDENT:
        for (size_t i = 0; i < job->u.incident.n_msgs; i++)
            job->u.incident.msgs[i].id = 0;
        break;
    case JOB_QUERY_INCIDENTS:
        incident_list_free(&job->u.incident_query.result);
        break;
    case JOB_APPEND_DIAGS:
        job->u.diag_append.stored = job->u.diag_append.duplicates = 0;
        break;
    case JOB_QUERY_DIAGS:
        diag_list_free(&job->u.diag_query.result);
        break;
    case JOB_LOAD_INCIDENTS:
        incident_list_free(&job->u.incidents);
        break;
    case JOB_MAX_INCIDENT_ID:
        job->u.max_incident_id = 0;
        break;
    default:
        break;
    }
}

/* Inserts the messages and writes the ids they got into them. */
static int job_run_outbox(struct store *s, struct outbox_record *msgs, size_t n, char *err,
                          size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = s->backend->append_outbox(s->db, &msgs[i], &msgs[i].id, err, errlen);
    return rc;
}

static int job_run_append(struct store *s, struct append_job *a, char *err, size_t errlen)
{
    const struct store_backend *b = s->backend;
    int rc = 0;
    if (a->has_worker)
        rc = b->save_workers(s->db, &a->worker, 1, err, errlen);
    if (!rc && a->has_event)
        rc = b->append_event(s->db, &a->ev, &a->ev.id, err, errlen);
    for (size_t i = 0; !rc && a->has_event && i < a->n_msgs; i++)
        a->msgs[i].event_id = a->ev.id;
    return rc ? rc : job_run_outbox(s, a->msgs, a->n_msgs, err, errlen);
}

static int job_run_incident(struct store *s, struct incident_job *inc, char *err, size_t errlen)
{
    int rc = s->backend->save_incident(s->db, &inc->inc, err, errlen);
    return rc ? rc : job_run_outbox(s, inc->msgs, inc->n_msgs, err, errlen);
}

static int job_run_diags(struct store *s, struct diag_append_job *d, char *err, size_t errlen)
{
    int rc =
        s->backend->append_diagnostics(s->db, d->recs.items, d->recs.n, &d->stored, err, errlen);
    if (!rc)
        d->duplicates = d->recs.n - d->stored;
    return rc;
}

/* Runs one job inside the open transaction. Returns 0 or a store_backend_result. */
static int job_run(struct store *s, struct job *job, char *err, size_t errlen)
{
    const struct store_backend *b = s->backend;
    switch (job->kind) {
    case JOB_SAVE_WORKERS:
        return b->save_workers(s->db, job->u.save.items, job->u.save.n, err, errlen);
    case JOB_APPEND_EVENT:
        return job_run_append(s, &job->u.append, err, errlen);
    case JOB_OUTBOX_UPDATE:
        return b->outbox_update(s->db, &job->u.update.u, err, errlen);
    case JOB_QUERY_EVENTS:
        return b->query_events(s->db, &job->u.query.q, event_list_push, &job->u.query.result, err,
                               errlen);
    case JOB_LOAD_WORKERS:
        return b->load_workers(s->db, worker_list_push, &job->u.workers, err, errlen);
    case JOB_LOAD_OUTBOX:
        return b->load_pending_outbox(s->db, outbox_list_push, &job->u.outbox, err, errlen);
    case JOB_SAVE_INCIDENT:
        return job_run_incident(s, &job->u.incident, err, errlen);
    case JOB_QUERY_INCIDENTS:
        return b->query_incidents(s->db, &job->u.incident_query.q, incident_list_push,
                                  &job->u.incident_query.result, err, errlen);
    case JOB_APPEND_DIAGS:
        return job_run_diags(s, &job->u.diag_append, err, errlen);
    case JOB_QUERY_DIAGS:
        return b->query_diagnostics(s->db, &job->u.diag_query.q, diag_list_push,
                                    &job->u.diag_query.result, err, errlen);
    case JOB_LOAD_INCIDENTS:
        return b->load_open_incidents(s->db, incident_list_push, &job->u.incidents, err, errlen);
    case JOB_MAX_INCIDENT_ID:
        return b->max_incident_id(s->db, &job->u.max_incident_id, err, errlen);
    }
    return STORE_ERR_JOB;
}

/* Runs the job's done callback on the loop thread. */
static void job_complete(struct job *job)
{
    switch (job->kind) {
    case JOB_APPEND_EVENT: {
        struct append_job *a = &job->u.append;
        a->done(job->status, a->has_event ? &a->ev : NULL, a->msgs, a->n_msgs, a->ctx);
        break;
    }
    case JOB_QUERY_EVENTS: {
        struct query_job *q = &job->u.query;
        q->done(job->status, q->result.items, q->result.n, q->ctx);
        break;
    }
    case JOB_SAVE_INCIDENT: {
        struct incident_job *inc = &job->u.incident;
        inc->done(job->status, &inc->inc, inc->msgs, inc->n_msgs, inc->ctx);
        break;
    }
    case JOB_QUERY_INCIDENTS: {
        struct incident_query_job *q = &job->u.incident_query;
        q->done(job->status, q->result.items, q->result.n, q->ctx);
        break;
    }
    case JOB_APPEND_DIAGS: {
        struct diag_append_job *d = &job->u.diag_append;
        d->done(job->status, d->stored, d->duplicates, d->ctx);
        break;
    }
    case JOB_QUERY_DIAGS: {
        struct diag_query_job *q = &job->u.diag_query;
        q->done(job->status, q->result.items, q->result.n, q->ctx);
        break;
    }
    default:
        break;
    }
}

static void job_fail(struct job *job, const char *err)
{
    job_reset(job);
    job->status = -1;
    snprintf(job->err, sizeof job->err, "%s", err);
}

/* ---- the store thread ---- */

static void queue_push(struct job_queue *q, struct job *job)
{
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
}

static struct job *queue_take_all(struct job_queue *q)
{
    struct job *head = q->head;
    q->head = q->tail = NULL;
    return head;
}

static size_t jobs_count(const struct job *first, const struct job *end)
{
    size_t n = 0;
    for (; first != end; first = first->next)
        n++;
    return n;
}

/* Runs jobs [first, end) in one transaction. Returns 0 or a store_backend_result; on failure
 * nothing of the batch is kept. */
static int batch_try(struct store *s, struct job *first, struct job *end, char *err, size_t errlen)
{
    int rc = s->backend->begin(s->db, err, errlen);
    for (struct job *j = first; !rc && j != end; j = j->next)
        if (j->status == 0)
            rc = job_run(s, j, err, errlen);
    if (!rc)
        rc = s->backend->commit(s->db, err, errlen);
    if (rc) {
        s->backend->rollback(s->db);
        for (struct job *j = first; j != end; j = j->next)
            job_reset(j);
    }
    return rc;
}

/* Sleeps delay_ms, or less if store_close() begins meanwhile. Returns the next delay. */
static int backoff_wait(struct store *s, int delay_ms)
{
    uv_mutex_lock(&s->lock);
    bool was_closing = s->closing;
    uint64_t deadline = uv_hrtime() + (uint64_t)delay_ms * 1000000u;
    for (uint64_t now = uv_hrtime(); now < deadline && s->closing == was_closing; now = uv_hrtime())
        uv_cond_timedwait(&s->wake, &s->lock, deadline - now);
    bool began_closing = s->closing && !was_closing;
    uv_mutex_unlock(&s->lock);
    if (began_closing)
        return STORE_BACKOFF_FIRST_MS;
    return delay_ms * 2 > STORE_BACKOFF_MAX_MS ? STORE_BACKOFF_MAX_MS : delay_ms * 2;
}

static bool store_is_closing(struct store *s)
{
    uv_mutex_lock(&s->lock);
    bool closing = s->closing;
    uv_mutex_unlock(&s->lock);
    return closing;
}

static void batch_fail(struct job *first, struct job *end, const char *err)
{
    for (struct job *j = first; j != end; j = j->next)
        if (j->status == 0)
            job_fail(j, err);
}

static void batch_commit(struct store *s, struct job *first, struct job *end);

/* A job in the batch can never succeed: commit each job alone so only that one fails. */
static void batch_isolate(struct store *s, struct job *first, struct job *end, const char *err)
{
    if (first->next == end) {
        char what[128];
        job_describe(first, what, sizeof what);
        log_error("store: %s; the %s failed and is dropped", err, what);
        job_fail(first, err);
        return;
    }
    for (struct job *j = first, *next; j != end; j = next) {
        next = j->next;
        batch_commit(s, j, next);
    }
}

/* Commits jobs [first, end). Transient errors are retried with backoff (100 ms doubling to
 * 5 s) until they pass, or, once the store is closing, STORE_CLOSE_ATTEMPTS times; then the
 * jobs fail with status -1. */
static void batch_commit(struct store *s, struct job *first, struct job *end)
{
    char err[STORE_ERR_LEN];
    int delay_ms = STORE_BACKOFF_FIRST_MS;
    for (int close_attempts = 0;;) {
        int rc = batch_try(s, first, end, err, sizeof err);
        if (rc == 0)
            return;
        if (rc != STORE_ERR_RETRY) {
            batch_isolate(s, first, end, err);
            return;
        }
        size_t n = jobs_count(first, end);
        if (store_is_closing(s) && ++close_attempts > STORE_CLOSE_ATTEMPTS) {
            log_error("store: %s; closing, so %zu jobs are given up", err, n);
            batch_fail(first, end, err);
            return;
        }
        log_warn("store: %s; retrying %zu jobs in %d ms", err, n, delay_ms);
        delay_ms = backoff_wait(s, delay_ms);
    }
}

/* Hands a committed batch on: synchronous callers are woken, jobs with a callback go to the
 * loop, the rest are freed here. */
static void batch_finish(struct store *s, struct job *batch)
{
    struct job *unwanted = NULL;
    bool post = false;
    uv_mutex_lock(&s->lock);
    for (struct job *j = batch, *next; j; j = next) {
        next = j->next;
        if (job_is_sync(j)) {
            j->finished = true; /* the waiting caller owns it from here */
        } else if (job_has_callback(j)) {
            queue_push(&s->done, j);
            post = true;
        } else {
            j->next = unwanted;
            unwanted = j;
        }
    }
    uv_cond_broadcast(&s->sync_done);
    uv_mutex_unlock(&s->lock);
    for (struct job *next; unwanted; unwanted = next) {
        next = unwanted->next;
        job_free(unwanted);
    }
    if (post)
        uv_async_send(s->async);
}

static void store_process(struct store *s, struct job *batch)
{
    batch_commit(s, batch, NULL);
    batch_finish(s, batch);
}

static void store_thread_main(void *arg)
{
    struct store *s = arg;
    for (;;) {
        uv_mutex_lock(&s->lock);
        while (!s->todo.head && !s->closing)
            uv_cond_wait(&s->wake, &s->lock);
        struct job *batch = queue_take_all(&s->todo);
        uv_mutex_unlock(&s->lock);
        if (!batch)
            return; /* closing, and nothing is left */
        store_process(s, batch);
    }
}

/* ---- the loop side ---- */

static void store_free(struct store *s)
{
    uv_cond_destroy(&s->sync_done);
    uv_cond_destroy(&s->wake);
    uv_mutex_destroy(&s->lock);
    free(s);
}

/* Runs the done callbacks of finished jobs, one at a time, so a callback may queue more work
 * or even call store_close(); s may be freed when this returns. */
static void store_run_completions(struct store *s)
{
    for (;;) {
        uv_mutex_lock(&s->lock);
        struct job *job = s->done.head;
        if (job) {
            s->done.head = job->next;
            if (!s->done.head)
                s->done.tail = NULL;
        }
        uv_mutex_unlock(&s->lock);
        if (!job)
            return;
        s->callback_depth++;
        job_complete(job);
        job_free(job);
        s->callback_depth--;
        if (--s->callbacks_due == 0)
            uv_unref((uv_handle_t *)s->async);
        if (s->closed && s->callback_depth == 0) {
            store_free(s); /* store_close() ran inside that callback and left this to us */
            return;
        }
    }
}

static void store_on_async(uv_async_t *handle)
{
    store_run_completions(handle->data);
}

static void store_on_async_closed(uv_handle_t *handle)
{
    free(handle);
}

/* Queues a job for the store thread. A closed store fails it at once. */
static void store_enqueue(struct store *s, struct job *job)
{
    if (s->closed) {
        char what[128];
        job_describe(job, what, sizeof what);
        log_error("store: %s after store_close(); dropped", what);
        job->status = -1;
        if (job_has_callback(job))
            job_complete(job);
        job_free(job);
        return;
    }
    if (job_has_callback(job) && s->callbacks_due++ == 0)
        uv_ref((uv_handle_t *)s->async);
    uv_mutex_lock(&s->lock);
    queue_push(&s->todo, job);
    uv_cond_signal(&s->wake);
    uv_mutex_unlock(&s->lock);
}

/* Queues a synchronous job and waits for it. The job stays the caller's. */
static int store_run_sync(struct store *s, struct job *job, char *err, size_t errlen)
{
    if (s->closed) {
        snprintf(err, errlen, "store is closed");
        return -1;
    }
    uv_mutex_lock(&s->lock);
    queue_push(&s->todo, job);
    if (s->closing) {
        /* Called from a callback inside store_close(): the thread is gone, so run it here. */
        struct job *batch = queue_take_all(&s->todo);
        uv_mutex_unlock(&s->lock);
        store_process(s, batch);
        uv_mutex_lock(&s->lock);
    }
    uv_cond_signal(&s->wake);
    while (!job->finished)
        uv_cond_wait(&s->sync_done, &s->lock);
    uv_mutex_unlock(&s->lock);
    if (job->status != 0) {
        snprintf(err, errlen, "%s", job->err);
        return -1;
    }
    return 0;
}

static const struct store_backend *store_backend_find(const char *name)
{
    for (size_t i = 0; name && i < COUNT(backends); i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

static int store_start(struct store *s, char *err, size_t errlen)
{
    if (uv_mutex_init(&s->lock) != 0 || uv_cond_init(&s->wake) != 0 ||
        uv_cond_init(&s->sync_done) != 0) {
        snprintf(err, errlen, "cannot create the store's locks");
        return -1;
    }
    s->async = malloc(sizeof *s->async);
    if (!s->async || uv_async_init(s->loop, s->async, store_on_async) != 0) {
        free(s->async);
        snprintf(err, errlen, "cannot create the store's loop handle");
        return -1;
    }
    s->async->data = s;
    uv_unref((uv_handle_t *)s->async); /* only pending callbacks keep the loop alive */
    int rc = uv_thread_create(&s->thread, store_thread_main, s);
    if (rc != 0) {
        uv_close((uv_handle_t *)s->async, store_on_async_closed);
        snprintf(err, errlen, "cannot start the store thread: %s", uv_strerror(rc));
        return -1;
    }
    return 0;
}

int store_open(uv_loop_t *loop, const char *backend, const char *data_dir, struct store **out,
               char *err, size_t errlen)
{
    const struct store_backend *b = store_backend_find(backend);
    if (!b) {
        snprintf(err, errlen, "unknown store backend \"%s\" (known: sqlite)",
                 backend ? backend : "");
        return -1;
    }
    struct store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->loop = loop;
    s->backend = b;
    if (b->open(data_dir, &s->db, err, errlen) != 0) {
        free(s);
        return -1;
    }
    if (store_start(s, err, errlen) != 0) {
        b->close(s->db);
        free(s); /* the locks are left undestroyed: on Linux they hold no resources */
        return -1;
    }
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (!s || s->closing)
        return; /* closing is written only by this thread, so reading it unlocked is safe */
    uv_mutex_lock(&s->lock);
    s->closing = true;
    uv_cond_signal(&s->wake);
    uv_mutex_unlock(&s->lock);
    uv_thread_join(&s->thread);
    /* The thread is gone and the database is ours: commit what callbacks queue meanwhile. */
    s->callback_depth++;
    for (;;) {
        store_run_completions(s);
        uv_mutex_lock(&s->lock);
        struct job *batch = queue_take_all(&s->todo);
        uv_mutex_unlock(&s->lock);
        if (!batch)
            break;
        store_process(s, batch);
    }
    s->callback_depth--;
    s->backend->close(s->db);
    s->db = NULL;
    s->closed = true;
    uv_close((uv_handle_t *)s->async, store_on_async_closed);
    if (s->callback_depth == 0)
        store_free(s);
}

/* ---- public writes and reads ---- */

static void store_out_of_memory(const char *what)
{
    log_error("store: out of memory; %s dropped", what);
}

void store_save_workers(struct store *s, const struct worker_record *recs, size_t n)
{
    if (!s || n == 0)
        return;
    struct job *job = job_new(JOB_SAVE_WORKERS);
    struct worker_record *copy = malloc(n * sizeof *copy);
    if (!job || !copy) {
        free(job);
        free(copy);
        store_out_of_memory("worker save");
        return;
    }
    for (size_t i = 0; i < n; i++)
        worker_copy(&copy[i], &recs[i]);
    job->u.save = (struct worker_list){copy, n, n};
    store_enqueue(s, job);
}

/* Copies messages for a job: ids cleared, created_ms defaulted to now, texts owned. Returns 0,
 * or -1 when out of memory; *out then holds the *n_out copied so far, for outbox_msgs_free(). */
static int outbox_msgs_copy(const struct outbox_record *msgs, size_t n, struct outbox_record **out,
                            size_t *n_out)
{
    int64_t now = clock_wall_ms();
    if (n == 0)
        return 0;
    *out = calloc(n, sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < n; i++, (*n_out)++) {
        struct outbox_record *m = &(*out)[i];
        *m = msgs[i];
        m->id = 0;
        TERMINATE(m->channel);
        if (!m->created_ms)
            m->created_ms = now;
        m->text = strdup(msgs[i].text ? msgs[i].text : "");
        if (!m->text)
            return -1;
    }
    return 0;
}

/* Copies the event and its messages into a; returns -1 when out of memory. */
static int append_job_fill(struct append_job *a, const struct worker_record *worker,
                           const struct event_record *ev, const struct outbox_record *msgs,
                           size_t n_msgs)
{
    if (worker) {
        a->has_worker = true;
        worker_copy(&a->worker, worker);
    }
    if (ev) {
        a->has_event = true;
        a->ev = *ev;
        a->ev.id = 0;
        TERMINATE(a->ev.worker);
        a->ev.details_json = strdup(ev->details_json ? ev->details_json : "{}");
        if (!a->ev.details_json)
            return -1;
    }
    return outbox_msgs_copy(msgs, n_msgs, &a->msgs, &a->n_msgs);
}

void store_append_event(struct store *s, const struct worker_record *worker,
                        const struct event_record *ev, const struct outbox_record *msgs,
                        size_t n_msgs, store_event_done_cb done, void *ctx)
{
    enum event_kind kind;
    struct job *job = s ? job_new(JOB_APPEND_EVENT) : NULL;
    if (job && append_job_fill(&job->u.append, worker, ev, msgs, n_msgs) != 0) {
        job_free(job);
        job = NULL;
    }
    if (!job) {
        if (s)
            store_out_of_memory("event");
        if (done)
            done(-1, ev, msgs, n_msgs, ctx);
        return;
    }
    job->u.append.done = done;
    job->u.append.ctx = ctx;
    if (ev && event_kind_parse(event_kind_name(ev->kind), &kind) != 0) {
        log_error("store: event of %s has unknown kind %d; not written", job->u.append.ev.worker,
                  (int)ev->kind);
        job_fail(job, "unknown event kind"); /* completes with -1 through the queue */
    }
    store_enqueue(s, job);
}

static void store_outbox_update(struct store *s, const struct outbox_update *u)
{
    if (!s)
        return;
    struct job *job = job_new(JOB_OUTBOX_UPDATE);
    char *error = u->error ? strdup(u->error) : NULL;
    if (!job || (u->error && !error)) {
        free(job);
        free(error);
        store_out_of_memory("outbox update");
        return;
    }
    job->u.update.u = *u;
    job->u.update.u.error = error;
    store_enqueue(s, job);
}

void store_outbox_sent(struct store *s, int64_t id, int attempts, int64_t sent_ms)
{
    struct outbox_update u = {
        .id = id, .status = OUTBOX_SENT, .attempts = attempts, .time_ms = sent_ms};
    store_outbox_update(s, &u);
}

void store_outbox_retry(struct store *s, int64_t id, int attempts, int64_t next_attempt_ms,
                        const char *error)
{
    struct outbox_update u = {.id = id,
                              .status = OUTBOX_PENDING,
                              .attempts = attempts,
                              .time_ms = next_attempt_ms,
                              .error = error};
    store_outbox_update(s, &u);
}

void store_outbox_failed(struct store *s, int64_t id, int attempts, const char *error)
{
    struct outbox_update u = {
        .id = id, .status = OUTBOX_FAILED, .attempts = attempts, .error = error};
    store_outbox_update(s, &u);
}

/* A query's limit as the backends take it: 1..STORE_QUERY_LIMIT_MAX, the default for <= 0. */
static int query_limit(int limit)
{
    if (limit <= 0)
        return STORE_QUERY_LIMIT_DEFAULT;
    return limit > STORE_QUERY_LIMIT_MAX ? STORE_QUERY_LIMIT_MAX : limit;
}

void store_query_events(struct store *s, const struct event_query *q, store_events_cb done,
                        void *ctx)
{
    struct job *job = s ? job_new(JOB_QUERY_EVENTS) : NULL;
    struct query_job *qj = job ? &job->u.query : NULL;
    if (qj) {
        qj->q = *q;
        qj->q.worker = q->worker ? strdup(q->worker) : NULL;
    }
    if (!job || (q->worker && !qj->q.worker)) {
        job_free(job);
        if (s)
            store_out_of_memory("event query");
        if (done)
            done(-1, NULL, 0, ctx);
        return;
    }
    qj->q.limit = query_limit(q->limit);
    qj->done = done;
    qj->ctx = ctx;
    store_enqueue(s, job);
}

/* A job for a synchronous start-up read, or NULL with err set. */
static struct job *sync_job_new(struct store *s, enum job_kind kind, char *err, size_t errlen)
{
    struct job *job = s ? job_new(kind) : NULL;
    if (!job)
        snprintf(err, errlen, s ? "out of memory" : "no store");
    return job;
}

int store_load_workers(struct store *s, void (*cb)(const struct worker_record *rec, void *ctx),
                       void *ctx, char *err, size_t errlen)
{
    struct job *job = sync_job_new(s, JOB_LOAD_WORKERS, err, errlen);
    if (!job)
        return -1;
    int rc = store_run_sync(s, job, err, errlen);
    for (size_t i = 0; rc == 0 && i < job->u.workers.n; i++)
        cb(&job->u.workers.items[i], ctx);
    job_free(job);
    return rc;
}

int store_load_pending_outbox(struct store *s,
                              void (*cb)(const struct outbox_record *rec, void *ctx), void *ctx,
                              char *err, size_t errlen)
{
    struct job *job = sync_job_new(s, JOB_LOAD_OUTBOX, err, errlen);
    if (!job)
        return -1;
    int rc = store_run_sync(s, job, err, errlen);
    for (size_t i = 0; rc == 0 && i < job->u.outbox.n; i++)
        cb(&job->u.outbox.items[i], ctx);
    job_free(job);
    return rc;
}

/* ---- incidents ---- */

int store_max_incident_id(struct store *s, int64_t *out, char *err, size_t errlen)
{
    struct job *job = sync_job_new(s, JOB_MAX_INCIDENT_ID, err, errlen);
    if (!job)
        return -1;
    int rc = store_run_sync(s, job, err, errlen);
    if (rc == 0)
        *out = job->u.max_incident_id;
    job_free(job);
    return rc;
}

int store_load_open_incidents(struct store *s,
                              void (*cb)(const struct incident_record *rec, void *ctx), void *ctx,
                              char *err, size_t errlen)
{
    struct job *job = sync_job_new(s, JOB_LOAD_INCIDENTS, err, errlen);
    if (!job)
        return -1;
    int rc = store_run_sync(s, job, err, errlen);
    for (size_t i = 0; rc == 0 && i < job->u.incidents.n; i++)
        cb(&job->u.incidents.items[i], ctx);
    job_free(job);
    return rc;
}

/* Copies the incident and its messages into j; returns -1 when out of memory. */
static int incident_job_fill(struct incident_job *j, const struct incident_record *inc,
                             const struct outbox_record *msgs, size_t n_msgs)
{
    if (incident_copy(&j->inc, inc) != 0)
        return -1;
    return outbox_msgs_copy(msgs, n_msgs, &j->msgs, &j->n_msgs);
}

void store_save_incident(struct store *s, const struct incident_record *inc,
                         const struct outbox_record *msgs, size_t n_msgs,
                         store_incident_done_cb done, void *ctx)
{
    struct job *job = s && inc ? job_new(JOB_SAVE_INCIDENT) : NULL;
    if (job && incident_job_fill(&job->u.incident, inc, msgs, n_msgs) != 0) {
        job_free(job);
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
    job->u.incident.done = done;
    job->u.incident.ctx = ctx;
    if (inc->id <= 0) {
        log_error("store: incident has id %lld, expected a positive id; not written",
                  (long long)inc->id);
        job_fail(job, "incident id must be positive"); /* completes with -1 through the queue */
    }
    store_enqueue(s, job);
}

void store_query_incidents(struct store *s, const struct incident_query *q, store_incidents_cb done,
                           void *ctx)
{
    struct job *job = s ? job_new(JOB_QUERY_INCIDENTS) : NULL;
    if (!job) {
        if (s)
            store_out_of_memory("incident query");
        if (done)
            done(-1, NULL, 0, ctx);
        return;
    }
    struct incident_query_job *qj = &job->u.incident_query;
    qj->q = *q;
    qj->q.limit = query_limit(q->limit);
    qj->done = done;
    qj->ctx = ctx;
    store_enqueue(s, job);
}

void store_append_messages(struct store *s, const struct outbox_record *msgs, size_t n_msgs,
                           store_event_done_cb done, void *ctx)
{
    store_append_event(s, NULL, NULL, msgs, n_msgs, done, ctx);
}

/* ---- agent diagnostics ---- */

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
    struct job *job = s ? job_new(JOB_APPEND_DIAGS) : NULL;
    if (job && diag_list_fill(&job->u.diag_append.recs, recs, n) != 0) {
        job_free(job);
        job = NULL;
    }
    if (!job) {
        if (s)
            store_out_of_memory("diagnostics upload");
        if (done)
            done(-1, 0, 0, ctx);
        return;
    }
    job->u.diag_append.done = done;
    job->u.diag_append.ctx = ctx;
    store_enqueue(s, job);
}

void store_query_diagnostics(struct store *s, const struct diag_query *q, store_diags_cb done,
                             void *ctx)
{
    struct job *job = s ? job_new(JOB_QUERY_DIAGS) : NULL;
    struct diag_query_job *qj = job ? &job->u.diag_query : NULL;
    if (qj) {
        qj->q = *q;
        qj->q.worker = q->worker ? strdup(q->worker) : NULL;
        qj->q.kind = q->kind ? strdup(q->kind) : NULL;
    }
    if (!job || (q->worker && !qj->q.worker) || (q->kind && !qj->q.kind)) {
        job_free(job);
        if (s)
            store_out_of_memory("diagnostics query");
        if (done)
            done(-1, NULL, 0, ctx);
        return;
    }
    qj->q.limit = query_limit(q->limit);
    qj->done = done;
    qj->ctx = ctx;
    store_enqueue(s, job);
}
