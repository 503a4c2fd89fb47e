/* probe_json.h — probe results as JSON objects (jansson), in the shapes docs/rca.md gives for
 * diagnostics.jsonl: the agent's logs, `faultline probe --json` and the server's canaries all
 * write them through here. Each returns a new reference (caller json_decref's it), or NULL
 * when out of memory. Times are in ms with 0.01 ms precision; an RTT with no answer is null. A
 * result whose probe could not run has an "error" member. */
#ifndef FAULTLINE_PROBE_JSON_H
#define FAULTLINE_PROBE_JSON_H

#include <jansson.h>

#include "probe/probe.h"

/* {"target","addr","method","sent","received","loss_pct","rtt_min_ms","rtt_avg_ms","rtt_max_ms"} */
json_t *ping_result_json(const struct ping_result *r);
/* The "mtr" object: {"target","addr","method","rounds","reached","hops":[{"ttl","addr","sent",
 * "received","loss_pct","best_ms","avg_ms","worst_ms"}]} */
json_t *trace_result_json(const struct trace_result *r);
/* {"addr","port","ok","reachable","connect_ms","error"} */
json_t *tcp_result_json(const struct tcp_result *r);
/* {"name","ok","ms","addr","error"} */
json_t *dns_result_json(const struct dns_result *r);

#endif
