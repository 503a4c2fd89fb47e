/* agent.c — `faultline agent [NAME]`: one libuv loop that POSTs a heartbeat to the server every
 * PING_INTERVAL (never two at once), pushes the host's metrics every METRICS_INTERVAL (push.h,
 * whose walk of the collectors also gives the heartbeat its GPU count and uptime), records every attempt in DATA_DIR/logs (logs.h), diagnoses failures on a worker thread
 * (diag.h), keeps what it recorded during an outage in the backlog (backlog.h) and uploads it
 * once heartbeats succeed again, and stops cleanly on SIGTERM/SIGINT. See agent.h. */
#include "agent/agent.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/backlog.h"
#include "agent/checks_agent.h"
#include "agent/diag.h"
#include "agent/logs.h"
#include "agent/push.h"
#include "agent/report_push.h"
#include "agent/settings.h"
#include "base/cli.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/err.h"
#include "base/httpc.h"
#include "base/label.h"
#include "base/log.h"
#include "collect/collect.h"

#define AGENT_EXCERPT_LEN 200
#define AGENT_BACKLOG_RETRY_MIN_MS 1000
#define AGENT_BACKLOG_RETRY_MAX_MS (60 * 1000)
#define AGENT_BACKLOG_TIMEOUT_MS (30 * 1000)
#define AGENT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

struct agent {
    uv_loop_t loop;
    const struct config *cfg;
    const struct agent_settings *settings;
    char name[65];
    char server_host[256]; /* SERVER_ADDR without its scheme and brackets */
    char base_url[300];    /* http(s)://host:port, brackets around IPv6 literals */
    char url[320];         /* base_url + /api/v1/heartbeat */
    char *auth_header;     /* "Authorization: Bearer <API_KEY>", owned */
    long timeout_ms;       /* min(FAIL_TIMEOUT, PING_INTERVAL) */
    struct httpc *http;
    uv_timer_t ping_timer;
    uv_signal_t sigterm, sigint;
    bool in_flight; /* a heartbeat is waiting for its answer */
    int failures;   /* heartbeats failed in a row */
    int busy;       /* 503 answers in a row (the server could not record them) */
    bool stopping;
    /* Metrics, and the heartbeat's facts from their walk. */
    struct push *push;
    char metrics_url[400]; /* base_url + /api/v1/metrics/NAME */
    /* The report push (report_push.h). */
    const struct report_settings *report_settings;
    struct report_options report_options;
    struct report_history *report_history; /* NRestarts across collections, owned */
    struct report_push *report_push;
    char report_url[400]; /* base_url + /api/v1/reports/NAME */
    struct collect_options collect_options;
    struct collect_exec *exec; /* METRICS_EXEC, owned */
    size_t exec_count;
    bool facts_known; /* the first walk is over; heartbeats start then */
    int gpus;
    int64_t boot_time_s; /* -1: unknown */
    /* Logs (NULL when DATA_DIR/logs cannot be used: heartbeats go on without them). */
    struct agent_logs *logs;
    struct backlog *backlog;
    int64_t start_wall_ms;
    int64_t hb_wall_ms; /* when the heartbeat in flight was sent */
    char log_last_err[256];
    /* Diagnosis: at most one at a time; the first after a success at once, then at most every
     * DIAG_INTERVAL. The record's id, time and trigger are fixed when it starts. */
    struct diag_runner *diag;
    struct checks_agent *checks; /* the server's checks it runs (checks_agent.h) */
    int streak_diagnoses;
    int64_t diag_started_mono;
    int64_t diag_wall_ms;
    char diag_id[LOGS_ID_MAX];
    char diag_trigger[600];
    int diag_failures;
    /* Backlog upload: one chunk at a time; after a failure, a wait that doubles up to a cap; none
     * while the backlog is being cut (upload_held: one was due, and starts when the cut ends). */
    char backlog_url[320];
    uv_timer_t backlog_timer;
    bool upload_in_flight;
    bool upload_waiting;
    bool upload_held;
    int64_t upload_retry_ms;
    int chunk_records;
    size_t chunk_bytes;
    int chunk_records_once; /* > 0: the next chunk holds at most this many (records before a
                               refused one go first) */
    int set_aside;          /* records the server refused, set aside since the agent started */
    struct backlog_chunk chunk;
};

static const char *const agent_options[] = {
    "API_KEY",      "SERVER_ADDR",     "SERVER_PORT",     "PING_INTERVAL",     "FAIL_TIMEOUT",
    "SITE",         "LOG_LEVEL",       "DATA_DIR",        "DIAG_INTERVAL",     "DIAG_TARGETS",
    "DIAG_GATEWAY", "DIAG_PING_COUNT", "DIAG_MTR_ROUNDS", "DIAG_MTR_MAX_HOPS", "LOG_MAX_MB",
    "SERVER_TLS",   "SERVER_CA",       "METRICS_INTERVAL", "METRICS_TEXTFILE_DIR", "METRICS_EXEC",
    "METRICS_PER_CPU", "REPORT_INTERVAL", "TAGS"};

static const struct cli_spec agent_spec = {
    .command = "agent",
    .usage = "agent [NAME]",
    .description =
        "Reports this machine to the faultline server: every PING_INTERVAL it POSTs a heartbeat\n"
        "(NAME, GPU count, version, uptime) to http://SERVER_ADDR:SERVER_PORT/api/v1/heartbeat\n"
        "(HTTPS, verified, with SERVER_ADDR=https://HOST or SERVER_TLS=1; never plain HTTP then).\n"
        "NAME defaults to the host name. FAIL_TIMEOUT is the agent's HTTP timeout. A failed\n"
        "heartbeat is logged and retried at the next tick, and diagnosed (gateway, DIAG_TARGETS,\n"
        "ping, TCP, DNS and an MTR path to the server) at once and then at most every\n"
        "DIAG_INTERVAL. Every attempt and diagnosis is written to DATA_DIR/logs (at most\n"
        "LOG_MAX_MB); what was recorded during an outage is uploaded to the server when it is\n"
        "reachable again. Every METRICS_INTERVAL it pushes the host's metrics (CPU, memory,\n"
        "disks, network, GPUs, METRICS_TEXTFILE_DIR's *.prom files and METRICS_EXEC's output) to\n"
        "/api/v1/metrics/NAME on the same server, and every REPORT_INTERVAL its report (as\n"
        "`faultline report --json` prints it) to /api/v1/reports/NAME. SIGTERM or SIGINT stop it.",
    .options = agent_options,
    .option_count = (int)(sizeof agent_options / sizeof agent_options[0]),
    .max_positional = 1,
};

/* ---- heartbeats ------------------------------------------------------------------------------ */

/* The JSON body, malloc'd (caller frees), or NULL if out of memory. */
static char *agent_heartbeat_body(const struct agent *a)
{
    int64_t uptime_s = a->boot_time_s >= 0 ? clock_wall_ms() / 1000 - a->boot_time_s : 0;
    bool gpu_error = a->gpus == COLLECT_GPUS_FAILED;
    json_t *o = json_pack("{s:s, s:o, s:s, s:I}", "name", a->name, "gpus",
                          gpu_error ? json_null() : json_integer(a->gpus), "version",
                          FAULTLINE_VERSION, "uptime_s",
                          (json_int_t)(uptime_s > 0 ? uptime_s : 0));
    if (!o)
        return NULL;
    if (gpu_error)
        json_object_set_new(o, "gpu_error", json_true());
    if (a->settings->site)
        json_object_set_new(o, "site", json_string(a->settings->site));
    if (a->settings->tags)
        json_object_set_new(o, "tags", json_string(a->settings->tags));
    json_object_set_new(o, "checks", json_true());
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* "HTTP 401: {"error":...}" with control characters flattened and the body cut short. */
static void agent_describe_status(const struct httpc_response *res, char *buf, size_t len)
{
    char excerpt[AGENT_EXCERPT_LEN + 1];
    size_t n = 0;
    for (size_t i = 0; i < res->body_len && n < AGENT_EXCERPT_LEN; i++)
        excerpt[n++] = iscntrl((unsigned char)res->body[i]) ? ' ' : res->body[i];
    while (n > 0 && excerpt[n - 1] == ' ')
        n--;
    excerpt[n] = '\0';
    if (n > 0)
        snprintf(buf, len, "HTTP %ld: %s%s", res->status, excerpt, res->body_len > n ? "..." : "");
    else
        snprintf(buf, len, "HTTP %ld", res->status);
}

/* ---- logs and backlog ------------------------------------------------------------------------ */

/* Logs a problem with the log files once, and again only when it changes. */
static void agent_note_log_error(struct agent *a, const char *err)
{
    if (strcmp(err, a->log_last_err) != 0)
        log_warn("agent: logs: %s", err);
    snprintf(a->log_last_err, sizeof a->log_last_err, "%s", err);
}

static void agent_on_backlog_cut(const struct backlog_cut_result *r, void *ctx);
static void agent_backlog_upload(struct agent *a);

/* Keeps backlog.jsonl within its share and the folder within LOG_MAX_MB. A backlog over its share
 * is cut on the thread pool; the folder's budget is then applied when the cut is over, with the
 * backlog's new size (agent_on_backlog_cut), so that nothing else is deleted for its old size. */
static void agent_logs_keep_bounds(struct agent *a)
{
    if (backlog_cutting(a->backlog))
        return; /* the end of the cut does it */
    char err[256];
    int rc = backlog_cut_start(a->backlog, &a->loop, agent_logs_backlog_cap(a->logs),
                               agent_on_backlog_cut, a, err, sizeof err);
    if (rc == 0)
        return;
    if (rc < 0)
        agent_note_log_error(a, err);
    agent_logs_enforce(a->logs, backlog_size(a->backlog));
}

/* A cut is over (on the loop thread). After a stop it only reports: the loop waits for a running
 * cut, which is short and leaves the files consistent whether it is committed or not. */
static void agent_on_backlog_cut(const struct backlog_cut_result *r, void *ctx)
{
    struct agent *a = ctx;
    if (r->rc != 0)
        agent_note_log_error(a, r->err);
    else if (r->dropped_metrics + r->dropped_diagnostics > 0)
        log_warn("agent: backlog over its share of LOG_MAX_MB (%lld > %lld bytes): dropped "
                 "the %d oldest metric records and %d diagnostics not yet uploaded",
                 (long long)r->size_before, (long long)agent_logs_backlog_cap(a->logs),
                 r->dropped_metrics, r->dropped_diagnostics);
    if (a->stopping)
        return;
    if (r->rc == 0)
        agent_logs_keep_bounds(a); /* cuts again only if records came in faster than it cut */
    else
        agent_logs_enforce(a->logs, backlog_size(a->backlog)); /* the next record tries again */
    bool held = a->upload_held;
    a->upload_held = false;
    if (held && a->failures == 0)
        agent_backlog_upload(a);
}

/* Writes one record to its stream and, while the server is unreachable (or for a diagnosis),
 * to the backlog. Takes the reference to record. */
static void agent_record(struct agent *a, enum logs_stream stream, json_t *record, bool to_backlog)
{
    char *line = record ? json_dumps(record, AGENT_JSON_FLAGS) : NULL;
    json_decref(record);
    char err[256];
    if (!line) {
        agent_note_log_error(a, "out of memory formatting a record");
        return;
    }
    size_t len = strlen(line);
    if (agent_logs_append(a->logs, stream, line, len, err, sizeof err) != 0)
        agent_note_log_error(a, err);
    const char *kind = stream == LOGS_METRICS ? "metric" : "diagnostic";
    if (to_backlog && backlog_append(a->backlog, kind, line, len, err, sizeof err) != 0)
        agent_note_log_error(a, err);
    free(line);
    agent_logs_keep_bounds(a);
}

static json_t *agent_ms_json(double ms)
{
    return json_real(round(ms * 100.0) / 100.0);
}

/* The metrics.jsonl record of one heartbeat attempt (docs/rca.md). */
static void agent_record_heartbeat(struct agent *a, const struct httpc_response *res, bool ok,
                                   const char *why)
{
    if (!a->logs)
        return;
    char id[LOGS_ID_MAX], time[CLOCK_ISO_LEN];
    agent_logs_next_id(a->logs, 'm', id, sizeof id);
    clock_format_iso(a->hb_wall_ms, time, sizeof time);
    json_t *rec = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o}", "id", id, "time", time, "ok", ok,
                            "latency_ms", agent_ms_json(res->elapsed_s * 1000.0), "status",
                            res->status > 0 ? json_integer(res->status) : json_null(), "error",
                            ok ? json_null() : json_string(why));
    agent_record(a, LOGS_METRICS, rec, !ok);
}

/* ---- backlog upload ----------------------------------------------------------------------------
 */

static void agent_on_backlog_retry(uv_timer_t *t)
{
    struct agent *a = t->data;
    a->upload_waiting = false;
    if (a->failures == 0)
        agent_backlog_upload(a); /* else the next successful heartbeat starts it */
}

static void agent_backlog_retry_later(struct agent *a, const char *why)
{
    log_warn("agent: backlog upload failed: %s; retrying in %gs", why,
             (double)a->upload_retry_ms / 1000.0);
    a->upload_waiting = true;
    uv_timer_start(&a->backlog_timer, agent_on_backlog_retry, (uint64_t)a->upload_retry_ms, 0);
    a->upload_retry_ms *= 2;
    if (a->upload_retry_ms > AGENT_BACKLOG_RETRY_MAX_MS)
        a->upload_retry_ms = AGENT_BACKLOG_RETRY_MAX_MS;
}

static void agent_backlog_acknowledged(struct agent *a, const struct httpc_response *res)
{
    char err[256];
    int records = a->chunk.records;
    int rc = backlog_ack(a->backlog, &a->chunk, err, sizeof err);
    backlog_chunk_free(&a->chunk);
    if (rc < 0) {
        agent_note_log_error(a, err);
        agent_backlog_retry_later(a, "the acknowledged offset could not be saved");
        return;
    }
    a->upload_retry_ms = AGENT_BACKLOG_RETRY_MIN_MS;
    log_debug("agent: backlog: %d records acknowledged: %.200s", records, res->body);
    if (backlog_pending(a->backlog))
        agent_backlog_upload(a);
    else
        log_info("agent: backlog uploaded");
}

/* A 400 that names the record to blame ({"record":{"index":N,"id":...}}, docs/api.md): sets
 * that record aside, or first sends the records before it, and goes on at once. Returns false
 * when the answer names no record or setting it aside failed (the caller retries later). */
static bool agent_backlog_refused_record(struct agent *a, const struct httpc_response *res)
{
    json_t *body = res->status == 400 ? json_loadb(res->body, res->body_len, 0, NULL) : NULL;
    json_t *record = json_object_get(body, "record");
    json_t *index = json_object_get(record, "index");
    const char *reason = json_string_value(json_object_get(body, "error"));
    const char *id = json_string_value(json_object_get(record, "id"));
    char err[256];
    int rc = -1;
    if (json_is_integer(index) && json_integer_value(index) < a->chunk.records)
        rc = backlog_set_aside(a->backlog, &a->chunk, (int)json_integer_value(index), id,
                               reason ? reason : "refused", err, sizeof err);
    if (rc == 0)
        log_warn("agent: backlog: the server refused record %s (%s); set aside in "
                 "backlog.rejected.jsonl, %d since start",
                 id ? id : "without a valid id", reason ? reason : "no reason given",
                 ++a->set_aside);
    else if (rc == 1 && json_integer_value(index) > 0)
        a->chunk_records_once = (int)json_integer_value(index);
    else if (json_is_integer(index))
        agent_note_log_error(a, rc < 0 ? err : "the refused chunk is gone");
    json_decref(body);
    return rc >= 0;
}

static void agent_on_backlog_response(const struct httpc_response *res, void *ctx)
{
    struct agent *a = ctx;
    a->upload_in_flight = false;
    if (a->stopping) {
        backlog_chunk_free(&a->chunk);
        return;
    }
    if (!res->error && res->status == 200) {
        agent_backlog_acknowledged(a, res);
        return;
    }
    if (agent_backlog_refused_record(a, res)) {
        backlog_chunk_free(&a->chunk);
        agent_backlog_upload(a);
        return;
    }
    backlog_chunk_free(&a->chunk);
    if (res->status == 413 && a->chunk_records > 1) {
        /* The server takes less than we send: smaller chunks from now on. */
        a->chunk_records /= 2;
        a->chunk_bytes /= 2;
    }
    char why[512];
    if (res->error)
        snprintf(why, sizeof why, "%s", res->error);
    else
        agent_describe_status(res, why, sizeof why);
    agent_backlog_retry_later(a, why);
}

/* Sends the next chunk of the backlog, unless one is in flight or a retry wait runs. During a cut
 * it waits for the end of the cut (agent_on_backlog_cut). */
static void agent_backlog_upload(struct agent *a)
{
    if (!a->backlog || a->upload_in_flight || a->upload_waiting || a->stopping ||
        !backlog_pending(a->backlog))
        return;
    if (backlog_cutting(a->backlog)) {
        a->upload_held = true;
        return;
    }
    char err[256];
    int max_records = a->chunk_records_once > 0 && a->chunk_records_once < a->chunk_records
                          ? a->chunk_records_once
                          : a->chunk_records;
    a->chunk_records_once = 0;
    if (backlog_next_chunk(a->backlog, a->name, max_records, a->chunk_bytes, &a->chunk, err,
                           sizeof err) != 0) {
        agent_note_log_error(a, err);
        return;
    }
    if (a->chunk.skipped > 0)
        log_warn("agent: backlog: skipped %d lines that are not JSON objects", a->chunk.skipped);
    if (a->chunk.records == 0)
        return;
    const char *headers[] = {a->auth_header, "Content-Type: application/json", NULL};
    struct httpc_request req = {.method = "POST",
                                .url = a->backlog_url,
                                .headers = headers,
                                .body = a->chunk.body,
                                .body_len = a->chunk.body_len,
                                .timeout_ms = AGENT_BACKLOG_TIMEOUT_MS,
                                .ca_file = a->settings->server_ca};
    if (httpc_start(a->http, &req, agent_on_backlog_response, a) == 0)
        a->upload_in_flight = true;
    else
        backlog_chunk_free(&a->chunk);
}

/* ---- diagnosis ---------------------------------------------------------------------------------
 */

static void agent_on_diagnosis(const struct diag_report *r, void *ctx)
{
    struct agent *a = ctx;
    if (a->stopping || !a->logs)
        return;
    char time[CLOCK_ISO_LEN], mtr_name[LOGS_MTR_NAME_MAX], err[256];
    clock_format_iso(a->diag_wall_ms, time, sizeof time);
    agent_logs_mtr_name(a->diag_wall_ms, mtr_name, sizeof mtr_name);
    json_t *mtr = diag_mtr_file_json(r, a->diag_id, time);
    char *text = mtr ? json_dumps(mtr, AGENT_JSON_FLAGS) : NULL;
    json_decref(mtr);
    if (!text || agent_logs_write_mtr(a->logs, mtr_name, text, strlen(text), err, sizeof err))
        agent_note_log_error(a, text ? err : "out of memory formatting the mtr file");
    free(text);
    json_t *rec =
        diag_record_json(r, a->diag_id, time, a->diag_trigger, a->diag_failures, mtr_name);
    agent_record(a, LOGS_DIAGNOSTICS, rec, true);
    log_info("agent: diagnosis %s written (method %s)", a->diag_id, diag_report_method(r));
}

/* Starts a diagnosis after a failed heartbeat: the first of a run of failures at once, then at
 * most every DIAG_INTERVAL, never two at once. */
static void agent_maybe_diagnose(struct agent *a, const char *why)
{
    if (!a->diag || !a->logs || diag_runner_busy(a->diag))
        return;
    int64_t now = clock_mono_ms();
    if (a->streak_diagnoses > 0 && now - a->diag_started_mono < a->settings->diag_interval_ms)
        return;
    a->diag_wall_ms = clock_wall_ms();
    agent_logs_next_id(a->logs, 'd', a->diag_id, sizeof a->diag_id);
    snprintf(a->diag_trigger, sizeof a->diag_trigger, "heartbeat failed: %s", why);
    a->diag_failures = a->failures;
    if (diag_runner_start(a->diag, agent_on_diagnosis, a) != 0)
        return;
    a->streak_diagnoses++;
    a->diag_started_mono = now;
}

static void agent_on_tick(uv_timer_t *t);

/* The server answered 503: it is reachable but cannot record the heartbeat now (its disk is
 * full, say). Not a network failure, so no diagnosis: the next heartbeat goes after the server's
 * Retry-After (at least 1 s, at most PING_INTERVAL), then at the usual interval. */
static void agent_server_busy(struct agent *a, const struct httpc_response *res)
{
    char why[512];
    agent_describe_status(res, why, sizeof why);
    int64_t interval_ms = a->cfg->ping_interval_ms;
    int64_t retry_ms = (res->retry_after_s > 0 ? (int64_t)res->retry_after_s : 1) * 1000;
    if (retry_ms > interval_ms)
        retry_ms = interval_ms;
    a->busy++;
    log_warn("agent: heartbeat not recorded, the server is busy (%s); retrying in %.1f s", why,
             (double)retry_ms / 1000.0);
    agent_record_heartbeat(a, res, false, why);
    uv_timer_start(&a->ping_timer, agent_on_tick, (uint64_t)retry_ms, (uint64_t)interval_ms);
}

/* The answer's checks_version (200 {"checks_version": V}; 204 carries none). */
static void agent_checks_heard(struct agent *a, const struct httpc_response *res)
{
    json_t *o = res->status == 200 && res->body_len ? json_loadb(res->body, res->body_len, 0, NULL)
                                                    : NULL;
    checks_agent_heard(a->checks, json_string_value(json_object_get(o, "checks_version")));
    json_decref(o);
}

static void agent_on_response(const struct httpc_response *res, void *ctx)
{
    struct agent *a = ctx;
    a->in_flight = false;
    if (a->stopping)
        return; /* cancelled by our own shutdown */
    if (!res->error && res->status >= 200 && res->status < 300) {
        log_debug("agent: heartbeat ok (HTTP %ld in %.3f s)", res->status, res->elapsed_s);
        if (a->failures > 0)
            log_info("agent: heartbeat ok again after %d failures", a->failures);
        if (a->busy > 0)
            log_info("agent: heartbeat recorded again after %d busy answers", a->busy);
        a->failures = 0;
        a->busy = 0;
        a->streak_diagnoses = 0;
        agent_record_heartbeat(a, res, true, NULL);
        agent_backlog_upload(a);
        agent_checks_heard(a, res);
        return;
    }
    if (!res->error && res->status == 503) {
        agent_server_busy(a, res);
        return;
    }
    a->failures++;
    char why[512];
    if (res->error)
        snprintf(why, sizeof why, "%s", res->error);
    else
        agent_describe_status(res, why, sizeof why);
    log_warn("agent: heartbeat failed: %s", why);
    agent_record_heartbeat(a, res, false, why);
    agent_maybe_diagnose(a, why);
}

static void agent_send_heartbeat(struct agent *a)
{
    char *body = agent_heartbeat_body(a);
    if (!body) {
        log_warn("agent: heartbeat failed: out of memory building the body");
        return;
    }
    const char *headers[] = {a->auth_header, "Content-Type: application/json", NULL};
    struct httpc_request req = {.method = "POST",
                                .url = a->url,
                                .headers = headers,
                                .body = body,
                                .body_len = strlen(body),
                                .timeout_ms = a->timeout_ms,
                                .ca_file = a->settings->server_ca};
    a->hb_wall_ms = clock_wall_ms();
    if (httpc_start(a->http, &req, agent_on_response, a) == 0)
        a->in_flight = true;
    else
        log_warn("agent: heartbeat failed: out of memory starting the request");
    free(body);
}

static void agent_on_tick(uv_timer_t *t)
{
    struct agent *a = t->data;
    if (a->in_flight) {
        log_debug("agent: previous heartbeat still in flight, skipping this tick");
        return;
    }
    agent_send_heartbeat(a);
}

/* ---- the heartbeat's facts, from each metrics walk ------------------------------------------
 */

static void agent_on_facts(const struct push_facts *f, void *ctx)
{
    struct agent *a = ctx;
    if (a->facts_known && f->gpus != a->gpus && f->gpus == COLLECT_GPUS_FAILED)
        log_warn("agent: the GPU check failed (%d GPUs before)", a->gpus);
    else if (a->facts_known && f->gpus != a->gpus)
        log_info("agent: GPU count changed from %d to %d", a->gpus, f->gpus);
    a->gpus = f->gpus;
    a->boot_time_s = f->boot_time_s;
    if (!a->facts_known) {
        a->facts_known = true;
        log_debug("agent: %d GPUs", f->gpus);
        uv_timer_start(&a->ping_timer, agent_on_tick, 0, (uint64_t)a->cfg->ping_interval_ms);
    }
}

/* ---- start and stop ------------------------------------------------------------------------- */

static void agent_stop(struct agent *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    uv_timer_stop(&a->ping_timer);
    bool walking = push_stop(a->push);
    bool reporting = report_push_stop(a->report_push);
    uv_timer_stop(&a->backlog_timer);
    checks_agent_stop(a->checks);
    a->checks = NULL;
    httpc_close(a->http);
    a->http = NULL;
    /* A diagnosis in progress is cancelled; the loop runs on until its probe env has closed. */
    diag_runner_free(a->diag);
    a->diag = NULL;
    uv_close((uv_handle_t *)&a->ping_timer, NULL);
    uv_close((uv_handle_t *)&a->backlog_timer, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    /* A running collector is waited for (its commands are killed), and so is a backlog cut
     * (agent_on_backlog_cut). */
    if (walking)
        log_info("agent: waiting for the metrics walk to finish");
    if (reporting)
        log_info("agent: waiting for the report collection to finish");
}

static void agent_on_signal(uv_signal_t *s, int signum)
{
    log_info("agent: %s received, stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    agent_stop(s->data);
}

/* The server's host and scheme from SERVER_ADDR, SERVER_TLS and SERVER_CA. Once HTTPS is asked
 * for, anything that would end in plain HTTP is an error. Returns 0, or -1 with err set. */
static int agent_server_url(struct agent *a, bool *https, char *err, size_t errlen)
{
    const struct agent_settings *s = a->settings;
    agent_server_addr_split(s->server_addr, a->server_host, sizeof a->server_host, https);
    if (s->server_tls && !*https && strncmp(s->server_addr, "http://", 7) == 0)
        return err_set(err, errlen,
                       "SERVER_TLS: 1 asks for HTTPS only, but SERVER_ADDR is \"%.200s\" (plain "
                       "HTTP): write https:// or leave the scheme out",
                       s->server_addr);
    *https = *https || s->server_tls;
    if (!s->server_ca)
        return 0;
    if (!*https)
        return err_set(err, errlen,
                       "SERVER_CA: only used over HTTPS, but SERVER_ADDR \"%.200s\" is plain "
                       "HTTP: write https://HOST or set SERVER_TLS=1",
                       s->server_addr);
    FILE *f = fopen(s->server_ca, "r");
    if (!f)
        return err_set(err, errlen, "SERVER_CA: cannot read \"%.200s\": %s", s->server_ca,
                       strerror(errno));
    fclose(f);
    return 0;
}

/* The collectors' options from the METRICS_* settings. Returns 0, or -1 with err set. */
static int agent_configure_metrics(struct agent *a, char *err, size_t errlen)
{
    const struct agent_settings *s = a->settings;
    a->boot_time_s = -1;
    a->collect_options.per_cpu = s->metrics_per_cpu;
    if (s->metrics_textfile_dir) {
        DIR *d = opendir(s->metrics_textfile_dir);
        if (!d)
            return err_set(err, errlen, "METRICS_TEXTFILE_DIR: cannot read \"%.200s\": %s",
                           s->metrics_textfile_dir, strerror(errno));
        closedir(d);
        a->collect_options.textfile_dir = s->metrics_textfile_dir;
    }
    if (collect_exec_parse(s->metrics_exec, &a->exec, &a->exec_count, err, errlen) != 0)
        return -1;
    a->collect_options.exec = a->exec;
    a->collect_options.exec_count = a->exec_count;
    return 0;
}

/* Fills name, URLs, auth header and timeout from the settings. Returns 0, or 2 after printing a
 * usage error. */
static int agent_configure(struct agent *a, const struct config *cfg,
                           const struct agent_settings *settings, const char *name)
{
    char hostname[65];
    char err[512];
    if (!name) {
        collect_hostname(hostname, sizeof hostname, err, sizeof err);
        name = hostname;
    }
    if (!label_valid(name)) {
        snprintf(err, sizeof err, "NAME: expected " LABEL_RULE ", got \"%.100s\"", name);
        return cli_fail(&agent_spec, err);
    }
    if (config_require(cfg, "API_KEY", err, sizeof err) != 0)
        return cli_fail(&agent_spec, err);
    if (cfg->server_port == 0) /* the server's "any free port" means nothing to an agent */
        return cli_fail(&agent_spec, "SERVER_PORT: expected " CONFIG_EXPECT_PORT ", got \"0\"");
    a->cfg = cfg;
    a->settings = settings;
    snprintf(a->name, sizeof a->name, "%s", name);
    bool https;
    if (agent_server_url(a, &https, err, sizeof err) != 0)
        return cli_fail(&agent_spec, err);
    bool v6 = strchr(a->server_host, ':') != NULL;
    snprintf(a->base_url, sizeof a->base_url, "%s://%s%s%s:%d", https ? "https" : "http",
             v6 ? "[" : "", a->server_host, v6 ? "]" : "", cfg->server_port);
    snprintf(a->url, sizeof a->url, "%s/api/v1/heartbeat", a->base_url);
    snprintf(a->backlog_url, sizeof a->backlog_url, "%s/api/v1/backlog", a->base_url);
    snprintf(a->metrics_url, sizeof a->metrics_url, "%s/api/v1/metrics/%s", a->base_url, a->name);
    snprintf(a->report_url, sizeof a->report_url, "%s/api/v1/reports/%s", a->base_url, a->name);
    if (agent_configure_metrics(a, err, sizeof err) != 0)
        return cli_fail(&agent_spec, err);
    a->chunk_records = BACKLOG_CHUNK_RECORDS;
    a->chunk_bytes = BACKLOG_CHUNK_BYTES;
    a->upload_retry_ms = AGENT_BACKLOG_RETRY_MIN_MS;
    int64_t t =
        cfg->fail_timeout_ms < cfg->ping_interval_ms ? cfg->fail_timeout_ms : cfg->ping_interval_ms;
    a->timeout_ms = (long)t;
    size_t len = strlen("Authorization: Bearer ") + strlen(cfg->api_key) + 1;
    a->auth_header = malloc(len);
    if (!a->auth_header)
        return cli_fail(&agent_spec, "out of memory");
    snprintf(a->auth_header, len, "Authorization: Bearer %s", cfg->api_key);
    return 0;
}

/* Opens DATA_DIR/logs and the backlog. Without them the agent still sends heartbeats. */
static void agent_open_logs(struct agent *a)
{
    const struct config *cfg = a->cfg;
    const struct agent_settings *settings = a->settings;
    char err[512];
    a->start_wall_ms = clock_wall_ms();
    a->logs = agent_logs_open(cfg->data_dir, (int64_t)settings->log_max_mb << 20, a->start_wall_ms, err,
                              sizeof err);
    if (a->logs)
        a->backlog = backlog_open(agent_logs_dir(a->logs), err, sizeof err);
    if (!a->logs || !a->backlog) {
        log_warn("agent: logs disabled: %s", err);
        agent_logs_free(a->logs);
        a->logs = NULL;
        return;
    }
    agent_logs_keep_bounds(a);
    if (backlog_pending(a->backlog))
        log_info("agent: %lld bytes of backlog from before a restart, uploaded once the server "
                 "answers",
                 (long long)(backlog_size(a->backlog) - backlog_offset(a->backlog)));
    struct diag_settings ds = {.server_addr = a->server_host,
                               .server_port = cfg->server_port,
                               .gateway = settings->diag_gateway,
                               .targets = settings->diag_targets,
                               .ping_count = settings->diag_ping_count,
                               .mtr_rounds = settings->diag_mtr_rounds,
                               .mtr_max_hops = settings->diag_mtr_max_hops};
    a->diag = diag_runner_new(&a->loop, &ds);
    if (!a->diag)
        log_warn("agent: diagnostics disabled: out of memory");
}

/* Sets up the handles on the (initialised) loop and starts the first GPU count; heartbeats follow
 * it. On -1 the handles are closing and the loop must still be run to release them. */
static int agent_start(struct agent *a)
{
    a->http = httpc_new(&a->loop);
    uv_timer_init(&a->loop, &a->ping_timer);
    uv_timer_init(&a->loop, &a->backlog_timer);
    uv_signal_init(&a->loop, &a->sigterm);
    uv_signal_init(&a->loop, &a->sigint);
    a->ping_timer.data = a->sigterm.data = a->sigint.data = a;
    a->backlog_timer.data = a;
    agent_open_logs(a);
    int64_t every_ms = (int64_t)a->settings->metrics_interval_s * 1000;
    struct push_config pc = {
        .url = a->metrics_url,
        .auth_header = a->auth_header,
        .ca_file = a->settings->server_ca,
        .interval_ms = every_ms,
        .timeout_ms = (long)(every_ms > 0 && every_ms < a->cfg->fail_timeout_ms
                                 ? every_ms
                                 : a->cfg->fail_timeout_ms),
        .options = &a->collect_options,
    };
    a->push = a->http ? push_new(&a->loop, a->http, &pc) : NULL;
    a->report_history = report_history_new();
    a->report_options = (struct report_options){.settings = a->report_settings,
                                                .server_port = a->cfg->server_port,
                                                .history = a->report_history};
    struct report_push_config rc = {
        .url = a->report_url,
        .auth_header = a->auth_header,
        .ca_file = a->settings->server_ca,
        .interval_ms = a->report_settings->interval_ms,
        .timeout_ms = (long)a->cfg->fail_timeout_ms,
        .options = &a->report_options,
    };
    a->report_push = a->http ? report_push_new(&a->loop, a->http, &rc) : NULL;
    struct checks_agent_config cc = {.loop = &a->loop,
                                     .http = a->http,
                                     .base_url = a->base_url,
                                     .name = a->name,
                                     .auth_header = a->auth_header,
                                     .ca_file = a->settings->server_ca,
                                     .timeout_ms = (long)a->cfg->fail_timeout_ms,
                                     .trace_max_hops = a->settings->diag_mtr_max_hops,
                                     .trace_rounds = a->settings->diag_mtr_rounds};
    a->checks = a->http ? checks_agent_new(&cc) : NULL;
    if (!a->push || !a->report_push || !a->checks || uv_signal_start(&a->sigterm, agent_on_signal, SIGTERM) != 0 ||
        uv_signal_start(&a->sigint, agent_on_signal, SIGINT) != 0) {
        agent_stop(a);
        return -1;
    }
    if (push_start(a->push, agent_on_facts, a) != 0 || report_push_start(a->report_push) != 0) {
        agent_stop(a);
        return -1;
    }
    log_info("agent: %s reporting to %s every %gs, metrics every %ds", a->name, a->base_url,
             (double)a->cfg->ping_interval_ms / 1000.0, a->settings->metrics_interval_s);
    return 0;
}

int agent_main(int argc, char **argv)
{
    struct config cfg;
    struct agent_settings settings;
    struct report_settings report_settings;
    char *positional[1] = {NULL};
    struct cli_args args = {.positional = positional};
    config_init(&cfg);
    config_attach(&cfg, &agent_settings_table, &settings);
    config_attach(&cfg, &report_settings_table, &report_settings);
    enum cli_result r = cli_parse(&agent_spec, argc, argv, &cfg, &args);
    if (r != CLI_RUN) {
        config_free(&cfg);
        return r == CLI_EXIT_OK ? 0 : 2;
    }
    struct agent *a = calloc(1, sizeof *a);
    if (a)
        a->report_settings = &report_settings;
    int rc = a ? agent_configure(a, &cfg, &settings, args.positional_count > 0 ? positional[0] : NULL) : 1;
    if (rc == 0 && uv_loop_init(&a->loop) != 0) {
        log_error("agent: cannot create the event loop");
        rc = 1;
    } else if (rc == 0) {
        signal(SIGPIPE, SIG_IGN); /* a peer closing mid-write is an error, not a death */
        if (agent_start(a) != 0) {
            log_error("agent: cannot start the event loop");
            rc = 1;
        }
        uv_run(&a->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&a->loop) != 0)
            log_warn("agent: event loop closed with handles still open");
        if (rc == 0)
            log_info("agent: stopped");
    }
    if (a) {
        free(a->auth_header);
        push_free(a->push);
        report_push_free(a->report_push);
        report_history_free(a->report_history);
        collect_exec_free(a->exec, a->exec_count);
        backlog_free(a->backlog);
        agent_logs_free(a->logs);
    }
    free(a);
    config_free(&cfg);
    return rc;
}
