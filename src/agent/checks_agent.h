/* checks_agent.h — the checks an agent runs for the server (docs/checks.md, "Checks on
 * agents"). The heartbeat's answer carries a checks_version; when it differs from the one held
 * (or none is held yet), the agent fetches GET /api/v1/agent/checks/NAME, validates each
 * definition with src/check (one that does not read is logged and skipped), and schedules them
 * on its loop with its own probe env. Results go to POST /api/v1/checks/results/NAME in
 * batches: every second, at 100 results, and at once when a check's result changes state. While
 * the server cannot be reached only the latest result per check is kept. When a check fails,
 * an MTR-style trace to its target (at most one per check per minute) follows, and its path is
 * sent as a result of its own. Loop thread only. */
#ifndef FAULTLINE_AGENT_CHECKS_AGENT_H
#define FAULTLINE_AGENT_CHECKS_AGENT_H

#include <uv.h>

#include "base/httpc.h"

struct checks_agent_config {
    uv_loop_t *loop;
    struct httpc *http;      /* shared with the agent; outlives checks_agent_stop */
    const char *base_url;    /* http(s)://host:port (copied) */
    const char *name;        /* the agent's NAME (copied) */
    const char *auth_header; /* "Authorization: Bearer KEY" (copied) */
    const char *ca_file;     /* SERVER_CA or NULL (copied) */
    long timeout_ms;         /* each request's */
    int trace_max_hops, trace_rounds;
};

struct checks_agent;
struct checks_agent *checks_agent_new(const struct checks_agent_config *cfg);

/* A heartbeat succeeded; version is its answer's checks_version (NULL: the answer had none).
 * Fetches the assignments when version differs from the one held, or none is held yet. */
void checks_agent_heard(struct checks_agent *ca, const char *version);

/* Cancels runs and traces, closes the timers and the probe env; frees once they are closed (the
 * loop must run on). NULL: no-op. */
void checks_agent_stop(struct checks_agent *ca);

/* Batching bounds (exposed for tests and docs). */
#define CHECKS_AGENT_FLUSH_MS 1000
#define CHECKS_AGENT_BATCH_MAX 100
#define CHECKS_AGENT_TRACE_EVERY_MS 60000

#endif
