/* model/incident.h — an incident: workers that went DOWN within RCA_WINDOW, grouped and
 * classified by the root-cause analysis (rca/rca.h), as it is stored and served. Its enums'
 * text names live in model/names.c. */
#ifndef FAULTLINE_MODEL_INCIDENT_H
#define FAULTLINE_MODEL_INCIDENT_H

#include <stdint.h>

#define INCIDENT_CLASS_MAX 16

/* What an incident is judged to be (docs/rca.md). Stored as text (incident_class_name);
 * values are append-only. */
enum incident_class {
    INCIDENT_INDIVIDUAL = 0, /* no common cause */
    INCIDENT_NETWORK = 1,    /* one site or address prefix */
    INCIDENT_WIDESPREAD = 2, /* several places at once */
    INCIDENT_SERVER = 3,     /* the monitor itself */
};
#define INCIDENT_CLASS_COUNT 4

/* What happened to an incident. Every change is saved; OPENED, GREW, RECLASSIFIED and CLOSED
 * of announced incidents that are not individual carry an incident message
 * (alert_format_incident_message). Values are append-only. */
enum incident_change {
    INCIDENT_OPENED,       /* announced after its hold: the first message */
    INCIDENT_GREW,         /* announced, and grew by >= 50% and by >= 2 workers since last told */
    INCIDENT_RECLASSIFIED, /* announced, and its class changed */
    INCIDENT_CLOSED,       /* all its workers are back (server: and the canaries recovered) */
    INCIDENT_UPDATED,      /* saved state changed, nothing to tell */
};

struct incident_record {
    int64_t id;
    char classification[INCIDENT_CLASS_MAX]; /* incident_class_name: "individual", ... */
    const char *scope_json;                  /* JSON object (text); NULL = "{}" */
    const char *workers_json;                /* JSON array (text); NULL = "[]" */
    const char *evidence_json;               /* JSON object (text); NULL = "{}" */
    int64_t opened_ms;                       /* wall clock, UTC ms */
    int64_t updated_ms;
    int64_t closed_ms; /* 0 while open (<= 0 is stored as open) */
};

/* "individual", "network", "widespread", "server"; "unknown" for a value out of range. */
const char *incident_class_name(enum incident_class cls);
/* Returns 0 and sets *out, or -1 for an unknown name (or NULL). */
int incident_class_parse(const char *name, enum incident_class *out);
/* "opened", "grew", "reclassified", "closed", "updated"; "unknown" out of range. */
const char *incident_change_name(enum incident_change change);

#endif
