/* test_uptimebot.c — the uptime-rca-bot client's formats read as faultline's: worker names
 * (NAME(N), NAME(GPU_ERR)), telling its records apart, mapping metrics and diagnostics with each
 * mtr shape into the records diagnose.h reads, the errors that name a bad member, stable ids, and
 * the time in an mtr file's name. Records are lines exactly as run_client_rca.sh writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/diagnose.h"
#include "analyze/uptimebot.h"

#define T_10_00 1795255200000LL /* 2026-11-21T10:00:00Z */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        fail_msg("fixture is not JSON (%s): %s", jerr.text, text);
    return j;
}

/* Maps text and insists it maps. */
static json_t *mapped(const char *text)
{
    json_t *bot = parse(text);
    char field[96], err[256];
    json_t *r = uptimebot_record_map(bot, 0, field, sizeof field, err, sizeof err);
    if (!r)
        fail_msg("%s: %s", text, err);
    json_decref(bot);
    return r;
}

static const char *str(const json_t *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *v = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return json_string_value(v);
}

/* ---- names -------------------------------------------------------------------------------- */

struct name_case {
    const char *sent, *name;
    int gpus;
};

static void test_names(void **state)
{
    static const struct name_case cases[] = {
        {"brickbox-43(4)", "brickbox-43", 4},
        {"brickbox-43(0)", "brickbox-43", 0},
        {"brickbox-43(4096)", "brickbox-43", 4096},
        {"brickbox-43(GPU_ERR)", "brickbox-43", WORKER_GPUS_FAILED},
        {"brickbox-43()", "brickbox-43", WORKER_GPUS_FAILED},
        {"203.0.113.7-brickbox-43", "203.0.113.7-brickbox-43", 0},
        {"a(b)(8)", "a(b)", 8},
        {"x", "x", 0},
        {"0123456789012345678901234567890123456789012345678901234567890123(2)",
         "0123456789012345678901234567890123456789012345678901234567890123", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[WORKER_NAME_MAX + 1], err[200] = "";
        int gpus = -7;
        if (uptimebot_name_parse(cases[i].sent, name, &gpus, err, sizeof err) != 0)
            fail_msg("%s: %s", cases[i].sent, err);
        assert_string_equal(name, cases[i].name);
        assert_int_equal(gpus, cases[i].gpus);
    }
}

static void test_bad_names(void **state)
{
    static const struct {
        const char *sent, *err;
    } cases[] = {
        {"gpu(x)", "worker: expected NAME(N) with N a whole number from 0 to 4096 or GPU_ERR, got "
                   "\"gpu(x)\""},
        {"gpu(4097)", "worker: expected NAME(N) with N a whole number from 0 to 4096 or GPU_ERR, "
                      "got \"gpu(4097)\""},
        {"gpu(-1)", "worker: expected NAME(N) with N a whole number from 0 to 4096 or GPU_ERR, "
                    "got \"gpu(-1)\""},
        {"gpu(12345)", "worker: expected NAME(N) with N a whole number from 0 to 4096 or GPU_ERR, "
                       "got \"gpu(12345)\""},
        {"(4)", "worker: expected 1-64 letters, digits or ._-:()@+, got \"(4)\""},
        {"", "worker: expected 1-64 letters, digits or ._-:()@+, got \"\""},
        {"bad name(4)", "worker: expected 1-64 letters, digits or ._-:()@+, got \"bad name(4)\""},
        {"01234567890123456789012345678901234567890123456789012345678901234(2)",
         "worker: expected 1-64 letters, digits or ._-:()@+, got "
         "\"01234567890123456789012345678901234567890123456789012345678901234(2)\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[WORKER_NAME_MAX + 1], err[200] = "";
        int gpus;
        assert_int_equal(uptimebot_name_parse(cases[i].sent, name, &gpus, err, sizeof err), -1);
        assert_string_equal(err, cases[i].err);
    }
}

/* ---- telling the formats apart ------------------------------------------------------------ */

static void test_formats(void **state)
{
    static const struct {
        const char *json;
        enum uptimebot_format format;
    } cases[] = {
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"worker\":\"a(4)\",\"status\":\"ok\",\"http\":\"200\","
         "\"latency_ms\":41,\"error\":\"\",\"consecutive_failures\":0}",
         UPTIMEBOT_METRIC},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"worker\":\"a(4)\",\"type\":\"network_diag\","
         "\"gateway\":\"none\",\"gw_loss_pct\":100,\"gw_avg_ms\":-1}",
         UPTIMEBOT_DIAGNOSTIC},
        {"{\"report\":{\"mtr\":{\"dst\":\"203.0.113.10\"},\"hubs\":[]}}", UPTIMEBOT_MTR},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"target\":\"x\",\"hops\":[{\"hop\":1,\"host\":\"a\","
         "\"loss\":0,\"avg\":1}]}",
         UPTIMEBOT_MTR},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"target\":\"x\",\"error\":\"mtr/traceroute "
         "unavailable\"}",
         UPTIMEBOT_MTR},
        /* faultline's own records are not the bot's */
        {"{\"id\":\"m-1-1\",\"time\":\"2026-11-21T10:00:00.000Z\",\"ok\":true,\"status\":204}",
         UPTIMEBOT_NONE},
        {"{\"id\":\"d-1-1\",\"time\":\"2026-11-21T10:00:00.000Z\",\"gateway\":{\"addr\":\"a\"},"
         "\"mtr\":{\"hops\":[{\"ttl\":1}]}}",
         UPTIMEBOT_NONE},
        {"{\"time\":\"2026-11-21T10:00:00.000Z\",\"hops\":[{\"ttl\":1,\"addr\":\"a\"}]}",
         UPTIMEBOT_NONE},
        {"[1]", UPTIMEBOT_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        if (uptimebot_format_of(j) != cases[i].format)
            fail_msg("%s: format %d, expected %d", cases[i].json, uptimebot_format_of(j),
                     cases[i].format);
        json_decref(j);
    }
}

/* ---- mapping ------------------------------------------------------------------------------ */

static void test_metrics(void **state)
{
    json_t *fail = mapped("{\"ts\":\"2026-11-21T10:00:00Z\",\"worker\":\"brickbox-43(4)\","
                          "\"status\":\"fail\",\"http\":\"000\",\"latency_ms\":30001,"
                          "\"error\":\"timeout\",\"consecutive_failures\":1}");
    assert_string_equal(str(fail, "kind"), "metric");
    assert_string_equal(str(fail, "time"), "2026-11-21T10:00:00.000Z");
    assert_string_equal(str(fail, "worker"), "brickbox-43(4)");
    assert_true(json_is_false(json_object_get(fail, "ok")));
    assert_true(json_is_null(json_object_get(fail, "status")));
    assert_string_equal(str(fail, "error"), "timeout");
    assert_true(json_number_value(json_object_get(fail, "latency_ms")) == 30001);
    json_t *ok = mapped("{\"ts\":\"2026-11-21T10:00:30Z\",\"worker\":\"brickbox-43(4)\","
                        "\"status\":\"ok\",\"http\":\"200\",\"latency_ms\":43,\"error\":\"\","
                        "\"consecutive_failures\":0}");
    assert_true(json_is_true(json_object_get(ok, "ok")));
    assert_int_equal(json_integer_value(json_object_get(ok, "status")), 200);
    assert_true(json_is_null(json_object_get(ok, "error")));
    json_t *gpu = mapped("{\"ts\":\"2026-11-21T10:01:00Z\",\"worker\":\"brickbox-43(GPU_ERR)\","
                         "\"status\":\"gpu_error\",\"http\":\"0\",\"latency_ms\":0,"
                         "\"error\":\"nvidia-smi failed\",\"consecutive_failures\":1}");
    assert_true(json_is_false(json_object_get(gpu, "ok")));
    assert_string_equal(str(gpu, "error"), "GPU check failed, no heartbeat sent (nvidia-smi)");
    json_decref(fail);
    json_decref(ok);
    json_decref(gpu);
}

#define DIAG_HEAD                                                                                  \
    "{\"ts\":\"%s\",\"worker\":\"brickbox-43(4)\",\"gateway\":\"10.1.0.1\",\"gw_loss_pct\":0,"     \
    "\"gw_avg_ms\":0.41,\"external_loss_pct\":100,\"external_avg_ms\":-1,\"bot_loss_pct\":100,"    \
    "\"bot_avg_ms\":-1,\"dns_ok\":1,\"dns_ms\":4,\"tcp_port_ok\":0,\"mtr\":%s}"

static json_t *diagnostic(const char *ts, const char *mtr)
{
    char text[4096];
    snprintf(text, sizeof text, DIAG_HEAD, ts, mtr);
    return mapped(text);
}

static const char *const MTR_JSON =
    "{\"report\":{\"mtr\":{\"src\":\"gpu\",\"dst\":\"203.0.113.10\",\"tos\":0,\"tests\":3},"
    "\"hubs\":[{\"count\":1,\"host\":\"10.1.0.1\",\"Loss%\":0.0,\"Snt\":3,\"Avg\":0.4},"
    "{\"count\":\"2\",\"host\":\"100.64.0.1\",\"Loss%\":33.3,\"Snt\":3,\"Avg\":2.1},"
    "{\"count\":3,\"host\":\"198.51.100.1\",\"Loss%\":0.0,\"Snt\":3,\"Avg\":6.8},"
    "{\"count\":4,\"host\":\"???\",\"Loss%\":100.0,\"Snt\":3,\"Avg\":0.0}]}}";
static const char *const MTR_TEXT =
    "{\"ts\":\"2026-11-21T10:01:40Z\",\"target\":\"203.0.113.10\",\"hops\":["
    "{\"hop\":1,\"host\":\"10.1.0.1\",\"loss\":0.0,\"avg\":0.4},"
    "{\"hop\":2,\"host\":\"100.64.0.1\",\"loss\":0.0,\"avg\":2.1},"
    "{\"hop\":3,\"host\":\"198.51.100.1\",\"loss\":0.0,\"avg\":6.9},"
    "{\"hop\":4,\"host\":\"???\",\"loss\":100.0,\"avg\":0.0}]}";
static const char *const TRACEROUTE =
    "{\"ts\":\"2026-11-21T10:02:40Z\",\"target\":\"203.0.113.10\",\"type\":\"traceroute\","
    "\"hops\":[{\"hop\":1,\"host\":\"10.1.0.1\",\"time\":0.5},"
    "{\"hop\":2,\"host\":\"100.64.0.1\",\"time\":2.2},"
    "{\"hop\":3,\"host\":\"198.51.100.1\",\"time\":7.0},"
    "{\"hop\":4,\"host\":\"timeout\",\"time\":-1.0}]}";

/* Each mtr shape becomes faultline's hops: ttl, addr ("" for no answer), loss, received. */
static void test_mtr_shapes(void **state)
{
    const char *const shapes[] = {MTR_JSON, MTR_TEXT, TRACEROUTE};
    const char *const methods[] = {"mtr", "mtr", "traceroute"};
    for (size_t s = 0; s < 3; s++) {
        json_t *r = diagnostic("2026-11-21T10:01:35Z", shapes[s]);
        const json_t *mtr = json_object_get(r, "mtr");
        const json_t *hops = json_object_get(mtr, "hops");
        assert_string_equal(str(r, "kind"), "diagnostic");
        assert_string_equal(str(mtr, "method"), methods[s]);
        assert_string_equal(str(mtr, "target"), "203.0.113.10");
        assert_string_equal(str(mtr, "addr"), "203.0.113.10");
        assert_true(json_is_false(json_object_get(mtr, "reached")));
        assert_int_equal(json_array_size(hops), 4);
        const char *const addrs[] = {"10.1.0.1", "100.64.0.1", "198.51.100.1", ""};
        for (size_t i = 0; i < 4; i++) {
            const json_t *h = json_array_get(hops, i);
            assert_int_equal(json_integer_value(json_object_get(h, "ttl")), (json_int_t)i + 1);
            assert_string_equal(str(h, "addr"), addrs[i]);
            assert_int_equal(json_integer_value(json_object_get(h, "received")) > 0, i < 3);
        }
        if (s == 0)
            assert_true(json_number_value(json_object_get(json_array_get(hops, 1), "loss_pct")) ==
                        33.3);
        /* The probes, in faultline's shape. */
        assert_true(json_is_true(json_object_get(json_object_get(r, "gateway"), "reachable")));
        assert_true(json_is_false(
            json_object_get(json_array_get(json_object_get(r, "external"), 0), "reachable")));
        assert_true(json_number_value(json_object_get(json_object_get(r, "server"), "loss_pct")) ==
                    100);
        assert_true(json_is_null(json_object_get(r, "dns"))); /* SERVER_ADDR is an address */
        json_decref(r);
    }
}

/* The older client's "traceroute":"1:ADDR,2:*" string and a gateway of "none". */
static void test_old_client(void **state)
{
    json_t *r = mapped("{\"ts\":\"2026-11-21T10:00:35Z\",\"worker\":\"a(2)\",\"type\":"
                       "\"network_diag\",\"gateway\":\"none\",\"gw_loss_pct\":100,\"gw_avg_ms\":-1,"
                       "\"external_loss_pct\":100,\"external_avg_ms\":-1,\"bot_loss_pct\":100,"
                       "\"bot_avg_ms\":-1,\"traceroute\":\"1:*,2:*\",\"dns_ok\":0,\"dns_ms\":5002,"
                       "\"tcp_port_ok\":0}");
    const json_t *g = json_object_get(r, "gateway");
    assert_true(json_is_false(json_object_get(g, "reachable")));
    assert_string_equal(str(g, "error"), "no default route");
    const json_t *hops = json_object_get(json_object_get(r, "mtr"), "hops");
    assert_int_equal(json_array_size(hops), 2);
    assert_string_equal(str(json_array_get(hops, 1), "addr"), "");
    json_decref(r);
}

/* Mapped records are read by the same diagnosis as an agent's: verdict, fault point, evidence. */
static void test_diagnosis_of_mapped_records(void **state)
{
    json_t *rs[3] = {diagnostic("2026-11-21T10:00:35Z", MTR_TEXT),
                     diagnostic("2026-11-21T10:02:05Z", TRACEROUTE),
                     mapped("{\"ts\":\"2026-11-21T10:04:00Z\",\"worker\":\"brickbox-43(4)\","
                            "\"status\":\"ok\",\"http\":\"200\",\"latency_ms\":43,\"error\":\"\","
                            "\"consecutive_failures\":0}")};
    struct worker_diagnosis d;
    assert_int_equal(diagnose_worker("brickbox-43", rs, 3, &d), 0);
    assert_int_equal(d.skipped, 0);
    assert_int_equal(d.verdict, VERDICT_UPSTREAM);
    assert_int_equal(d.fault.last_good_ttl, 3);
    assert_int_equal(d.fault.agreeing, 2);
    char text[512];
    worker_diagnosis_text(&d, text, sizeof text);
    assert_string_equal(text, "brickbox-43: gateway OK, 8.8.8.8 unreachable for 3m 25s, loss "
                              "began after hop 3 (198.51.100.1) → upstream ISP");
    for (size_t i = 0; i < 3; i++)
        json_decref(rs[i]);
}

/* ---- errors and ids ----------------------------------------------------------------------- */

static void test_errors_name_the_member(void **state)
{
    static const struct {
        const char *json, *field, *err;
    } cases[] = {
        {"{\"ts\":\"yesterday\",\"status\":\"ok\",\"http\":\"200\"}", "ts",
         "ts: expected an ISO 8601 UTC time, got \"yesterday\""},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"gw_loss_pct\":\"x\"}", "gw_loss_pct",
         "gw_loss_pct: expected a number from 0 to 100, got \"x\""},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"bot_loss_pct\":150}", "bot_loss_pct",
         "bot_loss_pct: expected a number from 0 to 100, got 150"},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"tcp_port_ok\":2}", "tcp_port_ok",
         "tcp_port_ok: expected 0 or 1, got 2"},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"dns_ok\":1,\"mtr\":\"none\"}", "mtr",
         "mtr: expected an object (mtr -j, mtr -r hops or traceroute hops), got \"none\""},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"dns_ok\":1,\"mtr\":{\"target\":\"x\",\"hops\":[{"
         "\"hop\":"
         "1,\"host\":\"a\",\"loss\":0},{\"hop\":2,\"host\":\"b\",\"loss\":\"?\"}]}}",
         "mtr.hops[1].loss", "mtr.hops[1].loss: expected a number from 0 to 100, got \"?\""},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"dns_ok\":1,\"mtr\":{\"report\":{\"mtr\":{},\"hubs\":"
         "[{\"host\":\"a\"}]}}}",
         "mtr.report.hubs[0].count",
         "mtr.report.hubs[0].count: expected a hop number from 1 to 255, got nothing"},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"dns_ok\":1,\"traceroute\":\"1-10.0.0.1\"}",
         "traceroute", "traceroute: expected a string \"HOP:HOST,...\", got \"1-10.0.0.1\""},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"status\":\"down\",\"http\":\"200\"}", "status",
         "status: expected \"ok\", \"fail\" or \"gpu_error\", got \"down\""},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"status\":\"ok\",\"http\":\"2xx\"}", "http",
         "http: expected a number from 0 to 999, got \"2xx\""},
        {"{\"ts\":\"2026-11-21T10:00:00Z\",\"what\":1}", "record",
         "record: expected a metric (\"status\", \"http\") or a diagnostic (\"gw_loss_pct\", "
         "\"bot_loss_pct\", \"tcp_port_ok\", \"mtr\") of the uptime-rca-bot"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *bot = parse(cases[i].json);
        char field[96], err[256];
        json_t *r = uptimebot_record_map(bot, 0, field, sizeof field, err, sizeof err);
        if (r)
            fail_msg("%s: mapped, expected an error", cases[i].json);
        assert_string_equal(field, cases[i].field);
        assert_string_equal(err, cases[i].err);
        json_decref(bot);
    }
}

/* The same record, members in any order, always gets the same id; another record another. */
static void test_ids_follow_the_content(void **state)
{
    json_t *a = mapped("{\"ts\":\"2026-11-21T10:00:00Z\",\"status\":\"ok\",\"http\":\"200\"}");
    json_t *b = mapped("{\"http\":\"200\",\"status\":\"ok\",\"ts\":\"2026-11-21T10:00:00Z\"}");
    json_t *c = mapped("{\"ts\":\"2026-11-21T10:00:30Z\",\"status\":\"ok\",\"http\":\"200\"}");
    assert_string_equal(str(a, "id"), str(b, "id"));
    assert_string_not_equal(str(a, "id"), str(c, "id"));
    assert_int_equal(strlen(str(a, "id")), 20);
    assert_memory_equal(str(a, "id"), "bot-", 4);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* An `mtr -j` file has no "ts": its time comes from its name. */
static void test_mtr_file_time(void **state)
{
    int64_t ms = 0;
    assert_int_equal(uptimebot_mtr_file_time("logs/mtr/mtr_20261121_100000.json", &ms), 0);
    assert_int_equal(ms, T_10_00);
    assert_int_equal(uptimebot_mtr_file_time("mtr_20261121_100000.txt", &ms), -1);
    assert_int_equal(uptimebot_mtr_file_time("20261121T100000.123Z.json", &ms), -1);
    json_t *bot = parse(MTR_JSON);
    char field[96], err[256];
    assert_null(uptimebot_record_map(bot, 0, field, sizeof field, err, sizeof err));
    assert_string_equal(field, "ts");
    json_t *r = uptimebot_record_map(bot, T_10_00, field, sizeof field, err, sizeof err);
    assert_non_null(r);
    assert_string_equal(str(r, "time"), "2026-11-21T10:00:00.000Z");
    assert_string_equal(str(r, "kind"), "diagnostic");
    json_decref(r);
    json_decref(bot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_mtr_shapes),
        cmocka_unit_test(test_old_client),
        cmocka_unit_test(test_diagnosis_of_mapped_records),
        cmocka_unit_test(test_errors_name_the_member),
        cmocka_unit_test(test_ids_follow_the_content),
        cmocka_unit_test(test_mtr_file_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
