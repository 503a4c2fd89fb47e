/* test_channels.c — what each channel type makes of a message, without a network: Slack's
 * escaped mrkdwn, PagerDuty's trigger and resolve under one dedup_key, the webhook's template
 * (filled, escaped, refused when wrong), the mail's headers; and the HTTP answers sorted into
 * delivered / retry / refused. Names that look like markup stay text everywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "alert/email.h"
#include "alert/pagerduty.h"
#include "alert/slack.h"
#include "alert/webhook.h"

static const char EVIL[] = "\"><img src=x onerror=alert(1)> <b>x</b> & <!channel>";

static struct alert_delivery evil_message(void)
{
    return (struct alert_delivery){.id = 42,
                                   .text = EVIL,
                                   .subject = "<b>x</b> is DOWN",
                                   .name = "<b>x</b>",
                                   .link = "https://mon.example.org/admin",
                                   .dedup_key = "check:<b>x</b>",
                                   .kind = ALERT_KIND_CHECK,
                                   .severity = ALERT_SEVERITY_CRITICAL,
                                   .fields_json = "{\"kind\":\"check\",\"name\":\"<b>x</b>\","
                                                  "\"text\":\"a \\\"quote\\\"\\nline\","
                                                  "\"resolve\":false,\"id\":42}"};
}

static void test_slack_escapes(void **state)
{
    (void)state;
    struct alert_delivery d = evil_message();
    char *body = slack_message_json(&d);
    json_t *j = json_loads(body, 0, NULL);
    const char *text = json_string_value(json_object_get(j, "text"));
    assert_string_equal(text, "*&lt;b&gt;x&lt;/b&gt; is DOWN*\n"
                              "\"&gt;&lt;img src=x onerror=alert(1)&gt; &lt;b&gt;x&lt;/b&gt; "
                              "&amp; &lt;!channel&gt;\n"
                              "<https://mon.example.org/admin|Open in faultline>");
    json_decref(j);
    free(body);
}

static void test_pagerduty_trigger_and_resolve(void **state)
{
    (void)state;
    struct alert_delivery d = evil_message();
    char *body = pagerduty_event_json("R0UTING", &d);
    json_t *j = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "event_action")), "trigger");
    assert_string_equal(json_string_value(json_object_get(j, "dedup_key")), "check:<b>x</b>");
    json_t *p = json_object_get(j, "payload");
    assert_string_equal(json_string_value(json_object_get(p, "severity")), "critical");
    assert_string_equal(json_string_value(json_object_get(p, "summary")), "<b>x</b> is DOWN");
    assert_string_equal(json_string_value(json_object_get(p, "component")), "check");
    json_decref(j);
    free(body);
    d.resolve = true;
    body = pagerduty_event_json("R0UTING", &d);
    j = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "event_action")), "resolve");
    assert_string_equal(json_string_value(json_object_get(j, "dedup_key")), "check:<b>x</b>");
    assert_null(json_object_get(j, "payload"));
    json_decref(j);
    free(body);
    d.dedup_key = ""; /* a one-off keeps its outbox id: the same after a crash */
    d.resolve = false;
    body = pagerduty_event_json("R0UTING", &d);
    assert_non_null(strstr(body, "\"dedup_key\":\"faultline-42\""));
    free(body);
}

static void test_webhook_template(void **state)
{
    (void)state;
    char err[256];
    struct alert_delivery d = evil_message();
    char *body = webhook_render("{\"content\": \"**{{name}}** {{ text }} ({{status}})\", "
                                "\"raw\": {{json}}}",
                                d.fields_json, err, sizeof err);
    assert_non_null(body);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "content")),
                        "**<b>x</b>** a \"quote\"\nline (problem)");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "raw"), "id")), 42);
    json_decref(j);
    free(body);
    assert_null(webhook_render("{\"a\": \"{{nmae}}\"}", d.fields_json, err, sizeof err));
    assert_non_null(strstr(err, "unknown or unclosed placeholder at \"{{nmae}}"));
    assert_null(webhook_render("{\"a\": \"{{text\"}", d.fields_json, err, sizeof err));
    assert_null(webhook_render("{\"a\": {{text}}}", d.fields_json, err, sizeof err));
    assert_non_null(strstr(err, "not JSON once filled in"));
}

static void test_email_message(void **state)
{
    (void)state;
    static const char *const to[] = {"ops@example.org", "oncall@example.org"};
    struct alert_delivery d = evil_message();
    d.subject = "🔴 box\r\nBcc: victim@example.org";
    char *mail = email_message("faultline@example.org", to, 2, &d);
    assert_non_null(strstr(mail, "From: faultline@example.org\r\n"
                                 "To: ops@example.org, oncall@example.org\r\n"
                                 "Subject: =?UTF-8?B?"));
    assert_null(strstr(mail, "\r\nBcc:"));
    assert_non_null(strstr(mail, "Message-ID: <faultline-42@example.org>\r\n"));
    assert_non_null(strstr(mail, "X-Faultline-Dedup: check:<b>x</b>\r\n"));
    assert_non_null(strstr(mail, "\r\n\r\n\"><img src=x"));
    free(mail);
}

struct answer {
    long status;
    const char *error;
    long retry_after_s;
    enum alert_result want;
    int64_t want_wait_ms;
};

static const struct answer answers[] = {
    {200, NULL, 0, ALERT_SENT, 0},      {202, NULL, 0, ALERT_SENT, 0},
    {400, NULL, 0, ALERT_REJECTED, 0},  {401, NULL, 0, ALERT_REJECTED, 0},
    {403, NULL, 0, ALERT_REJECTED, 0},  {404, NULL, 0, ALERT_REJECTED, 0},
    {429, NULL, 7, ALERT_RETRY, 7000},  {429, NULL, 0, ALERT_RETRY, 0},
    {500, NULL, 0, ALERT_RETRY, 0},     {503, NULL, 0, ALERT_RETRY, 0},
    {408, NULL, 0, ALERT_RETRY, 0},     {0, "timed out", 0, ALERT_RETRY, 0},
};

static void test_http_outcomes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        struct httpc_response res = {.status = answers[i].status,
                                     .error = answers[i].error,
                                     .body = "no_service\nmore",
                                     .body_len = 15,
                                     .retry_after_s = answers[i].retry_after_s};
        struct alert_outcome out;
        alert_http_outcome(&res, "slack", &out);
        assert_int_equal(out.result, answers[i].want);
        assert_int_equal(out.retry_after_ms, answers[i].want_wait_ms);
    }
    struct httpc_response res = {.status = 404, .body = "no_service\nmore", .body_len = 15};
    struct alert_outcome out;
    alert_http_outcome(&res, "slack", &out);
    assert_string_equal(out.error, "slack: HTTP 404: no_service");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_escapes),
        cmocka_unit_test(test_pagerduty_trigger_and_resolve),
        cmocka_unit_test(test_webhook_template),
        cmocka_unit_test(test_email_message),
        cmocka_unit_test(test_http_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
