/* ping.c — ICMP echo as a state machine on the loop (probe_ping_start, probe.h): resolve the
 * target, then send count echoes interval_ms apart on the env's shared socket, and take the
 * answers the socket hands over by sequence number. A uv_timer paces the sends and ends the run
 * timeout_ms after the last one (or at its deadline, when one is set); the run also ends as soon
 * as every echo is answered or was refused by the kernel. */
#include "probe/probe_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PING_MAX_COUNT 10000
/* A host sends ICMP errors to one peer in a burst of 6, then 1 per second (Linux icmp_ratelimit),
 * so UDP probes answered by port unreachable go at most 1 per second after the first few: faster
 * ones would be counted as lost although the target is fine. */
#define UDP_FAST_PROBES 5
#define UDP_SLOW_INTERVAL_MS 1000

struct ping_echo {
    int seq; /* -1 once released */
    int64_t sent_ns;
    double rtt_ms;
    bool answered, refused;
};

struct probe_ping {
    struct icmp_client client; /* first: the socket hands it back */
    struct probe_env *env;
    struct icmp_socket *sock;
    struct probe_resolve *resolving;
    uv_timer_t timer;
    ping_done_cb done;
    void *ctx;
    int count, interval_ms, timeout_ms;
    int sent, answered, refused, send_err;
    int64_t next_send_ns;
    int64_t deadline_ns; /* 0: none */
    bool finished;
    struct ping_result result;
    struct ping_echo echoes[]; /* count */
};

static void ping_fail_args(struct ping_result *out, const char *target, const char *why)
{
    memset(out, 0, sizeof *out);
    snprintf(out->target, sizeof out->target, "%s", target ? target : "");
    snprintf(out->error, sizeof out->error, "%s", why);
}

/* The wait before echo number n (n >= 1). */
static int64_t gap_ns(const struct probe_ping *p, int n)
{
    int interval_ms = p->interval_ms;
    if (icmp_method_id(p->sock) == PROBE_METHOD_UDP && n >= UDP_FAST_PROBES &&
        interval_ms < UDP_SLOW_INTERVAL_MS)
        interval_ms = UDP_SLOW_INTERVAL_MS;
    return (int64_t)interval_ms * 1000000;
}

static void summarize(struct probe_ping *p)
{
    struct ping_result *out = &p->result;
    double sum = 0;
    out->received = 0;
    for (int i = 0; i < p->sent; i++) {
        const struct ping_echo *e = &p->echoes[i];
        if (!e->answered)
            continue;
        if (out->received == 0 || e->rtt_ms < out->rtt_min_ms)
            out->rtt_min_ms = e->rtt_ms;
        if (out->received == 0 || e->rtt_ms > out->rtt_max_ms)
            out->rtt_max_ms = e->rtt_ms;
        sum += e->rtt_ms;
        out->received++;
    }
    out->sent = p->sent;
    out->rtt_avg_ms = out->received ? sum / out->received : 0;
    out->loss_pct = p->sent ? 100.0 * (p->sent - out->received) / p->sent : 0;
    if (p->sent > 0 && p->refused == p->sent) { /* nothing left the host: say why */
        char text[128];
        probe_strerror(p->send_err, text, sizeof text);
        snprintf(out->error, sizeof out->error, "cannot send: %s", text);
    }
}

static void release_seqs(struct probe_ping *p)
{
    for (int i = 0; i < p->sent; i++) {
        if (p->echoes[i].seq >= 0)
            icmp_seq_release(p->sock, p->echoes[i].seq);
        p->echoes[i].seq = -1;
    }
}

static void on_ping_closed(uv_handle_t *h)
{
    struct probe_ping *p = h->data;
    struct probe_env *env = p->env;
    free(p);
    probe_env_release(env);
}

/* Ends the run: done (unless cancelled), then the timer closes and frees it. */
static void ping_end(struct probe_ping *p, bool report)
{
    if (p->finished)
        return;
    p->finished = true;
    probe_resolve_cancel(p->resolving);
    p->resolving = NULL;
    if (p->sock)
        release_seqs(p);
    uv_timer_stop(&p->timer);
    if (report) {
        if (p->sock)
            summarize(p);
        p->done(&p->result, p->ctx);
    }
    uv_close((uv_handle_t *)&p->timer, on_ping_closed);
}

static bool all_settled(const struct probe_ping *p)
{
    return p->sent == p->count && p->answered + p->refused == p->count;
}

static void send_echo(struct probe_ping *p)
{
    struct ping_echo *e = &p->echoes[p->sent];
    e->seq = icmp_seq_take(p->sock, &p->client);
    /* The time before sending: on veth the answer may be queued before sendto returns. */
    e->sent_ns = probe_now_ns();
    int rc = e->seq < 0 ? -ENOBUFS : icmp_send(p->sock, &p->client, e->seq, 0);
    if (rc != 0) {
        e->refused = true;
        p->refused++;
        p->send_err = -rc;
    }
    p->sent++;
}

/* Sends what is due and sets the timer for the next send or for the end of the wait. */
static void on_ping_timer(uv_timer_t *t)
{
    struct probe_ping *p = t->data;
    int64_t now = probe_now_ns();
    if (p->sent < p->count && now >= p->next_send_ns) {
        send_echo(p);
        p->next_send_ns = now + gap_ns(p, p->sent);
    }
    if (all_settled(p)) {
        ping_end(p, true);
        return;
    }
    int64_t until = p->sent < p->count
                        ? p->next_send_ns
                        : p->echoes[p->count - 1].sent_ns + (int64_t)p->timeout_ms * 1000000;
    if (p->deadline_ns && (now >= p->deadline_ns || until > p->deadline_ns)) {
        if (now >= p->deadline_ns) {
            ping_end(p, true);
            return;
        }
        until = p->deadline_ns;
    } else if (p->sent == p->count && now >= until) {
        ping_end(p, true);
        return;
    }
    uv_timer_start(&p->timer, on_ping_timer, (uint64_t)((until - now + 999999) / 1000000), 0);
}

static void on_answer(struct icmp_client *c, const struct icmp_answer *a)
{
    struct probe_ping *p = (struct probe_ping *)c;
    if (a->kind != ICMP_ANSWER_TARGET)
        return;
    for (int i = 0; i < p->sent; i++) {
        struct ping_echo *e = &p->echoes[i];
        if (e->seq != a->seq || e->answered || e->refused)
            continue;
        int64_t rtt = a->at_ns - e->sent_ns;
        if (rtt > (int64_t)p->timeout_ms * 1000000)
            return;
        e->answered = true;
        e->rtt_ms = probe_ns_to_ms(rtt);
        p->answered++;
        if (all_settled(p))
            ping_end(p, true);
        return;
    }
}

static void on_resolved(int status, const struct probe_target *t, const char *err, void *ctx)
{
    struct probe_ping *p = ctx;
    p->resolving = NULL;
    if (status != 0) {
        snprintf(p->result.error, sizeof p->result.error, "%s", err);
        ping_end(p, true);
        return;
    }
    p->client.target = *t;
    probe_target_set_port(&p->client.target, 0);
    snprintf(p->result.addr, sizeof p->result.addr, "%s", t->addr);
    p->sock = icmp_socket_get(p->env, t->family, p->result.error, sizeof p->result.error);
    if (!p->sock) {
        ping_end(p, true);
        return;
    }
    p->result.method = icmp_method_id(p->sock);
    p->next_send_ns = probe_now_ns();
    on_ping_timer(&p->timer);
}

struct probe_ping *probe_ping_start(struct probe_env *env, const char *target, int count,
                                    int interval_ms, int timeout_ms, ping_done_cb done, void *ctx,
                                    struct ping_result *failed)
{
    if (!target || !*target) {
        ping_fail_args(failed, target, "expected a host to ping");
        return NULL;
    }
    if (count < 1 || count > PING_MAX_COUNT || interval_ms < 0 || timeout_ms < 1) {
        ping_fail_args(failed, target, "expected 1..10000 probes, interval >= 0, timeout >= 1 ms");
        return NULL;
    }
    struct probe_ping *p = calloc(1, sizeof *p + (size_t)count * sizeof p->echoes[0]);
    if (!p) {
        ping_fail_args(failed, target, "out of memory");
        return NULL;
    }
    p->env = env;
    p->client.on_answer = on_answer;
    p->done = done;
    p->ctx = ctx;
    p->count = count;
    p->interval_ms = interval_ms;
    p->timeout_ms = timeout_ms;
    snprintf(p->result.target, sizeof p->result.target, "%s", target);
    uv_timer_init(env->loop, &p->timer);
    p->timer.data = p;
    probe_env_hold(env);
    p->resolving = probe_resolve(env, target, timeout_ms, on_resolved, p);
    if (!p->resolving) {
        snprintf(p->result.error, sizeof p->result.error, "out of memory");
        uv_timer_start(&p->timer, on_ping_timer, 0, 0); /* ends at once: count 0 sent */
        p->count = 0;
    }
    return p;
}

void probe_ping_set_deadline(struct probe_ping *p, int within_ms)
{
    p->deadline_ns = probe_now_ns() + (int64_t)within_ms * 1000000;
}

void probe_ping_cancel(struct probe_ping *p)
{
    if (p)
        ping_end(p, false);
}
