/* test_check_runner.c — judging a result: the default condition, critical and warning
 * conditions, an exec type's Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL, 3 and others
 * UNKNOWN) with conditions on top, a probe that could not run; and a run through a type on a
 * real loop, with its timeout enforced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "check/runner.h"
#include "fake_probe.h"

static struct checkdef *load(const char *json)
{
    json_error_t jerr;
    json_t *def = json_loads(json, 0, &jerr);
    json_t *errors = json_array();
    struct checkdef *c = checkdef_parse(def, fake_find, NULL, NULL, "", errors);
    if (!c) {
        char text[256];
        checkdef_error_text(json_array_get(errors, 0), text, sizeof text);
        fail_msg("%s: %s", json, text);
    }
    json_decref(def);
    json_decref(errors);
    return c;
}

struct judge_case {
    const char *def;
    struct probe_result result;
    enum check_state state;
    const char *message;
};

#define FAKE "{\"name\": \"t\", \"type\": \"fake\", \"target\": \"h:1\""
#define FEXEC "{\"name\": \"t\", \"type\": \"fexec\", \"target\": \"h:1\""

static const struct judge_case judge_cases[] = {
    {FAKE "}", {.ran = true, .connected = true}, CHECK_OK, ""},
    {FAKE "}",
     {.ran = true, .error = "connection refused"},
     CHECK_CRITICAL,
     "[CONNECTED] == true failed: false (connection refused)"},
    {FAKE ", \"conditions\": [\"[STATUS] == 200\", {\"warning\": \"[RESPONSE_TIME] < 100ms\"}]}",
     {.ran = true, .status = 200, .response_time_ms = 150},
     CHECK_WARNING,
     "[RESPONSE_TIME] < 100ms failed: 150ms"},
    {FAKE ", \"conditions\": [\"[STATUS] == 200\", {\"warning\": \"[RESPONSE_TIME] < 100ms\"}]}",
     {.ran = true, .status = 503, .response_time_ms = 150},
     CHECK_CRITICAL,
     "[STATUS] == 200 failed: 503; [RESPONSE_TIME] < 100ms failed: 150ms"},
    {FAKE "}",
     {.ran = false, .error = "no such host"},
     CHECK_UNKNOWN,
     "could not run: no such host"},
    {FEXEC "}", {.ran = true, .exit_code = 0, .output = "OK - fine"}, CHECK_OK, ""},
    {FEXEC "}",
     {.ran = true, .exit_code = 1, .output = "WARNING - disk 81%\nmore"},
     CHECK_WARNING,
     "exit code 1: WARNING - disk 81%"},
    {FEXEC "}",
     {.ran = true, .exit_code = 2, .output = "CRITICAL - disk 97%"},
     CHECK_CRITICAL,
     "exit code 2: CRITICAL - disk 97%"},
    {FEXEC "}",
     {.ran = true, .exit_code = 3, .output = "UNKNOWN - no disk"},
     CHECK_UNKNOWN,
     "exit code 3: UNKNOWN - no disk"},
    {FEXEC "}", {.ran = true, .exit_code = 7, .output = "odd"}, CHECK_UNKNOWN, "exit code 7: odd"},
    {FEXEC "}",
     {.ran = true, .exit_code = -1, .timed_out = true, .error = "timed out after 300 ms"},
     CHECK_CRITICAL,
     "timed out after 300 ms"},
    {FEXEC ", \"conditions\": [\"[OUTPUT] contains \\\"fine\\\"\"]}",
     {.ran = true, .exit_code = 0, .output = "OK - slow"},
     CHECK_CRITICAL,
     "[OUTPUT] contains \"fine\" failed: \"OK - slow\""},
    {FEXEC ", \"conditions\": [{\"warning\": \"[RESPONSE_TIME] < 1s\"}]}",
     {.ran = true, .exit_code = 3, .output = "UNKNOWN", .response_time_ms = 2000},
     CHECK_WARNING,
     "exit code 3: UNKNOWN; [RESPONSE_TIME] < 1s failed: 2s"},
};

static void test_judge(void **state)
{
    for (size_t i = 0; i < sizeof judge_cases / sizeof judge_cases[0]; i++) {
        const struct judge_case *jc = &judge_cases[i];
        struct checkdef *c = load(jc->def);
        struct check_outcome out;
        runner_judge(c, &jc->result, &out);
        if (out.state != jc->state || strcmp(out.message, jc->message) != 0)
            fail_msg("case %zu: %s '%s', expected %s '%s'", i, check_state_name(out.state),
                     out.message, check_state_name(jc->state), jc->message);
        assert_ptr_equal(out.probe, &jc->result);
        checkdef_free(c);
    }
}

static void test_state_names(void **state)
{
    const char *names[] = {"ok", "warning", "critical", "unknown"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(check_state_name((enum check_state)i), names[i]);
        assert_int_equal(check_state_find(names[i]), i);
    }
    assert_int_equal(check_state_find("down"), -1);
}

static struct check_outcome last;
static int outcomes;

static void on_done(const struct check_outcome *o, void *ctx)
{
    last = *o;
    last.probe = NULL; /* borrowed: gone after the callback */
    outcomes++;
}

static void test_run_and_timeout(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_next_result = (struct probe_result){.ran = true, .connected = true, .response_time_ms = 5};
    struct checkdef *quick = load(FAKE ", \"delay_ms\": 5, \"timeout\": \"1s\"}");
    struct checkdef *slow = load(FAKE ", \"delay_ms\": 5000, \"timeout\": \"200ms\"}");
    outcomes = 0;
    assert_non_null(runner_start((struct probe_env *)&loop, quick, on_done, NULL));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(outcomes, 1);
    assert_int_equal(last.state, CHECK_OK);
    uint64_t t0 = uv_now(&loop);
    assert_non_null(runner_start((struct probe_env *)&loop, slow, on_done, NULL));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(outcomes, 2);
    assert_int_equal(last.state, CHECK_CRITICAL);
    assert_string_equal(last.message, "[CONNECTED] == true failed: false (timed out)");
    assert_true(uv_now(&loop) - t0 < 1000);
    struct runner_run *run = runner_start((struct probe_env *)&loop, slow, on_done, NULL);
    runner_cancel(run);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(outcomes, 2);
    checkdef_free(quick);
    checkdef_free(slow);
    uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_run_and_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
