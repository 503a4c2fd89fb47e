/* push.c — the agent's metrics walk and push; see push.h. The walk (collectors, then the text
 * body) runs on libuv's thread pool and touches only the fields marked as its own; the loop
 * thread reads them once the work is done. */
#include "agent/push.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define PUSH_FACTS_ONLY_INTERVAL_MS (10 * 60 * 1000)
#define PUSH_LOG_EXCERPT 300

struct push {
    uv_loop_t *loop;
    struct httpc *http;
    struct push_config config;
    uv_timer_t timer;
    push_facts_cb facts;
    void *facts_ctx;
    bool stopping;
    bool pushing; /* a push waits for its answer */
    /* The walk's own while walking (set on the pool thread, read on the loop thread after). */
    uv_work_t work;
    bool walking;
    struct push_facts walk_facts;
    char *walk_body; /* malloc'd, NULL when out of memory or not pushing */
    size_t walk_body_len;
    size_t walk_series;
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
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    return p;
}

/* ---- the walk, on the pool ------------------------------------------------------------------ */

static void push_walk(uv_work_t *w)
{
    struct push *p = w->data;
    struct metric_list list = {0};
    p->walk_err[0] = '\0';
    collect_all(&list, p->config.options, p->walk_err, sizeof p->walk_err);
    p->walk_facts.gpus = collect_gpu_count(&list);
    if (p->walk_facts.gpus < 0)
        p->walk_facts.gpus = 0;
    p->walk_facts.boot_time_s = collect_boot_time(&list);
    p->walk_series = list.count;
    p->walk_body = NULL;
    if (p->config.interval_ms > 0 &&
        metric_list_to_text(&list, &p->walk_body, &p->walk_body_len) != 0)
        snprintf(p->walk_err, sizeof p->walk_err, "out of memory writing the metrics");
    metric_list_free(&list);
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
            snprintf(problem, sizeof problem, "the server refused %zu lines, the first: line %lld: %s",
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
                             NULL};
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

static void push_walked(uv_work_t *w, int status)
{
    struct push *p = w->data;
    p->walking = false;
    char *body = p->walk_body;
    p->walk_body = NULL;
    if (status != 0 || p->stopping) {
        free(body);
        return;
    }
    if (strcmp(p->walk_err, p->last_walk_err) != 0 && p->walk_err[0])
        log_warn("agent: metrics: %s", p->walk_err);
    snprintf(p->last_walk_err, sizeof p->last_walk_err, "%s", p->walk_err);
    log_debug("agent: %zu metric samples collected", p->walk_series);
    p->facts(&p->walk_facts, p->facts_ctx);
    if (body)
        push_send(p, body, p->walk_body_len);
    free(body);
}

static void push_on_tick(uv_timer_t *t)
{
    struct push *p = t->data;
    if (p->walking || p->stopping) {
        log_debug("agent: the previous metrics walk still runs, skipping this tick");
        return;
    }
    p->work.data = p;
    if (uv_queue_work(p->loop, &p->work, push_walk, push_walked) == 0)
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
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, NULL);
    return p->walking && uv_cancel((uv_req_t *)&p->work) != 0;
}

void push_free(struct push *p)
{
    free(p);
}
