/* push.h — the agent's metrics: every METRICS_INTERVAL it walks the collector table
 * (collect/collect.h) on libuv's thread pool, hands the heartbeat its facts (GPU count, boot
 * time), and POSTs the samples in Prometheus text format, gzip'd, to /api/v1/metrics/NAME on
 * the server the heartbeats go to, with the same key. One walk and one push at a time: a tick that
 * finds either still running is skipped. A failed push is logged (once until the reason changes)
 * and not retried: the next walk sends fresher values. */
#ifndef FAULTLINE_AGENT_PUSH_H
#define FAULTLINE_AGENT_PUSH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/httpc.h"
#include "collect/collect.h"

/* What the heartbeat takes from a walk. */
struct push_facts {
    int gpus;            /* 0 without GPUs; COLLECT_GPUS_FAILED when the check failed */
    int64_t boot_time_s; /* unixtime, -1 when unknown */
};

typedef void (*push_facts_cb)(const struct push_facts *facts, void *ctx);

/* Borrowed for the pusher's life: the texts, the options and what they point to. */
struct push_config {
    const char *url;         /* http(s)://HOST:PORT/api/v1/metrics/NAME */
    const char *auth_header; /* "Authorization: Bearer KEY" */
    const char *ca_file;     /* SERVER_CA or NULL */
    int64_t interval_ms;     /* METRICS_INTERVAL; 0: collect for the heartbeat only, every
                              * 10 minutes, and push nothing */
    long timeout_ms;         /* of one push */
    const struct collect_options *options;
};

struct push;

/* A pusher on loop that sends through http (both borrowed). NULL when out of memory. */
struct push *push_new(uv_loop_t *loop, struct httpc *http, const struct push_config *config);

/* Starts the first walk at once, then one every interval; facts is called on the loop thread
 * after each walk. Returns 0, or -1 when the timer cannot start. */
int push_start(struct push *p, push_facts_cb facts, void *ctx);

/* Stops the timer and ignores the answer of a push in flight (the caller closes http). A walk in
 * progress stops after its current collector, whose commands are killed within 100 ms; the loop
 * waits for that. Returns true when such a walk is running. */
bool push_stop(struct push *p);

/* Frees the pusher once its loop has stopped running; NULL is a no-op. */
void push_free(struct push *p);

#endif
