/* diag.c — one diagnosis of the agent's path to its server (probes in the order and with the
 * time bounds described in diag.h) as a state machine on the agent's loop, over a probe env of
 * its own, and its JSON record. */
#include "agent/diag.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "probe/probe_json.h"
#include "probe/probe_type.h"

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

/* The steps of the ICMP side, one after another (the server side, DNS then TCP, runs beside
 * the gateway and target pings). */
enum diag_step {
    DIAG_GATEWAY, /* pinging the gateway */
    DIAG_TARGETS, /* pinging DIAG_TARGETS, next_target the next one */
    DIAG_JOIN,    /* waiting for the server side's address */
    DIAG_SERVER,  /* pinging the server */
    DIAG_TRACE,   /* the path to the server */
    DIAG_DONE,
};

struct diag_runner {
    uv_loop_t *loop;
    struct diag_settings settings;
    struct probe_env *env;
    bool busy;
    diag_done_cb done;
    void *ctx;
    struct diag_report *report;
    enum diag_step step;
    /* In flight (NULL when not). */
    struct probe_ping *ping;
    struct probe_trace *trace;
    struct probe_dns_run *dns;
    struct probe_tcp_run *tcp;
    /* The gateway and targets. */
    char gw[PROBE_HOST_MAX];
    struct config_target targets[DIAG_MAX_TARGETS];
    int n_targets, next_target;
    /* The server side. */
    bool side_done;
    char server_addr[PROBE_ADDR_MAX]; /* "" when it could not be resolved */
    char why[PROBE_ERROR_MAX];
};

static void diag_next(struct diag_runner *d);

/* ---- the server side: DNS then TCP ------------------------------------------------------------
 */

static void side_finished(struct diag_runner *d)
{
    d->side_done = true;
    if (d->step == DIAG_JOIN)
        diag_next(d);
}

static void on_tcp(const struct tcp_result *r, void *ctx)
{
    struct diag_runner *d = ctx;
    d->tcp = NULL;
    d->report->tcp = *r;
    side_finished(d);
}

static void side_tcp(struct diag_runner *d)
{
    struct tcp_result *t = &d->report->tcp;
    if (!d->server_addr[0]) {
        *t = (struct tcp_result){.port = d->settings.server_port};
        snprintf(t->error, sizeof t->error, "%s", d->why);
        side_finished(d);
        return;
    }
    d->tcp = probe_tcp_start(d->env, d->server_addr, d->settings.server_port, DIAG_TCP_TIMEOUT_MS,
                             on_tcp, d, t);
    if (!d->tcp)
        side_finished(d);
}

static void on_dns(const struct dns_result *r, void *ctx)
{
    struct diag_runner *d = ctx;
    d->dns = NULL;
    d->report->dns = *r;
    if (r->ok)
        snprintf(d->server_addr, sizeof d->server_addr, "%s", r->addr);
    else
        snprintf(d->why, sizeof d->why, "cannot resolve %.80s: %.60s", d->settings.server_addr,
                 r->error);
    side_tcp(d);
}

static void side_start(struct diag_runner *d)
{
    const char *server = d->settings.server_addr;
    d->report->server_is_name = !diag_is_ip(server);
    if (!d->report->server_is_name) {
        snprintf(d->server_addr, sizeof d->server_addr, "%s", server);
        side_tcp(d);
        return;
    }
    d->dns = probe_dns_start(d->env, server, DIAG_DNS_TIMEOUT_MS, on_dns, d, &d->report->dns);
    if (!d->dns) {
        snprintf(d->why, sizeof d->why, "cannot resolve %.80s: %.60s", server,
                 d->report->dns.error);
        side_tcp(d);
    }
}

/* ---- the ICMP side: one probe after another --------------------------------------------------
 */

static void on_ping(const struct ping_result *r, void *ctx)
{
    struct diag_runner *d = ctx;
    struct diag_report *rep = d->report;
    d->ping = NULL;
    if (d->step == DIAG_GATEWAY) {
        rep->gateway = *r;
    } else if (d->step == DIAG_TARGETS) {
        struct ping_result *p = &rep->external[rep->n_external++];
        *p = *r;
        snprintf(p->target, sizeof p->target, "%.255s", d->targets[d->next_target++].host);
    } else {
        rep->server = *r;
        snprintf(rep->server.target, sizeof rep->server.target, "%s", d->settings.server_addr);
    }
    diag_next(d);
}

static void on_trace(const struct trace_result *r, void *ctx)
{
    struct diag_runner *d = ctx;
    d->trace = NULL;
    d->report->trace = *r;
    snprintf(d->report->trace.target, sizeof d->report->trace.target, "%s",
             d->settings.server_addr);
    diag_next(d);
}

/* Starts the next target's ping; false when none is left. */
static bool ping_next_target(struct diag_runner *d)
{
    struct diag_report *rep = d->report;
    while (d->next_target < d->n_targets) {
        const char *host = d->targets[d->next_target].host;
        bool is_gateway = !strcmp(host, "gateway");
        if (is_gateway && !d->gw[0]) {
            diag_ping_not_run(&rep->external[rep->n_external++], "gateway", "no default gateway");
            d->next_target++;
            continue;
        }
        struct ping_result failed;
        d->ping = probe_ping_start(d->env, is_gateway ? d->gw : host, DIAG_TARGET_ECHOES,
                                   DIAG_ECHO_SPACING_MS, DIAG_ECHO_WAIT_MS, on_ping, d, &failed);
        if (d->ping)
            return true;
        rep->external[rep->n_external] = failed;
        snprintf(rep->external[rep->n_external++].target, sizeof failed.target, "%.255s", host);
        d->next_target++;
    }
    return false;
}

static void finish(struct diag_runner *d)
{
    d->step = DIAG_DONE;
    d->busy = false;
    if (d->done)
        d->done(d->report, d->ctx);
}

/* Moves the ICMP side on: from the step that just ended to the next one that starts. */
static void diag_next(struct diag_runner *d)
{
    const struct diag_settings *s = &d->settings;
    struct diag_report *rep = d->report;
    switch (d->step) {
    case DIAG_GATEWAY:
        d->step = DIAG_TARGETS;
        if (ping_next_target(d))
            return;
        /* fall through */
    case DIAG_TARGETS:
        if (d->step == DIAG_TARGETS && ping_next_target(d))
            return;
        d->step = DIAG_JOIN;
        if (!d->side_done)
            return;
        /* fall through */
    case DIAG_JOIN:
        d->step = DIAG_SERVER;
        if (!d->server_addr[0]) {
            diag_ping_not_run(&rep->server, s->server_addr, d->why);
            snprintf(rep->trace.target, sizeof rep->trace.target, "%s", s->server_addr);
            snprintf(rep->trace.error, sizeof rep->trace.error, "%s", d->why);
            finish(d);
            return;
        }
        d->ping = probe_ping_start(
            d->env, d->server_addr, diag_clamp(s->ping_count, 1, DIAG_MAX_PING_COUNT),
            DIAG_ECHO_SPACING_MS, DIAG_ECHO_WAIT_MS, on_ping, d, &rep->server);
        if (d->ping)
            return;
        snprintf(rep->server.target, sizeof rep->server.target, "%s", s->server_addr);
        /* fall through */
    case DIAG_SERVER:
        d->step = DIAG_TRACE;
        d->trace = probe_trace_start(d->env, d->server_addr,
                                     diag_clamp(s->mtr_max_hops, 1, TRACE_MAX_HOPS),
                                     diag_clamp(s->mtr_rounds, 1, DIAG_MAX_MTR_ROUNDS),
                                     DIAG_TRACE_ROUND_MS, on_trace, d, &rep->trace);
        if (d->trace)
            return;
        snprintf(rep->trace.target, sizeof rep->trace.target, "%s", s->server_addr);
        /* fall through */
    case DIAG_TRACE:
    case DIAG_DONE:
        finish(d);
        return;
    }
}

/* Starts everything: the server side, and the gateway ping (or the targets). */
static void diag_begin(struct diag_runner *d)
{
    const struct diag_settings *s = &d->settings;
    struct diag_report *rep = d->report;
    memset(rep, 0, sizeof *rep);
    d->side_done = false;
    d->server_addr[0] = d->why[0] = '\0';
    d->next_target = 0;
    d->n_targets = config_split_targets(s->targets, d->targets, DIAG_MAX_TARGETS, rep->error,
                                        sizeof rep->error);
    if (d->n_targets < 0)
        d->n_targets = 0;
    d->gw[0] = '\0';
    if (s->gateway)
        snprintf(d->gw, sizeof d->gw, "%s", s->gateway);
    else if (probe_default_gateway(d->gw, sizeof d->gw) != 0)
        d->gw[0] = '\0';
    rep->has_gateway = d->gw[0] != '\0';
    d->step = DIAG_GATEWAY;
    side_start(d);
    if (rep->has_gateway) {
        d->ping = probe_ping_start(d->env, d->gw, DIAG_GATEWAY_ECHOES, DIAG_ECHO_SPACING_MS,
                                   DIAG_GATEWAY_WAIT_MS, on_ping, d, &rep->gateway);
        if (d->ping)
            return;
    }
    diag_next(d);
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

struct diag_runner *diag_runner_new(uv_loop_t *loop, const struct diag_settings *s)
{
    struct diag_runner *d = calloc(1, sizeof *d);
    char err[PROBE_ERROR_MAX];
    if (!d)
        return NULL;
    d->report = malloc(sizeof *d->report);
    d->env = d->report ? probe_env_new(loop, err, sizeof err) : NULL;
    if (!d->env) {
        free(d->report);
        free(d);
        return NULL;
    }
    d->loop = loop;
    d->settings = *s;
    return d;
}

int diag_runner_start(struct diag_runner *d, diag_done_cb done, void *ctx)
{
    if (d->busy)
        return -1;
    d->done = done;
    d->ctx = ctx;
    d->busy = true;
    diag_begin(d);
    return 0;
}

bool diag_runner_busy(const struct diag_runner *d)
{
    return d->busy;
}

/* Stops what is in flight (no callbacks). */
static void diag_stop(struct diag_runner *d)
{
    probe_ping_cancel(d->ping);
    probe_trace_cancel(d->trace);
    probe_dns_cancel(d->dns);
    probe_tcp_cancel(d->tcp);
    d->ping = NULL;
    d->trace = NULL;
    d->dns = NULL;
    d->tcp = NULL;
}

void diag_runner_free(struct diag_runner *d)
{
    if (!d)
        return;
    diag_stop(d);
    probe_env_close(d->env);
    free(d->report);
    free(d);
}
