/* test_heartbeat.c — heartbeat bodies: what is accepted, and the error for each bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/label.h"
#include "server/heartbeat.h"

static void test_full_body(void **state)
{
    const char *body = "{\"extra\":{\"name\":\"inner\",\"x\":[1,{\"a\":2}]},"
                       "\"name\":\"brickbox-43(4)\",\"gpus\":4,\"version\":\"0.1.0\","
                       "\"uptime_s\":12345.6,\"site\":\"fra1\",\"more\":[1,2]} \n";
    struct heartbeat hb;
    const char *field;
    char err[256];
    assert_int_equal(heartbeat_parse(body, strlen(body), &hb, &field, err, sizeof err), 0);
    assert_string_equal(hb.name, "brickbox-43(4)");
    assert_int_equal(hb.gpus, 4);
    assert_string_equal(hb.version, "0.1.0");
    assert_int_equal(hb.uptime_s, 12345);
    assert_string_equal(hb.site, "fra1");
}

static void test_only_name(void **state)
{
    const char *body = "{\"name\":\"n\"}";
    struct heartbeat hb;
    const char *field;
    char err[256];
    assert_int_equal(heartbeat_parse(body, strlen(body), &hb, &field, err, sizeof err), 0);
    assert_int_equal(hb.gpus, 0);
    assert_string_equal(hb.version, "");
}

struct bad_body {
    const char *body;
    const char *field; /* NULL: the body as a whole */
    const char *message_part;
};

static const struct bad_body bad_bodies[] = {
    {"", NULL, "invalid JSON"},
    {"{\"name\":", NULL, "invalid JSON"},
    {"[1,2]", NULL, "expected a JSON object"},
    {"\"name\"", NULL, "expected a JSON object"},
    {"{\"name\":\"a\"} {}", NULL, "expected a JSON object"},
    {"{\"name\":\"a\"} x", NULL, "expected a JSON object"},
    {"{name:\"a\"}", NULL, "invalid JSON"},
    {"{\"name\":\"a\",\"gpus\"}", NULL, "invalid JSON"},
    {"{\"gpus\"}", NULL, "invalid JSON"},
    {"{\"name\":\"a\",}", NULL, "invalid JSON"},
    {"{\"name\":\"a\",\"x\":[1, ]}", NULL, "invalid JSON"},
    {"{\"name\":\"a\",\"x\":{\"y\"}}", NULL, "invalid JSON"},
    {"{\"name\":\"a\",\"x\":[tru]}", NULL, "invalid JSON"},
    {"{\"name\":\"a\",\"x\":[1,{\"z\":nul}]}", NULL, "invalid JSON"},
    {"{}", "name", "name: required"},
    {"{\"name\":null}", "name", "name: expected 1-64"},
    {"{\"name\":\"\"}", "name", "name: expected 1-64"},
    {"{\"name\":42}", "name", "name: expected a string"},
    {"{\"name\":\"has space\"}", "name", "got \"has space\""},
    {"{\"name\":\"a/b\"}", "name", "name: expected letters"},
    {"{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "name",
     "name: expected at most 64 characters, got 65"},
    {"{\"name\":\"a\\u0000b\"}", "name", "name: expected letters"},
    {"{\"name\":\"a\",\"gpus\":\"x\"}", "gpus", "gpus: expected a whole number"},
    {"{\"name\":\"a\",\"gpus\":-1}", "gpus", "gpus: expected a whole number"},
    {"{\"name\":\"a\",\"gpus\":1.5}", "gpus", "gpus: expected a whole number"},
    {"{\"name\":\"a\",\"uptime_s\":-3}", "uptime_s", "uptime_s: expected a number"},
    {"{\"name\":\"a\",\"uptime_s\":\"3\"}", "uptime_s", "uptime_s: expected a number"},
    {"{\"name\":\"a\",\"version\":{}}", "version", "version: expected a string"},
    {"{\"name\":\"a\",\"version\":\"123456789012345678901234567890123\"}", "version",
     "version: expected at most 32 characters"},
    {"{\"name\":\"a\",\"version\":\"1\\n2\"}", "version", "printable ASCII"},
    {"{\"name\":\"a\",\"version\":\"caf\xc3\xa9\"}", "version", "printable ASCII"},
    {"{\"name\":\"a\",\"gpus\":true}", "gpus", "gpus: expected a whole number"},
    {"{\"name\":\"a\",\"gpus\":1e3}", "gpus", "gpus: expected a whole number"},
    {"{\"name\":\"a\",\"site\":\"bad site\"}", "site", "site: expected letters"},
    {"{\"name\":\"a\",\"name\":\"b\"}", NULL, "duplicate"},
};

static void test_bad_bodies(void **state)
{
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        const struct bad_body *c = &bad_bodies[i];
        struct heartbeat hb;
        const char *field = "unset";
        char err[256] = "";
        int rc = heartbeat_parse(c->body, strlen(c->body), &hb, &field, err, sizeof err);
        if (rc != -1 || !strstr(err, c->message_part))
            fail_msg("body %s: rc %d, err \"%s\", wanted \"%s\"", c->body, rc, err,
                     c->message_part);
        if (c->field)
            assert_string_equal(field, c->field);
        else
            assert_null(field);
    }
}

static void test_name_rule(void **state)
{
    assert_true(label_valid("gpu-node.01_a:b(4)@x+y"));
    assert_false(label_valid(""));
    assert_false(label_valid("<script>"));
    assert_false(label_valid("tab\there"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_body),
        cmocka_unit_test(test_only_name),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_name_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
