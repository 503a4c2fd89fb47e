/* canary.c — probes the server's canaries on the thread pool and keeps the verdict; see
 * canary.h. A round is one uv_work_t per canary; the round has a verdict as soon as one canary
 * answers, or once every canary has failed. */
#include "server/canary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "probe/probe.h"

#define CANARY_MAX CONFIG_TARGETS_MAX
#define CANARY_TCP_PORT 443
#define CANARY_PINGS 2
#define CANARY_PING_GAP_MS 100
#define CANARY_TIMEOUT_MS 800

struct canary_probe {
    uv_work_t work;
    struct canary_round *round;
    struct config_target target; /* as configured */
    /* Written by the pool thread, read on the loop once the work is done. */
    char addr[PROBE_ADDR_MAX];
    bool icmp, tcp, answered;
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
    canary_change_cb on_change;
    void *ctx;
    struct config_target targets[CANARY_MAX];
    int n_targets;
    bool stopping, timer_closed;
    int rounds_in_flight;
    bool again; /* start another round when the running one ends */
    bool ever_answered;
    bool cut_off;
    bool has_verdict;
    int64_t verdict_round_mono; /* start of the round the verdict comes from */
    int64_t checked_wall;
    json_t *last;          /* results of the last finished round */
    int64_t running_since; /* start of the running round, or -1 */
};

static void probe_one(uv_work_t *work)
{
    struct canary_probe *p = work->data;
    const char *host = p->target.host;
    char gw[PROBE_ADDR_MAX];
    if (!strcmp(host, "gateway")) {
        if (probe_default_gateway(gw, sizeof gw) != 0) {
            snprintf(p->error, sizeof p->error, "no default gateway");
            return;
        }
        host = gw;
    }
    struct ping_result ping;
    probe_ping(host, CANARY_PINGS, CANARY_PING_GAP_MS, CANARY_TIMEOUT_MS, &ping);
    snprintf(p->addr, sizeof p->addr, "%.45s", ping.addr[0] ? ping.addr : host);
    p->icmp = ping.received > 0;
    p->rtt_ms = ping.rtt_avg_ms;
    if (!p->icmp) {
        struct tcp_result tcp;
        probe_tcp(host, p->target.port ? p->target.port : CANARY_TCP_PORT, CANARY_TIMEOUT_MS, &tcp);
        p->tcp = tcp.reachable;
        if (p->tcp)
            p->rtt_ms = tcp.connect_ms;
        snprintf(p->error, sizeof p->error, "%s",
                 p->tcp ? "" : (tcp.error[0] ? tcp.error : ping.error));
    }
    p->answered = p->icmp || p->tcp;
}

static json_t *probe_json(const struct canary_probe *p)
{
    return json_pack("{s:s, s:s, s:b, s:b, s:b, s:o, s:s?}", "target", p->target.host, "addr",
                     p->addr, "icmp", p->icmp, "tcp", p->tcp, "answered", p->answered, "rtt_ms",
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

static void round_finished(struct canaries *c, struct canary_round *r)
{
    json_t *list = json_array();
    for (int i = 0; i < r->n; i++)
        json_array_append_new(list, probe_json(&r->probes[i]));
    json_decref(c->last);
    c->last = list;
    if (!r->answered)
        set_verdict(c, r, true);
    c->rounds_in_flight--;
    c->running_since = -1;
    free(r);
    if (c->stopping) {
        if (c->timer_closed && c->rounds_in_flight == 0) {
            json_decref(c->last);
            free(c);
        }
        return;
    }
    if (c->again) {
        c->again = false;
        start_round(c);
    }
}

static void after_probe(uv_work_t *work, int status)
{
    struct canary_probe *p = work->data;
    struct canary_round *r = p->round;
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
        struct canary_probe *p = &r->probes[i];
        p->round = r;
        p->target = c->targets[i];
        p->work.data = p;
    }
    c->rounds_in_flight++;
    c->running_since = r->started_mono;
    r->pending = r->n;
    for (int i = 0; i < r->n; i++)
        uv_queue_work(c->loop, &r->probes[i].work, probe_one, after_probe);
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
    c->timer_closed = true;
    if (c->rounds_in_flight == 0) {
        json_decref(c->last);
        free(c);
    }
}

void canaries_stop(struct canaries *c)
{
    if (!c)
        return;
    c->stopping = true;
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
