/* path.h — reading MTR-style path probes: where a path stops answering, and which hop several
 * paths share as their fault point. Used by `faultline analyze` and by the server when it reads
 * the diagnostics agents upload. Pure functions over struct trace_result (probe.h): no I/O, no
 * allocation the caller must free.
 *
 * Reading rules (the ones a person applies to `mtr` output):
 *   - a hop is "bad" when it never answered (received 0 or no address) or lost >= 20%;
 *   - loss at an intermediate hop that does not carry on to the later hops is ICMP rate
 *     limiting by that router, not a fault;
 *   - the fault is the first hop from which bad hops persist to the end of the path, and only
 *     when the target was not reached or lost >= 20% itself;
 *   - when every hop answers but the target was never reached, the fault is the target. */
#ifndef FAULTLINE_PROBE_PATH_H
#define FAULTLINE_PROBE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "probe/probe.h"

/* Loss from which a hop counts as losing packets, in percent. */
#define PATH_LOSS_THRESHOLD_PCT 20.0

/* Where on the path a fault hop lies. Stored values: append only. */
enum path_segment {
    PATH_SEGMENT_NONE = 0, /* no fault */
    PATH_SEGMENT_LOCAL,    /* hop 1, the gateway: the local network */
    PATH_SEGMENT_TRANSIT,  /* past the gateway, before the target: ISP/upstream or the path */
    PATH_SEGMENT_TARGET,   /* the target itself does not answer while the hop before it does */
};

/* "none", "local", "transit", "target". */
const char *path_segment_name(enum path_segment segment);

/* Where a path stops answering. Strings are always NUL-terminated. */
struct path_fault {
    bool found;
    int ttl;                   /* the first hop of the persistent loss */
    char addr[PROBE_ADDR_MAX]; /* its address ("" if it never answered) */
    int last_good_ttl;         /* the hop before it that still answered (0: none) */
    char last_good_addr[PROBE_ADDR_MAX];
    double loss_pct; /* loss at the fault hop (100 when it never answered) */
    int agreeing;    /* traces that share this fault point (1 for one trace) */
    enum path_segment segment;
};

/* Parses the "mtr" object of a diagnostics record (docs/rca.md) into *out. Tolerant: null RTTs
 * become 0, a missing or null hop address becomes "", a hop without "loss_pct" gets it from
 * sent/received, gaps between TTLs are kept as gaps, hops past TRACE_MAX_HOPS are ignored, hops
 * are put in TTL order. A member of the wrong type is an error. Returns 0, or -1 with err naming
 * the field, the value and what was expected ("mtr.hops[2].ttl: expected an integer >= 1,
 * got \"x\""); *out is then zeroed. */
int trace_result_from_json(const json_t *mtr, struct trace_result *out, char *err, size_t errlen);

/* Applies the reading rules above to one trace. Returns 0 with out->found telling whether
 * there is a fault (agreeing is 1 then), or -1 when the trace holds nothing to judge (a probe
 * error, or no hops); out->found is false then. */
int path_fault_of(const struct trace_result *t, struct path_fault *out);

/* The fault point that most of the given faults share: faults are the same point when their
 * last good address is the same (or, when both have none, their TTL is). Faults with found false
 * are skipped. out gets the first fault of the largest group (ties: the earliest group), with
 * agreeing = the group's size and loss_pct its average. Returns 0 with out->found telling
 * whether any fault was found. */
int path_faults_common(const struct path_fault *faults, size_t n, struct path_fault *out);

/* path_fault_of on each trace, then path_faults_common. Returns 0 with out->found as there, or
 * -1 when out of memory. */
int path_common_fault(const struct trace_result *ts, size_t n, struct path_fault *out);

#endif
