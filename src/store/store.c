/* store.c — the store's job queue, its thread, the batching and the completions on the loop (see
 * store.h), and the opening of a backend from a URI. The loop thread queues jobs (store_job.h;
 * the entity files store_*.c make them); the store thread takes everything queued, runs it as
 * one transaction through the backend (store_backend.h) and hands finished jobs back via a
 * uv_async_t.
 *
 * Reads run apart from the writes taken with them, after those commit, each outside any
 * transaction; while the writes keep failing (a full disk), reads are served during the
 * backoff, so the admin pages keep answering.
 *
 * Threads: store->lock guards todo, todo_count, reads_queued, done, closing and job->finished;
 * everything else in struct store belongs to the loop thread, except db, backend, held_reads
 * and gave_up, which only the store thread touches between store_open() and the join in
 * store_close(). */
#include "store/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "store/store_backend.h"
#include "store/store_job.h"

#define STORE_BACKOFF_FIRST_MS 100
#define STORE_BACKOFF_MAX_MS 5000
#define STORE_CLOSE_ATTEMPTS 5 /* retries of a failing batch once store_close() was called */
/* Group commit under load: after a batch of at least STORE_GATHER_BUSY jobs, the next one waits
 * up to STORE_GATHER_US (or until STORE_GATHER_ENOUGH jobs are queued) for more to share its
 * fsync. An idle store commits at once. */
#define STORE_GATHER_BUSY 8
#define STORE_GATHER_US 1000
#define STORE_GATHER_ENOUGH 256
#define STORE_GATHER_STEP_US 250
#define STORE_QUERY_LIMIT_DEFAULT 100
#define STORE_QUERY_LIMIT_MAX 1000
#define STORE_DEFAULT_DB_FILE "faultline.db"

static const struct store_backend *const backends[] = {&store_backend_sqlite};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct job_queue {
    struct store_job *head, *tail;
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
    size_t reads_queued;   /* read jobs (ops->reads) in todo */
    size_t todo_count;     /* jobs in todo */
    bool closing;          /* store_close() has begun: drain, then stop */
    bool closed;           /* loop thread: store_close() is over */
    size_t callbacks_due;  /* loop thread: queued jobs whose callback has not run */
    int callback_depth;    /* loop thread: > 0 while a done callback runs */
    struct store_job *held_reads; /* store thread: reads taken with the writes now running */
    bool gave_up;                 /* store thread: closing, the database refused for good */
    struct store_ids ids[STORE_SEQUENCE_COUNT]; /* loop thread */
    unsigned long long batches; /* under lock: store_get_stats */
    double commit_seconds;
};

/* ---- jobs ---- */

struct store_job *store_job_new(const struct store_job_ops *ops, size_t size)
{
    struct store_job *job = calloc(1, size);
    if (job)
        job->ops = ops;
    return job;
}

struct store_job *store_sync_job_new(struct store *s, const struct store_job_ops *ops, size_t size,
                                     char *err, size_t errlen)
{
    struct store_job *job = s ? store_job_new(ops, size) : NULL;
    if (!job)
        snprintf(err, errlen, s ? "out of memory" : "no store");
    return job;
}

static void job_free(struct store_job *job)
{
    if (job)
        job->ops->free(job);
}

/* A few words for log lines about a job. */
static void job_describe(const struct store_job *job, char *buf, size_t len)
{
    if (job->ops->describe)
        job->ops->describe(job, buf, len);
    else
        snprintf(buf, len, "%s", job->ops->name);
}

static void job_reset(struct store_job *job)
{
    if (job->ops->reset)
        job->ops->reset(job);
}

void store_job_fail(struct store_job *job, const char *err)
{
    job_reset(job);
    job->status = -1;
    snprintf(job->err, sizeof job->err, "%s", err);
}

void store_out_of_memory(const char *what)
{
    log_error("store: out of memory; %s dropped", what);
}

int store_query_limit(int limit)
{
    if (limit <= 0)
        return STORE_QUERY_LIMIT_DEFAULT;
    return limit > STORE_QUERY_LIMIT_MAX ? STORE_QUERY_LIMIT_MAX : limit;
}

int store_array_reserve(void **items, size_t *cap, size_t n, size_t size)
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

struct store_ids *store_ids_of(struct store *s, enum store_sequence seq)
{
    return &s->ids[seq];
}

/* ---- the store thread ---- */

static void queue_push(struct job_queue *q, struct store_job *job)
{
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
}

static struct store_job *queue_take_all(struct job_queue *q)
{
    struct store_job *head = q->head;
    q->head = q->tail = NULL;
    return head;
}

/* The todo queue, under s->lock: it counts the reads it holds. */
static void todo_push(struct store *s, struct store_job *job)
{
    queue_push(&s->todo, job);
    s->todo_count++;
    if (job->ops->reads)
        s->reads_queued++;
}

static struct store_job *todo_take_all(struct store *s)
{
    s->reads_queued = s->todo_count = 0;
    return queue_take_all(&s->todo);
}

/* Takes the reads (or the writes) out of todo, in order, and leaves the others. */
static struct store_job *todo_take(struct store *s, bool reads)
{
    struct job_queue taken = {0}, left = {0};
    for (struct store_job *j = queue_take_all(&s->todo), *next; j; j = next) {
        next = j->next;
        bool take = j->ops->reads == reads;
        queue_push(take ? &taken : &left, j);
        s->todo_count -= take;
    }
    s->todo = left;
    s->reads_queued = reads ? 0 : s->reads_queued;
    return taken.head;
}

static size_t jobs_count(const struct store_job *first, const struct store_job *end)
{
    size_t n = 0;
    for (; first != end; first = first->next)
        n++;
    return n;
}

/* Runs jobs [first, end) in one transaction. Returns 0 or a store_backend_result; on failure
 * nothing of the batch is kept. */
static int batch_try(struct store *s, struct store_job *first, struct store_job *end, char *err,
                     size_t errlen)
{
    int rc = s->backend->begin(s->db, err, errlen);
    for (struct store_job *j = first; !rc && j != end; j = j->next)
        if (j->status == 0)
            rc = j->ops->run(j, s->backend, s->db, err, errlen);
    if (!rc)
        rc = s->backend->commit(s->db, err, errlen);
    if (rc) {
        s->backend->rollback(s->db);
        for (struct store_job *j = first; j != end; j = j->next)
            job_reset(j);
    }
    return rc;
}
static void reads_serve(struct store *s);

/* Sleeps delay_ms, or less if store_close() begins meanwhile, serving the reads queued
 * meanwhile. Returns the next delay. */
static int backoff_wait(struct store *s, int delay_ms)
{
    uv_mutex_lock(&s->lock);
    bool was_closing = s->closing;
    uint64_t deadline = uv_hrtime() + (uint64_t)delay_ms * 1000000u;
    for (uint64_t now = uv_hrtime(); now < deadline && s->closing == was_closing;
         now = uv_hrtime()) {
        if (s->reads_queued > 0) {
            s->held_reads = todo_take(s, true);
            uv_mutex_unlock(&s->lock);
            reads_serve(s);
            uv_mutex_lock(&s->lock);
            continue;
        }
        uv_cond_timedwait(&s->wake, &s->lock, deadline - now);
    }
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

static void batch_fail(struct store_job *first, struct store_job *end, const char *err)
{
    for (struct store_job *j = first; j != end; j = j->next)
        if (j->status == 0)
            store_job_fail(j, err);
}

static void batch_commit(struct store *s, struct store_job *first, struct store_job *end);

/* Appends the writes still queued to the batch that starts at first (the store is closing). */
static void batch_append_queued_writes(struct store *s, struct store_job *first)
{
    while (first->next)
        first = first->next;
    uv_mutex_lock(&s->lock);
    first->next = todo_take(s, false);
    uv_mutex_unlock(&s->lock);
}

/* The store is closing and the database still refuses jobs [first, end): they fail, and the log
 * says how many writes of each kind were not stored ("event append: 2, worker save: 1"), then
 * what each carried, one line each ("store: not stored: event append {...}"), so nothing is
 * lost silently. */
static void batch_give_up(struct store_job *first, struct store_job *end, const char *err)
{
    const char *kinds[8];
    size_t counts[8], n_kinds = 0, writes = 0;
    for (const struct store_job *j = first; j != end; j = j->next) {
        if (j->status != 0 || j->ops->reads)
            continue;
        writes++;
        size_t k = 0;
        while (k < n_kinds && kinds[k] != j->ops->name)
            k++;
        if (k == n_kinds && n_kinds < 8) {
            kinds[n_kinds] = j->ops->name;
            counts[n_kinds++] = 0;
        }
        if (k < n_kinds)
            counts[k]++;
    }
    char what[256] = "";
    for (size_t k = 0, len = 0; k < n_kinds && len < sizeof what; k++)
        len += (size_t)snprintf(what + len, sizeof what - len, "%s%s: %zu", k ? ", " : "",
                                kinds[k], counts[k]);
    if (writes > 0)
        log_error("store: %s; stopping, so %zu writes are not stored (%s); each follows as "
                  "\"store: not stored: ...\"",
                  err, writes, what);
    for (struct store_job *j = first; j != end; j = j->next) {
        if (j->status != 0 || j->ops->reads)
            continue;
        char *record = j->ops->record ? j->ops->record(j) : NULL;
        char described[128];
        job_describe(j, described, sizeof described);
        if (record)
            log_error("store: not stored: %s %s", j->ops->name, record);
        else
            log_error("store: not stored: %s", described);
        free(record);
    }
    batch_fail(first, end, err);
}

/* A job in the batch can never succeed: commit each job alone so only that one fails. */
static void batch_isolate(struct store *s, struct store_job *first, struct store_job *end, const char *err)
{
    if (first->next == end) {
        char what[128];
        job_describe(first, what, sizeof what);
        log_error("store: %s; the %s failed and is dropped", err, what);
        store_job_fail(first, err);
        return;
    }
    for (struct store_job *j = first, *next; j != end; j = next) {
        next = j->next;
        batch_commit(s, j, next);
    }
}

/* Commits jobs [first, end). Transient errors are retried with backoff (100 ms doubling to
 * 5 s) until they pass, or, once the store is closing, STORE_CLOSE_ATTEMPTS times (once, after
 * a batch was given up); then the jobs fail with status -1, with the writes queued behind them,
 * and the log accounts for them (batch_give_up). */
static void batch_commit(struct store *s, struct store_job *first, struct store_job *end)
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
        if (store_is_closing(s) &&
            ++close_attempts > (s->gave_up ? 1 : STORE_CLOSE_ATTEMPTS)) {
            if (!end) /* the writes queued behind these cannot pass either: one account */
                batch_append_queued_writes(s, first);
            s->gave_up = true;
            batch_give_up(first, end, err);
            return;
        }
        log_warn("store: %s; retrying %zu jobs in %d ms", err, jobs_count(first, end), delay_ms);
        reads_serve(s); /* the reads taken with these writes need not wait for them */
        delay_ms = backoff_wait(s, delay_ms);
    }
}

/* Hands a committed batch on: synchronous callers are woken, jobs with a callback go to the
 * loop, the rest are freed here. */
static void batch_finish(struct store *s, struct store_job *batch)
{
    struct store_job *unwanted = NULL;
    bool post = false;
    uv_mutex_lock(&s->lock);
    for (struct store_job *j = batch, *next; j; j = next) {
        next = j->next;
        if (j->sync) {
            j->finished = true; /* the waiting caller owns it from here */
        } else if (j->has_callback) {
            queue_push(&s->done, j);
            post = true;
        } else {
            j->next = unwanted;
            unwanted = j;
        }
    }
    uv_cond_broadcast(&s->sync_done);
    uv_mutex_unlock(&s->lock);
    for (struct store_job *next; unwanted; unwanted = next) {
        next = unwanted->next;
        job_free(unwanted);
    }
    if (post)
        uv_async_send(s->async);
}

/* Runs s->held_reads, if any, and hands them on. */
static void reads_serve(struct store *s)
{
    struct store_job *reads = s->held_reads;
    s->held_reads = NULL;
    if (!reads)
        return;
    /* Each read alone, outside any transaction: in WAL mode a read never waits for the write
     * lock, so a batch of writes that keeps failing cannot hold it up. */
    for (struct store_job *j = reads; j; j = j->next) {
        char err[STORE_ERR_LEN];
        if (j->status != 0 || j->ops->run(j, s->backend, s->db, err, sizeof err) == 0)
            continue;
        char what[128];
        job_describe(j, what, sizeof what);
        log_warn("store: %s; the %s failed", err, what);
        store_job_fail(j, err);
    }
    batch_finish(s, reads);
}

/* Commits the writes of a batch, then its reads (sooner when the writes keep failing). */
static void store_process(struct store *s, struct store_job *batch)
{
    struct job_queue writes = {0}, reads = {0};
    for (struct store_job *j = batch, *next; j; j = next) {
        next = j->next;
        queue_push(j->ops->reads ? &reads : &writes, j);
    }
    s->held_reads = reads.head;
    if (writes.head) {
        uint64_t start = uv_hrtime();
        batch_commit(s, writes.head, NULL);
        uv_mutex_lock(&s->lock);
        s->batches++;
        s->commit_seconds += (double)(uv_hrtime() - start) / 1e9;
        uv_mutex_unlock(&s->lock);
        batch_finish(s, writes.head);
    }
    reads_serve(s);
}

/* After a busy batch: lets more jobs queue up to share the next commit, for STORE_GATHER_US at
 * most. Sleeps with s->lock released, so the loop queues without waking this thread. */
static void gather_wait(struct store *s)
{
    for (int slept_us = 0; slept_us < STORE_GATHER_US; slept_us += STORE_GATHER_STEP_US) {
        uv_mutex_lock(&s->lock);
        bool enough = s->closing || s->todo_count >= STORE_GATHER_ENOUGH;
        uv_mutex_unlock(&s->lock);
        if (enough)
            return;
        nanosleep(&(struct timespec){.tv_nsec = STORE_GATHER_STEP_US * 1000L}, NULL);
    }
}

static void store_thread_main(void *arg)
{
    struct store *s = arg;
    size_t last_batch = 0;
    for (;;) {
        if (last_batch >= STORE_GATHER_BUSY)
            gather_wait(s);
        uv_mutex_lock(&s->lock);
        while (!s->todo.head && !s->closing)
            uv_cond_wait(&s->wake, &s->lock);
        last_batch = s->todo_count;
        struct store_job *batch = todo_take_all(s);
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
        struct store_job *job = s->done.head;
        if (job) {
            s->done.head = job->next;
            if (!s->done.head)
                s->done.tail = NULL;
        }
        uv_mutex_unlock(&s->lock);
        if (!job)
            return;
        s->callback_depth++;
        job->ops->complete(job);
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

void store_enqueue(struct store *s, struct store_job *job)
{
    if (s->closed) {
        char what[128];
        job_describe(job, what, sizeof what);
        log_error("store: %s after store_close(); dropped", what);
        job->status = -1;
        if (job->has_callback)
            job->ops->complete(job);
        job_free(job);
        return;
    }
    if (job->has_callback && s->callbacks_due++ == 0)
        uv_ref((uv_handle_t *)s->async);
    uv_mutex_lock(&s->lock);
    todo_push(s, job);
    uv_cond_signal(&s->wake);
    uv_mutex_unlock(&s->lock);
}

int store_run_sync(struct store *s, struct store_job *job, char *err, size_t errlen)
{
    if (s->closed) {
        snprintf(err, errlen, "store is closed");
        return -1;
    }
    job->sync = true;
    uv_mutex_lock(&s->lock);
    todo_push(s, job);
    if (s->closing) {
        /* Called from a callback inside store_close(): the thread is gone, so run it here. */
        struct store_job *batch = todo_take_all(s);
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


/* ---- opening from a URI ---- */

/* The backend whose scheme uri has, and the location after "scheme://"; NULL with err set
 * when uri is not of a known form. */
static const struct store_backend *store_uri_parse(const char *uri, const char **location,
                                                   char *err, size_t errlen)
{
    const char *sep = uri ? strstr(uri, "://") : NULL;
    if (!sep || sep == uri) {
        snprintf(err, errlen, "expected BACKEND://LOCATION (e.g. sqlite://PATH), got \"%s\"",
                 uri ? uri : "");
        return NULL;
    }
    size_t scheme_len = (size_t)(sep - uri);
    for (size_t i = 0; i < COUNT(backends); i++) {
        const struct store_backend *b = backends[i];
        if (strlen(b->scheme) != scheme_len || strncasecmp(b->scheme, uri, scheme_len) != 0)
            continue;
        if (!b->location_valid(sep + 3)) {
            snprintf(err, errlen, "expected %s, got \"%s\"", b->uri_form, uri);
            return NULL;
        }
        *location = sep + 3;
        return b;
    }
    char known[128] = "";
    for (size_t i = 0, len = 0; i < COUNT(backends) && len < sizeof known; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                backends[i]->scheme);
    snprintf(err, errlen, "unknown backend \"%.*s\" (known: %s)", (int)scheme_len, uri, known);
    return NULL;
}

int store_uri_check(const char *uri, char *err, size_t errlen)
{
    const char *location;
    return store_uri_parse(uri, &location, err, errlen) ? 0 : -1;
}

int store_default_uri(const char *data_dir, char *buf, size_t len)
{
    int n = snprintf(buf, len, "sqlite://%s/%s", data_dir, STORE_DEFAULT_DB_FILE);
    return n >= 0 && (size_t)n < len ? 0 : -1;
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

int store_open(uv_loop_t *loop, const char *uri, struct store **out, char *err, size_t errlen)
{
    const char *location;
    const struct store_backend *b = store_uri_parse(uri, &location, err, errlen);
    if (!b)
        return -1;
    struct store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->loop = loop;
    s->backend = b;
    if (b->open(location, &s->db, err, errlen) != 0) {
        free(s);
        return -1;
    }
    if (store_start(s, err, errlen) != 0) {
        b->close(s->db);
        free(s); /* the locks are left undestroyed: on Linux they hold no resources */
        return -1;
    }
    if (store_ids_start(s, err, errlen) != 0) {
        store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
    uv_mutex_lock(&s->lock);
    *out = (struct store_stats){s->todo_count, s->batches, s->commit_seconds};
    uv_mutex_unlock(&s->lock);
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
        struct store_job *batch = todo_take_all(s);
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
