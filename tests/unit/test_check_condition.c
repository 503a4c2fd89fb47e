/* test_check_condition.c — the condition language: every placeholder and operator against a
 * probe result with the documented outcome and message, units, len(), JSON paths, headers, and
 * the load errors (unknown placeholder, one the type does not fill, kinds, units, regex). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "check/condition.h"

#define ALL ((1u << PH_COUNT) - 1)

static const char *const answers[] = {"192.0.2.1", "192.0.2.2"};

/* One result that fills every placeholder. */
static struct probe_result sample(json_t *headers)
{
    struct probe_result r = {
        .ran = true,
        .response_time_ms = 120,
        .connected = true,
        .status = 503,
        .body = "{\"data\":[{\"state\":\"up\",\"n\":3}],\"ok\":true,\"list\":[1,2]}",
        .headers = headers,
        .has_cert = true,
        .cert_expires_in_ms = 3LL * 86400 * 1000,
        .dns_rcode = "NOERROR",
        .dns_answers = answers,
        .n_dns_answers = 2,
        .rtt_ms = 0.4,
        .loss_pct = 25,
        .sent = 4,
        .received = 3,
        .exit_code = 2,
        .output = "CRITICAL - disk 97%"};
    r.body_len = strlen(r.body);
    return r;
}

struct eval_case {
    const char *text;
    bool pass;
    const char *message; /* when it fails */
};

static const struct eval_case eval_cases[] = {
    {"[STATUS] == 503", true, NULL},
    {"[STATUS] == 200", false, "[STATUS] == 200 failed: 503"},
    {"[STATUS] != 200", true, NULL},
    {"[STATUS] < 500", false, "[STATUS] < 500 failed: 503"},
    {"[STATUS] <= 503", true, NULL},
    {"[STATUS] > 499", true, NULL},
    {"[STATUS] >= 504", false, "[STATUS] >= 504 failed: 503"},
    {"[RESPONSE_TIME] < 300ms", true, NULL},
    {"[RESPONSE_TIME] < 0.1s", false, "[RESPONSE_TIME] < 0.1s failed: 120ms"},
    {"[RESPONSE_TIME] < 200", true, NULL},
    {"[BODY].data[0].state == \"up\"", true, NULL},
    {"[BODY].data[0].state == down", false, "[BODY].data[0].state == down failed: \"up\""},
    {"[BODY].data[0].n >= 3", true, NULL},
    {"[BODY].ok == true", true, NULL},
    {"[BODY].missing == 1", false, "[BODY].missing == 1 failed: no such member in the body"},
    {"len([BODY].list) == 2", true, NULL},
    {"[BODY] contains \"state\"", true, NULL},
    {"[BODY] matches \"^\\\\{\"", true, NULL},
    {"[HEADER].Content-Type contains json", true, NULL},
    {"[HEADER].X-Absent == \"a\"", false, "[HEADER].X-Absent == \"a\" failed: no such header"},
    {"[CONNECTED] == true", true, NULL},
    {"[CONNECTED]", true, NULL},
    {"[CONNECTED] != true", false, "[CONNECTED] != true failed: true"},
    {"[CERT_EXPIRES_IN] > 14d", false, "[CERT_EXPIRES_IN] > 14d failed: 3d"},
    {"[CERT_EXPIRES_IN] > 2d", true, NULL},
    {"[DNS_RCODE] == NOERROR", true, NULL},
    {"[DNS_RCODE] == \"NXDOMAIN\"", false, "[DNS_RCODE] == \"NXDOMAIN\" failed: \"NOERROR\""},
    {"[DNS_ANSWER] == \"192.0.2.2\"", true, NULL},
    {"[DNS_ANSWER] != \"192.0.2.2\"", false,
     "[DNS_ANSWER] != \"192.0.2.2\" failed: [\"192.0.2.1\", \"192.0.2.2\"]"},
    {"[DNS_ANSWER] contains \"0.2.1\"", true, NULL},
    {"len([DNS_ANSWER]) >= 3", false, "len([DNS_ANSWER]) >= 3 failed: 2"},
    {"[RTT] < 1ms", true, NULL},
    {"[LOSS] <= 5%", false, "[LOSS] <= 5% failed: 25%"},
    {"[LOSS] < 50", true, NULL},
    {"[EXIT_CODE] == 0", false, "[EXIT_CODE] == 0 failed: 2"},
    {"[OUTPUT] matches \"^CRIT\"", true, NULL},
    {"[OUTPUT] contains 'disk 9'", true, NULL},
    {"len([OUTPUT]) < 5", false, "len([OUTPUT]) < 5 failed: 19"},
};

static void test_eval(void **state)
{
    json_t *headers = json_pack("{ss}", "content-type", "application/json");
    struct probe_result r = sample(headers);
    for (size_t i = 0; i < sizeof eval_cases / sizeof eval_cases[0]; i++) {
        const struct eval_case *c = &eval_cases[i];
        char err[256] = "", msg[CONDITION_MESSAGE_MAX] = "";
        struct condition *cond = condition_parse(c->text, ALL, false, err, sizeof err);
        if (!cond)
            fail_msg("%s: refused: %s", c->text, err);
        struct condition_subject s;
        condition_subject_init(&s, &r);
        bool pass = condition_eval(cond, &s, msg, sizeof msg);
        condition_subject_free(&s);
        if (pass != c->pass)
            fail_msg("%s: %s, expected %s (%s)", c->text, pass ? "passed" : "failed",
                     c->pass ? "pass" : "fail", msg);
        if (!pass && strcmp(msg, c->message) != 0)
            fail_msg("%s: message '%s', expected '%s'", c->text, msg, c->message);
        condition_free(cond);
    }
    json_decref(headers);
}

static void test_body_not_json(void **state)
{
    struct probe_result r = {.body = "plain", .body_len = 5};
    char err[256], msg[CONDITION_MESSAGE_MAX];
    struct condition *c = condition_parse("[BODY].a == 1", ALL, false, err, sizeof err);
    assert_non_null(c);
    struct condition_subject s;
    condition_subject_init(&s, &r);
    assert_false(condition_eval(c, &s, msg, sizeof msg));
    assert_string_equal(msg, "[BODY].a == 1 failed: the body is not JSON");
    condition_subject_free(&s);
    condition_free(c);
}

struct load_error {
    const char *text;
    uint32_t allowed;
    const char *err;
};

static const struct load_error load_errors[] = {
    {"[NOPE] == 1", ALL, "at column 1: unknown placeholder [NOPE]"},
    {"[STATUS] == 200", PH_BIT(PH_CONNECTED),
     "at column 1: [STATUS] is not filled by this "
     "check's type"},
    {"[STATUS] = 200", ALL,
     "at column 10: expected an operator: == != < <= > >= contains "
     "matches"},
    {"[STATUS] == 200 extra", ALL, "at column 17: unexpected text after the condition"},
    {"[STATUS] == 2s", ALL, "at column 15: == compares a number with a duration"},
    {"[RESPONSE_TIME] < 5%", ALL, "at column 21: < compares a duration with a percentage"},
    {"[RESPONSE_TIME] < 30sm", ALL, "at column 23: < needs numbers on both sides"},
    {"[STATUS] contains \"5\"", ALL, "at column 22: contains compares a number with text"},
    {"[OUTPUT] matches \"(\"", ALL, "at column 21: invalid regular expression: "},
    {"[OUTPUT] matches \"a+++++++++++++++++++++++++++++\"", ALL,
     "at column 50: the regular expression repeats too much (a repetition of a repetition such "
     "as a+*, or more than 4096 characters once its repetitions are unrolled)"},
    {"[CONNECTED] < true", ALL, "at column 19: < needs numbers on both sides"},
    {"[HEADER] == \"a\"", ALL, "at column 9: expected one header name: [HEADER].Name"},
    {"[STATUS].x == 1", ALL, "at column 11: [STATUS] takes no path"},
    {"len([STATUS]) == 1", ALL, "at column 5: len() takes a placeholder with text or a list"},
    {"[BODY] == \"open", ALL, "at column 16: expected the closing quote of the string"},
    {"[STATUS", ALL, "at column 8: expected ']' to close the placeholder"},
    {"", ALL, "at column 1: expected a value: a placeholder, a number, a string or len()"},
    {"[BODY].a[x] == 1", ALL, "at column 10: expected an array index"},
    {"[OUTPUT] matches [STATUS]", ALL, "at column 26: matches needs a string on its right"},
};

static void test_load_errors(void **state)
{
    for (size_t i = 0; i < sizeof load_errors / sizeof load_errors[0]; i++) {
        char err[256] = "";
        struct condition *c =
            condition_parse(load_errors[i].text, load_errors[i].allowed, false, err, sizeof err);
        if (c)
            fail_msg("accepted %s", load_errors[i].text);
        if (strncmp(err, load_errors[i].err, strlen(load_errors[i].err)) != 0)
            fail_msg("%s: got '%s', expected '%s'", load_errors[i].text, err, load_errors[i].err);
    }
}

static void test_warning_and_text(void **state)
{
    char err[256];
    struct condition *c = condition_parse("[STATUS] == 200", ALL, true, err, sizeof err);
    assert_true(condition_is_warning(c));
    assert_string_equal(condition_text(c), "[STATUS] == 200");
    condition_free(c);
    condition_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_body_not_json),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_warning_and_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
