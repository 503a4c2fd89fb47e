/* model/node_report.h — the latest report (`faultline report --json`, docs/report.md) a worker's
 * agent pushed, as the server stores and serves it: one per worker, replaced by the next. */
#ifndef FAULTLINE_MODEL_NODE_REPORT_H
#define FAULTLINE_MODEL_NODE_REPORT_H

#include <stdint.h>

#include "model/worker.h"

struct node_report_record {
    char worker[WORKER_NAME_MAX + 1];
    int64_t received_ms;   /* when the server took it */
    const char *body_json; /* the report as pushed (a JSON object, text) */
};

#endif
