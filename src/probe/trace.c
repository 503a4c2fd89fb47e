/* trace.c — probe_trace: an MTR-style path probe over the ICMP methods of icmp.c. The first
 * round walks the TTLs one by one (a short step apart, or as soon as the last one answered)
 * until the target or an unreachable answers; every later round sends one probe per TTL up to
 * there at once. Routers answer with time exceeded, the target with an echo reply (or, for UDP
 * probes, port unreachable). Rounds start at least TRACE_ROUND_GAP_MS apart, because routers
 * limit their ICMP errors per host (Linux: a burst of 6, then 1 per second). See probe.h. */
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
    int64_t sent_ns;
    bool answered;
};

/* The state of one probe_trace call. */
struct trace_run {
    struct icmp_socket sock;
    struct trace_result *out;
    struct trace_probe *probes; /* indexed by sequence number */
    int n_probes, capacity;
    int max_hops;
    int end_ttl; /* where the path ends (target or unreachable), 0 while unknown */
    int64_t timeout_ns;
    double sum_ms[TRACE_MAX_HOPS];
    int refused, last_send_err;
};

static int send_probe(struct trace_run *run, int ttl, int round)
{
    int seq = run->n_probes;
    if (seq >= run->capacity)
        return -1;
    /* The time before sending: on veth the answer may be queued before sendto returns. */
    run->probes[seq] = (struct trace_probe){.ttl = ttl, .round = round, .sent_ns = probe_now_ns()};
    int rc = icmp_send(&run->sock, seq, ttl);
    run->n_probes++;
    run->out->hops[ttl - 1].sent++;
    if (rc != 0) {
        run->refused++;
        run->last_send_err = -rc;
    }
    return seq;
}

static void note_path_end(struct trace_run *run, int ttl)
{
    if (run->end_ttl == 0 || ttl < run->end_ttl)
        run->end_ttl = ttl;
}

/* Records an answer against the hop of the probe it answers; late and repeated answers count
 * for nothing. */
static void take_answer(struct trace_run *run, const struct icmp_answer *a)
{
    if (a->seq < 0 || a->seq >= run->n_probes)
        return;
    struct trace_probe *p = &run->probes[a->seq];
    int64_t rtt_ns = a->at_ns - p->sent_ns;
    if (p->answered || rtt_ns > run->timeout_ns)
        return;
    p->answered = true;
    struct trace_hop *hop = &run->out->hops[p->ttl - 1];
    double ms = probe_ns_to_ms(rtt_ns);
    if (hop->received == 0 || ms < hop->best_ms)
        hop->best_ms = ms;
    if (hop->received == 0 || ms > hop->worst_ms)
        hop->worst_ms = ms;
    hop->received++;
    run->sum_ms[p->ttl - 1] += ms;
    if (!hop->addr[0])
        snprintf(hop->addr, sizeof hop->addr, "%s", a->from);
    if (a->kind == ICMP_ANSWER_TARGET)
        run->out->reached = true;
    if (a->kind == ICMP_ANSWER_TARGET || a->kind == ICMP_ANSWER_UNREACHABLE)
        note_path_end(run, p->ttl);
}

/* Reads answers until until_ns; stops early when probe stop_seq (if >= 0) was answered, or
 * when every probe of round that is still on the path was. Returns -1 if the socket failed. */
static int collect(struct trace_run *run, int64_t until_ns, int stop_seq, int round)
{
    for (;;) {
        if (stop_seq >= 0 && run->probes[stop_seq].answered)
            return 0;
        bool pending = false;
        for (int i = 0; i < run->n_probes && !pending; i++) {
            const struct trace_probe *p = &run->probes[i];
            pending =
                p->round == round && !p->answered && (!run->end_ttl || p->ttl <= run->end_ttl);
        }
        if (!pending)
            return 0;
        struct icmp_answer a;
        int rc = icmp_wait(&run->sock, until_ns, &a);
        if (rc <= 0)
            return rc;
        take_answer(run, &a);
    }
}

/* Waits (reading what comes) until until_ns. */
static int pause_until(struct trace_run *run, int64_t until_ns)
{
    struct icmp_answer a;
    int rc;
    while ((rc = icmp_wait(&run->sock, until_ns, &a)) == 1)
        take_answer(run, &a);
    return rc;
}

/* Round 0: one TTL after the other until the path ends, then the answers of them all. */
static int discover_path(struct trace_run *run)
{
    int64_t step_ns = (int64_t)TRACE_DISCOVERY_STEP_MS * 1000000;
    int64_t last_sent = probe_now_ns();
    for (int ttl = 1; ttl <= run->max_hops && !(run->end_ttl && ttl > run->end_ttl); ttl++) {
        int seq = send_probe(run, ttl, 0);
        last_sent = run->probes[seq].sent_ns;
        if (collect(run, last_sent + step_ns, seq, 0) < 0)
            return -1;
    }
    return collect(run, last_sent + run->timeout_ns, -1, 0);
}

/* A later round: one probe per TTL up to the end of the path, then their answers. */
static int probe_round(struct trace_run *run, int round)
{
    int last = run->end_ttl ? run->end_ttl : run->max_hops;
    for (int ttl = 1; ttl <= last; ttl++) {
        send_probe(run, ttl, round);
        if (pause_until(run, 0) < 0) /* answers already here: read them while they are fresh */
            return -1;
    }
    return collect(run, probe_now_ns() + run->timeout_ns, -1, round);
}

/* How many hops the result shows: to the end of the path, else to one past the last hop that
 * answered, so that where answers stop is visible. */
static int hops_to_show(const struct trace_run *run)
{
    if (run->end_ttl)
        return run->end_ttl;
    int last_answered = 0;
    for (int ttl = 1; ttl <= run->max_hops; ttl++)
        if (run->out->hops[ttl - 1].received > 0)
            last_answered = ttl;
    return last_answered < run->max_hops ? last_answered + 1 : run->max_hops;
}

static void summarize(struct trace_run *run)
{
    struct trace_result *out = run->out;
    out->n_hops = hops_to_show(run);
    for (int i = 0; i < out->n_hops; i++) {
        struct trace_hop *hop = &out->hops[i];
        hop->ttl = i + 1;
        hop->loss_pct = hop->sent ? 100.0 * (hop->sent - hop->received) / hop->sent : 0;
        hop->avg_ms = hop->received ? run->sum_ms[i] / hop->received : 0;
    }
    for (int i = out->n_hops; i < TRACE_MAX_HOPS; i++)
        memset(&out->hops[i], 0, sizeof out->hops[i]);
}

static int trace_rounds(struct trace_run *run, int rounds)
{
    int64_t round_start = probe_now_ns();
    if (discover_path(run) < 0)
        return -1;
    for (int r = 1; r < rounds; r++) {
        if (pause_until(run, round_start + (int64_t)TRACE_ROUND_GAP_MS * 1000000) < 0)
            return -1;
        round_start = probe_now_ns();
        if (probe_round(run, r) < 0)
            return -1;
    }
    return 0;
}

int probe_trace(const char *target, int max_hops, int rounds, int timeout_ms,
                struct trace_result *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->target, sizeof out->target, "%s", target ? target : "");
    out->rounds = rounds;
    if (!target || !*target || max_hops < 1 || max_hops > TRACE_MAX_HOPS || rounds < 1 ||
        rounds > TRACE_MAX_ROUNDS || timeout_ms < 1) {
        snprintf(out->error, sizeof out->error,
                 "expected a host, 1..%d hops, 1..%d rounds and a timeout", TRACE_MAX_HOPS,
                 TRACE_MAX_ROUNDS);
        return -1;
    }
    struct probe_target t;
    if (probe_resolve(target, timeout_ms, &t, out->error, sizeof out->error) != 0)
        return -1;
    snprintf(out->addr, sizeof out->addr, "%s", t.addr);
    struct trace_run run = {.out = out,
                            .max_hops = max_hops,
                            .capacity = max_hops * rounds,
                            .timeout_ns = (int64_t)timeout_ms * 1000000};
    if (icmp_open(&run.sock, &t, out->error, sizeof out->error) != 0)
        return -1;
    out->method = icmp_method_id(&run.sock);
    run.probes = calloc((size_t)run.capacity, sizeof *run.probes);
    int rc = 0;
    if (!run.probes) {
        snprintf(out->error, sizeof out->error, "out of memory");
        rc = -1;
    } else if (trace_rounds(&run, rounds) < 0) {
        snprintf(out->error, sizeof out->error, "%s: the socket failed",
                 probe_method_name(out->method));
        rc = -1;
    } else if (run.refused == run.n_probes) { /* nothing left the host: say why */
        char text[128];
        probe_strerror(run.last_send_err, text, sizeof text);
        snprintf(out->error, sizeof out->error, "cannot send: %s", text);
        rc = -1;
    }
    summarize(&run);
    free(run.probes);
    icmp_close(&run.sock);
    return rc;
}
