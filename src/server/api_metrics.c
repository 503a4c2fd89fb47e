/* api_metrics.c — agents' metrics and the scrapers' view of the server:
 *   POST /api/v1/metrics/NAME (agents): the worker's samples in Prometheus text format,
 *        gzip allowed; bad lines are refused by line, the rest kept (agent_metrics.h);
 *   GET /metrics (scrapers): the server's own metrics and every agent's, gzip when asked;
 *   GET /status (scrapers): a JSON summary.
 * The first two do their heavy part on the thread pool with the request suspended: a push is
 * inflated and read into the agent's block there (pushes in batches, see push_batch), and only
 * swapped in on the loop; a scrape takes a snapshot of the agents' blocks on the loop and is
 * written (and compressed) there. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "base/clock.h"
#include "base/label.h"
#include "base/log.h"
#include "model/json.h"
#include "server/agent_metrics.h"
#include "server/api.h"
#include "server/fleet.h"
#include "server/server_metrics.h"

#define PUSH_PREFIX "/api/v1/metrics/"
#define REFUSED_LISTED 100 /* refusals listed one by one in an answer; the rest summed up */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- gzip ---- */

/* Inflates a gzip body into *out (malloc'd) of at most max bytes. Returns 0, or -1 with err. */
static int gunzip(const char *in, size_t len, size_t max, char **out, size_t *outlen, char *err,
                  size_t errlen)
{
    z_stream z = {.next_in = (Bytef *)in, .avail_in = (uInt)len};
    size_t cap = len * 4 + 1024 < max ? len * 4 + 1024 : max, used = 0;
    char *buf = malloc(cap + 1);
    int rc = buf && inflateInit2(&z, 15 + 16) == Z_OK ? Z_OK : Z_MEM_ERROR;
    while (rc == Z_OK) {
        if (used == cap) {
            char *bigger = cap < max ? realloc(buf, (cap * 2 < max ? cap * 2 : max) + 1) : NULL;
            if (!bigger) {
                rc = cap < max ? Z_MEM_ERROR : Z_BUF_ERROR;
                break;
            }
            buf = bigger;
            cap = cap * 2 < max ? cap * 2 : max;
        }
        z.next_out = (Bytef *)buf + used;
        z.avail_out = (uInt)(cap - used);
        rc = inflate(&z, Z_NO_FLUSH);
        used = cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            rc = Z_DATA_ERROR; /* the stream ended early */
    }
    inflateEnd(&z);
    if (rc == Z_STREAM_END) {
        *out = buf;
        *outlen = used;
        return 0;
    }
    free(buf);
    if (rc == Z_BUF_ERROR)
        snprintf(err, errlen, "body: larger than %zu bytes once inflated", max);
    else if (rc == Z_MEM_ERROR)
        snprintf(err, errlen, "server out of memory");
    else
        snprintf(err, errlen, "body: expected gzip data (Content-Encoding: gzip)");
    return -1;
}

/* Deflates text into a gzip stream (malloc'd); NULL when out of memory. */
static char *gzip(const char *text, size_t len, size_t *outlen)
{
    z_stream z = {0};
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, len);
    char *out = malloc(cap);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = out ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* Whether an Accept-Encoding header ("gzip, deflate", "gzip;q=1.0, *;q=0.5") takes gzip: it is
 * listed without a zero weight. */
static bool accepts_gzip(const char *header)
{
    for (const char *p = header; p && *p; p += strcspn(p, ","), p += *p == ',') {
        p += strspn(p, " \t");
        size_t coding = strcspn(p, ";, \t");
        if (coding != 4 || strncasecmp(p, "gzip", 4) != 0)
            continue;
        const char *params = p + coding;
        size_t plen = strcspn(params, ",");
        const char *q = strcasestr(params, "q=");
        return !q || q >= params + plen || strtod(q + 2, NULL) > 0;
    }
    return false;
}

/* ---- work on the thread pool, the request suspended ---- */

/* A request answered from the thread pool: it waits suspended while run works there, then
 * finish answers it on the loop. req is NULL once the server stops (api_metrics_stop has
 * answered it); finish then only frees. */
struct pool_job {
    uv_work_t work;
    struct api_context *api;
    struct http_request *req;
    struct pool_job *prev, *next; /* api->pool_jobs */
    bool cancelled;
    void (*run)(struct pool_job *job);    /* on the pool */
    void (*finish)(struct pool_job *job); /* on the loop; frees the job */
};

static void pool_run(uv_work_t *w)
{
    struct pool_job *job = w->data;
    job->run(job);
}

/* On the loop, its work over (status: uv_work_t's). */
static void pool_job_done(struct pool_job *job, int status)
{
    if (job->req) {
        if (job->prev)
            job->prev->next = job->next;
        else
            job->api->pool_jobs = job->next;
        if (job->next)
            job->next->prev = job->prev;
    }
    job->cancelled = status != 0;
    job->finish(job);
}

static void pool_done(uv_work_t *w, int status)
{
    pool_job_done(w->data, status);
}

/* Lists job as waiting for req and suspends req. */
static void pool_wait(struct api_context *api, struct http_request *req, struct pool_job *job)
{
    job->next = api->pool_jobs;
    if (api->pool_jobs)
        api->pool_jobs->prev = job;
    api->pool_jobs = job;
    http_suspend(req);
}

/* Queues job (its run and finish set) for req and suspends req. Returns 0, or -1 when the pool
 * refused it (req not answered, job not freed). */
static int pool_start(struct api_context *api, struct http_request *req, struct pool_job *job)
{
    job->api = api;
    job->req = req;
    job->work.data = job;
    if (uv_queue_work(api->loop, &job->work, pool_run, pool_done) != 0)
        return -1;
    pool_wait(api, req, job);
    return 0;
}

/* Pushes go to the pool in batches: a push that comes while the last batch still waits for a
 * pool thread joins it, so that under load one wake-up of a thread (and of the loop, when the
 * batch is done) serves many pushes. A push that finds none waiting starts one at once. */
#define PUSH_BATCH_MAX 32

struct push_batch {
    uv_work_t work;
    struct api_context *api;
    uv_mutex_t lock;
    bool started; /* a pool thread took it: nothing joins any more (under lock) */
    size_t n;
    struct pool_job *jobs[PUSH_BATCH_MAX];
};

static void batch_run(uv_work_t *w)
{
    struct push_batch *b = w->data;
    uv_mutex_lock(&b->lock);
    b->started = true;
    uv_mutex_unlock(&b->lock);
    for (size_t i = 0; i < b->n; i++)
        b->jobs[i]->run(b->jobs[i]);
}

static void batch_done(uv_work_t *w, int status)
{
    struct push_batch *b = w->data;
    if (b->api->push_batch == b)
        b->api->push_batch = NULL;
    for (size_t i = 0; i < b->n; i++)
        pool_job_done(b->jobs[i], status);
    uv_mutex_destroy(&b->lock);
    free(b);
}

/* As pool_start, in the waiting batch or a new one; returns 1 when it joined one waiting, 0
 * when it started one, -1 as pool_start. */
static int pool_start_batched(struct api_context *api, struct http_request *req,
                              struct pool_job *job)
{
    job->api = api;
    job->req = req;
    struct push_batch *b = api->push_batch;
    bool joined = false;
    if (b) {
        uv_mutex_lock(&b->lock);
        if ((joined = !b->started && b->n < PUSH_BATCH_MAX))
            b->jobs[b->n++] = job;
        uv_mutex_unlock(&b->lock);
    }
    if (!joined) {
        if (!(b = calloc(1, sizeof *b)) || uv_mutex_init(&b->lock) != 0) {
            free(b);
            return -1;
        }
        b->api = api;
        b->n = 1;
        b->jobs[0] = job;
        b->work.data = b;
        if (uv_queue_work(api->loop, &b->work, batch_run, batch_done) != 0) {
            uv_mutex_destroy(&b->lock);
            free(b);
            return -1;
        }
        api->push_batch = b;
    }
    pool_wait(api, req, job);
    return joined;
}

void api_metrics_stop(struct api_context *api)
{
    /* libmicrohttpd stops only without suspended connections (else it aborts): answer them. */
    for (struct pool_job *job = api->pool_jobs; job; job = job->next) {
        http_respond_retry_after(job->req, 503, "server stopping", 1);
        job->req = NULL;
    }
    api->pool_jobs = NULL;
}

/* ---- POST /api/v1/metrics/NAME ---- */

/* The refused lines of a push: the first REFUSED_LISTED + 1 from reading it (on the pool) and as
 * many from swapping it in (on the loop), merged in line order when answering. */
struct refusal {
    size_t line;
    char *error; /* NULL when out of memory */
};

struct refusals {
    struct refusal *items; /* room for 2 * (REFUSED_LISTED + 1) */
    size_t n, limit;
    size_t count;
};

static void on_refused(void *ctx, size_t line, const char *error)
{
    struct refusals *r = ctx;
    r->count++;
    if (r->n >= r->limit ||
        (!r->items && !(r->items = malloc(2 * (REFUSED_LISTED + 1) * sizeof *r->items))))
        return;
    size_t len = strlen(error) + 1;
    char *copy = malloc(len);
    r->items[r->n++] = (struct refusal){line, copy ? memcpy(copy, error, len) : NULL};
}

static void refusals_free(struct refusals *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i].error);
    free(r->items);
}

static int refusal_cmp(const void *a, const void *b)
{
    const struct refusal *x = a, *y = b;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* [{"line": N, "error": "..."}, ...]: the first REFUSED_LISTED in line order, then the rest
 * summed up on the first of them. */
static json_t *refusals_json(struct refusals *r)
{
    json_t *list = json_array();
    if (r->n)
        qsort(r->items, r->n, sizeof *r->items, refusal_cmp);
    for (size_t i = 0; list && i < r->n && i < REFUSED_LISTED; i++)
        json_array_append_new(list, json_pack("{s:I, s:s}", "line", (json_int_t)r->items[i].line,
                                              "error",
                                              r->items[i].error ? r->items[i].error
                                                                : "server out of memory"));
    if (list && r->count > REFUSED_LISTED && r->n > REFUSED_LISTED) {
        char err[80];
        snprintf(err, sizeof err, "and %zu more lines refused", r->count - REFUSED_LISTED);
        json_array_append_new(list, json_pack("{s:I, s:s}", "line",
                                              (json_int_t)r->items[REFUSED_LISTED].line, "error",
                                              err));
    }
    return list;
}

/* A push read on the thread pool: inflated when gzip'd, then read into the agent's block. */
struct push_job {
    struct pool_job base;
    struct agent_metrics_limits limits;
    const char *worker, *site; /* in text, after the body */
    bool gzipped;
    size_t len;
    /* what the pool made of it */
    struct agent_block *block;
    int status; /* an error to answer, with err and field; 0: none */
    char err[160];
    const char *field;
    struct refusals refused;
    char text[]; /* the body, then worker and site, NUL-terminated */
};

static void push_run(struct pool_job *base)
{
    struct push_job *job = (struct push_job *)base;
    const char *text = job->text;
    size_t len = job->len;
    char *inflated = NULL;
    if (job->gzipped) {
        if (gunzip(text, len, METRICS_TEXT_MAX, &inflated, &len, job->err, sizeof job->err) !=
            0) {
            bool memory = strstr(job->err, "memory") != NULL;
            job->status = memory ? 503 : 400;
            job->field = memory ? NULL : "body";
            return;
        }
        text = inflated;
    }
    job->block = agent_block_build(&job->limits, job->worker, job->site, text, len, on_refused,
                                   &job->refused);
    if (!job->block) {
        job->status = 503;
        snprintf(job->err, sizeof job->err, "server out of memory");
    }
    free(inflated);
}

/* 200 with what the push did. */
static void push_answer(struct api_context *api, struct http_request *req,
                        const struct agent_metrics_push *result, struct refusals *refused)
{
    server_metrics_push(api->metrics, result->accepted, result->refused);
    if (refused->count == 0) { /* the usual answer, written without building JSON values */
        char json[96];
        snprintf(json, sizeof json, "{\"accepted\":%zu,\"refused\":[],\"series\":%zu}",
                 result->accepted, result->accepted);
        http_respond_json_text(req, 200, json);
        return;
    }
    json_t *list = refusals_json(refused);
    if (!list) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    http_respond_json(req, 200,
                      json_pack("{s:I, s:o, s:I}", "accepted", (json_int_t)result->accepted,
                                "refused", list, "series", (json_int_t)result->accepted));
}

/* Swaps the block in and answers. */
static void push_finish(struct pool_job *base)
{
    struct push_job *job = (struct push_job *)base;
    struct http_request *req = base->req;
    struct agent_metrics_push result;
    if (!req) {
        agent_block_free(job->block);
    } else if (base->cancelled) {
        http_respond_retry_after(req, 503, "server stopping", 1);
    } else if (job->status) {
        http_respond_error(req, job->status, job->err, job->field);
    } else {
        job->refused.limit = job->refused.n + REFUSED_LISTED + 1;
        if (agent_metrics_swap(base->api->agent_metrics, job->worker, job->block, clock_mono_ms(),
                               clock_wall_ms(), on_refused, &job->refused, &result) != 0)
            http_respond_error(req, 503, "server out of memory", NULL);
        else
            push_answer(base->api, req, &result, &job->refused);
    }
    refusals_free(&job->refused);
    free(job);
}

/* Checks the push's headers; returns 0, or answers the request and returns -1. */
static int push_headers(struct http_request *req, bool *gzipped)
{
    const char *type = http_header(req, "Content-Type");
    const char *encoding = http_header(req, "Content-Encoding");
    char err[160];
    if (type && strncasecmp(type, "text/plain", 10) != 0) {
        snprintf(err, sizeof err, "Content-Type: expected text/plain; version=0.0.4, got \"%.60s\"",
                 type);
        http_respond_error(req, 415, err, "Content-Type");
        return -1;
    }
    *gzipped = encoding && strcasecmp(encoding, "identity") != 0;
    if (*gzipped && strcasecmp(encoding, "gzip") != 0) {
        snprintf(err, sizeof err, "Content-Encoding: expected gzip or none, got \"%.60s\"",
                 encoding);
        http_respond_error(req, 415, err, "Content-Encoding");
        return -1;
    }
    return 0;
}

void api_metrics_push(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    const char *name = http_path(req) + strlen(PUSH_PREFIX);
    char err[200];
    if (!label_valid(name)) {
        snprintf(err, sizeof err, "worker name \"%.64s\": expected " LABEL_RULE, name);
        http_respond_error(req, 400, err, "name");
        return;
    }
    const struct worker_record *w = fleet_find(api->fleet, name);
    if (!w) {
        snprintf(err, sizeof err, "worker \"%s\" is unknown: it must send a heartbeat first", name);
        http_respond_error(req, 404, err, "name");
        return;
    }
    bool gzipped;
    if (push_headers(req, &gzipped) != 0)
        return;
    /* The body is copied: the pool may still read it after the server answered the request. */
    size_t len, name_len = strlen(name), site_len = strlen(w->site);
    const char *body = http_body(req, &len);
    struct push_job *job = malloc(sizeof *job + len + name_len + site_len + 3);
    if (!job) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    *job = (struct push_job){.base = {.run = push_run, .finish = push_finish},
                             .gzipped = gzipped,
                             .len = len};
    agent_metrics_limits(api->agent_metrics, &job->limits);
    job->refused.limit = REFUSED_LISTED + 1;
    memcpy(job->text, body, len);
    job->text[len] = '\0';
    job->worker = memcpy(job->text + len + 1, name, name_len + 1);
    job->site = memcpy(job->text + len + 2 + name_len, w->site, site_len + 1);
    int joined = pool_start_batched(api, req, &job->base);
    if (joined < 0) {
        free(job);
        http_respond_error(req, 503, "server busy", NULL);
        return;
    }
    log_debug("metrics: push of %s (%zu bytes%s) handed to the thread pool, %s", name, len,
              gzipped ? ", gzip" : "", joined ? "joining the batch waiting" : "a new batch");
}

/* ---- GET /metrics, GET /status ---- */

/* A /metrics answer written on the thread pool from a snapshot of the agents' blocks, after the
 * server's own metrics written on the loop, and gzip'd there when asked (a scrape of 500,000
 * series is 40 MB of text: tens of ms to copy, about 100 ms of deflate). */
struct scrape_job {
    struct pool_job base;
    struct expo text;
    struct agent_metrics_snapshot *snap;
    bool gzip;
    char *zipped;
    size_t zipped_len;
};

static void scrape_run(struct pool_job *base)
{
    struct scrape_job *job = (struct scrape_job *)base;
    agent_metrics_snapshot_write(job->snap, &job->text);
    if (job->gzip && !job->text.oom) {
        job->zipped = gzip(job->text.data, job->text.len, &job->zipped_len);
        expo_free(&job->text);
    }
}

static void scrape_finish(struct pool_job *base)
{
    struct scrape_job *job = (struct scrape_job *)base;
    struct http_request *req = base->req;
    agent_metrics_snapshot_free(job->snap);
    if (!req) {
        free(job->zipped);
    } else if (base->cancelled) {
        http_respond_retry_after(req, 503, "server stopping", 1);
    } else if (job->gzip ? !job->zipped : job->text.oom) {
        free(job->zipped);
        http_respond_error(req, 503, "server out of memory", NULL);
    } else if (job->gzip) {
        http_respond_take(req, 200, CONTENT_TYPE, "gzip", job->zipped, job->zipped_len);
    } else {
        http_respond_take(req, 200, CONTENT_TYPE, NULL, job->text.data, job->text.len);
        job->text = (struct expo){0};
    }
    expo_free(&job->text);
    free(job);
}

void api_metrics(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    int64_t now = clock_mono_ms();
    struct scrape_job *job = calloc(1, sizeof *job);
    if (!job || !(job->snap = agent_metrics_snapshot(api->agent_metrics, now))) {
        free(job);
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    job->base = (struct pool_job){.run = scrape_run, .finish = scrape_finish};
    job->gzip = accepts_gzip(http_header(req, "Accept-Encoding"));
    struct server_metrics_sources src = {.fleet = api->fleet,
                                         .incidents = api->incidents,
                                         .outbox = api->outbox,
                                         .store = api->store,
                                         .agents = api->agent_metrics,
                                         .checks = api->checks};
    server_metrics_render(api->metrics, &src, now, &job->text);
    if (job->text.oom || pool_start(api, req, &job->base) != 0) {
        bool busy = !job->text.oom;
        agent_metrics_snapshot_free(job->snap);
        expo_free(&job->text);
        free(job);
        http_respond_error(req, 503, busy ? "server busy" : "server out of memory", NULL);
        return;
    }
    log_debug("metrics: scrape%s handed to the thread pool", job->gzip ? " (gzip)" : "");
}

void api_metrics_status(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    size_t states[3];
    fleet_count_states(api->fleet, states);
    struct agent_metrics_summary sum;
    agent_metrics_summarize(api->agent_metrics, clock_mono_ms(), &sum);
    http_respond_json(
        req, 200,
        json_pack("{s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:o}", "workers", "total",
                  (json_int_t)fleet_count(api->fleet), "up", (json_int_t)states[WORKER_UP], "down",
                  (json_int_t)states[WORKER_DOWN], "unknown", (json_int_t)states[WORKER_UNKNOWN],
                  "agents_pushing", (json_int_t)sum.agents, "series", (json_int_t)sum.series,
                  "last_push", json_time(sum.last_push_wall_ms)));
}
