/* store_outbox.c — the notification outbox entity of the store: the messages other entities
 * append in their own transaction, the bookkeeping of each send (sent, retry, failed) and the
 * start-up load of pending messages, as store jobs (store_job.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "store/store_job.h"

void store_outbox_msgs_free(struct outbox_record *msgs, size_t n)
{
    for (size_t i = 0; msgs && i < n; i++)
    {
        free((char *)msgs[i].text); /* owned: see store_outbox_msgs_copy() */
        free((char *)msgs[i].fields_json);
    }
    free(msgs);
}

/* Copies src into dst with its own text; -1 when out of memory (dst->text is then NULL). */
static int outbox_copy(struct outbox_record *dst, const struct outbox_record *src)
{
    *dst = *src;
    STORE_TERMINATE(dst->channel);
    STORE_TERMINATE(dst->ref);
    STORE_TERMINATE(dst->dedup_key);
    dst->text = strdup(src->text ? src->text : "");
    dst->fields_json = src->fields_json ? strdup(src->fields_json) : NULL;
    return dst->text && (dst->fields_json || !src->fields_json) ? 0 : -1;
}

int store_outbox_msgs_copy(const struct outbox_record *msgs, size_t n, struct outbox_record **out,
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
        if (outbox_copy(m, &msgs[i]) != 0)
            return -1;
        m->id = 0;
        if (!m->created_ms)
            m->created_ms = now;
    }
    return 0;
}

int store_outbox_msgs_run(const struct store_backend *b, void *db, struct outbox_record *msgs,
                          size_t n, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = b->append_outbox(db, &msgs[i], &msgs[i].id, err, errlen);
    return rc;
}

/* ---- updates ---- */

struct outbox_update_job {
    struct store_job base;
    struct outbox_update u; /* owns u.error and u.ref */
};

static int outbox_update_run(struct store_job *job, const struct store_backend *b, void *db,
                             char *err, size_t errlen)
{
    return b->outbox_update(db, &STORE_JOB_OF(job, struct outbox_update_job)->u, err, errlen);
}

static void outbox_update_free(struct store_job *job)
{
    struct outbox_update_job *j = STORE_JOB_OF(job, struct outbox_update_job);
    free((char *)j->u.error);
    free((char *)j->u.ref);
    free(j);
}

static void outbox_update_describe(const struct store_job *job, char *buf, size_t len)
{
    snprintf(buf, len, "update of outbox message %lld",
             (long long)STORE_JOB_OF(job, struct outbox_update_job)->u.id);
}

static const struct store_job_ops outbox_update_ops = {
    .name = "outbox update",
    .run = outbox_update_run,
    .free = outbox_update_free,
    .describe = outbox_update_describe,
};

static void store_outbox_update(struct store *s, const struct outbox_update *u)
{
    if (!s)
        return;
    struct store_job *job = store_job_new(&outbox_update_ops, sizeof(struct outbox_update_job));
    char *error = u->error ? strdup(u->error) : NULL;
    char *ref = u->ref ? strdup(u->ref) : NULL;
    if (!job || (u->error && !error) || (u->ref && !ref)) {
        free(job);
        free(error);
        free(ref);
        store_out_of_memory("outbox update");
        return;
    }
    struct outbox_update_job *j = STORE_JOB_OF(job, struct outbox_update_job);
    j->u = *u;
    j->u.error = error;
    j->u.ref = ref;
    store_enqueue(s, job);
}

void store_outbox_sent(struct store *s, int64_t id, int attempts, int64_t sent_ms,
                       const char *ref)
{
    struct outbox_update u = {.id = id,
                              .status = OUTBOX_SENT,
                              .attempts = attempts,
                              .time_ms = sent_ms,
                              .ref = ref && ref[0] ? ref : NULL};
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

/* ---- the start-up load ---- */

/* The pending messages read (or, told, the channels told of open problems); the job owns them
 * and their texts. */
struct outbox_load_job {
    struct store_job base;
    bool told;
    struct outbox_record *items;
    size_t n, cap;
};

/* Row visitor: out of memory is worth a retry, the batch runs again after a pause. */
static int outbox_load_push(const struct outbox_record *rec, void *ctx)
{
    struct outbox_load_job *j = ctx;
    if (store_array_reserve((void **)&j->items, &j->cap, j->n, sizeof *rec) ||
        outbox_copy(&j->items[j->n], rec) != 0)
        return STORE_ERR_RETRY;
    j->n++;
    return 0;
}

static int outbox_load_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    struct outbox_load_job *j = STORE_JOB_OF(job, struct outbox_load_job);
    return (j->told ? b->load_told_outbox : b->load_pending_outbox)(db, outbox_load_push, j, err,
                                                                    errlen);
}

static void outbox_load_reset(struct store_job *job)
{
    struct outbox_load_job *j = STORE_JOB_OF(job, struct outbox_load_job);
    store_outbox_msgs_free(j->items, j->n);
    j->items = NULL;
    j->n = j->cap = 0;
}

static void outbox_load_free(struct store_job *job)
{
    outbox_load_reset(job);
    free(STORE_JOB_OF(job, struct outbox_load_job));
}

static const struct store_job_ops outbox_load_ops = {
    .name = "outbox load",
    .reads = true,
    .run = outbox_load_run,
    .reset = outbox_load_reset,
    .free = outbox_load_free,
};

static int outbox_load(struct store *s, bool told,
                       void (*cb)(const struct outbox_record *rec, void *ctx), void *ctx,
                       char *err, size_t errlen)
{
    struct store_job *job =
        store_sync_job_new(s, &outbox_load_ops, sizeof(struct outbox_load_job), err, errlen);
    if (!job)
        return -1;
    STORE_JOB_OF(job, struct outbox_load_job)->told = told;
    int rc = store_run_sync(s, job, err, errlen);
    struct outbox_load_job *j = STORE_JOB_OF(job, struct outbox_load_job);
    for (size_t i = 0; rc == 0 && i < j->n; i++)
        cb(&j->items[i], ctx);
    job->ops->free(job);
    return rc;
}

int store_load_pending_outbox(struct store *s,
                              void (*cb)(const struct outbox_record *rec, void *ctx), void *ctx,
                              char *err, size_t errlen)
{
    return outbox_load(s, false, cb, ctx, err, errlen);
}

int store_load_told_outbox(struct store *s,
                           void (*cb)(const struct outbox_record *rec, void *ctx), void *ctx,
                           char *err, size_t errlen)
{
    return outbox_load(s, true, cb, ctx, err, errlen);
}
