/* diag.c — one diagnosis of the agent's path to its server (probes in the order and with the
 * time bounds described in diag.h), its JSON record, and the runner that keeps it off the
 * loop thread. */
#include "agent/diag.h"

#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "probe/probe_json.h"

#define DIAG_ECHO_SPACING_MS 100
#define DIAG_GATEWAY_ECHOES 3
#define DIAG_GATEWAY_WAIT_MS 500
#define DIAG_TARGET_ECHOES 3
#define DIAG_ECHO_WAIT_MS 1000
#define DIAG_TCP_TIMEOUT_MS 2000
#define DIAG_DNS_TIMEOUT_MS 2000
#define DIAG_TRACE_ROUND_MS 1000

static int diag_clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static bool diag_cancelled(const atomic_bool *cancel)
{
    return cancel && atomic_load(cancel);
}

static bool diag_is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* A ping result for a probe that could not be attempted. */
static void diag_ping_not_run(struct ping_result *r, const char *target, const char *why)
{
    *r = (struct ping_result){0};
    snprintf(r->target, sizeof r->target, "%s", target);
    snprintf(r->error, sizeof r->error, "%s", why);
    r->loss_pct = 100;
}

/* ---- the server side: DNS then TCP, on a second thread ----------------------------------------
 */

struct diag_server_side {
    const struct diag_settings *s;
    struct diag_report *r;
    char addr[PROBE_ADDR_MAX]; /* the server's address, "" when it could not be resolved */
    char why[PROBE_ERROR_MAX];
};

static void *diag_server_side_run(void *arg)
{
    struct diag_server_side *side = arg;
    const struct diag_settings *s = side->s;
    struct diag_report *r = side->r;
    r->server_is_name = !diag_is_ip(s->server_addr);
    if (!r->server_is_name) {
        snprintf(side->addr, sizeof side->addr, "%s", s->server_addr);
    } else {
        probe_dns(s->server_addr, DIAG_DNS_TIMEOUT_MS, &r->dns);
        if (r->dns.ok)
            snprintf(side->addr, sizeof side->addr, "%s", r->dns.addr);
        else
            snprintf(side->why, sizeof side->why, "cannot resolve %.80s: %.60s", s->server_addr,
                     r->dns.error);
    }
    if (side->addr[0]) {
        probe_tcp(side->addr, s->server_port, DIAG_TCP_TIMEOUT_MS, &r->tcp);
    } else {
        r->tcp = (struct tcp_result){.port = s->server_port};
        snprintf(r->tcp.error, sizeof r->tcp.error, "%s", side->why);
    }
    return NULL;
}

/* ---- the ICMP probes, one after another ---------------------------------------------------- */

static void diag_probe_gateway(const struct diag_settings *s, struct diag_report *r, char *gw,
                               size_t gwlen)
{
    gw[0] = '\0';
    if (s->gateway)
        snprintf(gw, gwlen, "%s", s->gateway);
    else if (probe_default_gateway(gw, gwlen) != 0)
        gw[0] = '\0';
    r->has_gateway = gw[0] != '\0';
    if (r->has_gateway)
        probe_ping(gw, DIAG_GATEWAY_ECHOES, DIAG_ECHO_SPACING_MS, DIAG_GATEWAY_WAIT_MS,
                   &r->gateway);
}

static void diag_probe_targets(const struct diag_settings *s, const atomic_bool *cancel,
                               const char *gw, struct diag_report *r)
{
    struct config_target targets[DIAG_MAX_TARGETS];
    int n = config_split_targets(s->targets, targets, DIAG_MAX_TARGETS, r->error, sizeof r->error);
    for (int i = 0; i < n && !diag_cancelled(cancel); i++) {
        struct ping_result *p = &r->external[r->n_external++];
        bool is_gateway = !strcmp(targets[i].host, "gateway");
        if (is_gateway && !gw[0]) {
            diag_ping_not_run(p, "gateway", "no default gateway");
            continue;
        }
        probe_ping(is_gateway ? gw : targets[i].host, DIAG_TARGET_ECHOES, DIAG_ECHO_SPACING_MS,
                   DIAG_ECHO_WAIT_MS, p);
        snprintf(p->target, sizeof p->target, "%.255s", targets[i].host);
    }
}

static void diag_probe_server_path(const struct diag_settings *s, const atomic_bool *cancel,
                                   const struct diag_server_side *side, struct diag_report *r)
{
    if (!side->addr[0]) {
        diag_ping_not_run(&r->server, s->server_addr, side->why);
        snprintf(r->trace.target, sizeof r->trace.target, "%s", s->server_addr);
        snprintf(r->trace.error, sizeof r->trace.error, "%s", side->why);
        return;
    }
    int count = diag_clamp(s->ping_count, 1, DIAG_MAX_PING_COUNT);
    probe_ping(side->addr, count, DIAG_ECHO_SPACING_MS, DIAG_ECHO_WAIT_MS, &r->server);
    snprintf(r->server.target, sizeof r->server.target, "%s", s->server_addr);
    if (diag_cancelled(cancel))
        return;
    int rounds = diag_clamp(s->mtr_rounds, 1, DIAG_MAX_MTR_ROUNDS);
    int hops = diag_clamp(s->mtr_max_hops, 1, TRACE_MAX_HOPS);
    probe_trace(side->addr, hops, rounds, DIAG_TRACE_ROUND_MS, &r->trace);
    snprintf(r->trace.target, sizeof r->trace.target, "%s", s->server_addr);
}

void diag_run(const struct diag_settings *s, const atomic_bool *cancel, struct diag_report *out)
{
    memset(out, 0, sizeof *out);
    struct diag_server_side side = {.s = s, .r = out};
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, diag_server_side_run, &side) == 0;
    if (!threaded)
        diag_server_side_run(&side);
    char gw[PROBE_HOST_MAX];
    diag_probe_gateway(s, out, gw, sizeof gw);
    if (!diag_cancelled(cancel))
        diag_probe_targets(s, cancel, gw, out);
    if (threaded)
        pthread_join(thread, NULL);
    if (!diag_cancelled(cancel))
        diag_probe_server_path(s, cancel, &side, out);
    out->cancelled = diag_cancelled(cancel);
}

const char *diag_report_method(const struct diag_report *r)
{
    enum probe_method m = r->server.method;
    if (m == PROBE_METHOD_NONE)
        m = r->trace.method;
    if (m == PROBE_METHOD_NONE && r->has_gateway)
        m = r->gateway.method;
    for (int i = 0; i < r->n_external && m == PROBE_METHOD_NONE; i++)
        m = r->external[i].method;
    return probe_method_name(m);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static json_t *diag_ms(double ms)
{
    return json_real(round(ms * 100.0) / 100.0);
}

/* The short reachability shape of "gateway" and "external" entries (target NULL: none). */
static json_t *diag_reach_json(const struct ping_result *p, const char *target)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (target)
        json_object_set_new(o, "target", json_string(target));
    json_object_set_new(o, "addr", json_string(p->addr));
    json_object_set_new(o, "reachable", json_boolean(p->received > 0));
    json_object_set_new(o, "sent", json_integer(p->sent));
    json_object_set_new(o, "received", json_integer(p->received));
    json_object_set_new(o, "loss_pct", diag_ms(p->loss_pct));
    json_object_set_new(o, "rtt_ms", p->received > 0 ? diag_ms(p->rtt_avg_ms) : json_null());
    if (p->error[0])
        json_object_set_new(o, "error", json_string(p->error));
    return o;
}

json_t *diag_record_json(const struct diag_report *r, const char *id, const char *time,
                         const char *trigger, int failures, const char *mtr_file)
{
    json_t *external = json_array();
    for (int i = 0; external && i < r->n_external; i++)
        json_array_append_new(external, diag_reach_json(&r->external[i], r->external[i].target));
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "id", id, "time", time,
        "trigger", trigger, "failures", failures, "method", diag_report_method(r), "gateway",
        r->has_gateway ? diag_reach_json(&r->gateway, NULL) : json_null(), "external", external,
        "server", ping_result_json(&r->server), "tcp", tcp_result_json(&r->tcp), "dns",
        r->server_is_name ? dns_result_json(&r->dns) : json_null(), "mtr",
        trace_result_json(&r->trace), "mtr_file", mtr_file);
    if (o && r->error[0])
        json_object_set_new(o, "error", json_sprintf("DIAG_TARGETS: %s", r->error));
    return o;
}

json_t *diag_mtr_file_json(const struct diag_report *r, const char *id, const char *time)
{
    json_t *o = json_pack("{s:s, s:s}", "id", id, "time", time);
    json_t *mtr = trace_result_json(&r->trace);
    if (!o || !mtr || json_object_update(o, mtr) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(mtr);
    return o;
}

/* ---- the runner ------------------------------------------------------------------------------ */

struct diag_runner {
    uv_loop_t *loop;
    struct diag_settings settings;
    uv_work_t work;
    bool busy;
    bool freed; /* diag_runner_free was called while busy: free when the work is done */
    atomic_bool cancel;
    struct diag_report *report;
    diag_done_cb done;
    void *ctx;
};

struct diag_runner *diag_runner_new(uv_loop_t *loop, const struct diag_settings *s)
{
    struct diag_runner *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->report = malloc(sizeof *d->report);
    if (!d->report) {
        free(d);
        return NULL;
    }
    d->loop = loop;
    d->settings = *s;
    atomic_init(&d->cancel, false);
    d->work.data = d;
    return d;
}

static void diag_runner_work(uv_work_t *w)
{
    struct diag_runner *d = w->data;
    diag_run(&d->settings, &d->cancel, d->report);
}

static void diag_runner_release(struct diag_runner *d)
{
    free(d->report);
    free(d);
}

static void diag_runner_after(uv_work_t *w, int status)
{
    struct diag_runner *d = w->data;
    d->busy = false;
    if (d->freed) {
        diag_runner_release(d);
        return;
    }
    if (status == 0 && !d->report->cancelled && d->done)
        d->done(d->report, d->ctx);
}

int diag_runner_start(struct diag_runner *d, diag_done_cb done, void *ctx)
{
    if (d->busy || d->freed)
        return -1;
    d->done = done;
    d->ctx = ctx;
    atomic_store(&d->cancel, false);
    if (uv_queue_work(d->loop, &d->work, diag_runner_work, diag_runner_after) != 0)
        return -1;
    d->busy = true;
    return 0;
}

bool diag_runner_busy(const struct diag_runner *d)
{
    return d->busy;
}

void diag_runner_free(struct diag_runner *d)
{
    if (!d)
        return;
    if (!d->busy) {
        diag_runner_release(d);
        return;
    }
    d->freed = true;
    atomic_store(&d->cancel, true);
    uv_cancel((uv_req_t *)&d->work); /* succeeds only if it has not started */
}
