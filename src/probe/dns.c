/* dns.c — the `dns` probe type: one query of `record` (A, AAAA, CNAME, MX, TXT, NS, SOA or PTR;
 * default A) for the target name, to `server` (host:port) or the system's resolvers, on a c-ares
 * channel on the loop (resolve.c); fills [DNS_RCODE] and [DNS_ANSWER] (the records of that type,
 * as text). Also probe_dns_start (probe.h): how long the system's resolvers take to resolve a
 * name, for diagnostics. */
#include "probe/probe_internal.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DNS_ANSWERS_MAX 32

struct dns_options {
    char name[PROBE_HOST_MAX];
    char server[PROBE_HOST_MAX + 8]; /* "" for the system's resolvers */
    int qtype;
};

static const struct {
    const char *name;
    int qtype;
} record_types[] = {
    {"A", ns_t_a},     {"AAAA", ns_t_aaaa}, {"CNAME", ns_t_cname}, {"MX", ns_t_mx},
    {"TXT", ns_t_txt}, {"NS", ns_t_ns},     {"SOA", ns_t_soa},     {"PTR", ns_t_ptr},
};
#define RECORD_TYPES (sizeof record_types / sizeof record_types[0])

/* ---- options -------------------------------------------------------------------------------- */

static void *dns_parse(const json_t *def, const char **field, char *err, size_t errlen)
{
    const char *target = probe_opt_target(def, field, err, errlen);
    if (!target)
        return NULL;
    if (strlen(target) >= PROBE_HOST_MAX) {
        snprintf(err, errlen, "a name of at most %d characters", PROBE_HOST_MAX - 1);
        return NULL;
    }
    const char *server = NULL, *record = "A";
    if (probe_opt_string(def, "server", &server, field, err, errlen) < 0 ||
        probe_opt_string(def, "record", &record, field, err, errlen) < 0)
        return NULL;
    struct dns_options *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(o->name, sizeof o->name, "%s", target);
    o->qtype = -1;
    for (size_t i = 0; i < RECORD_TYPES; i++)
        if (!strcasecmp(record, record_types[i].name))
            o->qtype = record_types[i].qtype;
    if (o->qtype < 0) {
        *field = "record";
        snprintf(err, errlen, "expected A, AAAA, CNAME, MX, TXT, NS, SOA or PTR, got \"%.40s\"",
                 record);
        free(o);
        return NULL;
    }
    if (server) {
        char host[PROBE_HOST_MAX];
        int port;
        if (probe_opt_host_port(server, host, sizeof host, &port, err, errlen) != 0) {
            *field = "server";
            free(o);
            return NULL;
        }
        snprintf(o->server, sizeof o->server, "%s", server);
    }
    return o;
}

static void dns_free_options(void *options)
{
    free(options);
}

/* ---- reading the answer --------------------------------------------------------------------- */

static const char *rcode_name(int rcode)
{
    static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                        "NXDOMAIN", "NOTIMP",  "REFUSED"};
    return rcode >= 0 && rcode < 6 ? names[rcode] : NULL;
}

/* The rcode c-ares reported when there is no packet to read it from. */
static const char *status_rcode(int status)
{
    switch (status) {
    case ARES_SUCCESS:
    case ARES_ENODATA:
        return "NOERROR";
    case ARES_ENOTFOUND:
        return "NXDOMAIN";
    case ARES_ESERVFAIL:
        return "SERVFAIL";
    case ARES_EREFUSED:
        return "REFUSED";
    case ARES_ENOTIMP:
        return "NOTIMP";
    case ARES_EFORMERR:
        return "FORMERR";
    default:
        return "";
    }
}

/* ---- the run --------------------------------------------------------------------------------- */

/* What c-ares calls back into; the run lets go of it (run = NULL) when it ends first. */
struct dns_token {
    struct dns_run *run;
};

struct dns_run {
    struct probe_env *env;
    const struct dns_options *o;
    probe_done_cb done;
    void *ctx;
    uv_timer_t timer;
    struct dns_token *token;
    bool answered, finished;
    int status, timeout_ms;
    unsigned char *abuf;
    int alen;
    int64_t start_ns, end_ns;
    char error[PROBE_ERROR_MAX];
};

static void on_dns_closed(uv_handle_t *h)
{
    struct dns_run *r = h->data;
    struct probe_env *env = r->env;
    free(r->abuf);
    free(r);
    probe_env_release(env);
}

static void dns_end(struct dns_run *r)
{
    r->finished = true;
    if (r->token)
        r->token->run = NULL;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_dns_closed);
}

static void dns_report(struct dns_run *r)
{
    struct probe_result res = {.ran = true, .timed_out = !r->answered};
    char *texts[DNS_ANSWERS_MAX];
    int n = 0;
    res.response_time_ms = probe_ns_to_ms((r->answered ? r->end_ns : probe_now_ns()) - r->start_ns);
    if (!r->answered) {
        snprintf(res.error, sizeof res.error, "timeout after %d ms", r->timeout_ms);
    } else {
        const char *rcode = r->abuf && r->alen >= NS_HFIXEDSZ ? rcode_name(r->abuf[3] & 0x0f)
                                                              : status_rcode(r->status);
        snprintf(res.dns_rcode, sizeof res.dns_rcode, "%s", rcode ? rcode : "");
        if (!rcode && r->abuf)
            snprintf(res.dns_rcode, sizeof res.dns_rcode, "RCODE%d", r->abuf[3] & 0x0f);
        n = r->abuf ? probe_dns_parse_answers(r->abuf, r->alen, r->o->qtype, texts, DNS_ANSWERS_MAX)
                    : 0;
        if (n < 0) {
            snprintf(res.error, sizeof res.error, "malformed answer");
            n = 0;
        } else if (!r->abuf && !res.dns_rcode[0]) {
            snprintf(res.error, sizeof res.error, "%s", ares_strerror(r->status));
        }
        res.connected = res.dns_rcode[0] != '\0';
    }
    res.dns_answers = (const char *const *)texts;
    res.n_dns_answers = (size_t)n;
    r->done(&res, r->ctx);
    for (int i = 0; i < n; i++)
        free(texts[i]);
}

static void on_dns_timer(uv_timer_t *t)
{
    struct dns_run *r = t->data;
    if (r->error[0]) { /* could not query at all */
        struct probe_result res = {.ran = false};
        snprintf(res.error, sizeof res.error, "%s", r->error);
        r->done(&res, r->ctx);
    } else {
        dns_report(r);
    }
    dns_end(r);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dns_token *token = arg;
    struct dns_run *r = token->run;
    free(token);
    if (!r)
        return;
    r->token = NULL;
    r->answered = true;
    r->status = status;
    r->end_ns = probe_now_ns();
    if (abuf && alen > 0 && (r->abuf = malloc((size_t)alen))) {
        memcpy(r->abuf, abuf, (size_t)alen);
        r->alen = alen;
    }
    uv_timer_start(&r->timer, on_dns_timer, 0, 0);
}

static struct probe_run *dns_start(struct probe_env *env, const void *options, int timeout_ms,
                                   probe_done_cb done, void *ctx, char *err, size_t errlen)
{
    const struct dns_options *o = options;
    struct probe_ares *channel =
        probe_ares_channel(env, o->server[0] ? o->server : NULL, err, errlen);
    struct dns_run *r = channel ? calloc(1, sizeof *r) : NULL;
    if (r)
        r->token = malloc(sizeof *r->token);
    if (!r || !r->token) {
        if (channel)
            snprintf(err, errlen, "out of memory");
        if (r)
            free(r);
        return NULL;
    }
    r->env = env;
    r->o = o;
    r->done = done;
    r->ctx = ctx;
    r->timeout_ms = timeout_ms;
    r->start_ns = probe_now_ns();
    r->token->run = r;
    uv_timer_init(env->loop, &r->timer);
    r->timer.data = r;
    probe_env_hold(env);
    uv_timer_start(&r->timer, on_dns_timer, (uint64_t)timeout_ms, 0);
    ares_query(probe_ares_handle(channel), o->name, ns_c_in, o->qtype, on_answer, r->token);
    probe_ares_kick(channel);
    return (struct probe_run *)r;
}

static void dns_cancel(struct probe_run *run)
{
    dns_end((struct dns_run *)run);
}

static const char *const dns_members[] = {"target", "server", "record", NULL};

const struct probe_type probe_type_dns = {
    .name = "dns",
    .placeholders = PH_BIT(PH_DNS_RCODE) | PH_BIT(PH_DNS_ANSWER) | PH_BIT(PH_RESPONSE_TIME) |
                    PH_BIT(PH_CONNECTED),
    .default_condition = "[DNS_RCODE] == \"NOERROR\"",
    .parse = dns_parse,
    .free_options = dns_free_options,
    .start = dns_start,
    .cancel = dns_cancel,
    .members = dns_members,
};

/* ---- probe_dns_start: resolution time, for diagnostics -------------------------------------- */

struct probe_dns_run {
    struct probe_resolve *resolving;
    dns_done_cb done;
    void *ctx;
    int64_t start_ns;
    struct dns_result result;
};

static void on_resolved(int status, const struct probe_target *t, const char *err, void *ctx)
{
    struct probe_dns_run *d = ctx;
    d->result.ms = probe_ns_to_ms(probe_now_ns() - d->start_ns);
    d->result.ok = status == 0;
    if (status == 0)
        snprintf(d->result.addr, sizeof d->result.addr, "%s", t->addr);
    else
        snprintf(d->result.error, sizeof d->result.error, "%s", err);
    if (status == 0 && probe_parse_literal(d->result.name, &(struct probe_target){0}))
        d->result.ms = 0; /* nothing was resolved */
    d->done(&d->result, d->ctx);
    free(d);
}

struct probe_dns_run *probe_dns_start(struct probe_env *env, const char *name, int timeout_ms,
                                      dns_done_cb done, void *ctx, struct dns_result *failed)
{
    memset(failed, 0, sizeof *failed);
    snprintf(failed->name, sizeof failed->name, "%s", name ? name : "");
    if (!name || !*name || timeout_ms < 1) {
        snprintf(failed->error, sizeof failed->error, "expected a name to resolve and a timeout");
        return NULL;
    }
    struct probe_dns_run *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(failed->error, sizeof failed->error, "out of memory");
        return NULL;
    }
    d->done = done;
    d->ctx = ctx;
    d->result = *failed;
    d->start_ns = probe_now_ns();
    d->resolving = probe_resolve(env, name, timeout_ms, on_resolved, d);
    if (!d->resolving) {
        free(d);
        snprintf(failed->error, sizeof failed->error, "out of memory");
        return NULL;
    }
    return d;
}

void probe_dns_cancel(struct probe_dns_run *d)
{
    if (!d)
        return;
    probe_resolve_cancel(d->resolving);
    free(d);
}
