/* store_ids.c — ids from the database, handed out on the loop without waiting (hi/lo): each
 * sequence (a row of the sequences table) gives this store a block of STORE_ID_BLOCK ids at a
 * time. The first block is reserved synchronously at open; the next one in the background
 * (a store job) once fewer than STORE_ID_LOW remain; only an exhausted block with none ahead
 * makes the loop wait. Two stores on one database get disjoint blocks; ids a store did not use
 * before closing are skipped. */
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "store/store_job.h"

/* The loop waits for the database only when STORE_ID_LOW new incidents open between a refill
 * being queued and its commit (one store batch, milliseconds): wide enough never to happen. */
#define STORE_ID_BLOCK 256
#define STORE_ID_LOW 64

static const char *const sequence_names[STORE_SEQUENCE_COUNT] = {
    [STORE_SEQUENCE_INCIDENTS] = "incidents",
};

struct ids_reserve_job {
    struct store_job base;
    struct store *store;
    enum store_sequence seq;
    int64_t first; /* set once run */
    bool taken;    /* a synchronous reservation already put the block in use */
};

static int ids_reserve_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    struct ids_reserve_job *j = STORE_JOB_OF(job, struct ids_reserve_job);
    return b->reserve_ids(db, sequence_names[j->seq], STORE_ID_BLOCK, &j->first, err, errlen);
}

/* A background refill is done: the block becomes the one in use if that one ran out meanwhile,
 * else the spare. */
static void ids_refill_complete(struct store_job *job)
{
    struct ids_reserve_job *j = STORE_JOB_OF(job, struct ids_reserve_job);
    struct store_ids *ids = store_ids_of(j->store, j->seq);
    ids->refill = NULL;
    if (j->taken)
        return;
    if (job->status != 0) {
        log_warn("store: cannot reserve %s ids ahead: %s", sequence_names[j->seq], job->err);
        return;
    }
    if (ids->next < ids->end) {
        ids->spare_next = j->first;
        ids->spare_end = j->first + STORE_ID_BLOCK;
    } else {
        ids->next = j->first;
        ids->end = j->first + STORE_ID_BLOCK;
    }
}

static void ids_reserve_reset(struct store_job *job)
{
    STORE_JOB_OF(job, struct ids_reserve_job)->first = 0;
}

static void ids_reserve_free(struct store_job *job)
{
    free(STORE_JOB_OF(job, struct ids_reserve_job));
}

static void ids_reserve_describe(const struct store_job *job, char *buf, size_t len)
{
    snprintf(buf, len, "reservation of %s ids",
             sequence_names[STORE_JOB_OF(job, const struct ids_reserve_job)->seq]);
}

static const struct store_job_ops ids_reserve_ops = {
    .name = "id reservation",
    .run = ids_reserve_run,
    .complete = ids_refill_complete,
    .reset = ids_reserve_reset,
    .free = ids_reserve_free,
    .describe = ids_reserve_describe,
};

static struct store_job *ids_reserve_job_new(struct store *s, enum store_sequence seq)
{
    struct store_job *job = store_job_new(&ids_reserve_ops, sizeof(struct ids_reserve_job));
    if (job) {
        STORE_JOB_OF(job, struct ids_reserve_job)->store = s;
        STORE_JOB_OF(job, struct ids_reserve_job)->seq = seq;
    }
    return job;
}

/* Reserves a block and waits for it: it becomes the block in use. A refill queued before it
 * has been committed by then (the store thread keeps the order) though its completion has not
 * run: its lower block goes first and this one becomes the spare, so ids keep increasing. */
static int ids_reserve_now(struct store *s, enum store_sequence seq, char *err, size_t errlen)
{
    struct store_job *job = ids_reserve_job_new(s, seq);
    if (!job) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = store_run_sync(s, job, err, errlen);
    struct store_ids *ids = store_ids_of(s, seq);
    struct ids_reserve_job *refill =
        ids->refill ? STORE_JOB_OF(ids->refill, struct ids_reserve_job) : NULL;
    int64_t first = STORE_JOB_OF(job, struct ids_reserve_job)->first;
    if (rc == 0 && refill && !refill->taken && refill->base.status == 0) {
        refill->taken = true;
        ids->spare_next = first;
        ids->spare_end = first + STORE_ID_BLOCK;
        first = refill->first;
    }
    if (rc == 0) {
        ids->next = first;
        ids->end = first + STORE_ID_BLOCK;
    }
    ids_reserve_free(job);
    return rc;
}

static void ids_refill_if_low(struct store *s, enum store_sequence seq)
{
    struct store_ids *ids = store_ids_of(s, seq);
    if (ids->refill || ids->spare_next < ids->spare_end || ids->end - ids->next >= STORE_ID_LOW)
        return;
    struct store_job *job = ids_reserve_job_new(s, seq);
    if (!job)
        return; /* the next call tries again, or reserves synchronously */
    job->has_callback = true;
    ids->refill = job;
    store_enqueue(s, job);
}

int store_ids_start(struct store *s, char *err, size_t errlen)
{
    for (int seq = 0; seq < STORE_SEQUENCE_COUNT; seq++)
        if (ids_reserve_now(s, (enum store_sequence)seq, err, errlen) != 0)
            return -1;
    return 0;
}

int64_t store_ids_next(struct store *s, enum store_sequence seq)
{
    struct store_ids *ids = store_ids_of(s, seq);
    if (ids->next >= ids->end && ids->spare_next < ids->spare_end) {
        ids->next = ids->spare_next;
        ids->end = ids->spare_end;
        ids->spare_next = ids->spare_end = 0;
    }
    char err[STORE_ERR_LEN];
    if (ids->next >= ids->end && ids_reserve_now(s, seq, err, sizeof err) != 0) {
        log_error("store: cannot reserve %s ids: %s", sequence_names[seq], err);
        return -1;
    }
    int64_t id = ids->next++;
    ids_refill_if_low(s, seq);
    return id;
}
