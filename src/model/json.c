/* model/json.c — the JSON shapes of workers, events, incidents and diagnostics (model/json.h). */
#include "model/json.h"
#include "model/node_report.h"

#include <stdbool.h>

#include "base/clock.h"

json_t *json_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *json_stored(const char *text, json_t *fallback)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (!v)
        return fallback;
    json_decref(fallback);
    return v;
}

json_t *worker_json(const struct worker_record *w)
{
    bool failed = w->gpus == WORKER_GPUS_FAILED;
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:b, s:s, s:I, s:s?, s:o, s:o}", "name", w->name,
                     "state", worker_state_name(w->state), "last_seen", json_time(w->last_seen_ms),
                     "ip", w->ip, "gpus", failed ? json_null() : json_integer(w->gpus),
                     "gpu_error", failed, "version", w->version, "uptime_s",
                     (json_int_t)w->uptime_s, "site", w->site[0] ? w->site : NULL, "state_since",
                     json_time(w->state_since_ms), "first_seen", json_time(w->first_seen_ms));
}

json_t *event_json(const struct event_record *ev)
{
    return json_pack("{s:I, s:o, s:s, s:s, s:o}", "id", (json_int_t)ev->id, "time",
                     json_time(ev->time_ms), "worker", ev->worker, "kind",
                     event_kind_name(ev->kind), "details",
                     json_stored(ev->details_json, json_object()));
}

json_t *incident_json(const struct incident_record *inc)
{
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "id", (json_int_t)inc->id,
                     "classification", inc->classification, "scope",
                     json_stored(inc->scope_json, json_object()), "workers",
                     json_stored(inc->workers_json, json_array()), "opened_at",
                     json_time(inc->opened_ms), "closed_at", json_time(inc->closed_ms),
                     "updated_at", json_time(inc->updated_ms), "open", inc->closed_ms <= 0,
                     "evidence", json_stored(inc->evidence_json, json_object()));
}

json_t *node_report_json(const struct node_report_record *r)
{
    return json_pack("{s:s, s:o, s:o}", "worker", r->worker, "received", json_time(r->received_ms),
                     "report", json_stored(r->body_json, json_object()));
}

json_t *diagnostic_json(const struct diag_record *d)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)d->id, "worker",
                     d->worker, "record_id", d->record_id, "kind", d->kind, "time",
                     json_time(d->time_ms), "received_at", json_time(d->received_ms), "record",
                     json_stored(d->body_json, json_object()));
}
