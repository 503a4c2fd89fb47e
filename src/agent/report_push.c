/* report_push.c — the agent's report push; see report_push.h. The collection runs as one job on
 * libuv's thread pool (report_collect runs its sections on threads of its own and blocks until
 * they are done); the body is written there too, and sent from the loop. */
#include "agent/report_push.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define REPORT_PUSH_LOG_EXCERPT 300

struct report_push {
    uv_loop_t *loop;
    struct httpc *http;
    struct report_push_config config;
    uv_timer_t timer;
    uv_work_t work;
    bool collecting; /* the pool job runs; body is its own until it is done */
    bool pushing;    /* a push waits for its answer */
    bool stopping;
    char *body; /* the report as compact JSON, written by the pool job; NULL when out of memory */
    char last_err[512];
};

struct report_push *report_push_new(uv_loop_t *loop, struct httpc *http,
                                    const struct report_push_config *config)
{
    struct report_push *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->http = http;
    p->config = *config;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->work.data = p;
    return p;
}

static void report_push_collect(uv_work_t *w)
{
    struct report_push *p = w->data;
    json_t *report = report_collect(p->config.options);
    p->body = report ? json_dumps(report, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(report);
}

/* Logs a problem at warn once, and again only when it changes; "" clears it. */
static void report_push_note(struct report_push *p, const char *problem)
{
    if (problem[0] && strcmp(problem, p->last_err) != 0)
        log_warn("agent: report push: %s", problem);
    else if (!problem[0] && p->last_err[0])
        log_info("agent: report push ok again");
    snprintf(p->last_err, sizeof p->last_err, "%s", problem);
}

static void report_push_on_response(const struct httpc_response *res, void *ctx)
{
    struct report_push *p = ctx;
    p->pushing = false;
    if (p->stopping)
        return;
    char problem[512] = "";
    if (res->error)
        snprintf(problem, sizeof problem, "%s", res->error);
    else if (res->status != 200)
        snprintf(problem, sizeof problem, "HTTP %ld: %.*s", res->status, REPORT_PUSH_LOG_EXCERPT,
                 res->body);
    else
        log_debug("agent: report pushed");
    report_push_note(p, problem);
}

static void report_push_collected(uv_work_t *w, int status)
{
    struct report_push *p = w->data;
    p->collecting = false;
    char *body = p->body;
    p->body = NULL;
    if (status != 0 || p->stopping || p->pushing) {
        free(body);
        return;
    }
    if (!body) {
        report_push_note(p, "out of memory writing the report");
        return;
    }
    const char *headers[] = {p->config.auth_header, "Content-Type: application/json", NULL};
    struct httpc_request req = {.method = "POST",
                                .url = p->config.url,
                                .headers = headers,
                                .body = body,
                                .body_len = strlen(body),
                                .timeout_ms = p->config.timeout_ms,
                                .ca_file = p->config.ca_file};
    if (httpc_start(p->http, &req, report_push_on_response, p) == 0)
        p->pushing = true;
    else
        report_push_note(p, "out of memory starting the request");
    free(body);
}

static void report_push_on_tick(uv_timer_t *t)
{
    struct report_push *p = t->data;
    if (p->collecting || p->pushing || p->stopping) {
        log_debug("agent: the previous report is still on its way, skipping this tick");
        return;
    }
    if (uv_queue_work(p->loop, &p->work, report_push_collect, report_push_collected) == 0)
        p->collecting = true;
}

int report_push_start(struct report_push *p)
{
    return uv_timer_start(&p->timer, report_push_on_tick, 0, (uint64_t)p->config.interval_ms) == 0
               ? 0
               : -1;
}

bool report_push_stop(struct report_push *p)
{
    if (!p || p->stopping)
        return false;
    p->stopping = true;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, NULL);
    return p->collecting && uv_cancel((uv_req_t *)&p->work) != 0;
}

void report_push_free(struct report_push *p)
{
    if (p)
        free(p->body);
    free(p);
}
