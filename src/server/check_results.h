/* check_results.h — the body of POST /api/v1/checks/results/NAME (a batch of an agent's check
 * results) validated whole, apart from the engine so it can be tested and fuzzed alone. Pure. */
#ifndef FAULTLINE_SERVER_CHECK_RESULTS_H
#define FAULTLINE_SERVER_CHECK_RESULTS_H

#include <jansson.h>
#include <stddef.h>

#define CHECK_RESULTS_MAX 10000 /* results in one batch */

/* {"results": [{"check", "state", "latency_ms", "message", "path"}...]} (docs/api.md). Returns 0,
 * or -1 with the path of the first bad member in field ("results[1].state") and in err that
 * path, what was expected and (for a path) what was found. */
int check_results_validate(const json_t *body, char *field, size_t fieldlen, char *err,
                           size_t errlen);

#endif
