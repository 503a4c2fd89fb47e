/* model/incident.h — an incident: workers that went DOWN within RCA_WINDOW, grouped and
 * classified by the root-cause analysis (server/rca.h), as it is stored and served. */
#ifndef FAULTLINE_MODEL_INCIDENT_H
#define FAULTLINE_MODEL_INCIDENT_H

#include <stdint.h>

#define INCIDENT_CLASS_MAX 16

struct incident_record {
    int64_t id;
    char classification[INCIDENT_CLASS_MAX]; /* "individual", "network", "widespread", "server" */
    const char *scope_json;    /* JSON object (text); NULL = "{}" */
    const char *workers_json;  /* JSON array (text); NULL = "[]" */
    const char *evidence_json; /* JSON object (text); NULL = "{}" */
    int64_t opened_ms;         /* wall clock, UTC ms */
    int64_t updated_ms;
    int64_t closed_ms;         /* 0 while open (<= 0 is stored as open) */
};

#endif
