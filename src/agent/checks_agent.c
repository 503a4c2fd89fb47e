/* checks_agent.c — the checks an agent runs for the server (checks_agent.h): assignments
 * fetched when the heartbeat's checks_version changes, run on the schedule of src/check through
 * the probe table, results batched to the server, and a trace to the target after a failure. */
#include "agent/checks_agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "check/checkdef.h"
#include "check/runner.h"
#include "check/schedule.h"
#include "probe/probe.h"
#include "probe/probe_json.h"

#define PENDING_MAX 1000 /* results held before older ones of the same check are dropped */
#define TRACE_TIMEOUT_MS 1000

struct agent_check {
    struct schedule_entry entry; /* first: the schedule hands back &check->entry */
    struct checks_agent *owner;
    struct checkdef *def;
    struct runner_run *run;
    bool has_last;
    enum check_state last; /* the previous run's state: a change is sent at once */
    struct probe_trace *trace;
    int64_t trace_mono_ms; /* when the last trace started */
};

struct checks_agent {
    struct checks_agent_config cfg; /* strings are the copies below */
    char *base_url, *name, *auth_header, *ca_file;
    char version[64]; /* the assignments held; "" before the first fetch */
    bool fetching, refetch;
    struct probe_env *env; /* made with the first assignments */
    struct schedule *schedule;
    struct agent_check **checks;
    size_t n;
    json_t *pending; /* results not sent yet, oldest first */
    json_t *sent;    /* the batch in flight */
    bool posting, post_now;
    uv_timer_t flush_timer;
    int requests; /* in flight: the agent is freed once they answered and the timer closed */
    bool stopping, timer_closed;
};

static void maybe_free(struct checks_agent *ca)
{
    if (!ca->stopping || ca->requests || !ca->timer_closed)
        return;
    json_decref(ca->pending);
    free(ca->checks);
    free(ca->base_url);
    free(ca->name);
    free(ca->auth_header);
    free(ca->ca_file);
    free(ca);
}

/* ---- results ----------------------------------------------------------------------------------
 */

/* Keeps only the latest entry per check (and per kind: a result, a path). */
static void pending_compact(struct checks_agent *ca)
{
    json_t *kept = json_array();
    json_t *seen = json_object();
    for (size_t i = json_array_size(ca->pending); i-- > 0;) {
        json_t *r = json_array_get(ca->pending, i);
        char key[CHECK_NAME_MAX + 8];
        snprintf(key, sizeof key, "%s/%c", json_string_value(json_object_get(r, "check")),
                 json_object_get(r, "state") ? 'r' : 'p');
        if (json_object_get(seen, key))
            continue;
        json_object_set_new(seen, key, json_true());
        json_array_insert(kept, 0, r);
    }
    json_decref(seen);
    json_decref(ca->pending);
    ca->pending = kept;
}

static void flush(struct checks_agent *ca);

/* A batch the server took: results of checks it does not count this agent a runner of are
 * ignored (it does not know the agent's labels, or the check left its assignments). They are
 * not sent again; the agent says so and fetches its assignments after its next heartbeat. */
static void batch_taken(struct checks_agent *ca, const struct httpc_response *res, size_t sent)
{
    json_t *answer = json_loads(res->body ? res->body : "", 0, NULL);
    json_int_t ignored = json_integer_value(json_object_get(answer, "ignored"));
    json_decref(answer);
    if (ignored <= 0)
        return;
    log_warn("agent: the server ignored %lld of %zu check results (it does not count this agent "
             "as their runner); the assignments are fetched again after the next heartbeat",
             (long long)ignored, sent);
    if (ca->fetching)
        ca->refetch = true;
    else
        ca->version[0] = '\0';
}

static void on_posted(const struct httpc_response *res, void *ctx)
{
    struct checks_agent *ca = ctx;
    ca->requests--;
    ca->posting = false;
    json_t *sent = ca->sent;
    ca->sent = NULL;
    if (ca->stopping) {
        json_decref(sent);
        maybe_free(ca);
        return;
    }
    if (!res->error && res->status == 200) {
        batch_taken(ca, res, json_array_size(sent));
    } else if (!res->error && res->status == 400) {
        log_warn("agent: the server refused a batch of check results, dropped: %.300s", res->body);
    } else if (res->error || res->status != 200) {
        log_warn("agent: check results not taken (%s%ld); kept, the latest per check",
                 res->error ? res->error : "HTTP ", res->error ? 0L : res->status);
        json_array_extend(sent, ca->pending); /* oldest first */
        json_decref(ca->pending);
        ca->pending = json_incref(sent);
        pending_compact(ca);
        ca->post_now = false; /* the timer tries again; no retry loop */
    }
    json_decref(sent);
    if (ca->post_now) {
        ca->post_now = false;
        flush(ca);
    }
}

/* Sends the pending results (up to the whole queue) in one POST. */
static void flush(struct checks_agent *ca)
{
    if (ca->posting) {
        ca->post_now = true;
        return;
    }
    if (json_array_size(ca->pending) == 0)
        return;
    json_t *batch = json_pack("{sO}", "results", ca->pending);
    char *body = json_dumps(batch, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(batch);
    if (!body)
        return;
    char url[600];
    snprintf(url, sizeof url, "%s/api/v1/checks/results/%s", ca->base_url, ca->name);
    const char *headers[] = {ca->auth_header, "Content-Type: application/json", NULL};
    struct httpc_request req = {.method = "POST",
                                .url = url,
                                .headers = headers,
                                .body = body,
                                .body_len = strlen(body),
                                .timeout_ms = ca->cfg.timeout_ms,
                                .ca_file = ca->ca_file};
    if (httpc_start(ca->cfg.http, &req, on_posted, ca) == 0) {
        ca->posting = true;
        ca->requests++;
        ca->sent = ca->pending; /* back into pending when the server does not take it */
        ca->pending = json_array();
    }
    free(body);
}

static void on_flush_timer(uv_timer_t *t)
{
    flush(t->data);
}

static void pending_add(struct checks_agent *ca, json_t *result, bool now)
{
    json_array_append_new(ca->pending, result);
    if (json_array_size(ca->pending) >= PENDING_MAX)
        pending_compact(ca);
    if (now || json_array_size(ca->pending) >= CHECKS_AGENT_BATCH_MAX)
        flush(ca);
}

/* ---- traces after failures --------------------------------------------------------------------
 */

/* The host a failing check's path is traced to: its target's (a URL's host, host:port's host, a
 * name as it is), a dns check's server's; none for exec. */
static bool target_host(const struct checkdef *d, char *out, size_t len)
{
    bool dns = strcmp(d->type->name, "dns") == 0; /* the path that matters is to its server */
    char t[512];
    if (!checkdef_member_text(d, dns ? "server" : "target", t, sizeof t) ||
        strcmp(d->type->name, "exec") == 0)
        return false;
    const char *p = strstr(t, "://");
    p = p ? p + 3 : t;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end)
            return false;
        snprintf(out, len, "%.*s", (int)(end - p - 1), p + 1);
        return true;
    }
    size_t n = strcspn(p, "/:?#");
    if (strchr(p + n, ':') && p[n] == ':' && strchr(p + n + 1, ':')) /* a bare IPv6 address */
        n = strcspn(p, "/?#");
    snprintf(out, len, "%.*s", (int)n, p);
    return n > 0;
}

static void on_trace_done(const struct trace_result *result, void *ctx)
{
    struct agent_check *k = ctx;
    k->trace = NULL;
    json_t *path = trace_result_json(result);
    if (path)
        pending_add(k->owner, json_pack("{ss so}", "check", k->def->name, "path", path), true);
}

static void maybe_trace(struct agent_check *k)
{
    struct checks_agent *ca = k->owner;
    int64_t now = clock_mono_ms();
    char host[PROBE_HOST_MAX];
    if (k->trace || (k->trace_mono_ms && now - k->trace_mono_ms < CHECKS_AGENT_TRACE_EVERY_MS) ||
        !target_host(k->def, host, sizeof host))
        return;
    struct trace_result failed;
    k->trace_mono_ms = now;
    k->trace = probe_trace_start(ca->env, host, ca->cfg.trace_max_hops, ca->cfg.trace_rounds,
                                 TRACE_TIMEOUT_MS, on_trace_done, k, &failed);
    if (!k->trace)
        log_warn("agent: no trace to %s after %s failed: %s", host, k->def->name, failed.error);
}

/* ---- runs -------------------------------------------------------------------------------------
 */

static void on_run_done(const struct check_outcome *o, void *ctx)
{
    struct agent_check *k = ctx;
    k->run = NULL;
    bool changed = !k->has_last || k->last != o->state;
    k->has_last = true;
    k->last = o->state;
    json_t *r = json_pack("{ss ss sf}", "check", k->def->name, "state", check_state_name(o->state),
                          "latency_ms", o->latency_ms);
    if (o->message[0])
        json_object_set_new(r, "message", json_string(o->message));
    pending_add(k->owner, r, changed);
    if (o->state != CHECK_OK)
        maybe_trace(k);
}

static void on_due(struct schedule_entry *e, void *ctx)
{
    struct agent_check *k = (struct agent_check *)e;
    if (k->run)
        return; /* the previous run overran its interval: this slot is skipped */
    k->run = runner_start(k->owner->env, k->def, on_run_done, k);
}

static void check_free(struct agent_check *k)
{
    schedule_remove(k->owner->schedule, &k->entry);
    runner_cancel(k->run);
    if (k->trace)
        probe_trace_cancel(k->trace);
    checkdef_free(k->def);
    free(k);
}

/* ---- assignments ------------------------------------------------------------------------------
 */

static struct agent_check *take_unchanged(struct checks_agent *ca, const struct checkdef *d)
{
    for (size_t i = 0; i < ca->n; i++) {
        struct agent_check *k = ca->checks[i];
        if (k && checkdef_same(k->def, d)) {
            ca->checks[i] = NULL;
            return k;
        }
    }
    return NULL;
}

/* Replaces the running set with the definitions of list; unchanged checks keep their state. */
static void apply_assignments(struct checks_agent *ca, const json_t *list)
{
    size_t n = json_array_size(list), kept_n = 0;
    struct agent_check **next = calloc(n ? n : 1, sizeof *next);
    if (!next)
        return;
    json_t *errors = json_array();
    for (size_t i = 0; i < n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "checks[%zu]", i);
        struct checkdef *d =
            checkdef_parse(json_array_get(list, i), probe_type_find, NULL, NULL, prefix, errors);
        if (!d)
            continue;
        struct agent_check *k = take_unchanged(ca, d);
        if (k) {
            checkdef_free(d);
        } else if ((k = calloc(1, sizeof *k))) {
            *k = (struct agent_check){.owner = ca, .def = d};
            uint64_t every = (uint64_t)d->interval_ms;
            schedule_add(ca->schedule, &k->entry, d->name, every, every < 1000 ? every : 1000);
        } else {
            checkdef_free(d);
            continue;
        }
        next[kept_n++] = k;
    }
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        char text[600];
        checkdef_error_text(e, text, sizeof text);
        log_warn("agent: an assigned check does not read, skipped: %s", text);
    }
    json_decref(errors);
    for (size_t j = 0; j < ca->n; j++)
        if (ca->checks[j])
            check_free(ca->checks[j]);
    free(ca->checks);
    ca->checks = next;
    ca->n = kept_n;
}

static void on_fetched(const struct httpc_response *res, void *ctx)
{
    struct checks_agent *ca = ctx;
    ca->requests--;
    ca->fetching = false;
    if (ca->stopping) {
        maybe_free(ca);
        return;
    }
    json_error_t jerr;
    json_t *doc = !res->error && res->status == 200 && !res->body_cut
                      ? json_loadb(res->body, res->body_len, 0, &jerr)
                      : NULL;
    const json_t *version = json_object_get(doc, "version");
    const json_t *list = json_object_get(doc, "checks");
    if (!json_is_string(version) || !json_is_array(list)) {
        log_warn("agent: cannot fetch its checks (%s%ld); retried after the next heartbeat",
                 res->error ? res->error : "HTTP ", res->error ? 0L : res->status);
        json_decref(doc);
        return;
    }
    apply_assignments(ca, list);
    snprintf(ca->version, sizeof ca->version, "%s", json_string_value(version));
    log_info("agent: runs %zu checks for the server (version %s)", ca->n, ca->version);
    json_decref(doc);
    if (ca->refetch) {
        ca->refetch = false;
        ca->version[0] = '\0'; /* a newer version was announced meanwhile */
        checks_agent_heard(ca, NULL);
    }
}

void checks_agent_heard(struct checks_agent *ca, const char *version)
{
    if (!ca || ca->stopping || (version && ca->version[0] && strcmp(version, ca->version) == 0) ||
        (!version && ca->version[0]))
        return;
    if (ca->fetching) {
        ca->refetch = true;
        return;
    }
    char err[256];
    if (!ca->env && !(ca->env = probe_env_new(ca->cfg.loop, err, sizeof err))) {
        log_warn("agent: cannot run checks: %s", err);
        return;
    }
    char url[600];
    snprintf(url, sizeof url, "%s/api/v1/agent/checks/%s", ca->base_url, ca->name);
    const char *headers[] = {ca->auth_header, NULL};
    struct httpc_request req = {.method = "GET",
                                .url = url,
                                .headers = headers,
                                .timeout_ms = ca->cfg.timeout_ms,
                                .ca_file = ca->ca_file,
                                .max_body = 16 << 20};
    if (httpc_start(ca->cfg.http, &req, on_fetched, ca) == 0) {
        ca->fetching = true;
        ca->requests++;
    }
}

struct checks_agent *checks_agent_new(const struct checks_agent_config *cfg)
{
    struct checks_agent *ca = calloc(1, sizeof *ca);
    if (!ca)
        return NULL;
    ca->cfg = *cfg;
    ca->base_url = strdup(cfg->base_url);
    ca->name = strdup(cfg->name);
    ca->auth_header = strdup(cfg->auth_header);
    ca->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    ca->pending = json_array();
    ca->schedule = schedule_new(cfg->loop, on_due, ca);
    if (!ca->base_url || !ca->name || !ca->auth_header || (cfg->ca_file && !ca->ca_file) ||
        !ca->pending || !ca->schedule) {
        schedule_free(ca->schedule);
        ca->stopping = ca->timer_closed = true;
        maybe_free(ca);
        return NULL;
    }
    uv_timer_init(cfg->loop, &ca->flush_timer);
    ca->flush_timer.data = ca;
    uv_timer_start(&ca->flush_timer, on_flush_timer, CHECKS_AGENT_FLUSH_MS, CHECKS_AGENT_FLUSH_MS);
    return ca;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct checks_agent *ca = h->data;
    ca->timer_closed = true;
    maybe_free(ca);
}

void checks_agent_stop(struct checks_agent *ca)
{
    if (!ca || ca->stopping)
        return;
    ca->stopping = true;
    for (size_t i = 0; i < ca->n; i++)
        check_free(ca->checks[i]);
    ca->n = 0;
    schedule_free(ca->schedule);
    probe_env_close(ca->env);
    uv_close((uv_handle_t *)&ca->flush_timer, on_timer_closed);
}
