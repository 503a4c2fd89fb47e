/* check_results.c — validates a batch of an agent's check results (check_results.h). */
#include "server/check_results.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "check/checkdef.h"
#include "check/runner.h"
#include "probe/path.h"

static int bad(char *field, size_t fieldlen, char *err, size_t errlen, size_t i, const char *member,
               const char *what)
{
    snprintf(field, fieldlen, "results[%zu]%s%s", i, member[0] ? "." : "", member);
    snprintf(err, errlen, "%s: %s", field, what);
    return -1;
}

/* Validates results[i] whole. */
static int result_valid(const json_t *r, size_t i, char *field, size_t fieldlen, char *err,
                        size_t errlen)
{
    if (!json_is_object(r))
        return bad(field, fieldlen, err, errlen, i, "", "expected an object");
    const json_t *check = json_object_get(r, "check");
    const json_t *state = json_object_get(r, "state");
    const json_t *latency = json_object_get(r, "latency_ms");
    const json_t *message = json_object_get(r, "message");
    const json_t *path = json_object_get(r, "path");
    if (!json_is_string(check) || json_string_length(check) == 0 ||
        json_string_length(check) > CHECK_NAME_MAX)
        return bad(field, fieldlen, err, errlen, i, "check", "expected a check's name");
    bool path_only = !state && path && !json_is_null(path); /* the trace after a failure */
    if (!path_only && (!json_is_string(state) || check_state_find(json_string_value(state)) < 0))
        return bad(field, fieldlen, err, errlen, i, "state",
                   "expected ok, warning, critical or unknown");
    if (latency && (!json_is_number(latency) || json_number_value(latency) < 0))
        return bad(field, fieldlen, err, errlen, i, "latency_ms", "expected a number >= 0");
    if (message && !json_is_null(message) &&
        (!json_is_string(message) || json_string_length(message) >= CHECK_MESSAGE_MAX))
        return bad(field, fieldlen, err, errlen, i, "message",
                   "expected text of at most 511 bytes");
    if (path && !json_is_null(path)) {
        struct trace_result *t = malloc(sizeof *t);
        char why[256] = "out of memory";
        int rc = t ? trace_result_from_json(path, t, why, sizeof why) : -1;
        free(t);
        if (rc != 0)
            return bad(field, fieldlen, err, errlen, i, "path", why);
    }
    return 0;
}

int check_results_validate(const json_t *body, char *field, size_t fieldlen, char *err,
                           size_t errlen)
{
    const json_t *results = json_object_get(body, "results");
    if (!json_is_array(results) || json_array_size(results) > CHECK_RESULTS_MAX) {
        snprintf(field, fieldlen, "results");
        snprintf(err, errlen, "results: expected an array of at most %d results",
                 CHECK_RESULTS_MAX);
        return -1;
    }
    size_t i;
    const json_t *r;
    json_array_foreach(results, i, r)
    {
        if (result_valid(r, i, field, fieldlen, err, errlen) != 0)
            return -1;
    }
    return 0;
}
