/* canary.c — probes the server's canaries on the loop (ping, then a TCP connect from the probe
 * table, on one probe env) and keeps the verdict; see canary.h. A round probes every canary at
 * once; it has a verdict as soon as one canary answers, or once every canary has failed. */
#include "server/canary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "probe/probe.h"
#include "probe/probe_type.h"

#define CANARY_MAX CONFIG_TARGETS_MAX
#define CANARY_TCP_PORT 443
#define CANARY_PINGS 2
#define CANARY_PING_GAP_MS 100
#define CANARY_TIMEOUT_MS 800

/* One canary's probes in a round: ping, then (no answer) a TCP connect. */
struct canary_probe {
    struct canary_round *round;
    struct config_target target; /* as configured */
    char host[PROBE_HOST_MAX];   /* what is probed ("gateway" resolved) */
    struct probe_ping *ping;     /* in flight, or NULL */
    struct probe_tcp_run *tcp;   /* in flight, or NULL */
    bool finished;
    char addr[PROBE_ADDR_MAX];
    bool icmp, tcp_ok, answered;
    double rtt_ms;
    char error[PROBE_ERROR_MAX];
};

struct canary_round {
    struct canaries *owner;
    int64_t started_mono;
    int pending;
    bool answered; /* some canary answered: connected */
    struct canary_probe probes[CANARY_MAX];
    int n;
};

struct canaries {
    uv_loop_t *loop;
    uv_timer_t timer;
    struct probe_env *env;
    canary_change_cb on_change;
    void *ctx;
    struct config_target targets[CANARY_MAX];
    int n_targets;
    bool stopping;
    struct canary_round *round; /* the running round, or NULL */
    bool again;                 /* start another round when the running one ends */
    bool ever_answered;
    bool cut_off;
    bool has_verdict;
    int64_t verdict_round_mono; /* start of the round the verdict comes from */
    int64_t checked_wall;
    json_t *last;          /* results of the last finished round */
    int64_t running_since; /* start of the running round, or -1 */
};

static void probe_finished(struct canary_probe *p);

static void on_tcp(const struct tcp_result *r, void *ctx)
{
    struct canary_probe *p = ctx;
    p->tcp = NULL;
    p->tcp_ok = r->reachable;
    if (r->addr[0])
        snprintf(p->addr, sizeof p->addr, "%s", r->addr);
    if (p->tcp_ok) {
        p->rtt_ms = r->connect_ms;
        p->error[0] = '\0';
    } else if (r->error[0]) {
        snprintf(p->error, sizeof p->error, "%s", r->error);
    }
    probe_finished(p);
}

/* No echo came back: a TCP connect (a refusal counts as an answer). */
static void start_tcp(struct canary_probe *p)
{
    struct tcp_result failed;
    p->tcp = probe_tcp_start(p->round->owner->env, p->host,
                             p->target.port ? p->target.port : CANARY_TCP_PORT, CANARY_TIMEOUT_MS,
                             on_tcp, p, &failed);
    if (!p->tcp) {
        if (!p->error[0])
            snprintf(p->error, sizeof p->error, "%s", failed.error);
        probe_finished(p);
    }
}

static void on_ping(const struct ping_result *r, void *ctx)
{
    struct canary_probe *p = ctx;
    p->ping = NULL;
    snprintf(p->addr, sizeof p->addr, "%.45s", r->addr[0] ? r->addr : p->host);
    p->icmp = r->received > 0;
    p->rtt_ms = r->rtt_avg_ms;
    snprintf(p->error, sizeof p->error, "%s", r->error);
    if (p->icmp)
        probe_finished(p);
    else
        start_tcp(p);
}

static void start_probe(struct canary_probe *p)
{
    snprintf(p->host, sizeof p->host, "%s", p->target.host);
    if (!strcmp(p->host, "gateway") && probe_default_gateway(p->host, sizeof p->host) != 0) {
        snprintf(p->error, sizeof p->error, "no default gateway");
        probe_finished(p);
        return;
    }
    struct ping_result failed;
    p->ping = probe_ping_start(p->round->owner->env, p->host, CANARY_PINGS, CANARY_PING_GAP_MS,
                               CANARY_TIMEOUT_MS, on_ping, p, &failed);
    if (!p->ping) {
        snprintf(p->error, sizeof p->error, "%s", failed.error);
        start_tcp(p);
    }
}

/* Stops what a probe has in flight (no callbacks). */
static void probe_stop(struct canary_probe *p)
{
    probe_ping_cancel(p->ping);
    p->ping = NULL;
    probe_tcp_cancel(p->tcp);
    p->tcp = NULL;
}

static json_t *probe_json(const struct canary_probe *p)
{
    return json_pack("{s:s, s:s, s:b, s:b, s:b, s:o, s:s?}", "target", p->target.host, "addr",
                     p->addr, "icmp", p->icmp, "tcp", p->tcp_ok, "answered", p->answered, "rtt_ms",
                     p->answered ? json_real(p->rtt_ms) : json_null(), "error",
                     p->error[0] ? p->error : NULL);
}

static void set_verdict(struct canaries *c, struct canary_round *r, bool cut_off)
{
    bool was_cut = c->has_verdict && c->cut_off;
    c->has_verdict = true;
    c->cut_off = cut_off;
    c->verdict_round_mono = r->started_mono;
    c->checked_wall = clock_wall_ms();
    if (!cut_off && !c->ever_answered) {
        c->ever_answered = true;
        log_info("server: canaries answer; DOWN detection now checks the server's own link first");
    }
    if (c->ever_answered && cut_off != was_cut && c->on_change && !c->stopping) {
        json_t *ev = canaries_json(c);
        c->on_change(cut_off, ev, c->ctx);
        json_decref(ev);
    }
}

static void start_round(struct canaries *c);

static void round_free(struct canary_round *r)
{
    for (int i = 0; i < r->n; i++)
        probe_stop(&r->probes[i]);
    free(r);
}

static void round_finished(struct canaries *c, struct canary_round *r)
{
    json_t *list = json_array();
    for (int i = 0; i < r->n; i++)
        json_array_append_new(list, probe_json(&r->probes[i]));
    json_decref(c->last);
    c->last = list;
    if (!r->answered)
        set_verdict(c, r, true);
    c->round = NULL;
    c->running_since = -1;
    round_free(r);
    if (c->again) {
        c->again = false;
        start_round(c);
    }
}

static void probe_finished(struct canary_probe *p)
{
    struct canary_round *r = p->round;
    p->finished = true;
    p->answered = p->icmp || p->tcp_ok;
    struct canaries *c = r->owner;
    if (p->answered && !r->answered) {
        r->answered = true;
        set_verdict(c, r, false);
    }
    if (--r->pending == 0)
        round_finished(c, r);
}

static void start_round(struct canaries *c)
{
    struct canary_round *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->owner = c;
    r->started_mono = clock_mono_ms();
    r->n = c->n_targets;
    for (int i = 0; i < r->n; i++) {
        r->probes[i].round = r;
        r->probes[i].target = c->targets[i];
    }
    c->round = r;
    c->running_since = r->started_mono;
    r->pending = r->n;
    for (int i = 0; i < r->n && c->round == r; i++)
        start_probe(&r->probes[i]);
}

static void on_timer(uv_timer_t *t)
{
    struct canaries *c = t->data;
    if (c->running_since < 0)
        start_round(c);
}

struct canaries *canaries_start(uv_loop_t *loop, const struct rca_settings *settings,
                                canary_change_cb on_change, void *ctx, char *err, size_t errlen)
{
    struct canaries *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->n_targets = config_split_targets(settings->canaries, c->targets, CANARY_MAX, err, errlen);
    if (c->n_targets < 0) {
        free(c);
        return NULL;
    }
    c->env = probe_env_new(loop, err, errlen);
    if (!c->env) {
        free(c);
        return NULL;
    }
    c->loop = loop;
    c->on_change = on_change;
    c->ctx = ctx;
    c->running_since = -1;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    if (c->n_targets > 0)
        uv_timer_start(&c->timer, on_timer, 0, (uint64_t)settings->canary_interval_ms);
    return c;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct canaries *c = h->data;
    json_decref(c->last);
    free(c);
}

void canaries_stop(struct canaries *c)
{
    if (!c)
        return;
    c->stopping = true;
    if (c->round)
        round_free(c->round);
    c->round = NULL;
    probe_env_close(c->env);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

bool canaries_guarding(const struct canaries *c)
{
    return c && c->n_targets > 0 && c->ever_answered;
}

bool canaries_cut_off(const struct canaries *c)
{
    return canaries_guarding(c) && c->has_verdict && c->cut_off;
}

bool canaries_verdict_since(struct canaries *c, int64_t since_mono)
{
    if (c->has_verdict && c->verdict_round_mono >= since_mono)
        return true;
    if (c->running_since < 0)
        start_round(c);
    else if (c->running_since < since_mono)
        c->again = true;
    return false;
}

json_t *canaries_json(const struct canaries *c)
{
    char checked[CLOCK_ISO_LEN];
    if (c->checked_wall > 0)
        clock_format_iso(c->checked_wall, checked, sizeof checked);
    return json_pack("{s:b, s:b, s:s?, s:o}", "guarding", canaries_guarding(c), "cut_off",
                     canaries_cut_off(c), "checked_at", c->checked_wall > 0 ? checked : NULL,
                     "canaries", c->last ? json_incref(c->last) : json_array());
}
