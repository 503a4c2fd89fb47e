/* test_backlog_parse.c — backlog chunks: what is accepted, and for each bad chunk the exact
 * message, field and record named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "server/backlog_parse.h"

#define REC(id, time) "{\"kind\":\"metric\",\"id\":\"" id "\",\"time\":\"" time "\",\"ok\":true}"

static void test_good_chunk(void **state)
{
    const char *body =
        "{\"name\":\"gpu-01\",\"records\":[" REC("m-2", "2026-11-21T10:00:05.500Z") "," REC(
            "m-1",
            "2026-11-21T11:00:00+01:00") "," REC("m-2",
                                                 "2026-11-21T10:00:05.500Z") ",{\"kind\":"
                                                                             "\"diagnostic\","
                                                                             "\"id\":\"d-1\","
                                                                             "\"time\":"
                                                                             "\"1795255210\","
                                                                             "\"note\":"
                                                                             "\"caf\xc3\xa9\"}]}";
    struct backlog_records r;
    struct backlog_error err;
    assert_int_equal(backlog_parse(body, strlen(body), 1795255300000LL, &r, &err), 0);
    assert_string_equal(r.worker, "gpu-01");
    assert_int_equal(r.count, 4);
    assert_int_equal(r.first_ms, 1795255200000LL);
    assert_int_equal(r.last_ms, 1795255210000LL);
    assert_string_equal(r.records[1].record_id, "m-1");
    assert_int_equal(r.records[1].time_ms, 1795255200000LL);
    assert_string_equal(r.records[3].kind, "diagnostic");
    assert_string_equal(r.records[3].worker, "gpu-01");
    assert_int_equal(r.records[3].received_ms, 1795255300000LL);
    assert_string_equal(r.records[0].body_json,
                        "{\"kind\":\"metric\",\"id\":\"m-2\",\"time\":\"2026-11-21T10:00:05.500Z\","
                        "\"ok\":true}");
    backlog_records_free(&r);
    assert_int_equal(r.count, 0);
}

struct bad_chunk {
    const char *body;
    const char *message;
    const char *field;
    long record;
    const char *record_id;
};

#define CHUNK(records) "{\"name\":\"gpu-01\",\"records\":[" records "]}"

static const struct bad_chunk bad_chunks[] = {
    {CHUNK(REC("m-1", "2026-02-30T10:00:00Z")),
     "records[0].time: expected an ISO 8601 time with a zone (\"2026-11-21T10:00:00.123Z\") from "
     "2000 to 2099, got \"2026-02-30T10:00:00Z\"",
     "records[0].time", 0, "m-1"},
    {CHUNK(REC("m-1", "2026-11-21T10:00:00Z") "," REC("m-2", "2026-11-21T23:59:60Z")),
     "records[1].time: expected an ISO 8601 time with a zone (\"2026-11-21T10:00:00.123Z\") from "
     "2000 to 2099, got \"2026-11-21T23:59:60Z\"",
     "records[1].time", 1, "m-2"},
    {CHUNK(REC("m-1", "2026-11-21T10:00:00")),
     "records[0].time: expected an ISO 8601 time with a zone (\"2026-11-21T10:00:00.123Z\") from "
     "2000 to 2099, got \"2026-11-21T10:00:00\"",
     "records[0].time", 0, "m-1"},
    {CHUNK(REC("m-1", "9223372036854775807")),
     "records[0].time: expected an ISO 8601 time with a zone (\"2026-11-21T10:00:00.123Z\") from "
     "2000 to 2099, got \"9223372036854775807\"",
     "records[0].time", 0, "m-1"},
    {CHUNK("{\"kind\":\"metric\",\"id\":\"m-1\",\"time\":1795255200}"),
     "records[0].time: expected an ISO 8601 time with a zone (\"2026-11-21T10:00:00.123Z\") from "
     "2000 to 2099, got 1795255200",
     "records[0].time", 0, "m-1"},
    {CHUNK("{\"kind\":\"metric\",\"id\":\"m-1\"}"),
     "records[0].time: expected an ISO 8601 time with a zone (\"2026-11-21T10:00:00.123Z\") from "
     "2000 to 2099, got nothing",
     "records[0].time", 0, "m-1"},
    {CHUNK(REC("m-1", "2026-11-21T10:00:00Z") ",{\"kind\":\"log\",\"id\":\"x\",\"time\":\"1\"}"),
     "records[1].kind: expected \"metric\" or \"diagnostic\", got \"log\"", "records[1].kind", 1,
     "x"},
    {CHUNK("{\"kind\":\"metric\",\"id\":\"has space\",\"time\":\"2026-11-21T10:00:00Z\"}"),
     "records[0].id: expected 1-64 printable ASCII characters without spaces, got \"has space\"",
     "records[0].id", 0, ""},
    {CHUNK("{\"kind\":\"metric\",\"id\":\"caf\xc3\xa9\",\"time\":\"2026-11-21T10:00:00Z\"}"),
     "records[0].id: expected 1-64 printable ASCII characters without spaces, got "
     "\"caf\\u00E9\"",
     "records[0].id", 0, ""},
    {CHUNK("[1]"), "records[0]: expected a JSON object, got [1]", "records[0]", 0, ""},
    /* One id, two contents: refused, naming the second and its id. */
    {CHUNK(REC("m-1", "2026-11-21T10:00:00Z") "," REC("m-2", "2026-11-21T10:00:01Z") "," REC(
         "m-1", "2026-11-21T10:00:02Z")),
     "records[2].id: \"m-1\" is already the id of records[0], whose content differs",
     "records[2].id", 2, "m-1"},
    /* Repeated members, at any depth, named where they are. */
    {CHUNK(
         REC("m-1",
             "2026-11-21T10:00:00Z") ",{\"kind\":\"metric\",\"id\":\"m-2\",\"time\":"
                                     "\"2026-11-21T10:00:00Z\",\"time\":\"2026-11-21T10:00:01Z\"}"),
     "records[1].time: member given twice", "records[1].time", 1, "m-2"},
    {CHUNK("{\"kind\":\"metric\",\"id\":\"m-1\",\"time\":\"2026-11-21T10:00:00Z\",\"gw\":{\"a\":1,"
           "\"a\":2}}"),
     "records[0].gw.a: member given twice", "records[0].gw.a", 0, "m-1"},
    {"{\"name\":\"a\",\"name\":\"b\",\"records\":[]}", "name: member given twice", "name", -1, ""},
    /* Bytes that are not UTF-8, in members faultline does not know too. */
    {CHUNK("{\"kind\":\"metric\",\"id\":\"m-1\",\"time\":\"2026-11-21T10:00:00Z\",\"error\":"
           "\"x\xff\"}"),
     "records[0].error: expected UTF-8 text, got the byte 0xFF at offset 96", "records[0].error", 0,
     "m-1"},
    {CHUNK("{\"kind\":\"metric\",\"id\":\"m-1\",\"time\":\"2026-11-21T10:00:00Z\",\"e\xe9\":1}"),
     "records[0].e\\xE9: expected UTF-8 text, got the byte 0xE9 at offset 88", "records[0].e\\xE9",
     0, "m-1"},
    {CHUNK("{\"kind\":\"metric\",\"id\":\"m-\xff\",\"time\":\"2026-11-21T10:00:00Z\"}"),
     "records[0].id: expected UTF-8 text, got the byte 0xFF at offset 53", "records[0].id", 0, ""},
    {"{\"name\":\"gpu\xc0\xaf\"}", "name: expected UTF-8 text, got the byte 0xC0 at offset 12",
     "name", -1, ""},
    /* The chunk as a whole. */
    {"{\"name\":\"gpu-01\",\"records\":[]}", "records: expected an array of 1 to 500 records",
     "records", -1, ""},
    {"{\"records\":[" REC("m-1", "2026-11-21T10:00:00Z") "]}",
     "name: expected 1-64 letters, digits or ._-:()@+, got nothing", "name", -1, ""},
    {"{\"name\":\"a b\",\"records\":[]}",
     "name: expected 1-64 letters, digits or ._-:()@+, got \"a b\"", "name", -1, ""},
    {"[]", "body: expected a JSON object", "", -1, ""},
    {"xx", "body: not valid JSON ('[' or '{' expected near 'xx')", "", -1, ""},
    {"{\"name\":\"a\",\"records\":[\"\\u0000\"]}",
     "body: not valid JSON (\\u0000 is not allowed without JSON_ALLOW_NUL near '\"\\u0000\"')", "",
     -1, ""},
};

static void test_bad_chunks(void **state)
{
    for (size_t i = 0; i < sizeof bad_chunks / sizeof bad_chunks[0]; i++) {
        const struct bad_chunk *c = &bad_chunks[i];
        struct backlog_records r;
        struct backlog_error err;
        if (backlog_parse(c->body, strlen(c->body), 0, &r, &err) != -1)
            fail_msg("accepted %s", c->body);
        if (strcmp(err.message, c->message) || strcmp(err.field, c->field) ||
            err.record != c->record || strcmp(err.record_id, c->record_id))
            fail_msg("%s:\n got %s | %s | %ld | %s\nwant %s | %s | %ld | %s", c->body, err.message,
                     err.field, err.record, err.record_id, c->message, c->field, c->record,
                     c->record_id);
        assert_int_equal(err.status, 400);
        assert_int_equal(r.count, 0);
        assert_null(r.records);
    }
}

/* 500 records pass, 501 do not. */
static void test_record_limit(void **state)
{
    static char body[600 * 100];
    for (int n = 500; n <= 501; n++) {
        size_t len = (size_t)snprintf(body, sizeof body, "{\"name\":\"w\",\"records\":[");
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(body + len, sizeof body - len,
                                    "%s{\"kind\":\"metric\",\"id\":\"m-%d\",\"time\":\"%d\"}",
                                    i ? "," : "", i, 1795255200 + i);
        len += (size_t)snprintf(body + len, sizeof body - len, "]}");
        struct backlog_records r;
        struct backlog_error err;
        assert_int_equal(backlog_parse(body, len, 0, &r, &err), n == 500 ? 0 : -1);
        if (n == 500)
            assert_int_equal(r.count, 500);
        else
            assert_string_equal(err.field, "records");
        backlog_records_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_chunk),
        cmocka_unit_test(test_bad_chunks),
        cmocka_unit_test(test_record_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
