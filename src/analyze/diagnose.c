/* diagnose.c — one worker's outage read from its own metric and diagnostic records: counts,
 * the common path fault, the verdict, and the texts a person reads; see diagnose.h. */
#include "analyze/diagnose.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "model/json.h"

const char *diagnosis_verdict_id(enum diagnosis_verdict v)
{
    static const char *const ids[] = {"unknown",     "local_network", "upstream",
                                      "server_path", "server_side",   "site_uplink"};
    return (unsigned)v < sizeof ids / sizeof ids[0] ? ids[v] : "unknown";
}

const char *diagnosis_verdict_text(enum diagnosis_verdict v)
{
    static const char *const texts[] = {"unknown",        "local network", "upstream ISP",
                                        "path to server", "server side",   "site uplink"};
    return (unsigned)v < sizeof texts / sizeof texts[0] ? texts[v] : "unknown";
}

void diagnosis_format_duration(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms < 0 ? 0 : (ms + 500) / 1000;
    if (s < 60)
        snprintf(buf, len, "%llds", (long long)s);
    else if (s < 600 && s % 60)
        snprintf(buf, len, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 3600)
        snprintf(buf, len, "%lldm", (long long)(s / 60));
    else if (s < 86400 && (s % 3600) / 60)
        snprintf(buf, len, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s < 86400)
        snprintf(buf, len, "%lldh", (long long)(s / 3600));
    else
        snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

/* ---- reading records ---------------------------------------------------------------------- */

enum record_kind { RECORD_OTHER, RECORD_METRIC, RECORD_DIAGNOSTIC };

struct timed_record {
    int64_t time_ms;
    size_t index; /* keeps the given order among records of the same time */
    enum record_kind kind;
    const json_t *json;
};

static enum record_kind record_kind_of(const json_t *r)
{
    const char *kind = json_string_value(json_object_get(r, "kind"));
    if (kind)
        return !strcmp(kind, "metric")       ? RECORD_METRIC
               : !strcmp(kind, "diagnostic") ? RECORD_DIAGNOSTIC
                                             : RECORD_OTHER;
    if (json_is_boolean(json_object_get(r, "ok")))
        return RECORD_METRIC;
    if (json_object_get(r, "trigger") || json_object_get(r, "mtr") ||
        json_object_get(r, "gateway") || json_object_get(r, "external"))
        return RECORD_DIAGNOSTIC;
    return RECORD_OTHER;
}

static int by_time(const void *a, const void *b)
{
    const struct timed_record *x = a, *y = b;
    if (x->time_ms != y->time_ms)
        return (x->time_ms > y->time_ms) - (x->time_ms < y->time_ms);
    return (x->index > y->index) - (x->index < y->index);
}

/* The records that are metrics or diagnostics with a valid time, sorted by time. */
static struct timed_record *timed_records(json_t *const *records, size_t n, size_t *count,
                                          int *skipped)
{
    struct timed_record *out = calloc(n ? n : 1, sizeof *out);
    *count = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *r = records[i];
        const char *time = json_string_value(json_object_get(r, "time"));
        struct timed_record t = {.index = i, .json = r};
        t.kind = json_is_object(r) ? record_kind_of(r) : RECORD_OTHER;
        if (t.kind == RECORD_OTHER || !time || clock_parse_iso(time, &t.time_ms) != 0) {
            (*skipped)++;
            continue;
        }
        out[(*count)++] = t;
    }
    qsort(out, *count, sizeof *out, by_time);
    return out;
}

/* Start and end of the outage, and the metric counts. */
static void find_outage(const struct timed_record *rs, size_t n, struct worker_diagnosis *d)
{
    int64_t last_failure = 0;
    bool unanswered = false; /* a failed heartbeat got no HTTP answer at all */
    for (size_t i = 0; i < n; i++) {
        bool failed = rs[i].kind == RECORD_DIAGNOSTIC;
        if (rs[i].kind == RECORD_METRIC) {
            d->attempts++;
            failed = !json_is_true(json_object_get(rs[i].json, "ok"));
            d->failed_attempts += failed;
            json_int_t status = json_integer_value(json_object_get(rs[i].json, "status"));
            if (failed && status > 0)
                d->http_status = (int)status;
            unanswered |= failed && status <= 0;
        } else {
            d->diagnoses++;
        }
        if (failed) {
            if (!d->start_ms)
                d->start_ms = rs[i].time_ms;
            last_failure = rs[i].time_ms;
        }
    }
    /* An answer that follows unanswered attempts (a 503 while the server writes the UP event
     * of an outage that just ended) says the path works again, not that the server failed. */
    if (unanswered)
        d->http_status = 0;
    d->end_ms = last_failure;
    for (size_t i = 0; i < n && last_failure; i++)
        if (rs[i].kind == RECORD_METRIC && rs[i].time_ms > last_failure &&
            json_is_true(json_object_get(rs[i].json, "ok"))) {
            d->end_ms = rs[i].time_ms;
            break;
        }
}

static void copy_string(char *dst, size_t len, const json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(dst, len, "%s", s ? s : "");
}

/* A probe object that ran: an object without an "error" member that is a non-null string. */
static bool probe_ran(const json_t *p)
{
    return json_is_object(p) && !json_is_string(json_object_get(p, "error"));
}

static void read_gateway(const json_t *g, struct worker_diagnosis *d)
{
    if (!json_is_object(g))
        return;
    if (json_string_value(json_object_get(g, "addr")))
        copy_string(d->gateway_addr, sizeof d->gateway_addr, json_object_get(g, "addr"));
    d->gateway_checks++;
    d->gateway_ok += probe_ran(g) && json_is_true(json_object_get(g, "reachable"));
}

static struct target_reachability *target_slot(struct worker_diagnosis *d, const char *name)
{
    for (size_t i = 0; i < d->n_targets; i++)
        if (!strcmp(d->targets[i].target, name))
            return &d->targets[i];
    if (d->n_targets == DIAGNOSIS_TARGETS_MAX)
        return NULL;
    struct target_reachability *t = &d->targets[d->n_targets++];
    snprintf(t->target, sizeof t->target, "%s", name);
    return t;
}

static void read_external(const json_t *ext, int64_t span_ms, struct worker_diagnosis *d)
{
    size_t i;
    const json_t *e;
    json_array_foreach(ext, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "target"));
        if (!name)
            name = json_string_value(json_object_get(e, "addr"));
        struct target_reachability *t = name ? target_slot(d, name) : NULL;
        if (!t)
            continue;
        t->checks++;
        if (!json_is_true(json_object_get(e, "reachable"))) {
            t->unreachable++;
            t->unreachable_ms += span_ms > 0 ? span_ms : 0;
        }
    }
}

static void read_server(const json_t *s, struct worker_diagnosis *d)
{
    const json_t *loss = json_object_get(s, "loss_pct");
    if (!probe_ran(s) || !json_is_number(loss))
        return;
    copy_string(d->server_addr, sizeof d->server_addr, json_object_get(s, "addr"));
    d->server_loss_pct =
        (d->server_loss_pct * d->server_checks + json_number_value(loss)) / (d->server_checks + 1);
    d->server_checks++;
}

static void read_tcp(const json_t *t, struct worker_diagnosis *d)
{
    if (!json_is_object(t))
        return;
    d->tcp_checks++;
    bool ok = json_is_true(json_object_get(t, "ok"));
    d->tcp_ok += ok;
    d->tcp_refused += !ok && json_is_true(json_object_get(t, "reachable"));
    if (json_is_string(json_object_get(t, "error")))
        copy_string(d->tcp_error, sizeof d->tcp_error, json_object_get(t, "error"));
}

static void read_dns(const json_t *n, struct worker_diagnosis *d)
{
    if (!json_is_object(n))
        return;
    d->dns_checks++;
    d->dns_ok += json_is_true(json_object_get(n, "ok"));
    if (json_is_string(json_object_get(n, "error")))
        copy_string(d->dns_error, sizeof d->dns_error, json_object_get(n, "error"));
}

/* The gateway answered this diagnosis's pings, so hop 1 is healthy whatever its trace replies
 * say: several agents tracing through one gateway at once meet its ICMP rate limit. A fault
 * "at hop 1" then begins after it. */
static void trust_gateway_ping(const json_t *gateway, const struct trace_result *t,
                               struct path_fault *f)
{
    if (!f->found || f->ttl != 1 || !probe_ran(gateway) ||
        !json_is_true(json_object_get(gateway, "reachable")))
        return;
    const char *gw = json_string_value(json_object_get(gateway, "addr"));
    f->last_good_ttl = 1;
    snprintf(f->last_good_addr, sizeof f->last_good_addr, "%s",
             t->hops[0].addr[0] ? t->hops[0].addr : (gw ? gw : ""));
    f->ttl = 2;
    f->addr[0] = '\0';
    f->loss_pct = 100;
    f->segment = PATH_SEGMENT_TRANSIT;
    if (t->n_hops > 1 && t->hops[1].ttl == 2 && t->hops[1].addr[0] && t->hops[1].received > 0) {
        snprintf(f->addr, sizeof f->addr, "%s", t->hops[1].addr);
        f->loss_pct = t->hops[1].loss_pct;
        if (t->addr[0] && !strcmp(t->addr, f->addr))
            f->segment = PATH_SEGMENT_TARGET;
    }
}

/* A path that did not reach its target and comes back to an address it passed (A B C B C ...)
 * is a routing loop: every hop answers, yet nothing gets past the last new hop (C). The fault
 * begins after that hop. Returns whether t loops. */
static bool find_loop(const struct trace_result *t, struct path_fault *f)
{
    if (t->reached)
        return false;
    for (int i = 1; i < t->n_hops; i++) {
        const struct trace_hop *h = &t->hops[i];
        for (int j = 0; h->addr[0] && j < i; j++) {
            if (strcmp(t->hops[j].addr, h->addr) != 0)
                continue;
            *f = (struct path_fault){.found = true,
                                     .ttl = h->ttl,
                                     .last_good_ttl = t->hops[i - 1].ttl,
                                     .loss_pct = 100,
                                     .agreeing = 1,
                                     .segment = PATH_SEGMENT_TRANSIT};
            snprintf(f->addr, sizeof f->addr, "%s", h->addr);
            snprintf(f->last_good_addr, sizeof f->last_good_addr, "%s", t->hops[i - 1].addr);
            return true;
        }
    }
    return false;
}

/* Reads every diagnostic; faults[] gets one entry per readable mtr (d->traces of them), loops[]
 * whether that trace looped. */
/* The diagnosis found the way open: its path reached the server without a fault. Beside
 * diagnoses that found it closed, it ran as the outage ended (the heartbeat that triggered it
 * failed before; its first probes may still have failed). trace is scratch space. */
static bool found_the_way_open(const json_t *r, struct trace_result *trace)
{
    const json_t *mtr = json_object_get(r, "mtr");
    struct path_fault f;
    char err[160];
    return json_is_object(mtr) && trace_result_from_json(mtr, trace, err, sizeof err) == 0 &&
           path_fault_of(trace, &f) == 0 && trace->reached && !f.found;
}

static void read_diagnostics(const struct timed_record *rs, size_t n, struct path_fault *faults,
                             bool *loops, struct worker_diagnosis *d)
{
    /* Diagnoses that found the way open say nothing about the fault: they are left out,
     * unless every diagnosis did. */
    struct trace_result *trace = malloc(sizeof *trace);
    bool *open = calloc(n ? n : 1, sizeof *open);
    bool any_closed = false;
    for (size_t i = 0; i < n && trace && open; i++) {
        if (rs[i].kind != RECORD_DIAGNOSTIC)
            continue;
        open[i] = found_the_way_open(rs[i].json, trace);
        any_closed = any_closed || !open[i];
    }
    for (size_t i = 0; i < n; i++) {
        if (rs[i].kind != RECORD_DIAGNOSTIC || (any_closed && open && open[i]))
            continue;
        const json_t *r = rs[i].json;
        size_t next = i + 1;
        while (next < n && rs[next].kind != RECORD_DIAGNOSTIC)
            next++;
        int64_t until = next < n ? rs[next].time_ms : d->end_ms;
        read_gateway(json_object_get(r, "gateway"), d);
        read_external(json_object_get(r, "external"), until - rs[i].time_ms, d);
        read_server(json_object_get(r, "server"), d);
        read_tcp(json_object_get(r, "tcp"), d);
        read_dns(json_object_get(r, "dns"), d);
        const json_t *mtr = json_object_get(r, "mtr");
        char err[160];
        if (trace && json_is_object(mtr) &&
            trace_result_from_json(mtr, trace, err, sizeof err) == 0 &&
            path_fault_of(trace, &faults[d->traces]) == 0) {
            trust_gateway_ping(json_object_get(r, "gateway"), trace, &faults[d->traces]);
            loops[d->traces] = find_loop(trace, &faults[d->traces]);
            d->traces++;
        }
    }
    free(trace);
    free(open);
}

/* ---- the verdict -------------------------------------------------------------------------- */

static bool gateway_down(const struct worker_diagnosis *d)
{
    return d->gateway_checks > 0 && d->gateway_ok * 2 < d->gateway_checks;
}

/* Most checks of the external targets failed (all of them, when there are several). */
static bool external_down(const struct worker_diagnosis *d)
{
    int checks = 0, unreachable = 0;
    for (size_t i = 0; i < d->n_targets; i++) {
        checks += d->targets[i].checks;
        unreachable += d->targets[i].unreachable;
    }
    return checks > 0 && unreachable * 2 > checks;
}

static bool server_answers(const struct worker_diagnosis *d)
{
    return (d->server_checks > 0 && d->server_loss_pct < 100) || d->tcp_refused > 0;
}

static enum diagnosis_verdict verdict_of(const struct worker_diagnosis *d)
{
    if (!d->start_ms)
        return VERDICT_UNKNOWN;
    const struct path_fault *f = &d->fault;
    if (gateway_down(d) || (f->found && f->segment == PATH_SEGMENT_LOCAL))
        return VERDICT_LOCAL_NETWORK;
    if (d->http_status)
        return VERDICT_SERVER_SIDE;
    if (f->found && f->segment == PATH_SEGMENT_TARGET)
        return VERDICT_SERVER_SIDE;
    if (f->found && external_down(d))
        return f->last_good_ttl == 1 ? VERDICT_SITE_UPLINK : VERDICT_UPSTREAM;
    if (f->found)
        return VERDICT_SERVER_PATH;
    if (external_down(d))
        return VERDICT_UPSTREAM;
    if (server_answers(d) || d->traces > 0)
        return VERDICT_SERVER_SIDE;
    return VERDICT_UNKNOWN;
}

int diagnose_worker(const char *worker, json_t *const *records, size_t n,
                    struct worker_diagnosis *out)
{
    if (!out || (!records && n > 0))
        return -1;
    memset(out, 0, sizeof *out);
    snprintf(out->worker, sizeof out->worker, "%s", worker ? worker : "");
    out->records = (int)n;
    size_t count;
    struct timed_record *rs = timed_records(records, n, &count, &out->skipped);
    struct path_fault *faults = calloc(count ? count : 1, sizeof *faults);
    bool *loops = calloc(count ? count : 1, sizeof *loops);
    if (!rs || !faults || !loops) {
        free(rs);
        free(faults);
        free(loops);
        return -1;
    }
    find_outage(rs, count, out);
    read_diagnostics(rs, count, faults, loops, out);
    path_faults_common(faults, (size_t)out->traces, &out->fault);
    /* the common fault point is a loop when a trace that looped is one of those sharing it */
    for (int i = 0; i < out->traces && out->fault.found && !out->fault_loops; i++)
        out->fault_loops = loops[i] && !strcmp(faults[i].last_good_addr, out->fault.last_good_addr);
    out->verdict = verdict_of(out);
    free(rs);
    free(faults);
    free(loops);
    return 0;
}

/* ---- texts -------------------------------------------------------------------------------- */

/* Appends to a caller's buffer like snprintf: need counts what the whole text takes. */
struct text {
    char *buf;
    size_t len, need;
    int parts; /* parts joined by ", " so far */
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t at = t->need < t->len ? t->need : (t->len ? t->len - 1 : 0);
    int n = vsnprintf(t->buf ? t->buf + at : NULL, t->len > at ? t->len - at : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->need += (size_t)n;
}

/* Starts one part of the evidence: ", " before every part but the first. */
static void text_part(struct text *t)
{
    if (t->parts++)
        text_add(t, ", ");
}

static void gateway_evidence(const struct worker_diagnosis *d, struct text *t)
{
    if (!d->gateway_checks)
        return;
    text_part(t);
    if (d->gateway_ok == d->gateway_checks)
        text_add(t, "gateway OK");
    else if (d->gateway_ok == 0)
        text_add(t, "gateway unreachable");
    else
        text_add(t, "gateway unreachable in %d/%d checks", d->gateway_checks - d->gateway_ok,
                 d->gateway_checks);
}

/* Targets that failed alike are named together: "8.8.8.8 and 1.1.1.1 unreachable for 4m". */
static bool failed_alike(const struct target_reachability *a, const struct target_reachability *b)
{
    char da[32], db[32];
    diagnosis_format_duration(a->unreachable_ms, da, sizeof da);
    diagnosis_format_duration(b->unreachable_ms, db, sizeof db);
    return b->unreachable && a->unreachable == b->unreachable && a->checks == b->checks &&
           !strcmp(da, db);
}

static void unreachable_evidence(const struct worker_diagnosis *d, struct text *t)
{
    bool named[DIAGNOSIS_TARGETS_MAX] = {false};
    for (size_t i = 0; i < d->n_targets; i++) {
        const struct target_reachability *x = &d->targets[i];
        if (!x->unreachable || named[i])
            continue;
        text_part(t);
        text_add(t, "%s", x->target);
        for (size_t j = i + 1; j < d->n_targets; j++)
            if (!named[j] && failed_alike(x, &d->targets[j])) {
                named[j] = true;
                text_add(t, " and %s", d->targets[j].target);
            }
        char took[32];
        diagnosis_format_duration(x->unreachable_ms, took, sizeof took);
        text_add(t, " unreachable");
        if (x->unreachable_ms >= 1000)
            text_add(t, " for %s", took);
        if (x->unreachable < x->checks)
            text_add(t, " (%d/%d checks)", x->unreachable, x->checks);
    }
}

static void external_evidence(const struct worker_diagnosis *d, struct text *t)
{
    unreachable_evidence(d, t);
    int reachable = 0;
    for (size_t i = 0; i < d->n_targets; i++)
        reachable += !d->targets[i].unreachable;
    if (reachable == 0)
        return;
    text_part(t);
    for (size_t i = 0, shown = 0; i < d->n_targets; i++)
        if (!d->targets[i].unreachable)
            text_add(t, "%s%s", shown++ ? " and " : "", d->targets[i].target);
    text_add(t, " reachable");
}

static void path_evidence(const struct worker_diagnosis *d, struct text *t)
{
    const struct path_fault *f = &d->fault;
    if (!f->found) {
        if (d->traces) {
            text_part(t);
            text_add(t, "path to server clean");
        }
        return;
    }
    text_part(t);
    if (d->fault_loops)
        text_add(t, "path loops after hop %d (%s)", f->last_good_ttl, f->last_good_addr);
    else if (f->segment == PATH_SEGMENT_TARGET && f->last_good_ttl)
        text_add(t, "path answers up to hop %d (%s), the server does not", f->last_good_ttl,
                 f->last_good_addr);
    else if (f->last_good_ttl)
        text_add(t, "loss began after hop %d (%s)", f->last_good_ttl, f->last_good_addr);
    else if (f->addr[0])
        text_add(t, "loss from hop 1 (%s, %.0f%%)", f->addr, f->loss_pct);
    else
        text_add(t, "no answer from hop 1");
    if (d->traces > 1 && f->agreeing < d->traces)
        text_add(t, " in %d/%d traces", f->agreeing, d->traces);
}

static void server_evidence(const struct worker_diagnosis *d, struct text *t)
{
    if (d->http_status) {
        text_part(t);
        text_add(t, "server answered HTTP %d", d->http_status);
        return;
    }
    if (d->verdict == VERDICT_LOCAL_NETWORK || d->verdict == VERDICT_UPSTREAM ||
        d->verdict == VERDICT_SITE_UPLINK)
        return;
    if (d->server_checks) {
        text_part(t);
        text_add(t, "server %.0f%% ICMP loss", d->server_loss_pct);
    }
    if (!d->tcp_checks)
        return;
    text_part(t);
    if (d->tcp_ok == d->tcp_checks)
        text_add(t, "TCP OK");
    else if (d->tcp_refused)
        text_add(t, "TCP refused");
    else
        text_add(t, "TCP %s", d->tcp_error[0] ? d->tcp_error : "failed");
}

static void dns_evidence(const struct worker_diagnosis *d, struct text *t)
{
    if (!d->dns_checks || d->dns_ok == d->dns_checks)
        return;
    text_part(t);
    text_add(t, "DNS failed");
    if (d->dns_ok)
        text_add(t, " in %d/%d checks", d->dns_checks - d->dns_ok, d->dns_checks);
    if (d->dns_error[0])
        text_add(t, " (%s)", d->dns_error);
}

static void evidence(const struct worker_diagnosis *d, struct text *t)
{
    if (!d->start_ms) {
        text_add(t, "no failures recorded");
        return;
    }
    if (!d->diagnoses) {
        text_add(t, "%d failed heartbeat%s, no diagnostics", d->failed_attempts,
                 d->failed_attempts == 1 ? "" : "s");
        t->parts = 1;
        server_evidence(d, t);
        return;
    }
    gateway_evidence(d, t);
    external_evidence(d, t);
    path_evidence(d, t);
    server_evidence(d, t);
    dns_evidence(d, t);
    if (!t->parts)
        text_add(t, "%d diagnos%s without results", d->diagnoses, d->diagnoses == 1 ? "is" : "es");
}

static size_t text_end(struct text *t)
{
    if (t->len)
        t->buf[t->need < t->len ? t->need : t->len - 1] = '\0';
    return t->need;
}

size_t worker_diagnosis_evidence(const struct worker_diagnosis *d, char *buf, size_t len)
{
    struct text t = {.buf = buf, .len = len};
    evidence(d, &t);
    return text_end(&t);
}

static void worker_line(const struct worker_diagnosis *d, struct text *t)
{
    if (d->worker[0])
        text_add(t, "%s: ", d->worker);
    t->parts = 0;
    evidence(d, t);
    if (d->start_ms)
        text_add(t, " → %s",
                 d->verdict == VERDICT_UNKNOWN ? "cause unknown"
                                               : diagnosis_verdict_text(d->verdict));
}

size_t worker_diagnosis_text(const struct worker_diagnosis *d, char *buf, size_t len)
{
    struct text t = {.buf = buf, .len = len};
    worker_line(d, &t);
    return text_end(&t);
}

const char *diagnosis_place_id(enum diagnosis_place p)
{
    static const char *const ids[] = {"none", "local_networks", "site_uplink", "fault_point",
                                      "server_uplink"};
    return (unsigned)p < sizeof ids / sizeof ids[0] ? ids[p] : "none";
}

/* Adds addr to the sorted list of distinct gateways (at most DIAGNOSIS_HEADLINE_GATEWAYS). */
static void add_gateway(struct diagnosis_headline *h, const char *addr)
{
    int at = 0;
    while (at < h->n_gateways && strcmp(h->gateways[at], addr) < 0)
        at++;
    if ((at < h->n_gateways && !strcmp(h->gateways[at], addr)) ||
        h->n_gateways == DIAGNOSIS_HEADLINE_GATEWAYS)
        return;
    memmove(h->gateways[at + 1], h->gateways[at], (size_t)(h->n_gateways - at) * PROBE_ADDR_MAX);
    snprintf(h->gateways[at], PROBE_ADDR_MAX, "%s", addr);
    h->n_gateways++;
}

static void set_hop(struct diagnosis_headline *h, const struct path_fault *f)
{
    h->agreeing = f->agreeing;
    h->hop = f->last_good_ttl;
    snprintf(h->addr, sizeof h->addr, "%s", f->last_good_addr);
}

/* The verdict most of the workers whose paths stop after addr share (ties: the earlier). */
static enum diagnosis_verdict verdict_at(const struct worker_diagnosis *ds, size_t n,
                                         const char *addr)
{
    int count[VERDICT_SITE_UPLINK + 1] = {0};
    enum diagnosis_verdict best = VERDICT_UNKNOWN;
    for (size_t i = 0; i < n; i++) {
        if (!ds[i].fault.found || strcmp(ds[i].fault.last_good_addr, addr) ||
            (unsigned)ds[i].verdict > VERDICT_SITE_UPLINK)
            continue;
        if (++count[ds[i].verdict] > count[best])
            best = ds[i].verdict;
    }
    return best;
}

int diagnosis_headline_of(const struct worker_diagnosis *ds, size_t n, bool server_cut_off,
                          struct diagnosis_headline *out)
{
    memset(out, 0, sizeof *out);
    out->agents = (int)n;
    struct path_fault *faults = calloc(n ? n : 1, sizeof *faults);
    if (!faults)
        return -1;
    int local = 0, uplink = 0, outside_ok = 0;
    size_t n_faults = 0;
    for (size_t i = 0; i < n; i++) {
        const struct worker_diagnosis *d = &ds[i];
        out->diagnosed += d->diagnoses > 0;
        local += d->verdict == VERDICT_LOCAL_NETWORK;
        if (d->verdict == VERDICT_SITE_UPLINK) {
            uplink++;
            add_gateway(out, d->fault.last_good_addr);
        }
        outside_ok += d->diagnoses > 0 && d->n_targets > 0 && !external_down(d);
        if (d->fault.found && d->fault.segment != PATH_SEGMENT_LOCAL)
            faults[n_faults++] = d->fault;
        out->any_fault = out->any_fault || d->fault.found;
    }
    struct path_fault common;
    path_faults_common(faults, n_faults, &common);
    free(faults);
    size_t most = n / 2 + 1; /* a strict majority of the agents */
    if (server_cut_off && (size_t)outside_ok >= most && common.found &&
        (size_t)common.agreeing >= most && common.last_good_ttl) {
        out->place = DIAGNOSIS_PLACE_SERVER_UPLINK;
        set_hop(out, &common);
        out->outside_ok = outside_ok;
    } else if ((size_t)local >= most) {
        out->place = DIAGNOSIS_PLACE_LOCAL_NETWORKS;
        out->agreeing = local;
    } else if ((size_t)uplink >= most) {
        out->place = DIAGNOSIS_PLACE_SITE_UPLINK;
        out->agreeing = uplink;
    } else if (common.found && common.agreeing >= 2 && (size_t)common.agreeing >= most &&
               common.last_good_ttl) {
        out->place = DIAGNOSIS_PLACE_FAULT_POINT;
        set_hop(out, &common);
        out->verdict = verdict_at(ds, n, common.last_good_addr);
    }
    return 0;
}

static void headline_text(const struct diagnosis_headline *h, struct text *t)
{
    switch (h->place) {
    case DIAGNOSIS_PLACE_SERVER_UPLINK:
        text_add(t,
                 "the server's own uplink: %d/%d agents reached the outside, their paths to the "
                 "server stop after hop %d (%s), and the server's own canaries failed",
                 h->outside_ok, h->agents, h->hop, h->addr);
        return;
    case DIAGNOSIS_PLACE_LOCAL_NETWORKS:
        text_add(t, "%d/%d agents lost their local network (gateway or hop 1 silent)", h->agreeing,
                 h->agents);
        return;
    case DIAGNOSIS_PLACE_SITE_UPLINK:
        text_add(t, "paths of %d/%d agents stop right after their gateway%s (", h->agreeing,
                 h->agents, h->n_gateways > 1 ? "s" : "");
        for (int i = 0; i < h->n_gateways; i++)
            text_add(t, "%s%s", i ? ", " : "", h->gateways[i]);
        text_add(t, "): %s", h->n_gateways > 1 ? "the sites' uplinks" : "the site's uplink");
        return;
    case DIAGNOSIS_PLACE_FAULT_POINT:
        text_add(t, "paths of %d/%d agents stop after hop %d (%s): ", h->agreeing, h->agents,
                 h->hop, h->addr);
        if (h->verdict != VERDICT_UNKNOWN)
            text_add(t, "%s, ", diagnosis_verdict_text(h->verdict));
        text_add(t, "likely fault point");
        return;
    case DIAGNOSIS_PLACE_NONE:
        break;
    }
    if (h->any_fault)
        text_add(t, "no fault point shared by the paths of %d agents", h->agents);
    else
        text_add(t, "%d agent%s, no path fault recorded", h->agents, h->agents == 1 ? "" : "s");
}

size_t diagnosis_group_text(const struct worker_diagnosis *ds, size_t n,
                            const struct diagnosis_headline *h, char *buf, size_t len)
{
    struct text t = {.buf = buf, .len = len};
    headline_text(h, &t);
    for (size_t i = 0; i < n && i < DIAGNOSIS_GROUP_LINES; i++) {
        text_add(&t, "\n");
        worker_line(&ds[i], &t);
    }
    if (n > DIAGNOSIS_GROUP_LINES)
        text_add(&t, "\n… and %zu more", n - DIAGNOSIS_GROUP_LINES);
    return text_end(&t);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static json_t *external_json(const struct worker_diagnosis *d)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < d->n_targets; i++) {
        const struct target_reachability *x = &d->targets[i];
        if (json_array_append_new(arr, json_pack("{s:s,s:i,s:i,s:f}", "target", x->target, "checks",
                                                 x->checks, "unreachable", x->unreachable,
                                                 "unreachable_s",
                                                 (double)x->unreachable_ms / 1000.0)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *fault_json(const struct path_fault *f)
{
    if (!f->found)
        return json_null();
    return json_pack("{s:i,s:s,s:i,s:s,s:f,s:i,s:s}", "ttl", f->ttl, "addr", f->addr,
                     "last_good_ttl", f->last_good_ttl, "last_good_addr", f->last_good_addr,
                     "loss_pct", f->loss_pct, "agreeing", f->agreeing, "segment",
                     path_segment_name(f->segment));
}

static json_t *probes_json(const struct worker_diagnosis *d)
{
    json_t *gateway = d->gateway_checks
                          ? json_pack("{s:s,s:i,s:i}", "addr", d->gateway_addr, "checks",
                                      d->gateway_checks, "ok", d->gateway_ok)
                          : json_null();
    json_t *server = d->server_checks ? json_pack("{s:s,s:i,s:f}", "addr", d->server_addr, "checks",
                                                  d->server_checks, "loss_pct", d->server_loss_pct)
                                      : json_null();
    json_t *tcp = d->tcp_checks ? json_pack("{s:i,s:i,s:i,s:s?}", "checks", d->tcp_checks, "ok",
                                            d->tcp_ok, "refused", d->tcp_refused, "error",
                                            d->tcp_error[0] ? d->tcp_error : NULL)
                                : json_null();
    json_t *dns = d->dns_checks
                      ? json_pack("{s:i,s:i,s:s?}", "checks", d->dns_checks, "ok", d->dns_ok,
                                  "error", d->dns_error[0] ? d->dns_error : NULL)
                      : json_null();
    return json_pack("{s:o?,s:o?,s:o?,s:o?,s:o?,s:i,s:o?}", "gateway", gateway, "external",
                     external_json(d), "server", server, "tcp", tcp, "dns", dns, "traces",
                     d->traces, "path_fault", fault_json(&d->fault));
}

json_t *worker_diagnosis_json(const struct worker_diagnosis *d)
{
    char evidence_text[1024], line[1200];
    worker_diagnosis_evidence(d, evidence_text, sizeof evidence_text);
    worker_diagnosis_text(d, line, sizeof line);
    json_t *o =
        json_pack("{s:s?,s:o,s:o,s:f,s:i,s:i,s:i,s:s,s:s,s:s,s:s,s:o}", "worker",
                  d->worker[0] ? d->worker : NULL, "start", json_time(d->start_ms), "end",
                  json_time(d->end_ms), "duration_s", (double)(d->end_ms - d->start_ms) / 1000.0,
                  "attempts", d->attempts, "failed_attempts", d->failed_attempts, "diagnoses",
                  d->diagnoses, "verdict", diagnosis_verdict_id(d->verdict), "diagnosis",
                  diagnosis_verdict_text(d->verdict), "evidence", evidence_text, "text", line,
                  "http_status", d->http_status ? json_integer(d->http_status) : json_null());
    json_t *probes = o ? probes_json(d) : NULL;
    if (!probes || json_object_update(o, probes) != 0) {
        json_decref(o);
        json_decref(probes);
        return NULL;
    }
    json_decref(probes);
    return o;
}
