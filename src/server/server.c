/* server.c — `faultline server`: assembles the modules (store, fleet, outbox, incidents,
 * follow-ups, canaries, the HTTP API), runs the deadline and save timers, reloads the TLS
 * certificate on SIGHUP, and stops them in order on SIGTERM/SIGINT. The state of each module lives
 * behind its own handle; struct server only holds the handles, and only this file sees it. */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "alert/outbox.h"
#include "alert/silence.h"
#include "alert/router.h"
#include "base/cli.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "server/agent_metrics.h"
#include "server/api.h"
#include "server/auth.h"
#include "probe/probe_type.h"
#include "server/canary.h"
#include "server/checks.h"
#include "server/dependencies.h"
#include "server/events.h"
#include "server/fleet.h"
#include "server/followup.h"
#include "server/http.h"
#include "server/incidents.h"
#include "server/server_metrics.h"
#include "server/settings.h"
#include "server/tls.h"
#include "store/store.h"

#define SAVE_INTERVAL_MS 1000 /* how often due workers are handed to the store */
#define SAVE_PER_TICK 4096    /* at most this many each time (fleet.h: due workers) */
#define EXPIRE_MAX_WAIT_MS 1000
#define EXPIRE_CANARY_WAIT_MS 50

struct server {
    struct config cfg; /* shared settings; the three below are attached to it */
    struct server_settings settings;
    struct rca_settings rca_settings;
    struct alert_settings alert_settings;
    struct silence_settings silence_settings;
    struct depend_settings depend_settings;
    uv_loop_t *loop;
    struct store *store;
    struct outbox *outbox;
    struct alert_router *router;
    const char *channel_names[ALERT_CHANNELS_MAX]; /* borrowed from the outbox, for the router */
    struct fleet *fleet;
    struct auth *auth;
    struct event_recorder recorder;
    struct incidents *incidents;
    struct followup *followup;
    struct canaries *canaries;
    struct probe_env *probe_env; /* the server's checks' probes */
    struct checks *checks;
    struct dependencies *deps; /* workers' `dependencies:` */
    struct agent_metrics *agent_metrics;
    struct server_metrics *metrics;
    struct silences *silences; /* the config file's, then the stored ones */
    struct api_context api;
    struct http_server *http;
    struct tls_credentials *tls; /* NULL: plain HTTP */
    uv_timer_t expire_timer;
    uv_timer_t save_timer;
    uv_signal_t sigterm, sigint, sighup;
    bool timers_started;
};

static const char *const server_options[] = {
    "API_KEY",       "LISTEN_ADDR",    "SERVER_PORT",  "FAIL_TIMEOUT",
    "DATA_DIR",      "STORE",          "TELEGRAM_TOKEN", "CHAT_ID",
    "TELEGRAM_API_URL", "ADMIN_USER",  "ADMIN_PASS",   "LOG_LEVEL",
    "RCA_WINDOW",    "RCA_THRESHOLD",  "RCA_HOLD",     "RCA_CANARIES",
    "RCA_CANARY_INTERVAL", "RCA_FOLLOWUP_WAIT",
    "HTTP_MAX_CONNECTIONS", "HTTP_MAX_CONNECTIONS_PER_ADDR", "HTTP_AGENT_RESERVE",
    "HTTP_HEADER_TIMEOUT", "HTTP_IDLE_TIMEOUT", "HTTP_MIN_BODY_RATE", "HTTP_BODY_MEMORY_MB",
    "AUTH_MAX_FAILURES", "AUTH_FAILURE_WINDOW", "TLS_CERT", "TLS_KEY", "TLS_HSTS", "GPU_ALERTS",
    "METRICS_TOKEN", "METRICS_PUBLIC", "METRICS_TTL", "METRICS_MAX_SERIES", "CHECKS_DIR",
    "CHECK_HISTORY"};

static const struct cli_spec server_cli = {
    .command = "server",
    .usage = "server [--config FILE] [--SETTING VALUE ...]",
    .description = "Receives heartbeats on POST /api/v1/heartbeat (and the uptime-rca-bot's\n"
                   "clients on /ping/NAME), marks a worker DOWN after FAIL_TIMEOUT seconds of\n"
                   "silence and UP when it returns, tells when a machine loses a GPU, stores\n"
                   "every change in DATA_DIR/faultline.db and notifies Telegram. Serves the\n"
                   "public page on /, the admin page on /admin and the admin API under\n"
                   "/admin/api/. Agents push metrics to POST /api/v1/metrics/NAME; Prometheus\n"
                   "scrapes them, with the server's own, from /metrics (METRICS_TOKEN). With\n"
                   "TLS_CERT and TLS_KEY it serves HTTPS only, and SIGHUP reloads them.",
    .options = server_options,
    .option_count = sizeof server_options / sizeof server_options[0],
    .max_positional = 0,
};

/* Before a worker is declared DOWN, the server makes sure it can still reach the world: a
 * canary round that started after the worker's deadline must have answered. While none
 * answers, overdue workers are the server's outage, not theirs. Returns true when expiry must
 * wait (and how long, in *wait). */
static bool expiry_waits_for_canaries(struct server *srv, int64_t now, int64_t *wait)
{
    int64_t due = fleet_next_deadline(srv->fleet);
    if (due < 0 || due > now || !canaries_guarding(srv->canaries))
        return false;
    *wait = EXPIRE_CANARY_WAIT_MS;
    if (!canaries_verdict_since(srv->canaries, due))
        return true;
    if (!canaries_cut_off(srv->canaries))
        return false;
    incidents_cut_off_overdue(srv->incidents, now);
    return true;
}

static void on_expire_timer(uv_timer_t *t)
{
    struct server *srv = t->data;
    int64_t now = clock_mono_ms();
    int64_t held;
    if (expiry_waits_for_canaries(srv, now, &held)) {
        uv_timer_start(t, on_expire_timer, (uint64_t)held, 0);
        return;
    }
    int64_t next = fleet_expire(srv->fleet, now, clock_wall_ms());
    int64_t wait = next < 0 ? EXPIRE_MAX_WAIT_MS : next - now;
    if (wait > EXPIRE_MAX_WAIT_MS)
        wait = EXPIRE_MAX_WAIT_MS; /* picks up workers added since, without a hook per heartbeat */
    uv_timer_start(t, on_expire_timer, (uint64_t)(wait < 1 ? 1 : wait), 0);
}

static void save_workers(const struct worker_record *recs, size_t n, void *ctx)
{
    store_save_workers(ctx, recs, n);
}

static void on_reminders_stored(int status, const struct event_record *ev,
                                const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct server *srv = ctx;
    if (status != 0)
        log_error("server: reminders could not be stored; they are not sent");
    else if (srv->outbox)
        outbox_enqueue(srv->outbox, msgs, n_msgs);
}

/* The reminders due (repeat_interval, alert/router.h), written first like every message. */
static void send_reminders(struct server *srv)
{
    struct alert_batch batch = {0};
    if (alert_router_remind(srv->router, clock_wall_ms(), &batch) > 0)
        store_append_messages(srv->store, batch.rows, batch.n, on_reminders_stored, srv);
    alert_batch_free(&batch);
}

/* Each second: a small slice of the workers due for saving, so the loop never copies the whole
 * fleet; agents' expired metrics; the reminders due. */
static void on_save_timer(uv_timer_t *t)
{
    struct server *srv = t->data;
    fleet_save_due(srv->fleet, SAVE_PER_TICK, save_workers, srv->store);
    agent_metrics_expire(srv->agent_metrics, clock_mono_ms());
    send_reminders(srv);
}

static void restore_worker(const struct worker_record *rec, void *ctx)
{
    fleet_restore(ctx, rec, clock_mono_ms());
}

static void restore_message(const struct outbox_record *rec, void *ctx)
{
    outbox_enqueue(ctx, rec, 1);
}

/* A stored silence back in memory; one that no longer reads (a time zone gone from the system)
 * is logged and left in the store. */
static void restore_silence(const struct silence_record *rec, void *ctx)
{
    json_t *def = json_loads(rec->body_json, 0, NULL);
    const char *field;
    char err[300] = "body: not valid JSON";
    struct silence *s = def ? silence_parse(def, rec->created_ms, NULL, &field, err, sizeof err)
                            : NULL;
    json_decref(def);
    if (!s) {
        log_error("server: stored silence %lld is not used: %s", (long long)rec->id, err);
        return;
    }
    char id[SILENCE_ID_MAX];
    snprintf(id, sizeof id, "%lld", (long long)rec->id);
    silence_set_id(s, id);
    silence_set_times(s, rec->created_ms, rec->expired_ms);
    if (silences_add(ctx, s) != 0)
        log_error("server: out of memory restoring silence %s", id);
}

/* The config file's silences, then the stored ones. */
static int open_silences(struct server *srv, char *err, size_t errlen)
{
    srv->silences = silences_new();
    if (!srv->silences || silences_move(srv->silences, srv->silence_settings.configured) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t configured = silences_count(srv->silences);
    if (store_load_silences(srv->store, restore_silence, srv->silences, err, errlen) != 0)
        return -1;
    if (silences_count(srv->silences) > 0)
        log_info("server: silences: %zu from the config file, %zu stored", configured,
                 silences_count(srv->silences) - configured);
    return 0;
}

static void restore_told(const struct outbox_record *rec, void *ctx)
{
    alert_router_told(ctx, rec);
}

/* The router over the outbox's channels, told again who heard of the problems still open. */
/* The router's filter: whether an active silence (ctx: the server's set) matches msg. */
static bool message_silenced(const struct alert_message *msg, int64_t now_ms, void *ctx)
{
    struct label labels[ALERT_LABELS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < msg->n_labels && n < ALERT_LABELS_MAX; i++)
        if (msg->labels[i].key && msg->labels[i].value)
            labels[n++] = (struct label){msg->labels[i].key, msg->labels[i].value};
    struct label_set set = {.items = labels, .count = n};
    struct alert_match_input in = {.kind = alert_kind_name(msg->kind),
                                   .name = msg->name,
                                   .labels = &set,
                                   .severity = alert_severity_name(msg->severity)};
    return silences_match(ctx, &in, now_ms) != NULL;
}

static int open_router(struct server *srv, char *err, size_t errlen)
{
    size_t n = outbox_channel_names(srv->outbox, srv->channel_names, ALERT_CHANNELS_MAX);
    srv->router = alert_router_new(&srv->alert_settings, srv->channel_names, n, err, errlen);
    if (!srv->router)
        return -1;
    alert_router_set_filters(srv->router, &(struct alert_filters){.silenced = message_silenced,
                                                                  .ctx = srv->silences});
    alert_router_set_timing(srv->router, &(struct alert_timing){
                                             .group_wait_ms = srv->settings.group_wait_ms,
                                             .repeat_interval_ms = srv->settings.repeat_interval_ms});
    return store_load_told_outbox(srv->store, restore_told, srv->router, err, errlen);
}

static void stop_server(struct server *srv)
{
    log_info("server: stopping");
    if (srv->fleet)
        fleet_save_all(srv->fleet, save_workers, srv->store);
    canaries_stop(srv->canaries);
    srv->canaries = NULL;
    checks_close(srv->checks);
    srv->checks = srv->api.checks = NULL;
    dependencies_set_checks(srv->deps, NULL);
    incidents_set_checks(srv->incidents, NULL);
    probe_env_close(srv->probe_env);
    srv->probe_env = NULL;
    incidents_close(srv->incidents);
    srv->incidents = NULL;
    followup_close(srv->followup);
    srv->followup = NULL;
    outbox_close(srv->outbox);
    srv->outbox = NULL;
    srv->api.outbox = NULL; /* a scrape until the HTTP server stops reads no closed outbox */
    srv->recorder.outbox = NULL; /* the store's last callbacks may still come */
    srv->recorder.router = NULL;
    alert_router_free(srv->router);
    srv->router = NULL;
    /* The store answers suspended admin requests before the HTTP server goes away. */
    store_close(srv->store);
    srv->store = NULL;
    events_recorder_stop(&srv->recorder);
    api_metrics_stop(&srv->api);
    http_server_stop(srv->http);
    srv->http = NULL;
    api_events_stop(&srv->api);
    tls_credentials_close(srv->tls);
    srv->tls = NULL;
    if (srv->timers_started) {
        uv_close((uv_handle_t *)&srv->expire_timer, NULL);
        uv_close((uv_handle_t *)&srv->save_timer, NULL);
        uv_close((uv_handle_t *)&srv->sigterm, NULL);
        uv_close((uv_handle_t *)&srv->sigint, NULL);
        uv_close((uv_handle_t *)&srv->sighup, NULL);
        srv->timers_started = false;
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    stop_server(s->data);
}

/* SIGHUP: new TLS files (certbot, acme.sh) are read while the server keeps serving. */
static void on_sighup(uv_signal_t *s, int signum)
{
    struct server *srv = s->data;
    if (srv->tls)
        tls_credentials_reload(srv->tls, srv->loop);
    else
        log_info("server: SIGHUP: nothing to reload (TLS_CERT is not set)");
}

/* TLS_CERT and TLS_KEY, read and checked before anything starts. Returns 0, or -1 with err
 * naming the setting. */
static int open_tls(struct server *srv, char *err, size_t errlen)
{
    const struct server_settings *s = &srv->settings;
    if (!s->tls_cert != !s->tls_key) {
        snprintf(err, errlen, "%s: required when %s is set (set both to serve HTTPS, or neither)",
                 s->tls_cert ? "TLS_KEY" : "TLS_CERT", s->tls_cert ? "TLS_CERT" : "TLS_KEY");
        return -1;
    }
    if (!s->tls_cert) {
        if (s->tls_hsts_s > 0)
            log_warn("server: TLS_HSTS is not sent over plain HTTP; set TLS_CERT and TLS_KEY");
        return 0;
    }
    srv->tls = tls_credentials_open(s->tls_cert, s->tls_key, err, errlen);
    if (!srv->tls)
        return -1;
    if (tls_credentials_expired(srv->tls))
        log_warn("server: TLS_CERT has expired: %s", tls_credentials_about(srv->tls));
    return 0;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* STORE, or the default store in DATA_DIR. Returns 0, or -1 with err naming STORE. */
static int store_uri(const struct server *srv, char *uri, size_t len, char *err, size_t errlen)
{
    const char *store = srv->settings.store;
    if (!store) {
        if (store_default_uri(srv->cfg.data_dir, uri, len) == 0)
            return 0;
        snprintf(err, errlen, "DATA_DIR: path is too long");
        return -1;
    }
    char why[200];
    if (store_uri_check(store, why, sizeof why) != 0) {
        snprintf(err, errlen, "STORE: %s", why);
        return -1;
    }
    snprintf(uri, len, "%s", store);
    return 0;
}

static int open_analysis(struct server *srv, char *err, size_t errlen)
{
    const struct config *cfg = &srv->cfg;
    struct followup_settings fs = {.fail_timeout_ms = cfg->fail_timeout_ms,
                                   .window_ms = srv->rca_settings.window_ms,
                                   .wait_ms = srv->rca_settings.followup_wait_ms};
    srv->followup = followup_open(srv->loop, srv->store, srv->outbox, srv->router, &fs);
    if (!srv->followup) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct incidents_settings is = {
        .window_ms = srv->rca_settings.window_ms,
        .hold_ms = srv->rca_settings.hold_ms > 0 ? srv->rca_settings.hold_ms : cfg->ping_interval_ms,
        .threshold = srv->rca_settings.threshold,
        .fail_timeout_ms = cfg->fail_timeout_ms,
        .canaries = config_split_targets(srv->rca_settings.canaries, NULL, 64, NULL, 0) > 0,
    };
    return incidents_open(srv->loop, srv->store, srv->fleet, srv->outbox, srv->router,
                          srv->followup, &is, &srv->incidents, err, errlen);
}

static int open_state(struct server *srv, char *err, size_t errlen)
{
    char uri[4200];
    if (store_uri(srv, uri, sizeof uri, err, errlen) != 0 ||
        store_open(srv->loop, uri, &srv->store, err, errlen) != 0)
        return -1;
    srv->fleet = fleet_new(srv->cfg.fail_timeout_ms, events_on_transition, &srv->recorder);
    if (srv->fleet && srv->settings.gpu_alerts)
        fleet_on_gpu_change(srv->fleet, events_on_gpu_change, &srv->recorder);
    if (!srv->fleet || store_load_workers(srv->store, restore_worker, srv->fleet, err, errlen) ||
        open_silences(srv, err, errlen) != 0)
        return -1;
    srv->outbox = outbox_new(srv->loop, srv->store, &srv->alert_settings, err, errlen);
    if (!srv->outbox || open_router(srv, err, errlen) != 0 || open_analysis(srv, err, errlen) != 0)
        return -1;
    if (!(srv->deps = dependencies_new(&srv->depend_settings, srv->fleet))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    dependencies_set_tell(srv->deps, incidents_tell_down, srv->incidents);
    incidents_set_dependencies(srv->incidents, srv->deps);
    srv->recorder = (struct event_recorder){.store = srv->store,
                                            .outbox = srv->outbox,
                                            .router = srv->router,
                                            .incidents = srv->incidents,
                                            .fleet = srv->fleet,
                                            .deps = srv->deps,
                                            .silences = srv->silences,
                                            .fail_timeout_ms = srv->cfg.fail_timeout_ms};
    if (events_recorder_start(&srv->recorder, srv->loop) != 0) {
        snprintf(err, errlen, "cannot create the event recorder's timer");
        return -1;
    }
    return store_load_pending_outbox(srv->store, restore_message, srv->outbox, err, errlen);
}

/* For the check engine: whether this server is cut off (its canaries fail, or a server
 * incident is open), so that its own checks' failures are its fault. ctx: the server. */
static bool server_cut_off(void *ctx)
{
    struct server *srv = ctx;
    size_t open[INCIDENT_CLASS_COUNT];
    incidents_count_open(srv->incidents, open);
    return (srv->canaries && canaries_cut_off(srv->canaries)) || open[INCIDENT_SERVER] > 0;
}

#define CHECKS_RELOAD_DELAY_MS 100 /* quiet time after a change in CHECKS_DIR before reading it */

/* The server's checks: CHECKS_DIR (or DATA_DIR/checks.d), run with one probe_env. */
static int open_checks(struct server *srv, char *err, size_t errlen)
{
    char dir[4200];
    if (srv->settings.checks_dir)
        snprintf(dir, sizeof dir, "%s", srv->settings.checks_dir);
    else
        snprintf(dir, sizeof dir, "%s/checks.d", srv->cfg.data_dir);
    srv->probe_env = probe_env_new(srv->loop, err, errlen);
    if (!srv->probe_env)
        return -1;
    struct checks_options o = {.loop = srv->loop, .store = srv->store, .outbox = &srv->outbox,
                               .router = srv->router,
                               .env = srv->probe_env, .find = probe_type_find, .dir = dir,
                               .history = srv->settings.check_history,
                               .reload_delay_ms = CHECKS_RELOAD_DELAY_MS,
                               .group_wait_ms = srv->settings.group_wait_ms,
                               .cut_off = server_cut_off,
                               .cut_off_ctx = srv,
                               .deps = srv->deps,
                               .site_outage = incidents_site_outage,
                               .site_outage_ctx = srv->incidents};
    srv->checks = checks_open(&o, err, errlen);
    dependencies_set_checks(srv->deps, srv->checks);
    incidents_set_checks(srv->incidents, srv->checks);
    dependencies_warn_unknown(srv->deps);
    if (!srv->checks)
        return -1;
    dependencies_restore(srv->deps, srv->store, srv->router); /* check states are known now */
    return 0;
}

/* A committed event: to the live stream's clients; a worker's DOWN also takes its runners out
 * of its checks' quorum (checks.h). */
static void on_event_committed(const struct event_record *ev, void *ctx)
{
    struct api_context *api = ctx;
    api_events_publish(ev, ctx);
    if (ev->kind == EVENT_DOWN && api->checks)
        checks_agent_down(api->checks, ev->worker);
}

static int start_http(struct server *srv, char *err, size_t errlen)
{
    const struct server_settings *set = &srv->settings;
    srv->auth = auth_new(srv->cfg.api_key, set->admin_user, set->admin_pass, set->metrics_token,
                         set->metrics_public == 1);
    if (!srv->auth) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    srv->agent_metrics = agent_metrics_new((size_t)set->metrics_max_series, set->metrics_ttl_ms,
                                           server_metrics_reserved);
    srv->metrics = server_metrics_new(api_routes, clock_wall_ms());
    if (!srv->agent_metrics || !srv->metrics) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->api = (struct api_context){.fleet = srv->fleet,
                                    .store = srv->store,
                                    .incidents = srv->incidents,
                                    .canaries = srv->canaries,
                                    .followup = srv->followup,
                                    .outbox = srv->outbox,
                                    .agent_metrics = srv->agent_metrics,
                                    .metrics = srv->metrics,
                                    .silences = srv->silences,
                                    .checks = srv->checks,
                                    .fail_timeout_ms = srv->cfg.fail_timeout_ms,
                                    .loop = srv->loop};
    if (api_events_start(&srv->api) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->recorder.committed = on_event_committed;
    srv->recorder.committed_ctx = &srv->api;
    struct http_config hc = {
        .addr = set->listen_addr,
        .port = srv->cfg.server_port,
        .routes = api_routes,
        .ctx = &srv->api,
        .authorize = auth_check,
        .authorize_ctx = srv->auth,
        .limits = {.max_connections = set->http_max_connections,
                   .max_per_addr = set->http_max_per_addr,
                   .agent_reserve = set->http_agent_reserve,
                   .header_timeout_ms = set->http_header_timeout_ms,
                   .idle_timeout_ms = set->http_idle_timeout_ms,
                   .min_body_rate = set->http_min_body_rate,
                   .body_memory_max = (size_t)set->http_body_memory_mib * 1024 * 1024,
                   .auth_max_failures = set->auth_max_failures,
                   .auth_window_ms = set->auth_failure_window_ms},
        .tls = srv->tls,
        .hsts_max_age_s = set->tls_hsts_s,
        .observe = server_metrics_observe,
        .observe_ctx = srv->metrics,
    };
    srv->http = http_server_start(srv->loop, &hc, err, errlen);
    return srv->http ? 0 : -1;
}

static void start_timers(struct server *srv)
{
    uv_timer_init(srv->loop, &srv->expire_timer);
    uv_timer_init(srv->loop, &srv->save_timer);
    uv_signal_init(srv->loop, &srv->sigterm);
    uv_signal_init(srv->loop, &srv->sigint);
    uv_signal_init(srv->loop, &srv->sighup);
    srv->expire_timer.data = srv->save_timer.data = srv;
    srv->sigterm.data = srv->sigint.data = srv->sighup.data = srv;
    uv_timer_start(&srv->expire_timer, on_expire_timer, 1, 0);
    uv_timer_start(&srv->save_timer, on_save_timer, SAVE_INTERVAL_MS, SAVE_INTERVAL_MS);
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    uv_signal_start(&srv->sighup, on_sighup, SIGHUP);
    srv->timers_started = true;
}

static int run(struct server *srv)
{
    char err[512];
    raise_fd_limit();
    srv->loop = uv_default_loop();
    if (open_state(srv, err, sizeof err) != 0) {
        log_error("server: %s", err);
        return 1;
    }
    srv->canaries = canaries_start(srv->loop, &srv->rca_settings, incidents_canaries_changed,
                                   srv->incidents, err, sizeof err);
    if (!srv->canaries) {
        log_error("server: RCA_CANARIES: %s", err);
        return 1;
    }
    if (open_checks(srv, err, sizeof err) != 0 || start_http(srv, err, sizeof err) != 0) {
        log_error("server: %s", err);
        return 1;
    }
    srv->cfg.server_port = http_server_port(srv->http); /* SERVER_PORT=0: the one picked */
    start_timers(srv);
    const char *shown =
        strcmp(srv->settings.listen_addr, "0.0.0.0") ? srv->settings.listen_addr : "127.0.0.1";
    log_info("server: listening on %s://%s%s%s:%d/ (workers known: %zu, FAIL_TIMEOUT %.1fs, "
             "admin %s)",
             srv->tls ? "https" : "http", strchr(shown, ':') ? "[" : "", shown,
             strchr(shown, ':') ? "]" : "", srv->cfg.server_port, fleet_count(srv->fleet),
             (double)srv->cfg.fail_timeout_ms / 1000.0,
             srv->settings.admin_pass ? "on /admin" : "disabled (ADMIN_PASS unset)");
    if (srv->tls)
        log_info("server: TLS certificate: %s", tls_credentials_about(srv->tls));
    uv_run(srv->loop, UV_RUN_DEFAULT);
    log_info("server: stopped");
    return 0;
}

int server_main(int argc, char **argv)
{
    struct server srv = {0};
    char *positional[1];
    struct cli_args args = {.positional = positional};
    config_init(&srv.cfg);
    config_attach(&srv.cfg, &server_settings_table, &srv.settings);
    config_attach(&srv.cfg, &rca_settings_table, &srv.rca_settings);
    config_attach(&srv.cfg, &alert_settings_table, &srv.alert_settings);
    config_attach(&srv.cfg, &silence_settings_table, &srv.silence_settings);
    config_attach(&srv.cfg, &depend_settings_table, &srv.depend_settings);
    enum cli_result r = cli_parse(&server_cli, argc, argv, &srv.cfg, &args);
    if (r != CLI_RUN) {
        config_free(&srv.cfg);
        return r == CLI_EXIT_OK ? 0 : 2;
    }
    char err[512], uri[4200];
    int rc;
    if (config_require(&srv.cfg, "API_KEY", err, sizeof err) != 0 ||
        server_settings_check(&srv.settings, err, sizeof err) != 0 ||
        store_uri(&srv, uri, sizeof uri, err, sizeof err) != 0)
        rc = cli_fail(&server_cli, err);
    else if (!srv.alert_settings.telegram_token != !srv.alert_settings.chat_id)
        rc = cli_fail(&server_cli, srv.alert_settings.chat_id
                                       ? "TELEGRAM_TOKEN: required when CHAT_ID is set (set both "
                                         "to send Telegram alerts, or neither)"
                                       : "CHAT_ID: required when TELEGRAM_TOKEN is set (set both "
                                         "to send Telegram alerts, or neither)");
    else if (open_tls(&srv, err, sizeof err) != 0)
        rc = cli_fail(&server_cli, err);
    else
        rc = run(&srv);
    if (srv.loop) {
        if (srv.store) /* startup failed half way */
            stop_server(&srv);
        uv_run(srv.loop, UV_RUN_DEFAULT);
        uv_loop_close(srv.loop);
    }
    tls_credentials_close(srv.tls); /* when startup failed before the loop ran */
    fleet_free(srv.fleet);
    auth_free(srv.auth);
    agent_metrics_free(srv.agent_metrics);
    server_metrics_free(srv.metrics);
    silences_free(srv.silences);
    silences_free(srv.silence_settings.configured);
    dependencies_free(srv.deps);
    config_free(&srv.cfg);
    return rc;
}
