/* server.c — `faultline server`: settings, store, restored workers, outbox, HTTP routes, the
 * deadline and flush timers, and an orderly stop on SIGTERM/SIGINT. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/canary.h"
#include "server/server_internal.h"

#define FLUSH_INTERVAL_MS 5000
#define EXPIRE_MAX_WAIT_MS 1000
#define EXPIRE_CANARY_WAIT_MS 50
#define BACKLOG_BODY_MAX (1024 * 1024)

static const char *const server_options[] = {
    "API_KEY",       "LISTEN_ADDR",    "SERVER_PORT",  "FAIL_TIMEOUT",
    "DATA_DIR",      "TELEGRAM_TOKEN", "CHAT_ID",      "TELEGRAM_API_URL",
    "ADMIN_USER",    "ADMIN_PASS",     "LOG_LEVEL",    "RCA_WINDOW",
    "RCA_THRESHOLD", "RCA_HOLD",       "RCA_CANARIES", "RCA_CANARY_INTERVAL"};

static const struct cli_spec server_cli = {
    .command = "server",
    .usage = "server [--config FILE] [--SETTING VALUE ...]",
    .description = "Receives heartbeats on POST /api/v1/heartbeat, marks a worker DOWN after\n"
                   "FAIL_TIMEOUT seconds of silence and UP when it returns, stores every change\n"
                   "in DATA_DIR/faultline.db and notifies Telegram. Serves the public page on /,\n"
                   "the admin page on /admin and the admin API under /admin/api/.",
    .options = server_options,
    .option_count = sizeof server_options / sizeof server_options[0],
    .max_positional = 0,
};

static const struct http_route routes[] = {
    {"GET", "/", false, public_index, 0},
    {"POST", "/api/v1/heartbeat", false, ingest_heartbeat, 0},
    {"GET", "/admin", false, admin_page, 0},
    {"GET", "/admin/", false, admin_page, 0},
    {"GET", "/admin/api/status", false, admin_api_status, 0},
    {"GET", "/admin/api/events", false, admin_api_events, 0},
    {"GET", "/admin/api/worker/", true, admin_api_worker, 0},
    {"POST", "/api/v1/backlog", false, ingest_backlog, BACKLOG_BODY_MAX},
    {"GET", "/admin/api/rca", false, admin_api_rca, 0},
    {"GET", "/admin/api/analysis", false, admin_api_analysis, 0},
    {"GET", "/admin/api/diagnostics", false, admin_api_diagnostics, 0},
    {0},
};

void server_secret_hash(const struct server *srv, const char *secret,
                        unsigned char out[crypto_shorthash_BYTES])
{
    crypto_shorthash(out, (const unsigned char *)secret, strlen(secret), srv->secret_hash_key);
}

/* SipHash instead of BLAKE2b: the API key is checked on every heartbeat, and BLAKE2b was 3% of
 * the server's CPU there (BENCHMARKS.md). Without the random key nobody can aim for a collision. */
bool server_secret_equal(const struct server *srv, const char *presented,
                         const unsigned char hash[crypto_shorthash_BYTES])
{
    unsigned char mine[crypto_shorthash_BYTES];
    server_secret_hash(srv, presented, mine);
    return sodium_memcmp(mine, hash, sizeof mine) == 0;
}

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
    server_cut_off_overdue(srv, now);
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

static void on_flush_timer(uv_timer_t *t)
{
    struct server *srv = t->data;
    fleet_flush_changed(srv->fleet, save_workers, srv->store);
}

static void restore_worker(const struct worker_record *rec, void *ctx)
{
    fleet_restore(ctx, rec, clock_mono_ms());
}

static void restore_message(const struct outbox_record *rec, void *ctx)
{
    outbox_enqueue(ctx, rec, 1);
}

static void stop_server(struct server *srv)
{
    log_info("server: stopping");
    if (srv->fleet)
        fleet_flush_changed(srv->fleet, save_workers, srv->store);
    canaries_stop(srv->canaries);
    srv->canaries = NULL;
    incidents_close(srv);
    followup_close(srv);
    outbox_close(srv->outbox);
    srv->outbox = NULL;
    /* The store answers suspended admin requests before the HTTP server goes away. */
    store_close(srv->store);
    srv->store = NULL;
    http_server_stop(srv->http);
    srv->http = NULL;
    if (srv->timers_started) {
        uv_close((uv_handle_t *)&srv->expire_timer, NULL);
        uv_close((uv_handle_t *)&srv->flush_timer, NULL);
        uv_close((uv_handle_t *)&srv->sigterm, NULL);
        uv_close((uv_handle_t *)&srv->sigint, NULL);
        srv->timers_started = false;
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    stop_server(s->data);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Two servers on one DATA_DIR would both send every alert: the first one holds a lock. The
 * descriptor stays open (and the lock held) until the process ends. */
static int lock_data_dir(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/faultline.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %.300s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "DATA_DIR %.300s is in use by another faultline server", dir);
        close(fd);
        return -1;
    }
    return 0;
}

static int open_state(struct server *srv, char *err, size_t errlen)
{
    if (store_open(srv->loop, "sqlite", srv->cfg.data_dir, &srv->store, err, errlen) != 0 ||
        lock_data_dir(srv->cfg.data_dir, err, errlen) != 0)
        return -1;
    srv->fleet = fleet_new(srv->cfg.fail_timeout_ms, events_on_transition, srv);
    if (!srv->fleet || store_load_workers(srv->store, restore_worker, srv->fleet, err, errlen))
        return -1;
    srv->outbox = outbox_new(srv->loop, srv->store, &srv->cfg, err, errlen);
    if (!srv->outbox || incidents_open(srv, err, errlen) != 0)
        return -1;
    if (followup_open(srv) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return store_load_pending_outbox(srv->store, restore_message, srv->outbox, err, errlen);
}

static void start_timers(struct server *srv)
{
    uv_timer_init(srv->loop, &srv->expire_timer);
    uv_timer_init(srv->loop, &srv->flush_timer);
    uv_signal_init(srv->loop, &srv->sigterm);
    uv_signal_init(srv->loop, &srv->sigint);
    srv->expire_timer.data = srv->flush_timer.data = srv;
    srv->sigterm.data = srv->sigint.data = srv;
    uv_timer_start(&srv->expire_timer, on_expire_timer, 1, 0);
    uv_timer_start(&srv->flush_timer, on_flush_timer, FLUSH_INTERVAL_MS, FLUSH_INTERVAL_MS);
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    srv->timers_started = true;
}

static void hash_secrets(struct server *srv)
{
    crypto_shorthash_keygen(srv->secret_hash_key);
    server_secret_hash(srv, srv->cfg.api_key, srv->api_key_hash);
    server_secret_hash(srv, srv->cfg.admin_user ? srv->cfg.admin_user : "", srv->admin_user_hash);
    server_secret_hash(srv, srv->cfg.admin_pass ? srv->cfg.admin_pass : "", srv->admin_pass_hash);
}

static int run(struct server *srv)
{
    char err[512];
    if (sodium_init() < 0)
        return cli_fail(&server_cli, "libsodium failed to initialise");
    hash_secrets(srv);
    raise_fd_limit();
    srv->loop = uv_default_loop();
    if (open_state(srv, err, sizeof err) != 0) {
        log_error("server: %s", err);
        return 1;
    }
    srv->http = http_server_start(srv->loop, srv->cfg.listen_addr, srv->cfg.server_port, routes,
                                  srv, err, sizeof err);
    if (!srv->http) {
        log_error("server: %s", err);
        return 1;
    }
    start_timers(srv);
    srv->canaries =
        canaries_start(srv->loop, &srv->cfg, server_canaries_changed, srv, err, sizeof err);
    if (!srv->canaries) {
        log_error("server: RCA_CANARIES: %s", err);
        stop_server(srv);
        return 1;
    }
    const char *shown =
        strcmp(srv->cfg.listen_addr, "0.0.0.0") ? srv->cfg.listen_addr : "127.0.0.1";
    log_info("server: listening on http://%s%s%s:%d/ (workers known: %zu, FAIL_TIMEOUT %.1fs, "
             "admin %s)",
             strchr(shown, ':') ? "[" : "", shown, strchr(shown, ':') ? "]" : "",
             srv->cfg.server_port, fleet_count(srv->fleet),
             (double)srv->cfg.fail_timeout_ms / 1000.0,
             srv->cfg.admin_pass ? "on /admin" : "disabled (ADMIN_PASS unset)");
    uv_run(srv->loop, UV_RUN_DEFAULT);
    log_info("server: stopped");
    return 0;
}

int server_main(int argc, char **argv)
{
    struct server srv = {0};
    char *positional[1];
    int npos;
    enum cli_result r = cli_parse(&server_cli, argc, argv, &srv.cfg, positional, &npos);
    if (r != CLI_RUN) {
        config_free(&srv.cfg);
        return r == CLI_EXIT_OK ? 0 : 2;
    }
    char err[256];
    int rc;
    if (config_require(&srv.cfg, "API_KEY", err, sizeof err) != 0)
        rc = cli_fail(&server_cli, err);
    else if (!srv.cfg.telegram_token != !srv.cfg.chat_id)
        rc = cli_fail(&server_cli, srv.cfg.chat_id
                                       ? "TELEGRAM_TOKEN: required when CHAT_ID is set (set both "
                                         "to send Telegram alerts, or neither)"
                                       : "CHAT_ID: required when TELEGRAM_TOKEN is set (set both "
                                         "to send Telegram alerts, or neither)");
    else
        rc = run(&srv);
    if (srv.loop) {
        if (srv.store) /* startup failed half way */
            stop_server(&srv);
        uv_run(srv.loop, UV_RUN_DEFAULT);
        uv_loop_close(srv.loop);
    }
    fleet_free(srv.fleet);
    rca_free(srv.rca);
    config_free(&srv.cfg);
    return rc;
}
