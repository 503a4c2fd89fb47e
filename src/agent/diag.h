/* diag.h — the agent's diagnosis of a failed heartbeat (docs/rca.md "diagnostics.jsonl"): the
 * default gateway, each DIAG_TARGETS target, ICMP to the server, TCP to SERVER_PORT, DNS of
 * SERVER_ADDR when it is a name, and an MTR-style path to the server, all through probe.h and
 * the probe table's tcp type.
 *
 * A diagnosis is a state machine on the agent's loop (no thread, nothing blocks: the probes are
 * loop-driven), run by a diag_runner that refuses a second diagnosis while one runs.
 *
 * Time bound. SERVER_ADDR is resolved once (DNS probe, 2 s) and the other server probes use the
 * address, so a dead resolver costs its timeout once. The ICMP probes run one after another
 * (so that they do not crowd each other's answers); DNS then TCP (2 s each) run beside the
 * gateway and target pings. Echoes go 0.1 s apart and each may
 * be answered within its wait: gateway 3 echoes, 0.5 s; each target 3 echoes, 1 s; server
 * DIAG_PING_COUNT echoes (at most 100), 1 s; trace DIAG_MTR_ROUNDS rounds (at most 20) over
 * DIAG_MTR_MAX_HOPS (at most 64), 1 s wait per round, rounds at least 1 s apart (probe/trace.c).
 * Worst case with the defaults (2 targets, 10 echoes, 5 rounds, 30 hops) when nothing answers:
 *   max(gateway 0.7 + targets 2 x 1.2, DNS 2 + TCP 2) = 4 s, server ping 0.9 + 1 = 1.9 s,
 *   trace 30 x 25 ms + 1 s + 4 x 1 s = 5.75 s: about 11.7 s in all (10.8 s when SERVER_ADDR
 *   is an IP address); with udp-recverr, whose echoes after the 5th go 1 s apart, the server
 *   ping takes 6.4 s and the whole about 16 s. When everything answers or is refused at once
 *   it is about the trace's round gaps (DIAG_MTR_ROUNDS - 1 seconds). A cancel request
 * (agent stopping: diag_runner_free) cancels the probes in flight. */
#ifndef FAULTLINE_AGENT_DIAG_H
#define FAULTLINE_AGENT_DIAG_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "base/config.h"
#include "probe/probe.h"

#define DIAG_MAX_TARGETS CONFIG_TARGETS_MAX
#define DIAG_MAX_PING_COUNT 100
#define DIAG_MAX_MTR_ROUNDS 20

/* What to probe. The strings are not copied: they must outlive any diagnosis using them. */
struct diag_settings {
    const char *server_addr; /* name or IP */
    int server_port;
    const char *gateway; /* DIAG_GATEWAY, or NULL for the routing table */
    const char *targets; /* DIAG_TARGETS list ("gateway" allowed) */
    int ping_count, mtr_rounds, mtr_max_hops;
};

/* What one diagnosis found. A probe that could not run has its error set. */
struct diag_report {
    bool has_gateway; /* a gateway was known (DIAG_GATEWAY or a default route) */
    struct ping_result gateway;
    int n_external;
    struct ping_result external[DIAG_MAX_TARGETS];
    struct ping_result server;
    struct tcp_result tcp;
    bool server_is_name; /* dns was probed */
    struct dns_result dns;
    struct trace_result trace;
    char error[PROBE_ERROR_MAX]; /* a bad DIAG_TARGETS list; "" otherwise */
};

/* The ICMP method the report's probes used ("raw", ...), "none" when none ran. */
const char *diag_report_method(const struct diag_report *r);

/* The diagnostics.jsonl record of docs/rca.md (a new reference, or NULL when out of memory). */
json_t *diag_record_json(const struct diag_report *r, const char *id, const char *time,
                         const char *trigger, int failures, const char *mtr_file);

/* The mtr/<time>.json object: {"id","time", then the members of the record's "mtr"}. */
json_t *diag_mtr_file_json(const struct diag_report *r, const char *id, const char *time);

/* ---- running it on the loop ------------------------------------------------------------------ */

struct diag_runner;

/* Called on the loop thread with the finished report (valid during the call only). Not called
 * for a diagnosis that was cancelled. */
typedef void (*diag_done_cb)(const struct diag_report *report, void *ctx);

struct diag_runner *diag_runner_new(uv_loop_t *loop, const struct diag_settings *s);

/* Starts a diagnosis on the runner's loop. Returns 0, or -1 when one is already running. done
 * runs on the loop when it ends (possibly before this returns, when nothing could be probed). */
int diag_runner_start(struct diag_runner *d, diag_done_cb done, void *ctx);

bool diag_runner_busy(const struct diag_runner *d);

/* Cancels a running diagnosis (done is not called) and frees the runner; its probe env is
 * freed once its handles are closed (the loop must keep running until then). NULL is a no-op. */
void diag_runner_free(struct diag_runner *d);

#endif
