/* runner.c — one run of one check (runner.h): the probe through its type's table row, then the
 * judgement of its result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/runner.h"

static const char *const state_names[] = {"ok", "warning", "critical", "unknown"};

const char *check_state_name(enum check_state s)
{
    return (unsigned)s < 4 ? state_names[s] : "unknown";
}

int check_state_find(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(state_names[i], name) == 0)
            return i;
    return -1;
}

/* The worse of a and b; UNKNOWN gives way to CRITICAL and WARNING, and wins over OK. */
static enum check_state worse(enum check_state a, enum check_state b)
{
    if (a == CHECK_UNKNOWN || b == CHECK_UNKNOWN) {
        enum check_state other = a == CHECK_UNKNOWN ? b : a;
        return other == CHECK_OK || other == CHECK_UNKNOWN ? CHECK_UNKNOWN : other;
    }
    return a > b ? a : b;
}

static void append(char *message, const char *text)
{
    size_t n = strlen(message);
    snprintf(message + n, CHECK_MESSAGE_MAX - n, "%s%s", n ? "; " : "", text);
}

/* An exec check's state from its exit code (Nagios), and its first output line as message; a
 * command killed at its timeout is CRITICAL. */
static enum check_state nagios_state(const struct probe_result *r, char *message)
{
    static const enum check_state by_code[] = {CHECK_OK, CHECK_WARNING, CHECK_CRITICAL};
    if (r->timed_out) { /* killed at its timeout: no verdict of its own, and too slow */
        snprintf(message, CHECK_MESSAGE_MAX, "%s", r->error[0] ? r->error : "timed out");
        return CHECK_CRITICAL;
    }
    enum check_state s =
        r->exit_code >= 0 && r->exit_code < 3 ? by_code[r->exit_code] : CHECK_UNKNOWN;
    if (s != CHECK_OK) {
        const char *out = r->output && r->output[0] ? r->output : r->error;
        size_t line = strcspn(out, "\n");
        snprintf(message, CHECK_MESSAGE_MAX, "exit code %d: %.*s", r->exit_code,
                 (int)(line < 300 ? line : 300), out);
    }
    return s;
}

static enum check_state judge_conditions(const struct checkdef *def, const struct probe_result *r,
                                         char *message)
{
    enum check_state s = CHECK_OK;
    struct condition_subject subject;
    condition_subject_init(&subject, r);
    char why[CONDITION_MESSAGE_MAX];
    for (size_t i = 0; i < def->n_conditions; i++) {
        if (condition_eval(def->conditions[i], &subject, why, sizeof why))
            continue;
        append(message, why);
        s = worse(s, condition_is_warning(def->conditions[i]) ? CHECK_WARNING : CHECK_CRITICAL);
    }
    if (def->fallback && !condition_eval(def->fallback, &subject, why, sizeof why)) {
        append(message, why);
        s = CHECK_CRITICAL;
    }
    condition_subject_free(&subject);
    return s;
}

void runner_judge(const struct checkdef *def, const struct probe_result *r,
                  struct check_outcome *out)
{
    *out = (struct check_outcome){.latency_ms = r->response_time_ms, .probe = r};
    if (!r->ran) {
        out->state = CHECK_UNKNOWN;
        snprintf(out->message, sizeof out->message, "could not run: %s", r->error);
        return;
    }
    enum check_state s = CHECK_OK;
    if (def->type->placeholders & PH_BIT(PH_EXIT_CODE))
        s = nagios_state(r, out->message);
    out->state = worse(s, judge_conditions(def, r, out->message));
    if (out->state != CHECK_OK && r->error[0] && !strstr(out->message, r->error)) {
        size_t n = strlen(out->message); /* the probe's own words after the judgement */
        snprintf(out->message + n, sizeof out->message - n, "%s(%s)", n ? " " : "", r->error);
    }
}

struct runner_run {
    const struct checkdef *def;
    struct probe_run *probe;
    runner_done_cb done;
    void *ctx;
};

static void on_probe_done(const struct probe_result *result, void *ctx)
{
    struct runner_run *run = ctx;
    struct check_outcome out;
    runner_judge(run->def, result, &out);
    runner_done_cb done = run->done;
    void *done_ctx = run->ctx;
    free(run);
    done(&out, done_ctx);
}

struct runner_run *runner_start(struct probe_env *env, const struct checkdef *def,
                                runner_done_cb done, void *ctx)
{
    struct runner_run *run = malloc(sizeof *run);
    char why[PROBE_ERROR_MAX] = "out of memory";
    if (run) {
        *run = (struct runner_run){.def = def, .done = done, .ctx = ctx};
        run->probe = def->type->start(env, def->options, (int)def->timeout_ms, on_probe_done, run,
                                      why, sizeof why);
        if (run->probe)
            return run;
        free(run);
    }
    struct probe_result failed = {0}; /* 1.7 KB to clear: only when it could not start */
    snprintf(failed.error, sizeof failed.error, "%s", why);
    struct check_outcome out;
    runner_judge(def, &failed, &out);
    done(&out, ctx);
    return NULL;
}

void runner_cancel(struct runner_run *run)
{
    if (!run)
        return;
    run->def->type->cancel(run->probe);
    free(run);
}
