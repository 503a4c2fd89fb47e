/* push.c — the agent's metrics walk and push; see push.h. The walk is one job on libuv's thread
 * pool per collector, in table order; the last one also writes the text body. Each job touches
 * only the fields marked as the walk's; the loop thread reads them between jobs. The heartbeat's
 * facts go out as soon as the steps that give them are done, so a slow METRICS_EXEC command
 * never holds back the first heartbeat. */
#include "agent/push.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/log.h"

#define PUSH_FACTS_ONLY_INTERVAL_MS (10 * 60 * 1000)
#define PUSH_LOG_EXCERPT 300

struct push {
    uv_loop_t *loop;
    struct httpc *http;
    struct push_config config;
    struct collect_options options; /* config's, with cancel pointing to stop */
    atomic_bool stop;               /* set by push_stop: running commands are killed */
    uv_timer_t timer;
    push_facts_cb facts;
    void *facts_ctx;
    bool stopping;
    bool pushing; /* a push waits for its answer */
    /* The walk's own while walking (set on the pool thread, read on the loop thread between
     * steps). */
    uv_work_t work;
    bool walking;
    size_t walk_step; /* index in collect_table of the collector running or next */
    bool walk_told;   /* the facts of this walk have gone to the heartbeat */
    struct metric_list walk_list;
    char *walk_body; /* gzip'd text, malloc'd by the last step; NULL when out of memory or not
                      * pushing */
    size_t walk_body_len;
    char walk_err[1024];
    /* Logged once until they change. */
    char last_walk_err[1024];
    char last_push_err[512];
};

struct push *push_new(uv_loop_t *loop, struct httpc *http, const struct push_config *config)
{
    struct push *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->http = http;
    p->config = *config;
    p->options = *config->options;
    atomic_init(&p->stop, false);
    p->options.cancel = &p->stop;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    return p;
}

/* ---- the walk, on the pool ------------------------------------------------------------------ */

/* text in gzip format, malloc'd into *out (the caller frees it). Returns 0, or -1 when out of
 * memory. */
static int push_gzip(const char *text, size_t len, char **out, size_t *out_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)len);
    *out = malloc(cap);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)*out;
    z.avail_out = (uInt)cap;
    int rc = *out ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static void push_walk_step(uv_work_t *w)
{
    struct push *p = w->data;
    collect_one(p->walk_step, &p->walk_list, &p->options, p->walk_err, sizeof p->walk_err);
    if (p->walk_step + 1 < collect_count || p->config.interval_ms == 0)
        return;
    char *text;
    size_t len;
    if (metric_list_to_text(&p->walk_list, &text, &len) != 0 ||
        push_gzip(text, len, &p->walk_body, &p->walk_body_len) != 0)
        snprintf(p->walk_err, sizeof p->walk_err, "out of memory writing the metrics");
    free(text);
}

/* ---- the push, on the loop ------------------------------------------------------------------ */

/* Logs a push problem at warn once, and again only when it changes; "" clears it. */
static void push_note(struct push *p, const char *problem)
{
    if (problem[0] && strcmp(problem, p->last_push_err) != 0)
        log_warn("agent: metrics push: %s", problem);
    else if (!problem[0] && p->last_push_err[0])
        log_info("agent: metrics push ok again");
    snprintf(p->last_push_err, sizeof p->last_push_err, "%s", problem);
}

/* The server's answer: {"accepted": N, "refused": [{"line": L, "error": "..."}], "series": N}. */
static void push_on_response(const struct httpc_response *res, void *ctx)
{
    struct push *p = ctx;
    p->pushing = false;
    if (p->stopping)
        return;
    char problem[512] = "";
    if (res->error) {
        snprintf(problem, sizeof problem, "%s", res->error);
    } else if (res->status != 200) {
        snprintf(problem, sizeof problem, "HTTP %ld: %.*s", res->status, PUSH_LOG_EXCERPT,
                 res->body);
    } else {
        json_t *body = json_loadb(res->body, res->body_len, 0, NULL);
        json_t *refused = json_object_get(body, "refused");
        json_t *first = json_array_get(refused, 0);
        if (first)
            snprintf(problem, sizeof problem,
                     "the server refused %zu lines, the first: line %lld: %s",
                     json_array_size(refused),
                     (long long)json_integer_value(json_object_get(first, "line")),
                     json_string_value(json_object_get(first, "error")) ?: "no reason given");
        log_debug("agent: metrics pushed: %.200s", res->body);
        json_decref(body);
    }
    push_note(p, problem);
}

static void push_send(struct push *p, char *body, size_t len)
{
    if (p->pushing) {
        log_debug("agent: previous metrics push still in flight, skipping these");
        return;
    }
    const char *headers[] = {p->config.auth_header, "Content-Type: text/plain; version=0.0.4",
                             "Content-Encoding: gzip", NULL};
    struct httpc_request req = {.method = "POST",
                                .url = p->config.url,
                                .headers = headers,
                                .body = body,
                                .body_len = len,
                                .timeout_ms = p->config.timeout_ms,
                                .ca_file = p->config.ca_file};
    if (httpc_start(p->http, &req, push_on_response, p) == 0)
        p->pushing = true;
    else
        push_note(p, "out of memory starting the request");
}

/* Hands the heartbeat its facts once the walk has the GPU count (boot time comes before it). */
static void push_tell_facts(struct push *p)
{
    int gpus = collect_gpu_count(&p->walk_list);
    if (p->walk_told || gpus == COLLECT_GPUS_UNKNOWN)
        return;
    p->walk_told = true;
    struct push_facts f = {.gpus = gpus, .boot_time_s = collect_boot_time(&p->walk_list)};
    p->facts(&f, p->facts_ctx);
}

static void push_walk_over(struct push *p)
{
    p->walking = false;
    if (strcmp(p->walk_err, p->last_walk_err) != 0 && p->walk_err[0])
        log_warn("agent: metrics: %s", p->walk_err);
    snprintf(p->last_walk_err, sizeof p->last_walk_err, "%s", p->walk_err);
    log_debug("agent: %zu metric samples collected", p->walk_list.count);
    metric_list_free(&p->walk_list);
    char *body = p->walk_body;
    p->walk_body = NULL;
    if (body)
        push_send(p, body, p->walk_body_len);
    free(body);
}

static void push_step_done(uv_work_t *w, int status)
{
    struct push *p = w->data;
    if (status != 0 || p->stopping) {
        p->walking = false;
        metric_list_free(&p->walk_list);
        free(p->walk_body);
        p->walk_body = NULL;
        return;
    }
    push_tell_facts(p);
    if (++p->walk_step == collect_count) {
        push_walk_over(p);
        return;
    }
    if (uv_queue_work(p->loop, &p->work, push_walk_step, push_step_done) != 0)
        push_walk_over(p);
}

static void push_on_tick(uv_timer_t *t)
{
    struct push *p = t->data;
    if (p->walking || p->stopping) {
        log_debug("agent: the previous metrics walk still runs, skipping this tick");
        return;
    }
    p->walk_step = 0;
    p->walk_told = false;
    p->walk_err[0] = '\0';
    p->work.data = p;
    if (uv_queue_work(p->loop, &p->work, push_walk_step, push_step_done) == 0)
        p->walking = true;
}

int push_start(struct push *p, push_facts_cb facts, void *ctx)
{
    p->facts = facts;
    p->facts_ctx = ctx;
    uint64_t every =
        p->config.interval_ms > 0 ? (uint64_t)p->config.interval_ms : PUSH_FACTS_ONLY_INTERVAL_MS;
    return uv_timer_start(&p->timer, push_on_tick, 0, every) == 0 ? 0 : -1;
}

bool push_stop(struct push *p)
{
    if (!p || p->stopping)
        return false;
    p->stopping = true;
    atomic_store(&p->stop, true);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, NULL);
    return p->walking && uv_cancel((uv_req_t *)&p->work) != 0;
}

void push_free(struct push *p)
{
    if (p)
        metric_list_free(&p->walk_list);
    free(p);
}
