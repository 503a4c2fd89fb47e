/* events.c — worker state changes recorded as events, with their notifications (events.h). */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alert/format.h"
#include "base/clock.h"
#include "base/log.h"
#include "alert/outbox.h"
#include "alert/router.h"
#include "alert/silence.h"
#include "server/dependencies.h"
#include "server/events.h"
#include "server/fleet.h"
#include "server/http.h"
#include "server/incidents.h"
#include "store/store.h"

#define MESSAGE_MAX 1024

/* held_by: the parent that holds a DOWN back (dependencies.h), or NULL. */
static char *details_json(const struct worker_record *w, enum event_kind kind,
                          enum worker_state prev_state, int64_t prev_since_ms, const char *held_by)
{
    char last_seen[CLOCK_ISO_LEN];
    clock_format_iso(w->last_seen_ms, last_seen, sizeof last_seen);
    json_t *d = json_pack("{s:s, s:s, s:s}", "ip", w->ip, "last_seen", last_seen, "from",
                          worker_state_name(prev_state));
    if (kind == EVENT_DOWN) {
        json_object_set_new(d, "silent_s",
                            json_real((double)(w->state_since_ms - w->last_seen_ms) / 1000.0));
    } else if (prev_state == WORKER_DOWN) {
        json_object_set_new(d, "down_s",
                            json_real((double)(w->state_since_ms - prev_since_ms) / 1000.0));
    }
    if (held_by) { /* recorded, not told while the parent is down */
        json_object_set_new(d, "suppressed", json_true());
        json_object_set_new(d, "held_back_by", json_string(held_by));
    }
    char *text = json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(d);
    return text;
}

/* What the commit callback needs: the recorder, the worker and which of its state changes this
 * is, and the heartbeat to answer (req NULL when a deadline, not a request, caused the change,
 * or once the wait for the commit ended). */
struct pending_event {
    struct event_recorder *rec;
    char worker[WORKER_NAME_MAX + 1];
    uint64_t seq; /* fleet_state_seq() of the change; 0: not a change of state */
    struct heartbeat_answer heartbeat;
    int64_t wait_until_mono;
    struct pending_event *prev, *next; /* in rec's waiting list while heartbeat.req is set */
};

static const char HEARTBEAT_NOT_RECORDED[] = "event store unavailable; heartbeat not recorded";

void events_refuse_heartbeat(struct http_request *req)
{
    http_respond_retry_after(req, 503, HEARTBEAT_NOT_RECORDED, EVENTS_RETRY_AFTER_S);
}

static void waiting_remove(struct event_recorder *rec, struct pending_event *pe)
{
    if (pe->prev)
        pe->prev->next = pe->next;
    else
        rec->waiting_head = pe->next;
    if (pe->next)
        pe->next->prev = pe->prev;
    else
        rec->waiting_tail = pe->prev;
    pe->prev = pe->next = NULL;
}

static void on_wait_timer(uv_timer_t *t);

static void wait_timer_arm(struct event_recorder *rec)
{
    if (!rec->started || !rec->waiting_head)
        return;
    int64_t wait = rec->waiting_head->wait_until_mono - clock_mono_ms();
    uv_timer_start(&rec->wait_timer, on_wait_timer, (uint64_t)(wait > 0 ? wait : 0), 0);
}

/* Every wait is EVENTS_COMMIT_WAIT_MS long, so the list is in deadline order. */
static void waiting_append(struct event_recorder *rec, struct pending_event *pe)
{
    pe->wait_until_mono = clock_mono_ms() + EVENTS_COMMIT_WAIT_MS;
    pe->prev = rec->waiting_tail;
    pe->next = NULL;
    if (rec->waiting_tail)
        rec->waiting_tail->next = pe;
    else
        rec->waiting_head = pe;
    rec->waiting_tail = pe;
    if (pe == rec->waiting_head)
        wait_timer_arm(rec);
}

/* The event is still not on disk: the heartbeats that waited longest get their 503. */
static void on_wait_timer(uv_timer_t *t)
{
    struct event_recorder *rec = t->data;
    int64_t now = clock_mono_ms();
    while (rec->waiting_head && rec->waiting_head->wait_until_mono <= now) {
        struct pending_event *pe = rec->waiting_head;
        waiting_remove(rec, pe);
        log_warn("server: the event of %s is not on disk after %d ms; its heartbeat gets 503",
                 pe->worker, EVENTS_COMMIT_WAIT_MS);
        events_refuse_heartbeat(pe->heartbeat.req);
        pe->heartbeat.req = NULL;
    }
    wait_timer_arm(rec);
}

int events_recorder_start(struct event_recorder *rec, uv_loop_t *loop)
{
    int rc = uv_timer_init(loop, &rec->wait_timer);
    if (rc == 0)
        rc = uv_timer_init(loop, &rec->flap_timer);
    if (rc == 0) {
        rec->wait_timer.data = rec->flap_timer.data = rec;
        rec->started = true;
    }
    return rc;
}

void events_recorder_stop(struct event_recorder *rec)
{
    if (!rec->started)
        return;
    rec->started = false;
    uv_close((uv_handle_t *)&rec->wait_timer, NULL);
    uv_close((uv_handle_t *)&rec->flap_timer, NULL);
}

static void on_event_committed(int status, const struct event_record *ev,
                               const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct pending_event *pe = ctx;
    struct event_recorder *rec = pe->rec;
    const struct heartbeat_answer *a = &pe->heartbeat;
    if (a->req) {
        waiting_remove(rec, pe);
        if (status != 0)
            events_refuse_heartbeat(a->req);
        else if (a->ok_json)
            http_respond_json_text(a->req, 200, a->ok_json);
        else
            http_respond_no_content(a->req);
    }
    if (rec->fleet && pe->seq > 0)
        fleet_state_settled(rec->fleet, pe->worker, pe->seq, status == 0);
    free(pe);
    if (status != 0) {
        log_error("server: event %s for %s could not be stored; its notifications are not sent",
                  event_kind_name(ev->kind), ev->worker);
        return;
    }
    if (ev->kind == EVENT_UP || ev->kind == EVENT_DOWN)
        log_info("server: %s is %s (event %lld)", ev->worker, ev->kind == EVENT_UP ? "UP" : "DOWN",
                 (long long)ev->id);
    else
        log_info("server: %s: %s (event %lld)", ev->worker, event_kind_name(ev->kind),
                 (long long)ev->id);
    if (rec->outbox && n_msgs > 0)
        outbox_enqueue(rec->outbox, msgs, n_msgs);
    if (rec->committed)
        rec->committed(ev, rec->committed_ctx);
}

/* The site label of w, for routes; returns how many labels (0 or 1). */
static size_t worker_labels(const struct worker_record *w, struct label *labels)
{
    if (!w->site[0])
        return 0;
    labels[0] = (struct label){"site", w->site};
    return 1;
}

/* The UP of a worker whose DOWN was told: the resolve of "worker:NAME". DOWN texts are the
 * correlation engine's to send (incidents.c), once it knows whether the worker went down alone;
 * a worker seen for the first time is news for the event log only. */
static void route_up(struct alert_router *router, struct dependencies *deps,
                     const struct worker_record *w, int64_t prev_since_ms,
                     struct alert_batch *batch)
{
    char text[MESSAGE_MAX], subject[WORKER_NAME_MAX + 16], key[WORKER_NAME_MAX + 8];
    struct label labels[1];
    alert_format_up(w, w->state_since_ms, prev_since_ms, text, sizeof text);
    dependencies_append_held(deps, w->name, text, sizeof text);
    snprintf(subject, sizeof subject, "%s is UP", w->name);
    snprintf(key, sizeof key, "worker:%s", w->name);
    struct alert_message msg = {.kind = ALERT_KIND_WORKER,
                                .severity = ALERT_SEVERITY_INFO,
                                .resolve = true,
                                .name = w->name,
                                .subject = subject,
                                .text = text,
                                .labels = labels,
                                .n_labels = worker_labels(w, labels),
                                .dedup_key = key,
                                .created_ms = w->state_since_ms};
    alert_route(router, &msg, batch);
}

/* ---- flapping: one notice when a worker starts, quiet while it flaps, one when it stops ---- */

static void on_notice_committed(int status, const struct event_record *ev,
                                const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct event_recorder *rec = ctx;
    if (status != 0)
        log_error("server: a worker's stable notice could not be stored; it is not told");
    else if (rec->outbox && n_msgs > 0)
        outbox_enqueue(rec->outbox, msgs, n_msgs);
}

/* The notice "worker:NAME" of a worker that starts flapping (a warning, quiet until stable) or
 * is stable again: UP resolves what was told, DOWN is told as its problem. */
static void route_flap(struct alert_router *router, const struct worker_record *w,
                       enum flap_change change, double percent, int64_t now_ms,
                       struct alert_batch *batch)
{
    char text[MESSAGE_MAX], subject[WORKER_NAME_MAX + 32], key[WORKER_NAME_MAX + 8];
    char since[CLOCK_ISO_LEN];
    struct label labels[1];
    bool started = change == FLAP_STARTED, up = w->state == WORKER_UP;
    clock_format_iso(w->state_since_ms, since, sizeof since);
    if (started) {
        snprintf(subject, sizeof subject, "%s is flapping", w->name);
        snprintf(text, sizeof text,
                 "FLAPPING: %s changed state in %.0f%% of its last %d observations (now %s since "
                 "%s); quiet until it is stable",
                 w->name, percent, FLAP_WINDOW, worker_state_name(w->state), since);
    } else {
        snprintf(subject, sizeof subject, "%s is %s", w->name, up ? "UP" : "DOWN");
        snprintf(text, sizeof text, "STABLE: %s is no longer flapping; it is %s since %s", w->name,
                 worker_state_name(w->state), since);
    }
    snprintf(key, sizeof key, "worker:%s", w->name);
    struct alert_message msg = {.kind = ALERT_KIND_WORKER,
                                .severity = started ? ALERT_SEVERITY_WARNING
                                            : up    ? ALERT_SEVERITY_INFO
                                                    : ALERT_SEVERITY_CRITICAL,
                                .resolve = !started && up,
                                .name = w->name,
                                .subject = subject,
                                .text = text,
                                .labels = labels,
                                .n_labels = worker_labels(w, labels),
                                .dedup_key = key,
                                .created_ms = now_ms};
    alert_route(router, &msg, batch);
    if (started) /* no reminders while it flaps */
        alert_router_quiet(router, key);
}

static void on_flap_stopped(const struct worker_record *w, void *ctx)
{
    struct event_recorder *rec = ctx;
    struct alert_batch batch = {0};
    int64_t now = clock_wall_ms();
    route_flap(rec->router, w, FLAP_STOPPED, 0, now, &batch);
    log_info("server: %s is stable again (%s), told now", w->name, worker_state_name(w->state));
    store_append_messages(rec->store, batch.rows, batch.n, on_notice_committed, rec);
    alert_batch_free(&batch);
}

static void on_flap_timer(uv_timer_t *t)
{
    struct event_recorder *rec = t->data;
    if (fleet_flap_tick(rec->fleet, clock_wall_ms(), on_flap_stopped, rec) == 0)
        uv_timer_stop(&rec->flap_timer);
}

/* Observes w's change of state for flapping; routes the notice when flapping starts (and keeps
 * the timer that finds its end running) or stops. Returns true while w flaps: its DOWN and UP
 * are then recorded ("flapping": true) and not told. */
static bool worker_flap(struct event_recorder *rec, const struct worker_record *w,
                        enum worker_state prev_state, struct alert_batch *batch)
{
    if (!rec->fleet || prev_state == WORKER_UNKNOWN)
        return false;
    enum flap_change change = fleet_flap_observe(rec->fleet, w->name, w->state_since_ms);
    const struct flap_state *flap = fleet_flap(rec->fleet, w->name);
    if (change == FLAP_STARTED) {
        route_flap(rec->router, w, change, flap->percent, w->state_since_ms, batch);
        log_info("server: %s is flapping (%.0f%%); quiet until it is stable", w->name,
                 flap->percent);
        if (rec->started && !uv_is_active((uv_handle_t *)&rec->flap_timer) &&
            rec->fail_timeout_ms > 0)
            uv_timer_start(&rec->flap_timer, on_flap_timer, (uint64_t)rec->fail_timeout_ms,
                           (uint64_t)rec->fail_timeout_ms);
    }
    return flap && flap->flapping;
}

/* What becomes of a worker's DOWN or UP news, decided before its event is written so that the
 * event says it (details "suppressed" and "held_back_by"; "silenced", "silence_id",
 * "silence_comment"). */
enum worker_news_fate {
    NEWS_SEND,       /* told as usual (a DOWN by the correlation engine, an UP by route_up) */
    NEWS_SUPPRESSED, /* a DOWN whose parent is down (dependencies.h): told at the parent's UP */
    NEWS_SILENCED,   /* a silence matches the worker's problem: recorded, not told */
};

struct worker_news_verdict {
    enum worker_news_fate fate;
    const char *held_by;           /* the parent holding a DOWN back, or NULL */
    const struct silence *silence; /* the first active silence that matches, or NULL */
};

/* A DOWN is first offered to the dependencies, which hold it when a parent is down (once per
 * DOWN: holding is their bookkeeping). Then the problem "worker:NAME" as the silences see it:
 * the DOWN message's kind, name, site label and severity (incidents.c), at the time of the
 * change. An UP that resolves a told problem (resolve_rows > 0) is always sent; one that
 * resolves nothing told is silenced when the DOWN would be now. */
static struct worker_news_verdict worker_news_verdict(const struct event_recorder *rec,
                                                      const struct worker_record *w,
                                                      enum event_kind kind, size_t resolve_rows)
{
    struct worker_news_verdict v = {.fate = NEWS_SEND};
    if (kind == EVENT_DOWN)
        v.held_by = dependencies_hold_down(rec->deps, w);
    if (kind == EVENT_UP && resolve_rows > 0)
        return v;
    struct label site = {"site", w->site};
    struct label_set labels = {.items = &site, .count = w->site[0] ? 1 : 0};
    struct alert_match_input in = {.kind = alert_kind_name(ALERT_KIND_WORKER),
                                   .name = w->name,
                                   .labels = &labels,
                                   .severity = alert_severity_name(ALERT_SEVERITY_CRITICAL)};
    v.silence = silences_match(rec->silences, &in, w->state_since_ms);
    v.fate = v.held_by ? NEWS_SUPPRESSED : v.silence ? NEWS_SILENCED : NEWS_SEND;
    return v;
}

/* The event's details with the silence (details_json wrote the parent) and "flapping": true
 * while the worker flaps added; a new string or NULL (out of memory). */
static char *verdict_details(const char *details, const struct worker_news_verdict *v,
                             bool flapping)
{
    if (!v->silence && !flapping)
        return strdup(details);
    json_t *d = json_loads(details, 0, NULL);
    if (!d)
        return NULL;
    if (v->silence) {
        const char *comment = silence_comment(v->silence);
        json_object_set_new(d, "silenced", json_true());
        json_object_set_new(d, "silence_id", json_string(silence_id(v->silence)));
        json_object_set_new(d, "silence_comment", comment ? json_string(comment) : json_null());
    }
    if (flapping)
        json_object_set_new(d, "flapping", json_true());
    char *text = json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(d);
    return text;
}

void events_on_transition(const struct worker_record *w, enum event_kind kind,
                          enum worker_state prev_state, int64_t prev_since_ms, void *cause,
                          void *ctx)
{
    struct event_recorder *rec = ctx;
    /* The heartbeat that caused this change, if one did, is answered when the event is stored. */
    struct heartbeat_answer heartbeat = {0};
    if (cause)
        heartbeat = *(const struct heartbeat_answer *)cause;
    struct alert_batch batch = {0};
    bool flapping = worker_flap(rec, w, prev_state, &batch);
    size_t resolve_rows = batch.n;
    if (kind == EVENT_UP && prev_state == WORKER_DOWN && incidents_worker_up(rec->incidents, w) &&
        !flapping)
        route_up(rec->router, rec->deps, w, prev_since_ms, &batch);
    resolve_rows = batch.n - resolve_rows;
    struct pending_event *pe = calloc(1, sizeof *pe);
    struct worker_news_verdict verdict = {.fate = NEWS_SEND};
    char *details = NULL;
    if (pe) {
        verdict = worker_news_verdict(rec, w, kind, resolve_rows);
        char *plain = details_json(w, kind, prev_state, prev_since_ms, verdict.held_by);
        details = plain ? verdict_details(plain, &verdict, flapping) : NULL;
        free(plain);
    }
    if (!details) {
        free(pe);
        alert_batch_free(&batch);
        log_error("server: out of memory recording %s for %s", event_kind_name(kind), w->name);
        if (heartbeat.req)
            events_refuse_heartbeat(heartbeat.req);
        return;
    }
    if (verdict.fate == NEWS_SILENCED)
        log_info("server: %s of %s silenced by silence %s", event_kind_name(kind), w->name,
                 silence_id(verdict.silence));
    struct event_record ev = {.time_ms = w->state_since_ms, .kind = kind, .details_json = details};
    snprintf(ev.worker, sizeof ev.worker, "%s", w->name);
    pe->rec = rec;
    pe->heartbeat = heartbeat;
    pe->seq = rec->fleet ? fleet_state_seq(rec->fleet, w->name) : 0;
    snprintf(pe->worker, sizeof pe->worker, "%s", w->name);
    if (heartbeat.req) {
        http_suspend(heartbeat.req);
        waiting_append(rec, pe);
    }
    store_append_event(rec->store, w, &ev, batch.rows, batch.n, on_event_committed, pe);
    alert_batch_free(&batch);
    free(details);
    if (kind == EVENT_DOWN)
        incidents_worker_down(rec->incidents, w);
    else if (kind == EVENT_UP) /* after its own UP: the workers it held are told */
        dependencies_up(rec->deps, w->name);
}

static json_t *gpus_value(int gpus)
{
    return gpus == WORKER_GPUS_FAILED ? json_null() : json_integer(gpus);
}

/* The GPU news of w: a loss is the problem "gpu:NAME", the GPUs back its resolve. */
static void route_gpus(struct alert_router *router, const struct worker_record *w, int prev_gpus,
                       bool lost, struct alert_batch *batch)
{
    char text[MESSAGE_MAX], subject[WORKER_NAME_MAX + 32], key[WORKER_NAME_MAX + 8];
    struct label labels[1];
    alert_format_gpus(w, prev_gpus, w->last_seen_ms, text, sizeof text);
    snprintf(subject, sizeof subject, "%s %s", w->name, lost ? "lost GPUs" : "has its GPUs back");
    snprintf(key, sizeof key, "gpu:%s", w->name);
    struct alert_message msg = {.kind = ALERT_KIND_GPU,
                                .severity = lost ? ALERT_SEVERITY_WARNING : ALERT_SEVERITY_INFO,
                                .resolve = !lost,
                                .name = w->name,
                                .subject = subject,
                                .text = text,
                                .labels = labels,
                                .n_labels = worker_labels(w, labels),
                                .dedup_key = key,
                                .created_ms = w->last_seen_ms};
    alert_route(router, &msg, batch);
}

void events_on_gpu_change(const struct worker_record *w, int prev_gpus, void *ctx)
{
    struct event_recorder *rec = ctx;
    bool lost = w->gpus == WORKER_GPUS_FAILED ||
                (prev_gpus != WORKER_GPUS_FAILED && w->gpus < prev_gpus);
    enum event_kind kind = lost ? EVENT_GPU_LOST : EVENT_GPU_BACK;
    struct alert_batch batch = {0};
    route_gpus(rec->router, w, prev_gpus, lost, &batch);
    json_t *d = json_pack("{s:s, s:o, s:o, s:b}", "ip", w->ip, "from", gpus_value(prev_gpus),
                          "to", gpus_value(w->gpus), "gpu_error", w->gpus == WORKER_GPUS_FAILED);
    if (d && batch.silenced) /* recorded, not sent (alert_filters) */
        json_object_set_new(d, "silenced", json_true());
    char *details = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    struct pending_event *pe = details ? calloc(1, sizeof *pe) : NULL;
    if (!pe) {
        free(details);
        alert_batch_free(&batch);
        log_error("server: out of memory recording %s for %s", event_kind_name(kind), w->name);
        return;
    }
    pe->rec = rec;
    snprintf(pe->worker, sizeof pe->worker, "%s", w->name);
    struct event_record ev = {.time_ms = w->last_seen_ms, .kind = kind, .details_json = details};
    snprintf(ev.worker, sizeof ev.worker, "%s", w->name);
    store_append_event(rec->store, w, &ev, batch.rows, batch.n, on_event_committed, pe);
    alert_batch_free(&batch);
    free(details);
}
