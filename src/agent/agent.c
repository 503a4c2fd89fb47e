/* agent.c — `faultline agent [NAME]`: one libuv loop that POSTs a heartbeat to the server every
 * PING_INTERVAL (never two at once), refreshes the GPU count on a worker thread every 10 minutes,
 * and stops cleanly on SIGTERM/SIGINT. See agent.h. */
#include "agent/agent.h"

#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/cli.h"
#include "base/config.h"
#include "base/httpc.h"
#include "base/label.h"
#include "base/log.h"
#include "collect/collect.h"

#define AGENT_GPU_REFRESH_MS (10 * 60 * 1000)
#define AGENT_EXCERPT_LEN 200

struct agent {
    uv_loop_t loop;
    const struct config *cfg;
    char name[65];
    char base_url[300]; /* http://host:port, brackets around IPv6 literals */
    char url[320];      /* base_url + /api/v1/heartbeat */
    char *auth_header;  /* "Authorization: Bearer <API_KEY>", owned */
    long timeout_ms;    /* min(FAIL_TIMEOUT, PING_INTERVAL) */
    struct httpc *http;
    uv_timer_t ping_timer;
    uv_timer_t gpu_timer;
    uv_signal_t sigterm, sigint;
    bool in_flight; /* a heartbeat is waiting for its answer */
    int failures;   /* heartbeats failed in a row */
    bool stopping;
    /* GPU count. gpu_result and gpu_err are written by the worker thread while gpu_busy, and
     * read on the loop thread once the work is done. */
    uv_work_t gpu_work;
    bool gpu_busy;
    bool gpu_known; /* the first count has arrived; heartbeats start then */
    int gpus;
    struct host_facts gpu_result;
    int gpu_rc;
    char gpu_err[256];
    char gpu_last_err[256]; /* logged once until it changes */
};

static const char *const agent_options[] = {
    "API_KEY", "SERVER_ADDR", "SERVER_PORT", "PING_INTERVAL", "FAIL_TIMEOUT", "SITE", "LOG_LEVEL"};

static const struct cli_spec agent_spec = {
    .command = "agent",
    .usage = "agent [NAME]",
    .description =
        "Reports this machine to the faultline server: every PING_INTERVAL it POSTs a heartbeat\n"
        "(NAME, GPU count, version, uptime) to http://SERVER_ADDR:SERVER_PORT/api/v1/heartbeat.\n"
        "NAME defaults to the host name. FAIL_TIMEOUT is the agent's HTTP timeout. A failed\n"
        "heartbeat is logged and retried at the next tick. SIGTERM or SIGINT stop it.",
    .options = agent_options,
    .option_count = (int)(sizeof agent_options / sizeof agent_options[0]),
    .max_positional = 1,
};

/* ---- heartbeats ------------------------------------------------------------------------------ */

/* The JSON body, malloc'd (caller frees), or NULL if out of memory. */
static char *agent_heartbeat_body(const struct agent *a)
{
    struct host_facts sys = {0};
    char err[256];
    if (collect_system.collect(&sys, err, sizeof err) != 0)
        log_debug("agent: %s", err);
    json_t *o = json_pack("{s:s, s:i, s:s, s:I}", "name", a->name, "gpus", a->gpus, "version",
                          FAULTLINE_VERSION, "uptime_s", (json_int_t)sys.uptime_s);
    if (!o)
        return NULL;
    if (a->cfg->site)
        json_object_set_new(o, "site", json_string(a->cfg->site));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* "HTTP 401: {"error":...}" with control characters flattened and the body cut short. */
static void agent_describe_status(const struct httpc_response *res, char *buf, size_t len)
{
    char excerpt[AGENT_EXCERPT_LEN + 1];
    size_t n = 0;
    for (size_t i = 0; i < res->body_len && n < AGENT_EXCERPT_LEN; i++)
        excerpt[n++] = iscntrl((unsigned char)res->body[i]) ? ' ' : res->body[i];
    while (n > 0 && excerpt[n - 1] == ' ')
        n--;
    excerpt[n] = '\0';
    if (n > 0)
        snprintf(buf, len, "HTTP %ld: %s%s", res->status, excerpt, res->body_len > n ? "..." : "");
    else
        snprintf(buf, len, "HTTP %ld", res->status);
}

static void agent_on_response(const struct httpc_response *res, void *ctx)
{
    struct agent *a = ctx;
    a->in_flight = false;
    if (a->stopping)
        return; /* cancelled by our own shutdown */
    if (!res->error && res->status >= 200 && res->status < 300) {
        log_debug("agent: heartbeat ok (HTTP %ld in %.3f s)", res->status, res->elapsed_s);
        if (a->failures > 0)
            log_info("agent: heartbeat ok again after %d failures", a->failures);
        a->failures = 0;
        return;
    }
    a->failures++;
    char why[512];
    if (res->error)
        snprintf(why, sizeof why, "%s", res->error);
    else
        agent_describe_status(res, why, sizeof why);
    log_warn("agent: heartbeat failed: %s", why);
}

static void agent_send_heartbeat(struct agent *a)
{
    char *body = agent_heartbeat_body(a);
    if (!body) {
        log_warn("agent: heartbeat failed: out of memory building the body");
        return;
    }
    const char *headers[] = {a->auth_header, "Content-Type: application/json", NULL};
    struct httpc_request req = {.method = "POST",
                                .url = a->url,
                                .headers = headers,
                                .body = body,
                                .body_len = strlen(body),
                                .timeout_ms = a->timeout_ms};
    if (httpc_start(a->http, &req, agent_on_response, a) == 0)
        a->in_flight = true;
    else
        log_warn("agent: heartbeat failed: out of memory starting the request");
    free(body);
}

static void agent_on_tick(uv_timer_t *t)
{
    struct agent *a = t->data;
    if (a->in_flight) {
        log_debug("agent: previous heartbeat still in flight, skipping this tick");
        return;
    }
    agent_send_heartbeat(a);
}

/* ---- GPU count, off the loop thread ------------------------------------------------------------
 */

static void agent_gpu_work(uv_work_t *w)
{
    struct agent *a = w->data;
    a->gpu_result = (struct host_facts){.gpu_source = "none"};
    a->gpu_err[0] = '\0';
    a->gpu_rc = collect_gpu.collect(&a->gpu_result, a->gpu_err, sizeof a->gpu_err);
}

/* Logs a GPU-count error once, and again only when it changes. */
static void agent_gpu_note_error(struct agent *a)
{
    if (a->gpu_rc == 0) {
        a->gpu_last_err[0] = '\0';
        return;
    }
    if (strcmp(a->gpu_err, a->gpu_last_err) != 0)
        log_warn("agent: GPU count: %s (reporting %d)", a->gpu_err, a->gpu_result.gpus);
    snprintf(a->gpu_last_err, sizeof a->gpu_last_err, "%s", a->gpu_err);
}

static void agent_gpu_done(uv_work_t *w, int status)
{
    struct agent *a = w->data;
    a->gpu_busy = false;
    if (status != 0 || a->stopping)
        return;
    agent_gpu_note_error(a);
    int n = a->gpu_result.gpus;
    if (a->gpu_known && n != a->gpus)
        log_info("agent: GPU count changed from %d to %d", a->gpus, n);
    a->gpus = n;
    if (!a->gpu_known) {
        a->gpu_known = true;
        log_debug("agent: %d GPUs (%s)", n, a->gpu_result.gpu_source);
        uv_timer_start(&a->ping_timer, agent_on_tick, 0, (uint64_t)a->cfg->ping_interval_ms);
    }
}

static void agent_gpu_refresh(struct agent *a)
{
    if (a->gpu_busy || a->stopping)
        return;
    a->gpu_work.data = a;
    if (uv_queue_work(&a->loop, &a->gpu_work, agent_gpu_work, agent_gpu_done) == 0)
        a->gpu_busy = true;
}

static void agent_on_gpu_timer(uv_timer_t *t)
{
    agent_gpu_refresh(t->data);
}

/* ---- start and stop ------------------------------------------------------------------------- */

static void agent_stop(struct agent *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    uv_timer_stop(&a->ping_timer);
    uv_timer_stop(&a->gpu_timer);
    httpc_close(a->http);
    a->http = NULL;
    uv_close((uv_handle_t *)&a->ping_timer, NULL);
    uv_close((uv_handle_t *)&a->gpu_timer, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    /* A running nvidia-smi cannot be cancelled; the loop waits for it (10 s at most). */
    if (a->gpu_busy && uv_cancel((uv_req_t *)&a->gpu_work) != 0)
        log_info("agent: waiting for the GPU count to finish");
}

static void agent_on_signal(uv_signal_t *s, int signum)
{
    log_info("agent: %s received, stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    agent_stop(s->data);
}

/* Fills name, URLs, auth header and timeout from the settings. Returns 0, or 2 after printing a
 * usage error. */
static int agent_configure(struct agent *a, const struct config *cfg, const char *name)
{
    struct host_facts sys = {0};
    char err[256];
    if (!name) {
        collect_system.collect(&sys, err, sizeof err);
        name = sys.hostname;
    }
    if (!label_valid(name)) {
        snprintf(err, sizeof err, "NAME: expected " LABEL_RULE ", got \"%.100s\"",
                 name);
        return cli_fail(&agent_spec, err);
    }
    if (config_require(cfg, "API_KEY", err, sizeof err) != 0)
        return cli_fail(&agent_spec, err);
    a->cfg = cfg;
    snprintf(a->name, sizeof a->name, "%s", name);
    bool v6 = strchr(cfg->server_addr, ':') != NULL;
    snprintf(a->base_url, sizeof a->base_url, v6 ? "http://[%s]:%d" : "http://%s:%d",
             cfg->server_addr, cfg->server_port);
    snprintf(a->url, sizeof a->url, "%s/api/v1/heartbeat", a->base_url);
    int64_t t =
        cfg->fail_timeout_ms < cfg->ping_interval_ms ? cfg->fail_timeout_ms : cfg->ping_interval_ms;
    a->timeout_ms = (long)t;
    size_t len = strlen("Authorization: Bearer ") + strlen(cfg->api_key) + 1;
    a->auth_header = malloc(len);
    if (!a->auth_header)
        return cli_fail(&agent_spec, "out of memory");
    snprintf(a->auth_header, len, "Authorization: Bearer %s", cfg->api_key);
    return 0;
}

/* Sets up the handles on the (initialised) loop and starts the first GPU count; heartbeats follow
 * it. On -1 the handles are closing and the loop must still be run to release them. */
static int agent_start(struct agent *a)
{
    a->http = httpc_new(&a->loop);
    uv_timer_init(&a->loop, &a->ping_timer);
    uv_timer_init(&a->loop, &a->gpu_timer);
    uv_signal_init(&a->loop, &a->sigterm);
    uv_signal_init(&a->loop, &a->sigint);
    a->ping_timer.data = a->gpu_timer.data = a->sigterm.data = a->sigint.data = a;
    if (!a->http || uv_signal_start(&a->sigterm, agent_on_signal, SIGTERM) != 0 ||
        uv_signal_start(&a->sigint, agent_on_signal, SIGINT) != 0) {
        agent_stop(a);
        return -1;
    }
    uv_timer_start(&a->gpu_timer, agent_on_gpu_timer, AGENT_GPU_REFRESH_MS, AGENT_GPU_REFRESH_MS);
    agent_gpu_refresh(a);
    log_info("agent: %s reporting to %s every %gs", a->name, a->base_url,
             (double)a->cfg->ping_interval_ms / 1000.0);
    return 0;
}

int agent_main(int argc, char **argv)
{
    struct config cfg;
    char *positional[1] = {NULL};
    int npos = 0;
    enum cli_result r = cli_parse(&agent_spec, argc, argv, &cfg, positional, &npos);
    if (r != CLI_RUN) {
        config_free(&cfg);
        return r == CLI_EXIT_OK ? 0 : 2;
    }
    struct agent *a = calloc(1, sizeof *a);
    int rc = a ? agent_configure(a, &cfg, npos > 0 ? positional[0] : NULL) : 1;
    if (rc == 0 && uv_loop_init(&a->loop) != 0) {
        log_error("agent: cannot create the event loop");
        rc = 1;
    } else if (rc == 0) {
        signal(SIGPIPE, SIG_IGN); /* a peer closing mid-write is an error, not a death */
        if (agent_start(a) != 0) {
            log_error("agent: cannot start the event loop");
            rc = 1;
        }
        uv_run(&a->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&a->loop) != 0)
            log_warn("agent: event loop closed with handles still open");
        if (rc == 0)
            log_info("agent: stopped");
    }
    if (a)
        free(a->auth_header);
    free(a);
    config_free(&cfg);
    return rc;
}
