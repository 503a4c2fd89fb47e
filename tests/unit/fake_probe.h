/* fake_probe.h — check types for the check engine's unit tests, standing in for the probe table:
 * "fake" fills every placeholder but EXIT_CODE/OUTPUT and answers after `delay_ms` with the
 * result the test put in fake_next_result (a timeout when the delay is longer); "fexec" fills
 * EXIT_CODE and OUTPUT the same way. "fake" lists its members (the loader names others);
 * "fexec" does not, and its parse names them itself. Included once per test program. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "probe/probe_type.h"

static struct probe_result fake_next_result;
static int fake_started;

struct fake_options {
    int delay_ms;
};

static void *fake_parse(const json_t *def, const char **field, char *err, size_t errlen)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)def, k, v)
    {
        if (strcmp(k, "target") != 0 && strcmp(k, "delay_ms") != 0) {
            *field = k;
            snprintf(err, errlen, "unknown member (expected target or delay_ms)");
            return NULL;
        }
    }
    const json_t *target = json_object_get(def, "target");
    if (!json_is_string(target) || !strchr(json_string_value(target), ':')) {
        *field = "target";
        snprintf(err, errlen, "expected host:port");
        return NULL;
    }
    struct fake_options *o = calloc(1, sizeof *o);
    o->delay_ms = (int)json_integer_value(json_object_get(def, "delay_ms"));
    return o;
}

static void fake_free_options(void *o)
{
    free(o);
}

struct probe_run {
    uv_timer_t timer;
    probe_done_cb done;
    void *ctx;
    bool timed_out;
};

static void fake_closed(uv_handle_t *h)
{
    free(h->data);
}

static void fake_fire(uv_timer_t *t)
{
    struct probe_run *run = t->data;
    struct probe_result r = fake_next_result;
    if (run->timed_out) {
        r.timed_out = true;
        r.connected = false;
        snprintf(r.error, sizeof r.error, "timed out");
    }
    run->done(&r, run->ctx);
    uv_close((uv_handle_t *)&run->timer, fake_closed);
}

static struct probe_run *fake_start(struct probe_env *env, const void *options, int timeout_ms,
                                    probe_done_cb done, void *ctx, char *err, size_t errlen)
{
    const struct fake_options *o = options;
    struct probe_run *run = calloc(1, sizeof *run);
    run->done = done;
    run->ctx = ctx;
    run->timed_out = o->delay_ms > timeout_ms;
    uv_timer_init((uv_loop_t *)env, &run->timer); /* tests pass their loop as the env */
    run->timer.data = run;
    uv_timer_start(&run->timer, fake_fire,
                   run->timed_out ? (uint64_t)timeout_ms : (uint64_t)o->delay_ms, 0);
    fake_started++;
    return run;
}

static void fake_cancel(struct probe_run *run)
{
    uv_close((uv_handle_t *)&run->timer, fake_closed);
}

static json_t *fake_result_json(const struct probe_result *r)
{
    return json_pack("{sb si sf}", "connected", r->connected, "status", r->status,
                     "response_time_ms", r->response_time_ms);
}

static const char *const fake_members[] = {"target", "delay_ms", NULL};

static const struct probe_type fake_type = {
    .name = "fake",
    .placeholders = ((1u << PH_COUNT) - 1) & ~(PH_BIT(PH_EXIT_CODE) | PH_BIT(PH_OUTPUT)),
    .default_condition = "[CONNECTED] == true",
    .parse = fake_parse,
    .free_options = fake_free_options,
    .start = fake_start,
    .cancel = fake_cancel,
    .result_json = fake_result_json,
    .members = fake_members,
};

static const struct probe_type fexec_type = {
    .name = "fexec",
    .placeholders = PH_BIT(PH_EXIT_CODE) | PH_BIT(PH_OUTPUT) | PH_BIT(PH_RESPONSE_TIME),
    .default_condition = "[EXIT_CODE] == 0",
    .parse = fake_parse,
    .free_options = fake_free_options,
    .start = fake_start,
    .cancel = fake_cancel,
    .result_json = fake_result_json,
};

static const struct probe_type *fake_find(const char *name)
{
    if (strcmp(name, "fake") == 0)
        return &fake_type;
    return strcmp(name, "fexec") == 0 ? &fexec_type : NULL;
}
