/* store_checks.c — the checks entity of the store: the definitions of checks created through the
 * API (JSON text by name), saved and deleted with a callback once committed, and read back at
 * start, as store jobs (store_job.h). Files' checks are not stored: their files are. Also
 * the latest check_state event of each check, read at start to restore its state, and the
 * engine's small records by name (enum store_check_table: the API's enable/disable, agents'
 * labels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/store_job.h"

/* One save or delete (definition NULL), or the definitions loaded; of a check's definition, or
 * of a record of table (check_record_ops, check_records_load_ops). */
struct check_job {
    struct store_job base;
    enum store_check_table table;
    char *name, *definition;
    int64_t updated_ms;
    store_check_done_cb done;
    void *ctx;
    struct store_check_row *rows; /* load: owned, with their strings */
    size_t n, cap;
};

static void check_job_free(struct store_job *job)
{
    struct check_job *c = STORE_JOB_OF(job, struct check_job);
    for (size_t i = 0; i < c->n; i++) {
        free(c->rows[i].name);
        free(c->rows[i].definition);
    }
    free(c->rows);
    free(c->name);
    free(c->definition);
    free(c);
}

static int check_write_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    struct check_job *c = STORE_JOB_OF(job, struct check_job);
    if (c->definition)
        return b->save_check(db, c->name, c->definition, c->updated_ms, err, errlen);
    int rc = b->delete_check(db, c->name, err, errlen);
    return rc ? rc : b->save_check_record(db, STORE_CHECK_OVERRIDES, c->name, NULL, 0, err, errlen);
}

static void check_write_complete(struct store_job *job)
{
    struct check_job *c = STORE_JOB_OF(job, struct check_job);
    c->done(job->status, c->ctx);
}

static void check_write_describe(const struct store_job *job, char *buf, size_t len)
{
    const struct check_job *c = STORE_JOB_OF(job, struct check_job);
    snprintf(buf, len, "%s of check %s", c->definition ? "save" : "delete", c->name);
}

static char *check_write_record(const struct store_job *job)
{
    const struct check_job *c = STORE_JOB_OF(job, struct check_job);
    json_t *r = json_pack("{ss ss*}", "check", c->name, "definition", c->definition);
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return text;
}

static const struct store_job_ops check_write_ops = {
    .name = "check write",
    .run = check_write_run,
    .complete = check_write_complete,
    .free = check_job_free,
    .describe = check_write_describe,
    .record = check_write_record,
};

static int check_record_run(struct store_job *job, const struct store_backend *b, void *db,
                            char *err, size_t errlen)
{
    struct check_job *c = STORE_JOB_OF(job, struct check_job);
    return b->save_check_record(db, c->table, c->name, c->definition, c->updated_ms, err, errlen);
}

static void check_record_complete(struct store_job *job)
{
    struct check_job *c = STORE_JOB_OF(job, struct check_job);
    if (c->done)
        c->done(job->status, c->ctx);
}

static void check_record_describe(const struct store_job *job, char *buf, size_t len)
{
    const struct check_job *c = STORE_JOB_OF(job, struct check_job);
    snprintf(buf, len, "%s of the %s record of %s", c->definition ? "save" : "delete",
             c->table == STORE_CHECK_OVERRIDES ? "enabled" : "labels", c->name);
}

static const struct store_job_ops check_record_ops = {
    .name = "check record write",
    .run = check_record_run,
    .complete = check_record_complete,
    .free = check_job_free,
    .describe = check_record_describe,
    .record = check_write_record,
};

static void check_write(struct store *s, const struct store_job_ops *ops,
                        enum store_check_table table, const char *name, const char *definition,
                        int64_t updated_ms, store_check_done_cb done, void *ctx)
{
    struct store_job *job = store_job_new(ops, sizeof(struct check_job));
    struct check_job *c = job ? STORE_JOB_OF(job, struct check_job) : NULL;
    if (c) {
        c->table = table;
        c->name = strdup(name);
        c->definition = definition ? strdup(definition) : NULL;
        c->updated_ms = updated_ms;
        c->done = done;
        c->ctx = ctx;
        job->has_callback = done != NULL;
    }
    if (!c || !c->name || (definition && !c->definition)) {
        if (job)
            check_job_free(job);
        store_out_of_memory("check write");
        if (done)
            done(-1, ctx);
        return;
    }
    store_enqueue(s, job);
}

void store_save_check(struct store *s, const char *name, const char *definition, int64_t updated_ms,
                      store_check_done_cb done, void *ctx)
{
    check_write(s, &check_write_ops, 0, name, definition, updated_ms, done, ctx);
}

void store_delete_check(struct store *s, const char *name, store_check_done_cb done, void *ctx)
{
    check_write(s, &check_write_ops, 0, name, NULL, 0, done, ctx);
}

void store_save_check_record(struct store *s, enum store_check_table table, const char *name,
                             const char *body, int64_t updated_ms, store_check_done_cb done,
                             void *ctx)
{
    check_write(s, &check_record_ops, table, name, body, updated_ms, done, ctx);
}

static int check_row_push(const char *name, const char *definition, void *ctx)
{
    struct check_job *c = ctx;
    if (store_array_reserve((void **)&c->rows, &c->cap, c->n, sizeof *c->rows) != 0)
        return STORE_ERR_RETRY;
    struct store_check_row *row = &c->rows[c->n];
    row->name = strdup(name);
    row->definition = strdup(definition);
    if (!row->name || !row->definition) {
        free(row->name);
        free(row->definition);
        return STORE_ERR_RETRY;
    }
    c->n++;
    return 0;
}

static int check_load_run(struct store_job *job, const struct store_backend *b, void *db, char *err,
                          size_t errlen)
{
    return b->load_checks(db, check_row_push, STORE_JOB_OF(job, struct check_job), err, errlen);
}

static void check_load_reset(struct store_job *job)
{
    struct check_job *c = STORE_JOB_OF(job, struct check_job);
    for (size_t i = 0; i < c->n; i++) {
        free(c->rows[i].name);
        free(c->rows[i].definition);
    }
    c->n = 0;
}

static const struct store_job_ops check_load_ops = {
    .name = "check load",
    .reads = true,
    .run = check_load_run,
    .reset = check_load_reset,
    .free = check_job_free,
};

static int check_records_load_run(struct store_job *job, const struct store_backend *b, void *db,
                                  char *err, size_t errlen)
{
    struct check_job *c = STORE_JOB_OF(job, struct check_job);
    return b->load_check_records(db, c->table, check_row_push, c, err, errlen);
}

static const struct store_job_ops check_records_load_ops = {
    .name = "check records load",
    .reads = true,
    .run = check_records_load_run,
    .reset = check_load_reset,
    .free = check_job_free,
};

/* Runs a load of ops (of table) and hands each row to cb. */
static int check_rows_load(struct store *s, const struct store_job_ops *ops,
                           enum store_check_table table,
                           void (*cb)(const char *name, const char *text, void *ctx), void *ctx,
                           char *err, size_t errlen)
{
    struct store_job *job = store_sync_job_new(s, ops, sizeof(struct check_job), err, errlen);
    if (!job)
        return -1;
    STORE_JOB_OF(job, struct check_job)->table = table;
    int rc = store_run_sync(s, job, err, errlen);
    struct check_job *c = STORE_JOB_OF(job, struct check_job);
    for (size_t i = 0; rc == 0 && i < c->n; i++)
        cb(c->rows[i].name, c->rows[i].definition, ctx);
    job->ops->free(job);
    return rc;
}

int store_load_checks(struct store *s,
                      void (*cb)(const char *name, const char *definition, void *ctx), void *ctx,
                      char *err, size_t errlen)
{
    return check_rows_load(s, &check_load_ops, 0, cb, ctx, err, errlen);
}

int store_load_check_records(struct store *s, enum store_check_table table,
                             void (*cb)(const char *name, const char *body, void *ctx), void *ctx,
                             char *err, size_t errlen)
{
    return check_rows_load(s, &check_records_load_ops, table, cb, ctx, err, errlen);
}

/* ---- the checks' latest states, read at start ---- */

struct check_state_job {
    struct store_job base;
    struct event_record *rows; /* details_json owned */
    size_t n, cap;
};

static void check_state_reset(struct store_job *job)
{
    struct check_state_job *j = STORE_JOB_OF(job, struct check_state_job);
    for (size_t i = 0; i < j->n; i++)
        free((char *)j->rows[i].details_json);
    j->n = 0;
}

static void check_state_free(struct store_job *job)
{
    check_state_reset(job);
    free(STORE_JOB_OF(job, struct check_state_job)->rows);
    free(STORE_JOB_OF(job, struct check_state_job));
}

static int check_state_push(const struct event_record *ev, void *ctx)
{
    struct check_state_job *j = ctx;
    if (store_array_reserve((void **)&j->rows, &j->cap, j->n, sizeof *j->rows) != 0)
        return STORE_ERR_RETRY;
    char *details = strdup(ev->details_json ? ev->details_json : "{}");
    if (!details)
        return STORE_ERR_RETRY;
    j->rows[j->n] = *ev;
    j->rows[j->n++].details_json = details;
    return 0;
}

static int check_state_run(struct store_job *job, const struct store_backend *b, void *db,
                           char *err, size_t errlen)
{
    return b->load_check_states(db, check_state_push, STORE_JOB_OF(job, struct check_state_job),
                                err, errlen);
}

static const struct store_job_ops check_state_ops = {
    .name = "check state load",
    .reads = true,
    .run = check_state_run,
    .reset = check_state_reset,
    .free = check_state_free,
};

int store_load_check_states(struct store *s, void (*cb)(const struct event_record *ev, void *ctx),
                            void *ctx, char *err, size_t errlen)
{
    struct store_job *job =
        store_sync_job_new(s, &check_state_ops, sizeof(struct check_state_job), err, errlen);
    if (!job)
        return -1;
    int rc = store_run_sync(s, job, err, errlen);
    struct check_state_job *j = STORE_JOB_OF(job, struct check_state_job);
    for (size_t i = 0; rc == 0 && i < j->n; i++)
        cb(&j->rows[i], ctx);
    job->ops->free(job);
    return rc;
}
