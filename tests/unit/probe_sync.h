/* probe_sync.h — for the probe tests: runs one loop-driven probe to its end on a loop and env
 * of its own (a fresh env, so FAULTLINE_ICMP_METHOD is read anew), with the shapes and return
 * values the blocking probes had: 0 when the probe ran, -1 when it could not (error set). */
#ifndef FAULTLINE_TEST_PROBE_SYNC_H
#define FAULTLINE_TEST_PROBE_SYNC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "probe/probe.h"
#include "probe/probe_type.h"

struct sync_loop {
    uv_loop_t loop;
    struct probe_env *env;
    int pending; /* probes still running: the env closes when the last one ends */
};

static void sync_open(struct sync_loop *l)
{
    char err[PROBE_ERROR_MAX];
    uv_loop_init(&l->loop);
    l->env = probe_env_new(&l->loop, err, sizeof err);
    l->pending = 0;
}

static void sync_one_done(struct sync_loop *l)
{
    if (--l->pending == 0)
        probe_env_close(l->env);
}

/* Runs until every probe started is done, then closes the loop. */
static void sync_run(struct sync_loop *l)
{
    if (l->pending == 0)
        probe_env_close(l->env);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
}

struct sync_ping {
    struct sync_loop *l;
    struct ping_result *out;
};

static void sync_on_ping(const struct ping_result *r, void *ctx)
{
    struct sync_ping *w = ctx;
    *w->out = *r;
    sync_one_done(w->l);
    free(w);
}

/* Starts a ping on l whose result lands in *out (or is *out at once when it cannot start). */
static inline void sync_ping_on(struct sync_loop *l, const char *target, int count, int interval_ms,
                                int timeout_ms, struct ping_result *out)
{
    struct sync_ping *w = malloc(sizeof *w);
    w->l = l;
    w->out = out;
    l->pending++;
    if (!probe_ping_start(l->env, target, count, interval_ms, timeout_ms, sync_on_ping, w, out)) {
        free(w);
        l->pending--;
    }
}

static inline int probe_ping(const char *target, int count, int interval_ms, int timeout_ms,
                             struct ping_result *out)
{
    struct sync_loop l;
    sync_open(&l);
    sync_ping_on(&l, target, count, interval_ms, timeout_ms, out);
    sync_run(&l);
    return out->error[0] ? -1 : 0;
}

struct sync_trace {
    struct sync_loop *l;
    struct trace_result *out;
};

static void sync_on_trace(const struct trace_result *r, void *ctx)
{
    struct sync_trace *w = ctx;
    *w->out = *r;
    sync_one_done(w->l);
}

static inline int probe_trace(const char *target, int max_hops, int rounds, int timeout_ms,
                              struct trace_result *out)
{
    struct sync_loop l;
    sync_open(&l);
    struct sync_trace w = {&l, out};
    l.pending = 1;
    if (!probe_trace_start(l.env, target, max_hops, rounds, timeout_ms, sync_on_trace, &w, out))
        l.pending = 0;
    sync_run(&l);
    return out->error[0] ? -1 : 0;
}

struct sync_dns {
    struct sync_loop *l;
    struct dns_result *out;
};

static void sync_on_dns(const struct dns_result *r, void *ctx)
{
    struct sync_dns *w = ctx;
    *w->out = *r;
    sync_one_done(w->l);
}

static inline int probe_dns(const char *name, int timeout_ms, struct dns_result *out)
{
    struct sync_loop l;
    sync_open(&l);
    struct sync_dns w = {&l, out};
    l.pending = 1;
    int rc = 0;
    if (!probe_dns_start(l.env, name, timeout_ms, sync_on_dns, &w, out)) {
        l.pending = 0;
        rc = -1;
    }
    sync_run(&l);
    return rc;
}

struct sync_tcp {
    struct sync_loop *l;
    struct tcp_result *out;
};

static void sync_on_tcp(const struct tcp_result *r, void *ctx)
{
    struct sync_tcp *w = ctx;
    *w->out = *r;
    sync_one_done(w->l);
}

static inline int probe_tcp(const char *host, int port, int timeout_ms, struct tcp_result *out)
{
    struct sync_loop l;
    sync_open(&l);
    struct sync_tcp w = {&l, out};
    l.pending = 1;
    int rc = 0;
    if (!probe_tcp_start(l.env, host, port, timeout_ms, sync_on_tcp, &w, out)) {
        l.pending = 0;
        rc = -1;
    }
    sync_run(&l);
    return rc;
}

/* One run of a probe type: the result's copy the test reads (strings copied). */
struct sync_result {
    struct probe_result r;
    char *body, *output;
    char answers[32][256];
    size_t n_answers;
    json_t *headers;
    json_t *json;
    bool done;
};

struct sync_type {
    struct sync_loop *l;
    const struct probe_type *type;
    struct sync_result *out;
};

static void sync_on_type(const struct probe_result *r, void *ctx)
{
    struct sync_type *w = ctx;
    struct sync_result *out = w->out;
    out->r = *r;
    out->done = true;
    out->body = r->body ? strndup(r->body, r->body_len) : NULL;
    out->output = r->output ? strdup(r->output) : NULL;
    out->r.body = out->body;
    out->r.output = out->output;
    out->headers = r->headers ? json_deep_copy(r->headers) : NULL;
    out->r.headers = out->headers;
    out->n_answers = r->n_dns_answers < 32 ? r->n_dns_answers : 32;
    for (size_t i = 0; i < out->n_answers; i++)
        snprintf(out->answers[i], sizeof out->answers[i], "%s", r->dns_answers[i]);
    out->r.dns_answers = NULL;
    out->json = probe_result_json(w->type, r);
    sync_one_done(w->l);
}

static inline void sync_result_free(struct sync_result *s)
{
    free(s->body);
    free(s->output);
    json_decref(s->headers);
    json_decref(s->json);
}

/* Parses the JSON text def for type and runs one probe. 0, or -1 with err (parse or start). */
static inline int sync_probe(const char *type_name, const char *def_text, int timeout_ms,
                             struct sync_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const struct probe_type *type = probe_type_find(type_name);
    json_error_t jerr;
    json_t *def = json_loads(def_text, 0, &jerr);
    if (!type || !def) {
        snprintf(err, errlen, "no type %s or bad JSON: %s", type_name, jerr.text);
        json_decref(def);
        return -1;
    }
    const char *field = "";
    char why[PROBE_ERROR_MAX];
    void *options = type->parse(def, &field, why, sizeof why);
    json_decref(def);
    if (!options) {
        snprintf(err, errlen, "%s: %s", field, why);
        return -1;
    }
    struct sync_loop l;
    sync_open(&l);
    struct sync_type w = {&l, type, out};
    l.pending = 1;
    int rc = 0;
    if (!type->start(l.env, options, timeout_ms, sync_on_type, &w, err, errlen)) {
        l.pending = 0;
        rc = -1;
    }
    sync_run(&l);
    type->free_options(options);
    return rc;
}

#endif
