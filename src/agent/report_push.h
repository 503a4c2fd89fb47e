/* report_push.h — the agent's report push: every REPORT_INTERVAL it collects the report
 * (report/report.h: the same document as `faultline report --json`) on libuv's thread pool and
 * POSTs it to /api/v1/reports/NAME on the server the heartbeats go to, with the same key. One
 * collection and one push at a time: a tick that finds either still running is skipped. A failed
 * push is logged (once until the reason changes) and not retried: the next one is fresher. */
#ifndef FAULTLINE_AGENT_REPORT_PUSH_H
#define FAULTLINE_AGENT_REPORT_PUSH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/httpc.h"
#include "report/report.h"

/* Borrowed for the pusher's life, with what they point to. */
struct report_push_config {
    const char *url;         /* http(s)://HOST:PORT/api/v1/reports/NAME */
    const char *auth_header; /* "Authorization: Bearer KEY" */
    const char *ca_file;     /* SERVER_CA or NULL */
    int64_t interval_ms;     /* REPORT_INTERVAL */
    long timeout_ms;         /* of one push */
    const struct report_options *options;
};

struct report_push;

/* A pusher on loop that sends through http (both borrowed). NULL when out of memory. */
struct report_push *report_push_new(uv_loop_t *loop, struct httpc *http,
                                    const struct report_push_config *config);

/* Collects and pushes at once, then every interval. Returns 0, or -1 when the timer cannot
 * start. */
int report_push_start(struct report_push *p);

/* Stops the timer and ignores a push in flight (the caller closes http); a collection in
 * progress finishes (at most about 4 s) and is dropped. Returns true when one is running. */
bool report_push_stop(struct report_push *p);

/* Frees the pusher once its loop has stopped running; NULL is a no-op. */
void report_push_free(struct report_push *p);

#endif
