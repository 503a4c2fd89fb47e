/* incidents.c — the correlation engine wired into the running server (incidents.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/format.h"
#include "base/clock.h"
#include "base/log.h"
#include "alert/outbox.h"
#include "alert/router.h"
#include "server/checks.h"
#include "server/dependencies.h"
#include "server/fleet.h"
#include "server/followup.h"
#include "server/incidents.h"
#include "rca/rca.h"
#include "store/store.h"

#define MESSAGE_MAX 2048
#define SERVER_FRACTION 0.8
#define SAVE_DELAY_MS 1000
#define CUT_OFF_SCAN_MS 1000

struct incidents {
    struct store *store;
    struct fleet *fleet;
    struct outbox *outbox;     /* may be NULL */
    struct alert_router *router; /* may be NULL */
    struct followup *followup; /* may be NULL */
    struct dependencies *deps; /* may be NULL */
    struct checks *checks;     /* may be NULL: the checks a site outage holds back */
    struct incidents_settings settings;
    struct rca *rca;
    uv_timer_t timer;          /* fires at the engine's next deadline */
    int64_t cut_off_scan_mono; /* last hand-over of overdue workers while cut off */
};

static void on_incident_saved(int status, const struct incident_record *inc,
                              const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct incidents *incs = ctx;
    if (status != 0) {
        log_error("server: incident %lld could not be stored; its messages are not sent",
                  (long long)inc->id);
        return;
    }
    if (incs->outbox && n_msgs > 0)
        outbox_enqueue(incs->outbox, msgs, n_msgs);
}

/* The per-worker DOWN message of w: the problem "worker:NAME" that its UP resolves (events.c).
 * None while w flaps: it is quiet until stable (events.c). */
static void route_down(struct incidents *incs, const struct worker_record *w,
                       struct alert_batch *batch)
{
    char text[MESSAGE_MAX], subject[WORKER_NAME_MAX + 16], key[WORKER_NAME_MAX + 8];
    const struct flap_state *flap = fleet_flap(incs->fleet, w->name);
    if (flap && flap->flapping)
        return;
    alert_format_down(w, w->state_since_ms, incs->settings.fail_timeout_ms, text, sizeof text);
    snprintf(subject, sizeof subject, "%s is DOWN", w->name);
    snprintf(key, sizeof key, "worker:%s", w->name);
    struct label site = {"site", w->site};
    struct alert_message msg = {.kind = ALERT_KIND_WORKER,
                                .severity = ALERT_SEVERITY_CRITICAL,
                                .name = w->name,
                                .subject = subject,
                                .text = text,
                                .labels = &site,
                                .n_labels = w->site[0] ? 1 : 0,
                                .dedup_key = key,
                                .created_ms = w->state_since_ms};
    alert_route(incs->router, &msg, batch);
}

/* The per-worker DOWN messages the engine says are due (individual incidents), but those of
 * workers held back while a parent is down (told when it is up: incidents_tell_down). */
static void route_downs(struct incidents *incs, const struct rca_incident_view *inc,
                        struct alert_batch *batch)
{
    for (size_t i = 0; i < inc->n_notify_down; i++) {
        const struct worker_record *w = fleet_find(incs->fleet, inc->notify_down[i]);
        if (w && !dependencies_take_due(incs->deps, w->name))
            route_down(incs, w, batch);
    }
}

static void on_down_told(int status, const struct event_record *ev,
                         const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct incidents *incs = ctx;
    (void)ev;
    if (status != 0)
        log_error("server: a DOWN held back could not be stored; it is not told");
    else if (incs->outbox && n_msgs > 0)
        outbox_enqueue(incs->outbox, msgs, n_msgs);
}

void incidents_tell_down(const struct worker_record *w, void *ctx)
{
    struct incidents *incs = ctx;
    struct alert_batch batch = {0};
    route_down(incs, w, &batch);
    store_append_messages(incs->store, batch.rows, batch.n, on_down_told, incs);
    alert_batch_free(&batch);
}

void incidents_set_checks(struct incidents *incs, struct checks *checks)
{
    if (incs)
        incs->checks = checks;
}

int64_t incidents_site_outage(const char *site, void *ctx)
{
    const struct incidents *incs = ctx;
    return incs ? rca_site_incident(incs->rca, site) : 0;
}

void incidents_set_dependencies(struct incidents *incs, struct dependencies *deps)
{
    incs->deps = deps;
}

#define HELD_CHECKS_MAX 32

/* Appends to an incident's text the checks held back because they run only from a site it cut
 * off (checks.h). */
static void append_held_checks(const struct incidents *incs, int64_t id, char *text, size_t len)
{
    const char *names[HELD_CHECKS_MAX];
    size_t n = incs->checks ? checks_held_by_incident(incs->checks, id, names, HELD_CHECKS_MAX) : 0;
    size_t used = strlen(text);
    for (size_t i = 0; i < n && used + 1 < len; i++) {
        int w = snprintf(text + used, len - used, "%s%s",
                         i ? ", " : "\nHeld back, run only from its sites: ", names[i]);
        used += w > 0 ? (size_t)w : 0;
    }
}

/* The incident's own message, if the change carries one: the problem "incident:ID", resolved
 * by its closing. */
static void route_incident(struct incidents *incs, enum incident_change change,
                           const struct rca_incident_view *inc, int64_t now,
                           struct alert_batch *batch)
{
    char text[MESSAGE_MAX], subject[160], key[40], name[24];
    if (!alert_format_incident_message(change, inc->alert, text, sizeof text))
        return;
    append_held_checks(incs, inc->record.id, text, sizeof text);
    size_t line = strcspn(text, "\n");
    snprintf(subject, sizeof subject, "%.*s", (int)(line < 159 ? line : 159), text);
    snprintf(name, sizeof name, "%lld", (long long)inc->record.id);
    snprintf(key, sizeof key, "incident:%lld", (long long)inc->record.id);
    struct label cls = {"class", inc->record.classification};
    struct alert_message msg = {.kind = ALERT_KIND_INCIDENT,
                                .severity = ALERT_SEVERITY_CRITICAL,
                                .resolve = change == INCIDENT_CLOSED,
                                .name = name,
                                .subject = subject,
                                .text = text,
                                .labels = &cls,
                                .n_labels = 1,
                                .dedup_key = key,
                                .created_ms = now};
    alert_route(incs->router, &msg, batch);
}

static void on_rca_change(enum incident_change change, const struct rca_incident_view *inc,
                          void *ctx)
{
    struct incidents *incs = ctx;
    struct incident_record rec = inc->record;
    char *merged = followup_merge_evidence(incs->followup, rec.id, rec.evidence_json);
    if (merged)
        rec.evidence_json = merged;
    struct alert_batch batch = {0};
    route_incident(incs, change, inc, clock_wall_ms(), &batch);
    route_downs(incs, inc, &batch);
    if (change == INCIDENT_CLOSED)
        followup_incident_closed(incs->followup, rec.id, rec.closed_ms);
    if (change != INCIDENT_UPDATED)
        log_info("server: incident %lld %s: %s, %d workers", (long long)rec.id,
                 incident_change_name(change), rec.classification, inc->workers);
    store_save_incident(incs->store, &rec, batch.rows, batch.n, on_incident_saved, incs);
    free(merged);
    alert_batch_free(&batch);
}

static void on_rca_timer(uv_timer_t *t);

/* Re-arms the engine's timer for its next deadline. Call after every engine call. */
static void incidents_arm(struct incidents *incs)
{
    int64_t due = rca_next_deadline(incs->rca);
    if (due == RCA_NO_DEADLINE) {
        uv_timer_stop(&incs->timer);
        return;
    }
    int64_t wait = due - clock_wall_ms();
    uv_timer_start(&incs->timer, on_rca_timer, (uint64_t)(wait < 1 ? 1 : wait), 0);
}

static void on_rca_timer(uv_timer_t *t)
{
    struct incidents *incs = t->data;
    rca_tick(incs->rca, clock_wall_ms());
    incidents_arm(incs);
}

static void restore_incident(const struct incident_record *rec, void *ctx)
{
    struct incidents *incs = ctx;
    char err[256];
    if (rca_restore(incs->rca, rec, err, sizeof err) != 0)
        log_warn("server: incident %lld not restored: %s", (long long)rec->id, err);
}

/* The id of the next new incident, from the database's sequence (never reused, even by another
 * server on the same database). */
static int64_t next_incident_id(void *ctx)
{
    struct incidents *incs = ctx;
    return store_next_incident_id(incs->store);
}

static void incidents_free(struct incidents *incs)
{
    rca_free(incs->rca);
    free(incs);
}

int incidents_open(uv_loop_t *loop, struct store *store, struct fleet *fleet, struct outbox *outbox,
                   struct alert_router *router, struct followup *followup, const struct incidents_settings *settings,
                   struct incidents **out, char *err, size_t errlen)
{
    struct incidents *incs = calloc(1, sizeof *incs);
    if (!incs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *incs = (struct incidents){.store = store,
                               .fleet = fleet,
                               .outbox = outbox,
                               .router = router,
                               .followup = followup,
                               .settings = *settings};
    struct rca_config rc = {
        .window_ms = settings->window_ms,
        .hold_ms =
            settings->hold_ms < settings->window_ms ? settings->hold_ms : settings->window_ms,
        .threshold = settings->threshold,
        .server_fraction = SERVER_FRACTION,
        .save_delay_ms = SAVE_DELAY_MS,
    };
    rc.pace_ms = rc.hold_ms;
    if (rca_new(&rc, next_incident_id, incs, on_rca_change, incs, &incs->rca, err, errlen) != 0 ||
        store_load_open_incidents(store, restore_incident, incs, err, errlen) != 0) {
        incidents_free(incs);
        return -1;
    }
    uv_timer_init(loop, &incs->timer);
    incs->timer.data = incs;
    if (!settings->canaries)
        rca_canaries(incs->rca, false, NULL, clock_wall_ms(), err, errlen);
    incidents_arm(incs);
    *out = incs;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    incidents_free(h->data);
}

void incidents_close(struct incidents *incs)
{
    if (!incs)
        return;
    rca_flush(incs->rca);
    incs->outbox = NULL; /* closed before the store, whose last callbacks may still come */
    incs->router = NULL;
    incs->followup = NULL;
    uv_close((uv_handle_t *)&incs->timer, on_timer_closed);
}

static int monitored(const struct incidents *incs)
{
    size_t counts[3];
    fleet_count_states(incs->fleet, counts);
    return (int)(counts[WORKER_UP] + counts[WORKER_DOWN]);
}

void incidents_worker_down(struct incidents *incs, const struct worker_record *w)
{
    char err[256];
    if (rca_worker_down(incs->rca, w->name, w->ip, w->site, monitored(incs), w->state_since_ms, err,
                        sizeof err) != 0)
        log_warn("server: root-cause analysis skipped %s: %s", w->name, err);
    incidents_arm(incs);
}

bool incidents_worker_up(struct incidents *incs, const struct worker_record *w)
{
    bool tell = rca_worker_up(incs->rca, w->name, w->state_since_ms);
    incidents_arm(incs);
    return tell;
}

void incidents_canaries_changed(bool cut_off, json_t *evidence, void *ctx)
{
    struct incidents *incs = ctx;
    char *text = json_dumps(evidence, JSON_COMPACT);
    char err[256];
    int64_t now_mono = clock_mono_ms();
    if (cut_off)
        log_warn("server: no canary answers: this server seems cut off; workers it cannot hear "
                 "are not counted as down");
    else
        log_info("server: canaries answer again; every worker gets a fresh FAIL_TIMEOUT");
    if (rca_canaries(incs->rca, cut_off, text, clock_wall_ms(), err, sizeof err) != 0)
        log_warn("server: canary evidence not kept: %s", err);
    free(text);
    if (cut_off) {
        incs->cut_off_scan_mono = 0;
        incidents_cut_off_overdue(incs, now_mono);
    } else {
        fleet_regrace(incs->fleet, now_mono);
    }
    incidents_arm(incs);
}

static void hand_over_unreachable(const struct worker_record *w, void *ctx)
{
    struct incidents *incs = ctx;
    char err[256];
    if (rca_worker_unreachable(incs->rca, w->name, w->ip, w->site, monitored(incs), clock_wall_ms(),
                               err, sizeof err) != 0)
        log_debug("server: %s not handed over as unreachable: %s", w->name, err);
}

void incidents_cut_off_overdue(struct incidents *incs, int64_t now_mono)
{
    if (incs->cut_off_scan_mono && now_mono - incs->cut_off_scan_mono < CUT_OFF_SCAN_MS)
        return;
    incs->cut_off_scan_mono = now_mono;
    fleet_each_overdue(incs->fleet, now_mono, hand_over_unreachable, incs);
    incidents_arm(incs);
}

void incidents_count_open(const struct incidents *inc, size_t counts[INCIDENT_CLASS_COUNT])
{
    for (size_t i = 0; i < INCIDENT_CLASS_COUNT; i++)
        counts[i] = 0;
    if (inc)
        rca_open_by_class(inc->rca, counts);
}

json_t *incidents_analysis(struct incidents *incs, int64_t now_wall)
{
    json_t *analysis = rca_analysis(incs->rca, now_wall);
    if (!analysis)
        return NULL;
    size_t counts[3];
    fleet_count_states(incs->fleet, counts);
    json_object_set_new(analysis, "fleet",
                        json_pack("{s:I, s:I, s:I}", "up", (json_int_t)counts[WORKER_UP], "down",
                                  (json_int_t)counts[WORKER_DOWN], "unknown",
                                  (json_int_t)counts[WORKER_UNKNOWN]));
    const struct incidents_settings *set = &incs->settings;
    json_object_set_new(analysis, "thresholds",
                        json_pack("{s:f, s:i, s:f, s:f}", "window_s",
                                  (double)set->window_ms / 1000.0, "threshold", set->threshold,
                                  "server_fraction", SERVER_FRACTION, "hold_s",
                                  (double)set->hold_ms / 1000.0));
    return analysis;
}
