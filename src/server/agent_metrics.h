/* agent_metrics.h — the latest samples each agent pushed (POST /api/v1/metrics/NAME), served on
 * GET /metrics. A push replaces the agent's previous one; an agent that has not pushed for
 * METRICS_TTL is dropped, so a machine that stops pushing disappears instead of showing its last
 * values for ever. Each agent holds at most METRICS_MAX_SERIES series.
 *
 * Scrapes are cheap because the work is done at push time: each agent's samples are kept as
 * ready text, with its worker and site labels already in every line, grouped by metric; a
 * scrape writes each metric's HELP and TYPE once and then copies every agent's block of it.
 * A metric's TYPE is the same for every agent (the first agent that pushes it decides, until no
 * agent has it); its HELP is the first one given.
 *
 * Nothing heavy runs on the loop: a push's text is read into a block (agent_block_build) on the
 * thread pool and only swapped in on the loop; a scrape takes a snapshot of the blocks on the
 * loop and writes it on the thread pool. The agent_metrics itself lives on the loop thread, and
 * every reference count is moved there; no locks. */
#ifndef FAULTLINE_AGENT_METRICS_H
#define FAULTLINE_AGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/exposition.h"

struct agent_metrics;

/* reserved (may be NULL) tells the metric names agents may not push (the server's own). NULL
 * when out of memory. */
struct agent_metrics *agent_metrics_new(size_t max_series, int64_t ttl_ms,
                                        bool (*reserved)(const char *name));
void agent_metrics_free(struct agent_metrics *am);

/* What a push did. */
struct agent_metrics_push {
    size_t accepted; /* samples kept: the worker's series from now on */
    size_t refused;  /* lines refused, those over the cap included */
};

/* ---- a push, in two steps: built anywhere, swapped in on the loop ---- */

/* An agent's push as ready text: its sample lines with the worker and site labels in them,
 * grouped by metric. Immutable once swapped in; reference counted (by its agent and by the
 * scrape snapshots writing it), so a push replaces an agent's block without freeing the one a
 * scrape is writing. */
struct agent_block;

/* What building a block needs of the agent_metrics: plain values, copied for the thread pool. */
struct agent_metrics_limits {
    size_t max_series;
    bool (*reserved)(const char *name); /* may be NULL; must be safe on any thread */
};
void agent_metrics_limits(const struct agent_metrics *am, struct agent_metrics_limits *out);

/* Reads text (metric_text.h) into a block for worker (with its site, NULL or "" for none). Reads
 * nothing shared, so it runs on any thread. Each refused line is handed to refused (may be NULL)
 * with its line number and the error; the lines over the series cap are handed over once, as
 * one summary error on the first of them. Samples may not carry the labels "worker" or "site"
 * (the server adds them). Returns the block, or NULL when out of memory. */
struct agent_block *agent_block_build(const struct agent_metrics_limits *limits,
                                      const char *worker, const char *site, const char *text,
                                      size_t len,
                                      void (*refused)(void *ctx, size_t line, const char *error),
                                      void *ctx);
/* Frees a block that was never swapped in. */
void agent_block_free(struct agent_block *b);

/* On the loop: makes b (taken, built for worker) the worker's samples, replacing its last push.
 * A metric whose TYPE other workers push differently is refused here, each of its lines handed
 * to refused. Returns 0, or -1 when out of memory (the worker then holds no samples). */
int agent_metrics_swap(struct agent_metrics *am, const char *worker, struct agent_block *b,
                       int64_t now_mono, int64_t now_wall,
                       void (*refused)(void *ctx, size_t line, const char *error), void *ctx,
                       struct agent_metrics_push *result);

/* Drops every agent that has not pushed for the TTL; returns how many. */
size_t agent_metrics_expire(struct agent_metrics *am, int64_t now_mono);

/* ---- a scrape, in three steps: snapshot on the loop, write anywhere, free on the loop ---- */

/* Every agent's block (after expiring the silent ones) and their metrics, held by reference:
 * pushes and expiry after it leave it whole. */
struct agent_metrics_snapshot;

/* On the loop. NULL when out of memory. */
struct agent_metrics_snapshot *agent_metrics_snapshot(struct agent_metrics *am, int64_t now_mono);
/* On any thread (one at a time per snapshot): appends the snapshot's series, one metric at a
 * time, and faultline_push_time_seconds{worker}. */
void agent_metrics_snapshot_write(const struct agent_metrics_snapshot *snap, struct expo *out);
/* On the loop: lets go of the blocks and metrics. */
void agent_metrics_snapshot_free(struct agent_metrics_snapshot *snap);


struct agent_metrics_summary {
    size_t agents; /* pushing within the TTL */
    size_t series;
    int64_t last_push_wall_ms; /* 0: none */
};
void agent_metrics_summarize(struct agent_metrics *am, int64_t now_mono,
                             struct agent_metrics_summary *out);

#endif
