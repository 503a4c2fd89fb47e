/* incidents.c — wires the correlation engine (rca.h) into the running server: DOWN and UP
 * transitions and the canaries' verdict go in; every change the engine reports is saved with its
 * messages in one transaction (store_save_incident) and handed to the outbox only once
 * committed. Also GET /admin/api/analysis. Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/format.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/canary.h"
#include "server/rca.h"
#include "server/server_internal.h"

#define MAX_CHANNELS 8
#define MESSAGE_MAX 2048
#define SERVER_FRACTION 0.8
#define SAVE_DELAY_MS 1000
#define CUT_OFF_SCAN_MS 1000

static void on_incident_saved(int status, const struct incident_record *inc,
                              const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct server *srv = ctx;
    if (status != 0) {
        log_error("server: incident %lld could not be stored; its messages are not sent",
                  (long long)inc->id);
        return;
    }
    if (srv->outbox && n_msgs > 0)
        outbox_enqueue(srv->outbox, msgs, n_msgs);
}

/* Adds one message per channel for text to msgs (texts are borrowed); returns the new count. */
static size_t add_messages(struct server *srv, const char *text, int64_t now,
                           struct outbox_record *msgs, size_t n, size_t max)
{
    const char *channels[MAX_CHANNELS];
    size_t nch = srv->outbox ? outbox_channel_names(srv->outbox, channels, MAX_CHANNELS) : 0;
    for (size_t i = 0; i < nch && n < max; i++) {
        msgs[n] = (struct outbox_record){.text = text, .created_ms = now};
        snprintf(msgs[n].channel, sizeof msgs[n].channel, "%s", channels[i]);
        n++;
    }
    return n;
}

/* The per-worker DOWN texts the engine says are due (individual incidents). texts[i] are
 * malloc'd; returns how many were written. */
static size_t down_texts(struct server *srv, const struct rca_incident_view *inc, char **texts)
{
    size_t n = 0;
    for (size_t i = 0; i < inc->n_notify_down; i++) {
        const struct worker_record *w = fleet_find(srv->fleet, inc->notify_down[i]);
        char *text = w ? malloc(MESSAGE_MAX) : NULL;
        if (!text)
            continue;
        alert_format_down(w, w->state_since_ms, srv->cfg.fail_timeout_ms, text, MESSAGE_MAX);
        texts[n++] = text;
    }
    return n;
}

static void on_rca_change(enum rca_change change, const struct rca_incident_view *inc, void *ctx)
{
    struct server *srv = ctx;
    struct incident_record rec = {.id = inc->id,
                                  .scope_json = inc->scope_json,
                                  .workers_json = inc->workers_json,
                                  .evidence_json = inc->evidence_json,
                                  .opened_ms = inc->opened_ms,
                                  .updated_ms = inc->updated_ms,
                                  .closed_ms = inc->closed_ms};
    snprintf(rec.classification, sizeof rec.classification, "%s",
             rca_class_name(inc->classification));
    char *merged = followup_merge_evidence(srv, inc->id, inc->evidence_json);
    if (merged)
        rec.evidence_json = merged;
    size_t max = (inc->n_notify_down + 1) * MAX_CHANNELS;
    struct outbox_record *msgs = calloc(max, sizeof *msgs);
    char **texts = calloc(inc->n_notify_down + 1, sizeof *texts);
    char incident_text[MESSAGE_MAX];
    size_t n_msgs = 0, n_texts = 0;
    int64_t now = clock_wall_ms();
    if (msgs && texts) {
        if (rca_message(change, inc, incident_text, sizeof incident_text))
            n_msgs = add_messages(srv, incident_text, now, msgs, n_msgs, max);
        n_texts = down_texts(srv, inc, texts);
        for (size_t i = 0; i < n_texts; i++)
            n_msgs = add_messages(srv, texts[i], now, msgs, n_msgs, max);
    } else {
        log_error("server: out of memory composing messages of incident %lld", (long long)inc->id);
    }
    if (change != RCA_UPDATED)
        log_info("server: incident %lld %s: %s, %d workers", (long long)inc->id,
                 rca_change_name(change), rec.classification, inc->workers);
    store_save_incident(srv->store, &rec, msgs, n_msgs, on_incident_saved, srv);
    free(merged);
    for (size_t i = 0; i < n_texts; i++)
        free(texts[i]);
    free(texts);
    free(msgs);
}

static void on_rca_timer(uv_timer_t *t);

/* Re-arms the engine's timer for its next deadline. Call after every engine call. */
static void incidents_arm(struct server *srv)
{
    int64_t due = rca_next_deadline(srv->rca);
    if (due == RCA_NO_DEADLINE) {
        uv_timer_stop(&srv->rca_timer);
        return;
    }
    int64_t wait = due - clock_wall_ms();
    uv_timer_start(&srv->rca_timer, on_rca_timer, (uint64_t)(wait < 1 ? 1 : wait), 0);
}

static void on_rca_timer(uv_timer_t *t)
{
    struct server *srv = t->data;
    rca_tick(srv->rca, clock_wall_ms());
    incidents_arm(srv);
}

static void restore_incident(const struct incident_record *rec, void *ctx)
{
    struct server *srv = ctx;
    struct rca_stored_incident s = {.id = rec->id,
                                    .classification = rec->classification,
                                    .scope_json = rec->scope_json,
                                    .workers_json = rec->workers_json,
                                    .evidence_json = rec->evidence_json,
                                    .opened_ms = rec->opened_ms,
                                    .updated_ms = rec->updated_ms,
                                    .closed_ms = rec->closed_ms};
    char err[256];
    if (rca_restore(srv->rca, &s, err, sizeof err) != 0)
        log_warn("server: incident %lld not restored: %s", (long long)rec->id, err);
}

int incidents_open(struct server *srv, char *err, size_t errlen)
{
    int64_t max_id = 0;
    if (store_max_incident_id(srv->store, &max_id, err, errlen) != 0)
        return -1;
    struct rca_config rc = {
        .window_ms = srv->cfg.rca_window_ms,
        .hold_ms = srv->cfg.rca_hold_ms > 0 ? srv->cfg.rca_hold_ms : srv->cfg.ping_interval_ms,
        .threshold = srv->cfg.rca_threshold,
        .server_fraction = SERVER_FRACTION,
        .save_delay_ms = SAVE_DELAY_MS,
    };
    if (rc.hold_ms > rc.window_ms)
        rc.hold_ms = rc.window_ms;
    if (rca_new(&rc, max_id + 1, on_rca_change, srv, &srv->rca, err, errlen) != 0)
        return -1;
    if (store_load_open_incidents(srv->store, restore_incident, srv, err, errlen) != 0)
        return -1;
    uv_timer_init(srv->loop, &srv->rca_timer);
    srv->rca_timer.data = srv;
    srv->rca_timer_started = true;
    if (config_split_targets(srv->cfg.rca_canaries, NULL, 64, NULL, 0) <= 0)
        rca_canaries(srv->rca, false, NULL, clock_wall_ms(), err, errlen);
    incidents_arm(srv);
    return 0;
}

void incidents_close(struct server *srv)
{
    if (srv->rca)
        rca_flush(srv->rca);
    if (srv->rca_timer_started) {
        uv_close((uv_handle_t *)&srv->rca_timer, NULL);
        srv->rca_timer_started = false;
    }
}

static int monitored(const struct server *srv)
{
    size_t counts[3];
    fleet_count_states(srv->fleet, counts);
    return (int)(counts[WORKER_UP] + counts[WORKER_DOWN]);
}

void incidents_worker_down(struct server *srv, const struct worker_record *w)
{
    char err[256];
    if (rca_worker_down(srv->rca, w->name, w->ip, w->site, monitored(srv), w->state_since_ms, err,
                        sizeof err) != 0)
        log_warn("server: root-cause analysis skipped %s: %s", w->name, err);
    incidents_arm(srv);
}

bool incidents_worker_up(struct server *srv, const struct worker_record *w)
{
    bool tell = rca_worker_up(srv->rca, w->name, w->state_since_ms);
    incidents_arm(srv);
    return tell;
}

void server_canaries_changed(bool cut_off, json_t *evidence, void *ctx)
{
    struct server *srv = ctx;
    char *text = json_dumps(evidence, JSON_COMPACT);
    char err[256];
    int64_t now_mono = clock_mono_ms();
    if (cut_off)
        log_warn("server: no canary answers: this server seems cut off; workers it cannot hear "
                 "are not counted as down");
    else
        log_info("server: canaries answer again; every worker gets a fresh FAIL_TIMEOUT");
    if (rca_canaries(srv->rca, cut_off, text, clock_wall_ms(), err, sizeof err) != 0)
        log_warn("server: canary evidence not kept: %s", err);
    free(text);
    if (cut_off) {
        srv->cut_off_scan_mono = 0;
        server_cut_off_overdue(srv, now_mono);
    } else {
        fleet_regrace(srv->fleet, now_mono);
    }
    incidents_arm(srv);
}

static void hand_over_unreachable(const struct worker_record *w, void *ctx)
{
    struct server *srv = ctx;
    char err[256];
    if (rca_worker_unreachable(srv->rca, w->name, w->ip, w->site, monitored(srv), clock_wall_ms(),
                               err, sizeof err) != 0)
        log_debug("server: %s not handed over as unreachable: %s", w->name, err);
}

void server_cut_off_overdue(struct server *srv, int64_t now_mono)
{
    if (srv->cut_off_scan_mono && now_mono - srv->cut_off_scan_mono < CUT_OFF_SCAN_MS)
        return;
    srv->cut_off_scan_mono = now_mono;
    fleet_each_overdue(srv->fleet, now_mono, hand_over_unreachable, srv);
    incidents_arm(srv);
}

void admin_api_analysis(struct http_request *req, void *ctx)
{
    struct server *srv = ctx;
    if (!admin_authorized(req, srv))
        return;
    json_t *analysis = rca_analysis(srv->rca, clock_wall_ms());
    if (!analysis) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    size_t counts[3];
    fleet_count_states(srv->fleet, counts);
    json_object_set_new(analysis, "server_canaries", canaries_json(srv->canaries));
    json_object_set_new(analysis, "fleet",
                        json_pack("{s:I, s:I, s:I}", "up", (json_int_t)counts[WORKER_UP], "down",
                                  (json_int_t)counts[WORKER_DOWN], "unknown",
                                  (json_int_t)counts[WORKER_UNKNOWN]));
    json_object_set_new(
        analysis, "thresholds",
        json_pack(
            "{s:f, s:i, s:f, s:f}", "window_s", (double)srv->cfg.rca_window_ms / 1000.0,
            "threshold", srv->cfg.rca_threshold, "server_fraction", SERVER_FRACTION, "hold_s",
            (double)(srv->cfg.rca_hold_ms > 0 ? srv->cfg.rca_hold_ms : srv->cfg.ping_interval_ms) /
                1000.0));
    admin_respond_json(req, 200, analysis);
}
