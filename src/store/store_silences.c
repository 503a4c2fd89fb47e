/* store_silences.c — the silences entity of the store: a new silence, its expiry and the
 * start-up load, as store jobs (store_job.h). The definition is opaque JSON text here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/store_job.h"

/* ---- writes: append and expire ---- */

struct silence_write_job {
    struct store_job base;
    struct silence_record rec; /* owns body_json (append only) */
    bool expire;
    store_silence_done_cb done;
    void *ctx;
};

static int silence_write_run(struct store_job *job, const struct store_backend *b, void *db,
                             char *err, size_t errlen)
{
    struct silence_write_job *j = STORE_JOB_OF(job, struct silence_write_job);
    if (j->expire)
        return b->expire_silence(db, j->rec.id, j->rec.expired_ms, err, errlen);
    return b->append_silence(db, &j->rec, &j->rec.id, err, errlen);
}

static void silence_write_complete(struct store_job *job)
{
    struct silence_write_job *j = STORE_JOB_OF(job, struct silence_write_job);
    j->done(job->status, j->rec.id, j->ctx);
}

static void silence_write_reset(struct store_job *job)
{
    struct silence_write_job *j = STORE_JOB_OF(job, struct silence_write_job);
    if (!j->expire)
        j->rec.id = 0;
}

static void silence_write_free(struct store_job *job)
{
    struct silence_write_job *j = STORE_JOB_OF(job, struct silence_write_job);
    free((char *)j->rec.body_json);
    free(j);
}

static void silence_write_describe(const struct store_job *job, char *buf, size_t len)
{
    const struct silence_write_job *j = STORE_JOB_OF(job, const struct silence_write_job);
    if (j->expire)
        snprintf(buf, len, "expiry of silence %lld", (long long)j->rec.id);
    else
        snprintf(buf, len, "new silence");
}

static char *silence_write_record(const struct store_job *job)
{
    const struct silence_write_job *j = STORE_JOB_OF(job, const struct silence_write_job);
    return j->rec.body_json ? strdup(j->rec.body_json) : NULL;
}

static const struct store_job_ops silence_write_ops = {
    .name = "silence write",
    .run = silence_write_run,
    .complete = silence_write_complete,
    .reset = silence_write_reset,
    .free = silence_write_free,
    .describe = silence_write_describe,
    .record = silence_write_record,
};

static void silence_write(struct store *s, const struct silence_record *rec, bool expire,
                          store_silence_done_cb done, void *ctx)
{
    struct store_job *job =
        s ? store_job_new(&silence_write_ops, sizeof(struct silence_write_job)) : NULL;
    struct silence_write_job *j = job ? STORE_JOB_OF(job, struct silence_write_job) : NULL;
    if (j) {
        j->rec = *rec;
        j->expire = expire;
        j->rec.body_json = NULL;
        if (!expire && !(j->rec.body_json = strdup(rec->body_json ? rec->body_json : "{}"))) {
            silence_write_free(job);
            job = NULL;
        }
    }
    if (!job) {
        if (s)
            store_out_of_memory("silence");
        if (done)
            done(-1, rec->id, ctx);
        return;
    }
    job->has_callback = done != NULL;
    j->done = done;
    j->ctx = ctx;
    store_enqueue(s, job);
}

void store_append_silence(struct store *s, const struct silence_record *rec,
                          store_silence_done_cb done, void *ctx)
{
    silence_write(s, rec, false, done, ctx);
}

void store_expire_silence(struct store *s, int64_t id, int64_t expired_ms,
                          store_silence_done_cb done, void *ctx)
{
    struct silence_record rec = {.id = id, .expired_ms = expired_ms};
    silence_write(s, &rec, true, done, ctx);
}

/* ---- the start-up load ---- */

struct silence_load_job {
    struct store_job base;
    struct silence_record *items; /* each owns its body_json */
    size_t n, cap;
};

static int silence_load_push(const struct silence_record *rec, void *ctx)
{
    struct silence_load_job *j = ctx;
    if (store_array_reserve((void **)&j->items, &j->cap, j->n, sizeof *rec) != 0)
        return STORE_ERR_RETRY;
    j->items[j->n] = *rec;
    if (!(j->items[j->n].body_json = strdup(rec->body_json ? rec->body_json : "{}")))
        return STORE_ERR_RETRY;
    j->n++;
    return 0;
}

static int silence_load_run(struct store_job *job, const struct store_backend *b, void *db,
                            char *err, size_t errlen)
{
    return b->load_silences(db, silence_load_push, STORE_JOB_OF(job, struct silence_load_job), err,
                            errlen);
}

static void silence_load_reset(struct store_job *job)
{
    struct silence_load_job *j = STORE_JOB_OF(job, struct silence_load_job);
    for (size_t i = 0; i < j->n; i++)
        free((char *)j->items[i].body_json);
    free(j->items);
    j->items = NULL;
    j->n = j->cap = 0;
}

static void silence_load_free(struct store_job *job)
{
    silence_load_reset(job);
    free(STORE_JOB_OF(job, struct silence_load_job));
}

static const struct store_job_ops silence_load_ops = {
    .name = "silence load",
    .reads = true,
    .run = silence_load_run,
    .reset = silence_load_reset,
    .free = silence_load_free,
};

int store_load_silences(struct store *s, void (*cb)(const struct silence_record *rec, void *ctx),
                        void *ctx, char *err, size_t errlen)
{
    struct store_job *job =
        store_sync_job_new(s, &silence_load_ops, sizeof(struct silence_load_job), err, errlen);
    if (!job)
        return -1;
    int rc = store_run_sync(s, job, err, errlen);
    struct silence_load_job *j = STORE_JOB_OF(job, struct silence_load_job);
    for (size_t i = 0; rc == 0 && i < j->n; i++)
        cb(&j->items[i], ctx);
    silence_load_free(job);
    return rc;
}
