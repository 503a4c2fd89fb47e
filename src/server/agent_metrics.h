/* agent_metrics.h — the latest samples each agent pushed (POST /api/v1/metrics/NAME), served on
 * GET /metrics. A push replaces the agent's previous one; an agent that has not pushed for
 * METRICS_TTL is dropped, so a machine that stops pushing disappears instead of showing its last
 * values for ever. Each agent holds at most METRICS_MAX_SERIES series.
 *
 * Scrapes are cheap because the work is done at push time: each agent's samples are kept as
 * ready text, with its worker and site labels already in every line, grouped by metric; a
 * scrape writes each metric's HELP and TYPE once and then copies every agent's block of it.
 * A metric's TYPE is the same for every agent (the first agent that pushes it decides, until no
 * agent has it); its HELP is the first one given. Lives on the loop thread; no locks. */
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

/* Replaces the samples of worker (with its site, NULL or "" for none) by those of text
 * (metric_text.h). Each refused line is handed to refused (may be NULL) with its line number
 * and the error; the lines over the series cap are handed over once, as one summary error on
 * the first of them. Samples may not carry the labels "worker" or "site" (the server adds them).
 * Returns 0, or -1 when out of memory (the worker then holds no samples). */
int agent_metrics_push(struct agent_metrics *am, const char *worker, const char *site,
                       const char *text, size_t len, int64_t now_mono, int64_t now_wall,
                       void (*refused)(void *ctx, size_t line, const char *error), void *ctx,
                       struct agent_metrics_push *result);

/* Drops every agent that has not pushed for the TTL; returns how many. */
size_t agent_metrics_expire(struct agent_metrics *am, int64_t now_mono);

/* Appends every agent's series (after expiring the silent ones), one metric at a time, and
 * faultline_push_time_seconds{worker}. */
void agent_metrics_render(struct agent_metrics *am, int64_t now_mono, struct expo *out);

struct agent_metrics_summary {
    size_t agents; /* pushing within the TTL */
    size_t series;
    int64_t last_push_wall_ms; /* 0: none */
};
void agent_metrics_summarize(struct agent_metrics *am, int64_t now_mono,
                             struct agent_metrics_summary *out);

#endif
