/* events.c — worker state changes recorded as events, with their notifications (events.h). */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>

#include "alert/format.h"
#include "base/clock.h"
#include "base/log.h"
#include "alert/outbox.h"
#include "server/events.h"
#include "server/http.h"
#include "server/incidents.h"
#include "store/store.h"

#define MAX_CHANNELS 8
#define MESSAGE_MAX 1024

static char *details_json(const struct worker_record *w, enum event_kind kind,
                          enum worker_state prev_state, int64_t prev_since_ms)
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
    char *text = json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(d);
    return text;
}

/* What the commit callback needs: the recorder, and the heartbeat to answer (req NULL when a
 * deadline, not a request, caused the change). */
struct pending_event {
    struct event_recorder *rec;
    struct heartbeat_answer heartbeat;
};

static void answer_heartbeat(const struct heartbeat_answer *a, int status)
{
    if (!a->req)
        return;
    if (status != 0)
        http_respond_error(a->req, 503, "event store unavailable; heartbeat not recorded", NULL);
    else if (a->ok_json)
        http_respond_json_text(a->req, 200, a->ok_json);
    else
        http_respond_no_content(a->req);
}

static void on_event_committed(int status, const struct event_record *ev,
                               const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct pending_event *pe = ctx;
    struct event_recorder *rec = pe->rec;
    answer_heartbeat(&pe->heartbeat, status);
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
}

/* One UP notification per channel (text is borrowed); returns how many. DOWN texts are the
 * correlation engine's to send (incidents.c), once it knows whether the worker went down alone;
 * a worker seen for the first time is news for the event log only. */
static size_t up_messages(const struct outbox *outbox, const struct worker_record *w,
                          int64_t prev_since_ms, char *text, size_t textlen,
                          struct outbox_record msgs[MAX_CHANNELS])
{
    if (!outbox)
        return 0;
    alert_format_up(w, w->state_since_ms, prev_since_ms, text, textlen);
    return outbox_address(outbox, text, w->state_since_ms, msgs, 0, MAX_CHANNELS);
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
    struct pending_event *pe = malloc(sizeof *pe);
    char *details = pe ? details_json(w, kind, prev_state, prev_since_ms) : NULL;
    if (!details) {
        free(pe);
        log_error("server: out of memory recording %s for %s", event_kind_name(kind), w->name);
        answer_heartbeat(&heartbeat, -1);
        return;
    }
    struct event_record ev = {.time_ms = w->state_since_ms, .kind = kind, .details_json = details};
    snprintf(ev.worker, sizeof ev.worker, "%s", w->name);
    char text[MESSAGE_MAX];
    struct outbox_record msgs[MAX_CHANNELS];
    size_t n_msgs = 0;
    if (kind == EVENT_UP && prev_state == WORKER_DOWN && incidents_worker_up(rec->incidents, w))
        n_msgs = up_messages(rec->outbox, w, prev_since_ms, text, sizeof text, msgs);
    *pe = (struct pending_event){.rec = rec, .heartbeat = heartbeat};
    if (heartbeat.req)
        http_suspend(heartbeat.req);
    store_append_event(rec->store, w, &ev, msgs, n_msgs, on_event_committed, pe);
    free(details);
    if (kind == EVENT_DOWN)
        incidents_worker_down(rec->incidents, w);
}

static json_t *gpus_value(int gpus)
{
    return gpus == WORKER_GPUS_FAILED ? json_null() : json_integer(gpus);
}

void events_on_gpu_change(const struct worker_record *w, int prev_gpus, void *ctx)
{
    struct event_recorder *rec = ctx;
    bool lost = w->gpus == WORKER_GPUS_FAILED ||
                (prev_gpus != WORKER_GPUS_FAILED && w->gpus < prev_gpus);
    enum event_kind kind = lost ? EVENT_GPU_LOST : EVENT_GPU_BACK;
    json_t *d = json_pack("{s:s, s:o, s:o, s:b}", "ip", w->ip, "from", gpus_value(prev_gpus),
                          "to", gpus_value(w->gpus), "gpu_error", w->gpus == WORKER_GPUS_FAILED);
    char *details = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    struct pending_event *pe = details ? malloc(sizeof *pe) : NULL;
    if (!pe) {
        free(details);
        log_error("server: out of memory recording %s for %s", event_kind_name(kind), w->name);
        return;
    }
    *pe = (struct pending_event){.rec = rec};
    struct event_record ev = {.time_ms = w->last_seen_ms, .kind = kind, .details_json = details};
    snprintf(ev.worker, sizeof ev.worker, "%s", w->name);
    char text[MESSAGE_MAX];
    struct outbox_record msgs[MAX_CHANNELS];
    alert_format_gpus(w, prev_gpus, w->last_seen_ms, text, sizeof text);
    size_t n_msgs = outbox_address(rec->outbox, text, w->last_seen_ms, msgs, 0, MAX_CHANNELS);
    store_append_event(rec->store, w, &ev, msgs, n_msgs, on_event_committed, pe);
    free(details);
}
