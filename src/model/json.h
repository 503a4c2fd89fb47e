/* model/json.h — the JSON shapes of the domain model, as the API serves them and as the RCA and
 * follow-ups store them. One function per entity; every function returns a new reference (NULL
 * only when out of memory). */
#ifndef FAULTLINE_MODEL_JSON_H
#define FAULTLINE_MODEL_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "model/diagnostic.h"
#include "model/event.h"
#include "model/incident.h"
#include "model/worker.h"

/* "2026-11-21T10:00:00.123Z", or null for ms <= 0. */
json_t *json_time(int64_t ms);

/* A JSON text the server stored itself, parsed; fallback (a new reference, consumed) when the
 * text is NULL or not JSON. */
json_t *json_stored(const char *text, json_t *fallback);

/* {"name","state","last_seen","ip","gpus"|null,"gpu_error","version","uptime_s","site"|null,
 * "state_since","first_seen"}: gpus is null and gpu_error true when the GPU check failed. */
json_t *worker_json(const struct worker_record *w);

/* {"id","time","worker","kind","details"} */
json_t *event_json(const struct event_record *ev);

/* {"id","classification","scope","workers","opened_at","closed_at","updated_at","open",
 * "evidence"} */
json_t *incident_json(const struct incident_record *inc);

/* {"id","worker","record_id","kind","time","received_at","record"} */
json_t *diagnostic_json(const struct diag_record *d);

/* {"worker", "received": ISO, "report": {...}} (GET /api/v1/reports). */
struct node_report_record;
json_t *node_report_json(const struct node_report_record *r);

#endif
