/* api_metrics.c — agents' metrics and the scrapers' view of the server:
 *   POST /api/v1/metrics/NAME (agents): the worker's samples in Prometheus text format,
 *        gzip allowed; bad lines are refused by line, the rest kept (agent_metrics.h);
 *   GET /metrics (scrapers): the server's own metrics and every agent's, gzip when asked
 *        (written on the loop, compressed on the thread pool with the request suspended);
 *   GET /status (scrapers): a JSON summary. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "base/clock.h"
#include "base/label.h"
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

/* ---- POST /api/v1/metrics/NAME ---- */

struct refusals {
    json_t *list;
    size_t count;
    size_t first_unlisted;
};

static void on_refused(void *ctx, size_t line, const char *error)
{
    struct refusals *r = ctx;
    if (r->count++ < REFUSED_LISTED)
        json_array_append_new(r->list,
                              json_pack("{s:I, s:s}", "line", (json_int_t)line, "error", error));
    else if (r->count == REFUSED_LISTED + 1)
        r->first_unlisted = line;
}

/* The push's body as text: as sent, or inflated. *owned is what to free. Returns 0, or answers
 * the request and returns -1. */
static int push_body(struct http_request *req, const char **text, size_t *len, char **owned)
{
    const char *type = http_header(req, "Content-Type");
    const char *encoding = http_header(req, "Content-Encoding");
    char err[160];
    *owned = NULL;
    *text = http_body(req, len);
    if (type && strncasecmp(type, "text/plain", 10) != 0) {
        snprintf(err, sizeof err, "Content-Type: expected text/plain; version=0.0.4, got \"%.60s\"",
                 type);
        http_respond_error(req, 415, err, "Content-Type");
        return -1;
    }
    if (!encoding || !strcasecmp(encoding, "identity"))
        return 0;
    if (strcasecmp(encoding, "gzip") != 0) {
        snprintf(err, sizeof err, "Content-Encoding: expected gzip or none, got \"%.60s\"",
                 encoding);
        http_respond_error(req, 415, err, "Content-Encoding");
        return -1;
    }
    if (gunzip(*text, *len, METRICS_TEXT_MAX, owned, len, err, sizeof err) != 0) {
        bool memory = strstr(err, "memory") != NULL;
        http_respond_error(req, memory ? 503 : 400, err, memory ? NULL : "body");
        return -1;
    }
    *text = *owned;
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
    const char *text;
    size_t len;
    char *owned;
    if (push_body(req, &text, &len, &owned) != 0)
        return;
    struct refusals refused = {.list = json_array()};
    struct agent_metrics_push result;
    int rc = refused.list
                 ? agent_metrics_push(api->agent_metrics, name, w->site, text, len, clock_mono_ms(),
                                      clock_wall_ms(), on_refused, &refused, &result)
                 : -1;
    free(owned);
    if (rc != 0) {
        json_decref(refused.list);
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    if (refused.count > REFUSED_LISTED) {
        snprintf(err, sizeof err, "and %zu more lines refused", refused.count - REFUSED_LISTED);
        json_array_append_new(
            refused.list,
            json_pack("{s:I, s:s}", "line", (json_int_t)refused.first_unlisted, "error", err));
    }
    server_metrics_push(api->metrics, result.accepted, result.refused);
    http_respond_json(req, 200,
                      json_pack("{s:I, s:o, s:I}", "accepted", (json_int_t)result.accepted,
                                "refused", refused.list, "series", (json_int_t)result.accepted));
}

/* ---- GET /metrics, GET /status ---- */

/* A /metrics answer compressed on the thread pool (a scrape of 500,000 series is 40 MB of text:
 * about 100 ms of deflate). The request waits suspended; req is NULL once the server stops. */
struct scrape_gzip {
    uv_work_t work;
    struct api_context *api;
    struct http_request *req;
    struct scrape_gzip *prev, *next; /* api->gzips */
    struct expo text;
    char *zipped;
    size_t zipped_len;
};

static void gzip_work(uv_work_t *w)
{
    struct scrape_gzip *job = w->data;
    job->zipped = gzip(job->text.data, job->text.len, &job->zipped_len);
    expo_free(&job->text);
}

static void gzip_done(uv_work_t *w, int status)
{
    struct scrape_gzip *job = w->data;
    if (job->req) {
        if (job->prev)
            job->prev->next = job->next;
        else
            job->api->gzips = job->next;
        if (job->next)
            job->next->prev = job->prev;
        if (job->zipped)
            http_respond_take(job->req, 200, CONTENT_TYPE, "gzip", job->zipped, job->zipped_len);
        else
            http_respond_error(job->req, 503, "server out of memory", NULL);
    } else {
        free(job->zipped);
    }
    expo_free(&job->text); /* left when the work was cancelled */
    free(job);
}

/* Takes text: answers req with it gzip'd, from the thread pool. */
static void gzip_answer(struct api_context *api, struct http_request *req, struct expo *text)
{
    struct scrape_gzip *job = calloc(1, sizeof *job);
    if (!job) {
        expo_free(text);
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    *job = (struct scrape_gzip){.api = api, .req = req, .next = api->gzips, .text = *text};
    job->work.data = job;
    if (uv_queue_work(api->loop, &job->work, gzip_work, gzip_done) != 0) {
        expo_free(&job->text);
        free(job);
        http_respond_error(req, 503, "server busy", NULL);
        return;
    }
    if (api->gzips)
        api->gzips->prev = job;
    api->gzips = job;
    http_suspend(req);
}

void api_metrics_stop(struct api_context *api)
{
    /* libmicrohttpd stops only without suspended connections (else it aborts): resume them. */
    for (struct scrape_gzip *job = api->gzips; job; job = job->next) {
        http_respond_retry_after(job->req, 503, "server stopping", 1);
        job->req = NULL;
    }
    api->gzips = NULL;
}

void api_metrics(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct expo out = {0};
    int64_t now = clock_mono_ms();
    struct server_metrics_sources src = {.fleet = api->fleet,
                                         .incidents = api->incidents,
                                         .outbox = api->outbox,
                                         .store = api->store,
                                         .agents = api->agent_metrics};
    server_metrics_render(api->metrics, &src, now, &out);
    agent_metrics_render(api->agent_metrics, now, &out);
    if (out.oom) {
        expo_free(&out);
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    if (accepts_gzip(http_header(req, "Accept-Encoding")))
        gzip_answer(api, req, &out);
    else
        http_respond_take(req, 200, CONTENT_TYPE, NULL, out.data, out.len);
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
