/* test_probe_result_copy.c — a result kept with probe_result_copy gives, when asked, the same
 * JSON as the result itself, for every type of the table: empty results, full ones (a body with
 * a NUL byte in it, headers, DNS answers, perfdata, a timeout and an error), and a result that
 * could not run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "probe/probe_type.h"

static void assert_same_json(const struct probe_type *type, const struct probe_result *r)
{
    json_t *want = probe_result_json(type, r);
    struct probe_result_copy *copy = probe_result_copy(type, r);
    assert_non_null(copy);
    json_t *got = probe_result_copy_json(copy);
    free(copy);
    if (!json_equal(want, got)) {
        char *w = json_dumps(want, JSON_COMPACT), *g = json_dumps(got, JSON_COMPACT);
        fail_msg("%s: expected %s, got %s", type->name, w, g ? g : "NULL");
    }
    json_decref(want);
    json_decref(got);
}

static void test_empty_results(void **state)
{
    for (const struct probe_type *const *t = probe_types; *t; t++)
        assert_same_json(*t, &(struct probe_result){.ran = true});
}

static void test_full_results(void **state)
{
    static const char body[] = "220 mail\0after a NUL";
    static const char *const answers[] = {"192.0.2.1", "10 mx.example.", ""};
    json_t *headers = json_pack("{ss ss}", "content-type", "text/plain", "server", "x");
    struct probe_result r = {
        .ran = true,
        .timed_out = true,
        .response_time_ms = 12.345,
        .connected = true,
        .reachable = true,
        .status = 503,
        .body = body,
        .body_len = sizeof body - 1,
        .headers = headers,
        .has_cert = true,
        .cert_expires_in_ms = -86400000,
        .dns_rcode = "NXDOMAIN",
        .dns_answers = answers,
        .n_dns_answers = 3,
        .rtt_ms = 0.5,
        .loss_pct = 33.3,
        .sent = 3,
        .received = 2,
        .exit_code = 2,
        .output = "CRITICAL - disk 97%",
        .perfdata = {{"used", 97, "%"}, {"free", 1.5, "GB"}},
        .n_perfdata = 2,
        .addr = "2001:db8::1",
    };
    memset(r.error, 'e', sizeof r.error - 1); /* the longest error */
    for (const struct probe_type *const *t = probe_types; *t; t++)
        assert_same_json(*t, &r);
    json_decref(headers);
}

static void test_not_run(void **state)
{
    struct probe_result r = {.error = "bad target", .exit_code = -1};
    for (const struct probe_type *const *t = probe_types; *t; t++)
        assert_same_json(*t, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_results),
        cmocka_unit_test(test_full_results),
        cmocka_unit_test(test_not_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
