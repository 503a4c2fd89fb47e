/* netcheck.c — the report's checks over the network, all on one libuv loop through the probe
 * table (probe/probe_type.h): reachability of REPORT_TARGETS ("tcp"), the certificates of
 * REPORT_TLS ("tcp" with tls: the certificate is read, not verified), the REPORT_PROBES HTTP
 * GETs ("http") and this node's server health (GET / on 127.0.0.1:SERVER_PORT). One row of the
 * section table fills network.targets and internet_reachable, tls, probes and faultline.server;
 * each run has the report's 3 s network limit. */
#include "report/report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "probe/probe_type.h"

#define REPORT_PROBES_MAX 32
#define REPORT_CHECKS_MAX (2 * CONFIG_TARGETS_MAX + REPORT_PROBES_MAX + 1)

enum report_check_kind { CHECK_TARGET, CHECK_TLS, CHECK_PROBE, CHECK_SERVER };

/* One run and what it saw. */
struct report_check {
    enum report_check_kind kind;
    char label[1100]; /* target "host:port", or the probe's URL */
    char name[64];    /* probes: NAME */
    const struct probe_type *type;
    void *options;
    struct probe_run *run;
    bool finished;
    bool connected; /* tcp: the handshake (and TLS) completed */
    int status;     /* http */
    double ms;
    bool has_cert;
    int64_t cert_expires_in_ms;
    int64_t done_wall_ms; /* when the result came: what cert_expires_in_ms counts from */
    char error[PROBE_ERROR_MAX];
};

struct report_checks {
    struct report_job *job;
    struct report_check items[REPORT_CHECKS_MAX];
    size_t count;
    int probes; /* REPORT_PROBES entries seen */
};

static void report_check_done(const struct probe_result *r, void *ctx)
{
    struct report_check *c = ctx;
    c->finished = true;
    c->run = NULL;
    c->connected = r->connected;
    c->status = r->status;
    c->ms = r->response_time_ms;
    c->has_cert = r->has_cert;
    c->cert_expires_in_ms = r->cert_expires_in_ms;
    c->done_wall_ms = clock_wall_ms();
    snprintf(c->error, sizeof c->error, "%s", r->error);
}

/* Adds a run of type on def (a check definition, whose target is label). */
static void report_check_add(struct report_checks *l, enum report_check_kind kind, const char *type,
                             json_t *def, const char *label, const char *name)
{
    if (l->count == REPORT_CHECKS_MAX) {
        json_decref(def);
        return;
    }
    struct report_check *c = &l->items[l->count++];
    *c = (struct report_check){.kind = kind, .type = probe_type_find(type)};
    snprintf(c->label, sizeof c->label, "%s", label);
    snprintf(c->name, sizeof c->name, "%s", name ? name : "");
    const char *field = NULL;
    char err[PROBE_ERROR_MAX] = "";
    c->options = c->type ? c->type->parse(def, &field, err, sizeof err) : NULL;
    if (!c->options) {
        c->finished = true;
        snprintf(c->error, sizeof c->error, "%s", c->type ? err : "no such probe type");
    }
    json_decref(def);
}

/* REPORT_TARGETS and REPORT_TLS entries: "host:port", 443 when the entry has none. */
static void report_tcp_checks(struct report_checks *l, const char *list, const char *setting,
                              enum report_check_kind kind)
{
    struct config_target t[CONFIG_TARGETS_MAX];
    char err[256];
    int n = config_split_targets(list ? list : "", t, CONFIG_TARGETS_MAX, err, sizeof err);
    if (n < 0)
        report_fail_in(l->job, kind == CHECK_TLS ? "tls" : "network", "%s: %s", setting, err);
    for (int i = 0; i < n; i++) {
        char label[300];
        snprintf(label, sizeof label, strchr(t[i].host, ':') ? "[%s]:%d" : "%s:%d", t[i].host,
                 t[i].port ? t[i].port : 443);
        report_check_add(l, kind, "tcp",
                         json_pack("{s:s, s:b}", "target", label, "tls", kind == CHECK_TLS), label,
                         NULL);
    }
}

static void report_probe_of(const char *item, void *arg)
{
    struct report_checks *l = arg;
    const char *eq = strchr(item, '=');
    if (!eq || eq == item || eq - item >= 64 || !config_check_url(eq + 1)) {
        report_fail_in(l->job, "probes",
                       "REPORT_PROBES: expected NAME=URL with an http:// or https:// URL, got "
                       "\"%s\"",
                       item);
        return;
    }
    if (++l->probes > REPORT_PROBES_MAX) {
        report_fail_in(l->job, "probes", "REPORT_PROBES: more than %d probes, \"%s\" left out",
                       REPORT_PROBES_MAX, item);
        return;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(eq - item), item);
    report_check_add(l, CHECK_PROBE, "http", json_pack("{s:s}", "target", eq + 1), eq + 1, name);
}

/* Starts every run on loop, runs the loop until all are done (each ends within its timeout),
 * and lets the env go. */
static void report_checks_run(struct report_checks *l)
{
    uv_loop_t loop;
    char err[PROBE_ERROR_MAX] = "no event loop";
    bool looping = uv_loop_init(&loop) == 0;
    struct probe_env *env = looping ? probe_env_new(&loop, err, sizeof err) : NULL;
    for (size_t i = 0; i < l->count; i++) {
        struct report_check *c = &l->items[i];
        if (c->finished)
            continue;
        c->run = env ? c->type->start(env, c->options, REPORT_NET_TIMEOUT_MS, report_check_done, c,
                                      err, sizeof err)
                     : NULL;
        if (!c->run) {
            c->finished = true;
            snprintf(c->error, sizeof c->error, "%s", err);
        }
    }
    if (env) {
        uv_run(&loop, UV_RUN_DEFAULT);
        probe_env_close(env);
    }
    if (looping) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].options)
            l->items[i].type->free_options(l->items[i].options);
}

/* ---- the members ---------------------------------------------------------------------------- */

static json_t *report_target_json(struct report_job *job, const struct report_check *c)
{
    if (!c->connected)
        report_fail_in(job, "network", "%s: %s", c->label, c->error);
    return json_pack("{s:s, s:b, s:o, s:o}", "target", c->label, "reachable", c->connected,
                     "rtt_ms", c->connected ? report_real2(c->ms) : json_null(), "error",
                     report_text_or_null(c->connected ? NULL : c->error));
}

static json_t *report_tls_json(struct report_job *job, const struct report_check *c)
{
    if (!c->has_cert) {
        const char *why = c->error[0] ? c->error : "the server sent no certificate";
        report_fail_in(job, "tls", "%s: %s", c->label, why);
        return json_pack("{s:s, s:n, s:n, s:s}", "endpoint", c->label, "days_left", "not_after",
                         "error", why);
    }
    char iso[CLOCK_ISO_LEN];
    /* notAfter has whole seconds; the probe gave it relative to its own clock reading. */
    int64_t not_after_ms = (c->done_wall_ms + c->cert_expires_in_ms + 500) / 1000 * 1000;
    clock_format_iso(not_after_ms, iso, sizeof iso);
    return json_pack("{s:s, s:I, s:s, s:n}", "endpoint", c->label, "days_left",
                     (json_int_t)floor((double)c->cert_expires_in_ms / 86400000.0), "not_after",
                     iso, "error");
}

static json_t *report_probe_json(struct report_job *job, const struct report_check *c)
{
    bool ok = c->status >= 200 && c->status < 400;
    char error[PROBE_ERROR_MAX + 16] = "";
    if (c->error[0])
        snprintf(error, sizeof error, "%s", c->error);
    else if (!ok)
        snprintf(error, sizeof error, "HTTP %d", c->status);
    if (error[0])
        report_fail_in(job, "probes", "%s: %s", c->name, error);
    return json_pack("{s:s, s:s, s:b, s:o, s:o, s:o}", "name", c->name, "url", c->label, "ok", ok,
                     "status", c->status ? json_integer(c->status) : json_null(), "ms",
                     report_real2(c->ms), "error", report_text_or_null(error));
}

static void report_netcheck_collect(struct report_job *job)
{
    static __thread struct report_checks l; /* large: kept off the thread's stack */
    memset(&l, 0, sizeof l);
    l.job = job;
    const struct report_settings *s = job->opts->settings;
    report_tcp_checks(&l, s->targets, "REPORT_TARGETS", CHECK_TARGET);
    report_tcp_checks(&l, s->tls, "REPORT_TLS", CHECK_TLS);
    report_list_each(s->probes, report_probe_of, &l);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", job->opts->server_port);
    report_check_add(&l, CHECK_SERVER, "http", json_pack("{s:s}", "target", url), url, NULL);
    report_checks_run(&l);

    json_t *targets = json_array(), *endpoints = json_array(), *probes = json_array();
    bool any = false, healthy = false;
    size_t n_targets = 0;
    for (size_t i = 0; i < l.count; i++) {
        const struct report_check *c = &l.items[i];
        if (c->kind == CHECK_TARGET) {
            any = any || c->connected;
            n_targets++;
            json_array_append_new(targets, report_target_json(job, c));
        } else if (c->kind == CHECK_TLS) {
            json_array_append_new(endpoints, report_tls_json(job, c));
        } else if (c->kind == CHECK_PROBE) {
            json_array_append_new(probes, report_probe_json(job, c));
        } else {
            healthy = c->status == 200;
            if (!healthy && report_procs_find_faultline(job->procs, "server"))
                report_fail_in(job, "faultline", "server: %s",
                               c->error[0] ? c->error : "not HTTP 200 on GET /");
        }
    }
    json_object_set_new(job->data, "network",
                        json_pack("{s:o, s:o}", "targets", targets, "internet_reachable",
                                  n_targets ? json_boolean(any) : json_null()));
    json_object_set_new(job->data, "tls", json_pack("{s:o}", "endpoints", endpoints));
    json_object_set_new(job->data, "probes", probes);
    json_object_set_new(job->data, "faultline",
                        json_pack("{s:{s:b, s:s, s:b}}", "server", "running",
                                  report_procs_find_faultline(job->procs, "server") != NULL, "url",
                                  url, "healthy", healthy));
}

/* Fills several members: its data holds them by name (report.c merges them in). */
const struct report_section report_netcheck = {NULL, report_netcheck_collect};
