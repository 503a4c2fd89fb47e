/* trace.c — an MTR-style path probe as a state machine on the loop (probe_trace_start,
 * probe.h), over the env's shared ICMP socket. The first round walks the TTLs one by one (a
 * short step apart, or as soon as the last one answered) until the target or an unreachable
 * answers; every later round sends one probe per TTL up to there at once. Routers answer with
 * time exceeded, the target with an echo reply (or, for UDP probes, port unreachable). Rounds
 * start at least TRACE_ROUND_GAP_MS apart, because routers limit their ICMP errors per host
 * (Linux: a burst of 6, then 1 per second). One uv_timer steps every phase. */
#include "probe/probe_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_MAX_ROUNDS 100
#define TRACE_ROUND_GAP_MS 1000
#define TRACE_DISCOVERY_STEP_MS 25

struct trace_probe {
    int ttl;
    int round;
    int seq; /* -1 when none could be taken */
    int64_t sent_ns;
    bool answered;
};

enum trace_phase {
    TRACE_RESOLVING, /* waiting for the target's address */
    TRACE_DISCOVER,  /* round 0: one TTL, then the next after a step or its answer */
    TRACE_COLLECT,   /* the round's probes are out: waiting for answers or the deadline */
    TRACE_GAP,       /* between rounds */
};

struct probe_trace {
    struct icmp_client client; /* first: the socket hands it back */
    struct probe_env *env;
    struct icmp_socket *sock;
    struct probe_resolve *resolving;
    uv_timer_t timer;
    trace_done_cb done;
    void *ctx;
    enum trace_phase phase;
    int round, rounds, ttl; /* ttl: the last one sent in discovery */
    int max_hops;
    int end_ttl; /* where the path ends (target or unreachable), 0 while unknown */
    int64_t timeout_ns, round_start_ns;
    int n_probes, capacity;
    int refused, last_send_err;
    bool finished;
    double sum_ms[TRACE_MAX_HOPS];
    struct trace_result out;
    struct trace_probe probes[]; /* capacity, indexed in sending order */
};

static void trace_fail_args(struct trace_result *out, const char *target, int rounds,
                            const char *why)
{
    memset(out, 0, sizeof *out);
    snprintf(out->target, sizeof out->target, "%s", target ? target : "");
    out->rounds = rounds;
    snprintf(out->error, sizeof out->error, "%s", why);
}

static void send_probe(struct probe_trace *t, int ttl)
{
    if (t->n_probes >= t->capacity)
        return;
    struct trace_probe *p = &t->probes[t->n_probes++];
    *p = (struct trace_probe){.ttl = ttl, .round = t->round};
    p->seq = icmp_seq_take(t->sock, &t->client);
    /* The time before sending: on veth the answer may be queued before sendto returns. */
    p->sent_ns = probe_now_ns();
    int rc = p->seq < 0 ? -1 : icmp_send(t->sock, &t->client, p->seq, ttl);
    t->out.hops[ttl - 1].sent++;
    if (rc != 0) {
        t->refused++;
        t->last_send_err = -rc;
    }
}

static void note_path_end(struct probe_trace *t, int ttl)
{
    if (t->end_ttl == 0 || ttl < t->end_ttl)
        t->end_ttl = ttl;
}

/* How many hops the result shows: to the end of the path, else to one past the last hop that
 * answered, so that where answers stop is visible. */
static int hops_to_show(const struct probe_trace *t)
{
    if (t->end_ttl)
        return t->end_ttl;
    int last_answered = 0;
    for (int ttl = 1; ttl <= t->max_hops; ttl++)
        if (t->out.hops[ttl - 1].received > 0)
            last_answered = ttl;
    return last_answered < t->max_hops ? last_answered + 1 : t->max_hops;
}

static void summarize(struct probe_trace *t)
{
    struct trace_result *out = &t->out;
    out->n_hops = hops_to_show(t);
    for (int i = 0; i < out->n_hops; i++) {
        struct trace_hop *hop = &out->hops[i];
        hop->ttl = i + 1;
        hop->loss_pct = hop->sent ? 100.0 * (hop->sent - hop->received) / hop->sent : 0;
        hop->avg_ms = hop->received ? t->sum_ms[i] / hop->received : 0;
    }
    for (int i = out->n_hops; i < TRACE_MAX_HOPS; i++)
        memset(&out->hops[i], 0, sizeof out->hops[i]);
    if (t->n_probes > 0 && t->refused == t->n_probes && !out->error[0]) {
        char text[128];
        probe_strerror(t->last_send_err, text, sizeof text);
        snprintf(out->error, sizeof out->error, "cannot send: %s", text);
    }
}

static void on_trace_closed(uv_handle_t *h)
{
    struct probe_trace *t = h->data;
    struct probe_env *env = t->env;
    free(t);
    probe_env_release(env);
}

static void trace_end(struct probe_trace *t, bool report)
{
    if (t->finished)
        return;
    t->finished = true;
    probe_resolve_cancel(t->resolving);
    t->resolving = NULL;
    for (int i = 0; t->sock && i < t->n_probes; i++)
        icmp_seq_release(t->sock, t->probes[i].seq);
    uv_timer_stop(&t->timer);
    if (report) {
        if (t->sock)
            summarize(t);
        t->done(&t->out, t->ctx);
    }
    uv_close((uv_handle_t *)&t->timer, on_trace_closed);
}

static void on_trace_timer(uv_timer_t *timer);

static void wait_until(struct probe_trace *t, int64_t until_ns)
{
    int64_t left = until_ns - probe_now_ns();
    uv_timer_start(&t->timer, on_trace_timer, left > 0 ? (uint64_t)((left + 999999) / 1000000) : 0,
                   0);
}

/* Whether some probe of the current round on the path still waits for its answer. */
static bool round_pending(const struct probe_trace *t)
{
    for (int i = 0; i < t->n_probes; i++) {
        const struct trace_probe *p = &t->probes[i];
        if (p->round == t->round && !p->answered && (!t->end_ttl || p->ttl <= t->end_ttl))
            return true;
    }
    return false;
}

static void collect_round(struct probe_trace *t, int64_t deadline_ns)
{
    t->phase = TRACE_COLLECT;
    if (!round_pending(t))
        wait_until(t, 0);
    else
        wait_until(t, deadline_ns);
}

/* Discovery: the next TTL, or the wait for round 0's answers once the path's end is known. */
static void discover_next(struct probe_trace *t)
{
    bool done = t->ttl >= t->max_hops || (t->end_ttl && t->ttl >= t->end_ttl);
    if (done) {
        collect_round(t, t->probes[t->n_probes - 1].sent_ns + t->timeout_ns);
        return;
    }
    send_probe(t, ++t->ttl);
    wait_until(t, probe_now_ns() + (int64_t)TRACE_DISCOVERY_STEP_MS * 1000000);
}

/* A later round: one probe per TTL up to the end of the path, then their answers. */
static void start_round(struct probe_trace *t)
{
    t->round++;
    t->round_start_ns = probe_now_ns();
    int last = t->end_ttl ? t->end_ttl : t->max_hops;
    for (int ttl = 1; ttl <= last; ttl++)
        send_probe(t, ttl);
    collect_round(t, probe_now_ns() + t->timeout_ns);
}

static void round_over(struct probe_trace *t)
{
    if (t->round + 1 >= t->rounds) {
        trace_end(t, true);
        return;
    }
    t->phase = TRACE_GAP;
    wait_until(t, t->round_start_ns + (int64_t)TRACE_ROUND_GAP_MS * 1000000);
}

static void on_trace_timer(uv_timer_t *timer)
{
    struct probe_trace *t = timer->data;
    if (t->phase == TRACE_DISCOVER)
        discover_next(t);
    else if (t->phase == TRACE_COLLECT)
        round_over(t);
    else if (t->phase == TRACE_GAP)
        start_round(t);
}

/* Records an answer against the hop of the probe it answers; late and repeated answers count
 * for nothing. */
static void on_answer(struct icmp_client *c, const struct icmp_answer *a)
{
    struct probe_trace *t = (struct probe_trace *)c;
    struct trace_probe *p = NULL;
    for (int i = t->n_probes - 1; i >= 0 && !p; i--)
        if (t->probes[i].seq == a->seq)
            p = &t->probes[i];
    int64_t rtt_ns = p ? a->at_ns - p->sent_ns : 0;
    if (!p || p->answered || rtt_ns > t->timeout_ns)
        return;
    p->answered = true;
    struct trace_hop *hop = &t->out.hops[p->ttl - 1];
    double ms = probe_ns_to_ms(rtt_ns);
    if (hop->received == 0 || ms < hop->best_ms)
        hop->best_ms = ms;
    if (hop->received == 0 || ms > hop->worst_ms)
        hop->worst_ms = ms;
    hop->received++;
    t->sum_ms[p->ttl - 1] += ms;
    if (!hop->addr[0])
        snprintf(hop->addr, sizeof hop->addr, "%s", a->from);
    if (a->kind == ICMP_ANSWER_TARGET)
        t->out.reached = true;
    if (a->kind == ICMP_ANSWER_TARGET || a->kind == ICMP_ANSWER_UNREACHABLE)
        note_path_end(t, p->ttl);
    if (t->phase == TRACE_DISCOVER && p->round == 0 && p->ttl == t->ttl)
        wait_until(t, 0); /* the hop answered: on to the next one now */
    else if (t->phase == TRACE_COLLECT && !round_pending(t))
        wait_until(t, 0);
}

static void on_resolved(int status, const struct probe_target *target, const char *err, void *ctx)
{
    struct probe_trace *t = ctx;
    t->resolving = NULL;
    if (status != 0) {
        snprintf(t->out.error, sizeof t->out.error, "%s", err);
        trace_end(t, true);
        return;
    }
    t->client.target = *target;
    probe_target_set_port(&t->client.target, 0);
    snprintf(t->out.addr, sizeof t->out.addr, "%s", target->addr);
    t->sock = icmp_socket_get(t->env, target->family, t->out.error, sizeof t->out.error);
    if (!t->sock) {
        trace_end(t, true);
        return;
    }
    t->out.method = icmp_method_id(t->sock);
    t->phase = TRACE_DISCOVER;
    t->round_start_ns = probe_now_ns();
    discover_next(t);
}

struct probe_trace *probe_trace_start(struct probe_env *env, const char *target, int max_hops,
                                      int rounds, int timeout_ms, trace_done_cb done, void *ctx,
                                      struct trace_result *failed)
{
    if (!target || !*target || max_hops < 1 || max_hops > TRACE_MAX_HOPS || rounds < 1 ||
        rounds > TRACE_MAX_ROUNDS || timeout_ms < 1) {
        char why[PROBE_ERROR_MAX];
        snprintf(why, sizeof why, "expected a host, 1..%d hops, 1..%d rounds and a timeout",
                 TRACE_MAX_HOPS, TRACE_MAX_ROUNDS);
        trace_fail_args(failed, target, rounds, why);
        return NULL;
    }
    int capacity = max_hops * rounds;
    struct probe_trace *t = calloc(1, sizeof *t + (size_t)capacity * sizeof t->probes[0]);
    if (!t) {
        trace_fail_args(failed, target, rounds, "out of memory");
        return NULL;
    }
    t->env = env;
    t->client.on_answer = on_answer;
    t->done = done;
    t->ctx = ctx;
    t->rounds = rounds;
    t->max_hops = max_hops;
    t->capacity = capacity;
    t->timeout_ns = (int64_t)timeout_ms * 1000000;
    t->out.rounds = rounds;
    snprintf(t->out.target, sizeof t->out.target, "%s", target);
    t->resolving = probe_resolve(env, target, timeout_ms, on_resolved, t);
    if (!t->resolving) { /* the answer comes from the loop: the timer may be set up after */
        free(t);
        trace_fail_args(failed, target, rounds, "out of memory");
        return NULL;
    }
    uv_timer_init(env->loop, &t->timer);
    t->timer.data = t;
    probe_env_hold(env);
    return t;
}

void probe_trace_cancel(struct probe_trace *t)
{
    if (t)
        trace_end(t, false);
}
