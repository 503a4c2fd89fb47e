/* runner.h — one run of one check: starts the probe of the check's type on the loop, then
 * judges the result: the conditions (or the type's default condition) decide OK, WARNING or
 * CRITICAL; an exec check's exit code first decides by the Nagios plugin convention (0 OK,
 * 1 WARNING, 2 CRITICAL, 3 or anything else UNKNOWN; killed at its timeout, CRITICAL) and its
 * conditions can only make it worse.
 * A probe that could not run at all is UNKNOWN. */
#ifndef FAULTLINE_CHECK_RUNNER_H
#define FAULTLINE_CHECK_RUNNER_H

#include <jansson.h>

#include "check/checkdef.h"
#include "check/condition.h"

/* Append-only: the values are stored (in events) and sent. Worse states have higher values,
 * except UNKNOWN, which is neither better nor worse than a judgement. */
enum check_state { CHECK_OK, CHECK_WARNING, CHECK_CRITICAL, CHECK_UNKNOWN };

/* "ok", "warning", "critical", "unknown". */
const char *check_state_name(enum check_state s);
/* -1 when name is none of them. */
int check_state_find(const char *name);

#define CHECK_MESSAGE_MAX 512

struct check_outcome {
    enum check_state state;
    double latency_ms;
    char message[CHECK_MESSAGE_MAX];  /* why it is not OK; "" when OK */
    const struct probe_result *probe; /* what the probe saw; borrowed during the callback (keep
                                         it with probe_result_copy) */
};

/* Judges result for def into out (out->probe is result). */
void runner_judge(const struct checkdef *def, const struct probe_result *result,
                  struct check_outcome *out);

typedef void (*runner_done_cb)(const struct check_outcome *outcome, void *ctx);

struct runner_run; /* one run in flight; ends with done or runner_cancel */

/* Starts def through its type on env. When the probe cannot start, done is still called (on
 * this call's stack, state UNKNOWN with the reason) and NULL is returned. */
struct runner_run *runner_start(struct probe_env *env, const struct checkdef *def,
                                runner_done_cb done, void *ctx);
/* Stops a run in flight; done is not called. */
void runner_cancel(struct runner_run *run);

#endif
