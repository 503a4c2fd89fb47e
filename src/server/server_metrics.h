/* server_metrics.h — the server's own metrics on GET /metrics: heartbeats received, workers by
 * state (and each worker's), incidents open by class, the outbox and the notifications sent and
 * failed per channel, the store's queue and commit time, HTTP requests by route and status with
 * a latency histogram, pushes of agents' metrics, and the process (CPU, memory, descriptors,
 * start time). Counters are kept here, bumped by the modules' hooks; the rest is read from the
 * modules' accessors at scrape time. Lives on the loop thread. */
#ifndef FAULTLINE_SERVER_METRICS_H
#define FAULTLINE_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/exposition.h"
#include "server/http.h"

struct fleet;
struct incidents;
struct outbox;
struct store;
struct agent_metrics;

struct server_metrics;

/* routes: the server's route table (terminated by a zero row), which must outlive it. NULL
 * when out of memory. */
struct server_metrics *server_metrics_new(const struct http_route *routes, int64_t start_wall_ms);
void server_metrics_free(struct server_metrics *m);

/* Hooks: a heartbeat arrived; a push of agents' metrics kept accepted samples and refused
 * refused lines. */
void server_metrics_heartbeat(struct server_metrics *m);
void server_metrics_push(struct server_metrics *m, size_t accepted, size_t refused);
/* The http_config.observe hook (ctx is the struct server_metrics). */
void server_metrics_observe(void *ctx, const struct http_route *route, int status, double seconds);

/* Whether name is one of the metrics the server writes itself (agents may not push it). */
bool server_metrics_reserved(const char *name);

/* What the scrape reads from; any may be NULL. */
struct server_metrics_sources {
    const struct fleet *fleet;
    const struct incidents *incidents;
    const struct outbox *outbox;
    struct store *store;
    struct agent_metrics *agents;
    const struct checks *checks; /* NULL: no check engine */
};

/* Appends the server's own metrics. */
void server_metrics_render(struct server_metrics *m, const struct server_metrics_sources *src,
                           int64_t now_mono, struct expo *out);

#endif
