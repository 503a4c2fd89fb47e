/* diagnose.h — what an agent's own records say about one outage: when it began and ended, which
 * probes failed, where the path stopped answering, and a verdict (local network, ISP/upstream,
 * path to server, server side). Used by `faultline analyze` on log files and by the server on
 * the records an agent uploads after an outage, to write the follow-up message.
 *
 * Records are json_t objects as written to metrics.jsonl and diagnostics.jsonl (docs/rca.md),
 * optionally with "kind" ("metric"/"diagnostic") as in a backlog upload. Pure functions: no I/O,
 * nothing the caller must free except where a function says it returns a new reference.
 *
 * Verdict rules, first match wins:
 *   1. the gateway failed in most of its checks, or the path fault is hop 1 → local network
 *   2. failed heartbeats got an HTTP answer (a status)                       → server side
 *   3. a path fault at the target (the hop before it answers)                → server side
 *   4. a path fault past the gateway: external targets unreachable           → site uplink when
 *                                     the path stops right after the gateway, else ISP/upstream;
 *                                     external targets reachable             → path to server
 *   5. no path fault: external targets unreachable                           → ISP/upstream
 *   6. the server answers ICMP or refuses TCP, or its path is clean          → server side
 *   7. otherwise                                                             → unknown
 * A fault "at hop 1" counts only when the gateway did not answer that diagnosis's pings: an
 * answering gateway is healthy, and the missing trace replies are its ICMP rate limit. A path
 * that comes back to a hop it passed is a routing loop: the fault begins after its last new
 * hop. A diagnosis that found the way open (its path reached the server without a fault) ran
 * as the outage ended and is left out, unless all of them did. */
#ifndef FAULTLINE_ANALYZE_DIAGNOSE_H
#define FAULTLINE_ANALYZE_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "probe/path.h"

#define DIAGNOSIS_WORKER_MAX 64
#define DIAGNOSIS_TARGETS_MAX 8
#define DIAGNOSIS_ERROR_MAX 96

/* Stored and sent values: append only. */
enum diagnosis_verdict {
    VERDICT_UNKNOWN = 0,
    VERDICT_LOCAL_NETWORK,
    VERDICT_UPSTREAM,
    VERDICT_SERVER_PATH,
    VERDICT_SERVER_SIDE,
    VERDICT_SITE_UPLINK, /* the path stops right after the gateway, the outside is unreachable */
};

/* For machines: "unknown", "local_network", "upstream", "server_path", "server_side",
 * "site_uplink". */
const char *diagnosis_verdict_id(enum diagnosis_verdict v);
/* For people: "unknown", "local network", "upstream ISP", "path to server", "server side",
 * "site uplink". */
const char *diagnosis_verdict_text(enum diagnosis_verdict v);

/* One external target (DIAG_TARGETS) over the diagnoses of the outage. */
struct target_reachability {
    char target[PROBE_HOST_MAX];
    int checks, unreachable;
    int64_t unreachable_ms; /* from each failed check to the next check (or the outage's end) */
};

struct worker_diagnosis {
    char worker[DIAGNOSIS_WORKER_MAX]; /* "" when not known (offline analysis) */
    /* The outage: from the first failed heartbeat or diagnosis to the first successful heartbeat
     * after the last failure, or to the last failure when none came. 0 when nothing failed. */
    int64_t start_ms, end_ms;
    int records, skipped; /* records read; records neither metric nor diagnostic, or untimed */
    int attempts, failed_attempts, diagnoses;
    int http_status; /* the last HTTP status a failed heartbeat got; 0 when none did, or when
                      * some failed heartbeats got no answer at all (the path failed those) */
    char gateway_addr[PROBE_ADDR_MAX];
    int gateway_checks, gateway_ok;
    size_t n_targets;
    struct target_reachability targets[DIAGNOSIS_TARGETS_MAX];
    char server_addr[PROBE_ADDR_MAX];
    int server_checks;
    double server_loss_pct; /* average ICMP loss to the server over server_checks */
    int tcp_checks, tcp_ok, tcp_refused;
    char tcp_error[DIAGNOSIS_ERROR_MAX]; /* the last TCP error, "" when none */
    int dns_checks, dns_ok;
    char dns_error[DIAGNOSIS_ERROR_MAX];
    int traces;              /* diagnoses with a readable mtr */
    struct path_fault fault; /* the most common fault of those traces; agreeing = how many */
    bool fault_loops;        /* those traces come back to a hop they passed: a routing loop */
    enum diagnosis_verdict verdict;
};

/* Reads n records of one worker (any order; oldest first is usual) into *out. worker may be
 * NULL. Records of other shapes, or without a valid "time", are counted in skipped; a malformed
 * member (an "mtr" that does not parse, a string where a number belongs) only loses that member.
 * Returns 0, or -1 when out is NULL or records is NULL with n > 0. */
int diagnose_worker(const char *worker, json_t *const *records, size_t n,
                    struct worker_diagnosis *out);

/* The diagnosis as JSON (a new reference, NULL when out of memory): {"worker","start","end",
 * "duration_s","attempts","failed_attempts","diagnoses","verdict","diagnosis","evidence",
 * "gateway":{...}|null,"external":[...],"server":{...},"tcp":{...},"dns":{...}|null,
 * "path_fault":{...}|null}. */
json_t *worker_diagnosis_json(const struct worker_diagnosis *d);

/* The evidence, one line without name or verdict: "gateway OK, 8.8.8.8 unreachable for 4m, loss
 * began after hop 3 (198.51.100.1)". Like snprintf: returns the length the full text needs and
 * writes at most len bytes, NUL-terminated. */
size_t worker_diagnosis_evidence(const struct worker_diagnosis *d, char *buf, size_t len);

/* The one line a person reads: "brickbox-43: gateway OK, 8.8.8.8 unreachable for 4m, loss
 * began after hop 3 (198.51.100.1) → upstream ISP". Returns as worker_diagnosis_evidence. */
size_t worker_diagnosis_text(const struct worker_diagnosis *d, char *buf, size_t len);

/* Where the paths of several workers of one incident broke, from the strongest evidence
 * (docs/rca.md). First match wins, each needing a strict majority of the n agents:
 *   server_uplink   the server's canaries failed, the agents reached their outside targets, and
 *                   their paths to the server stop after one and the same hop
 *   local_networks  their verdict is local network
 *   site_uplink     their verdict is site uplink (paths stop right after their gateways)
 *   fault_point     at least 2 paths stop after one and the same hop past the gateway
 *   none            no place the evidence agrees on
 * Stored values: append only. */
enum diagnosis_place {
    DIAGNOSIS_PLACE_NONE = 0,
    DIAGNOSIS_PLACE_LOCAL_NETWORKS,
    DIAGNOSIS_PLACE_SITE_UPLINK,
    DIAGNOSIS_PLACE_FAULT_POINT,
    DIAGNOSIS_PLACE_SERVER_UPLINK,
};

/* "none", "local_networks", "site_uplink", "fault_point", "server_uplink". */
const char *diagnosis_place_id(enum diagnosis_place p);

#define DIAGNOSIS_HEADLINE_GATEWAYS 3

struct diagnosis_headline {
    enum diagnosis_place place;
    int agents;     /* workers diagnosed */
    int diagnosed;  /* of those, workers with at least one diagnosis record */
    int agreeing;   /* workers whose evidence makes the place */
    int outside_ok; /* server_uplink: workers that reached their outside targets */
    int hop;        /* server_uplink, fault_point: the last hop that answered */
    enum diagnosis_verdict verdict; /* fault_point: the verdict of most paths stopping there */
    char addr[PROBE_ADDR_MAX];
    char gateways[DIAGNOSIS_HEADLINE_GATEWAYS][PROBE_ADDR_MAX]; /* site_uplink: distinct ones */
    int n_gateways;
    bool any_fault; /* some path fault was found */
};

/* The headline of the n diagnoses of one incident; server_cut_off: the server's own canaries
 * failed during it. Returns 0, or -1 when out of memory. */
int diagnosis_headline_of(const struct worker_diagnosis *ds, size_t n, bool server_cut_off,
                          struct diagnosis_headline *out);

/* Several workers of one incident: the headline h (diagnosis_headline_of) as a first line, e.g.
 * "paths of 5/5 agents stop right after their gateway (10.1.0.1): the site's uplink" or "paths
 * of 5/5 agents stop after hop 2 (203.0.113.1): upstream ISP, likely fault point", then one
 * line per worker (at most DIAGNOSIS_GROUP_LINES, then "… and N more"), separated by '\n'.
 * Returns as worker_diagnosis_evidence. */
#define DIAGNOSIS_GROUP_LINES 5
size_t diagnosis_group_text(const struct worker_diagnosis *ds, size_t n,
                            const struct diagnosis_headline *h, char *buf, size_t len);

/* "45s", "4m", "4m 30s", "1h 5m", "2d 3h". */
void diagnosis_format_duration(int64_t ms, char *buf, size_t len);

#endif
