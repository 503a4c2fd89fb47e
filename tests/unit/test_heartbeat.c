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
    char field[HEARTBEAT_FIELD_MAX], err[256];
    assert_int_equal(heartbeat_parse(body, strlen(body), &hb, field, sizeof field, err, sizeof err),
                     0);
    assert_string_equal(hb.name, "brickbox-43(4)");
    assert_int_equal(hb.gpus, 4);
    assert_string_equal(hb.version, "0.1.0");
    assert_int_equal(hb.uptime_s, 12345);
    assert_string_equal(hb.site, "fra1");
}

/* The members of agents that run checks: their TAGS and "checks": true. */
static void test_tags_and_checks(void **state)
{
    const char *body = "{\"name\":\"n\",\"tags\":\"region=eu,role=gpu\",\"checks\":true}";
    struct heartbeat hb;
    char field[HEARTBEAT_FIELD_MAX], err[256];
    assert_int_equal(heartbeat_parse(body, strlen(body), &hb, field, sizeof field, err, sizeof err),
                     0);
    assert_string_equal(hb.tags, "region=eu,role=gpu");
    assert_true(hb.checks);
    body = "{\"name\":\"n\",\"checks\":1}";
    assert_int_equal(heartbeat_parse(body, strlen(body), &hb, field, sizeof field, err, sizeof err),
                     -1);
    assert_string_equal(field, "checks");
    assert_string_equal(err, "checks: expected true or false");
    body = "{\"name\":\"n\",\"tags\":[]}";
    assert_int_equal(heartbeat_parse(body, strlen(body), &hb, field, sizeof field, err, sizeof err),
                     -1);
    assert_string_equal(field, "tags");
}

static void test_only_name(void **state)
{
    const char *body = "{\"name\":\"n\"}";
    struct heartbeat hb;
    char field[HEARTBEAT_FIELD_MAX], err[256];
    assert_int_equal(heartbeat_parse(body, strlen(body), &hb, field, sizeof field, err, sizeof err),
                     0);
    assert_int_equal(hb.gpus, 0);
    assert_string_equal(hb.version, "");
}

/* "gpu_error": true is a failed GPU check, whatever gpus says; false and null change nothing. */
static void test_gpu_error(void **state)
{
    static const struct {
        const char *body;
        int gpus;
    } cases[] = {
        {"{\"name\":\"n\",\"gpus\":null,\"gpu_error\":true}", WORKER_GPUS_FAILED},
        {"{\"name\":\"n\",\"gpu_error\":true,\"gpus\":4}", WORKER_GPUS_FAILED},
        {"{\"name\":\"n\",\"gpus\":4,\"gpu_error\":false}", 4},
        {"{\"name\":\"n\",\"gpus\":4,\"gpu_error\":null}", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct heartbeat hb;
        char field[HEARTBEAT_FIELD_MAX], err[256];
        assert_int_equal(heartbeat_parse(cases[i].body, strlen(cases[i].body), &hb, field,
                                         sizeof field, err, sizeof err),
                         0);
        assert_int_equal(hb.gpus, cases[i].gpus);
    }
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
    {"{\"name\":\"a\",\"gpu_error\":1}", "gpu_error", "gpu_error: expected true or false"},
    {"{\"name\":\"a\",\"gpu_error\":\"true\"}", "gpu_error",
     "gpu_error: expected true or false"},
    {"{\"name\":\"a\",\"site\":\"bad site\"}", "site", "site: expected letters"},
    {"{\"name\":\"a\",\"name\":\"b\"}", NULL, "duplicate"},
    /* Bytes that are not UTF-8 are named where they are, in unknown members too. */
    {"{\"name\":\"a\xff\"}", "name", "name: expected UTF-8 text, got the byte 0xFF at offset 10"},
    {"{\"name\":\"a\",\"extra\":{\"note\":[\"ok\",\"\xc3\"]}}", "extra.note[1]",
     "extra.note[1]: expected UTF-8 text, got the byte 0xC3 at offset 35"},
    {"{\"name\":\"a\",\"k\xe9y\":1}", "k\\xE9y", "k\\xE9y: expected UTF-8 text, got the byte 0xE9"},
    {"{\"name\":\"a\",\"x\":\"\xed\xa0\x80\"}", "x", "x: expected UTF-8 text, got the byte 0xED"},
    {"{\"name\":\"a\",\"x\":\"\xc0\xaf\"}", "x", "x: expected UTF-8 text, got the byte 0xC0"},
    {"{\"name\":\"a\",\"x\":\"\xf4\x90\x80\x80\"}", "x", "expected UTF-8 text"},
    /* A name shown back is cut at 40 bytes without splitting a character into bad UTF-8. */
    {"{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\"}", "name",
     "got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\xC3\""},
};

/* Valid UTF-8 in members faultline does not know is accepted. */
static void test_utf8_unknown_member(void **state)
{
    const char *body = "{\"name\":\"a\",\"note\":\"caf\xc3\xa9 \xf0\x9f\x94\xa5\"}";
    struct heartbeat hb;
    char field[HEARTBEAT_FIELD_MAX], err[256];
    assert_int_equal(heartbeat_parse(body, strlen(body), &hb, field, sizeof field, err, sizeof err),
                     0);
}

static void test_bad_bodies(void **state)
{
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        const struct bad_body *c = &bad_bodies[i];
        struct heartbeat hb;
        char field[HEARTBEAT_FIELD_MAX] = "unset", err[256] = "";
        int rc =
            heartbeat_parse(c->body, strlen(c->body), &hb, field, sizeof field, err, sizeof err);
        if (rc != -1 || !strstr(err, c->message_part))
            fail_msg("body %s: rc %d, err \"%s\", wanted \"%s\"", c->body, rc, err,
                     c->message_part);
        assert_string_equal(field, c->field ? c->field : "");
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
        cmocka_unit_test(test_tags_and_checks),
        cmocka_unit_test(test_gpu_error),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_utf8_unknown_member),
        cmocka_unit_test(test_name_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
