/* model/diagnostic.h — a record an agent logged (a heartbeat attempt or a diagnosis of its
 * path), as uploaded with its backlog. (worker, record_id) identifies it. */
#ifndef FAULTLINE_MODEL_DIAGNOSTIC_H
#define FAULTLINE_MODEL_DIAGNOSTIC_H

#include <stdint.h>

#include "model/worker.h"

#define DIAG_KIND_MAX 16
#define DIAG_RECORD_ID_MAX 64

struct diag_record {
    int64_t id; /* assigned by the store */
    char worker[WORKER_NAME_MAX + 1];
    char record_id[DIAG_RECORD_ID_MAX + 1]; /* the agent's id for it */
    char kind[DIAG_KIND_MAX];               /* "metric" or "diagnostic" */
    int64_t time_ms;                        /* when the agent recorded it */
    int64_t received_ms;                    /* when the server stored it; 0 = now */
    const char *body_json;                  /* the record as uploaded (a JSON object, text) */
};

#endif
