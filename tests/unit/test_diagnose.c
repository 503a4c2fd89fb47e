/* test_diagnose.c — an agent's records read into a diagnosis: outage times, probe counts, the
 * verdict, and the exact lines a person reads (one worker, and a group of workers). Records are
 * the JSON lines of docs/rca.md, built by small helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/diagnose.h"

#define MAX_RECORDS 64

/* Records of one test, freed at its end. */
struct records {
    json_t *r[MAX_RECORDS];
    size_t n;
};

static void add(struct records *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct records *rs, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg("fixture is not JSON (%s): %s", jerr.text, text);
    assert_true(rs->n < MAX_RECORDS);
    rs->r[rs->n++] = j;
}

static void release(struct records *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        json_decref(rs->r[i]);
    rs->n = 0;
}

/* A heartbeat attempt at HH:MM:SS on 2026-11-21. */
static void metric(struct records *rs, const char *hhmmss, bool ok, int status)
{
    char st[16] = "null";
    if (status)
        snprintf(st, sizeof st, "%d", status);
    add(rs,
        "{\"id\":\"m-1-%zu\",\"time\":\"2026-11-21T%s.000Z\",\"ok\":%s,\"latency_ms\":%s,"
        "\"status\":%s,\"error\":%s}",
        rs->n, hhmmss, ok ? "true" : "false", ok ? "3.1" : "5001.3", ok ? "204" : st,
        ok ? "null" : (status ? "\"HTTP 503\"" : "\"timeout after 5000 ms\""));
}

/* Hop lists for the mtr of a diagnostic. */
#define UPSTREAM_HOPS                                                                              \
    "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":5,\"loss_pct\":0,\"best_ms\":0.3,"   \
    "\"avg_ms\":0.4,\"worst_ms\":0.6},"                                                            \
    "{\"ttl\":2,\"addr\":\"192.0.2.1\",\"sent\":5,\"received\":5,\"loss_pct\":0,\"best_ms\":1,"    \
    "\"avg_ms\":1.2,\"worst_ms\":2},"                                                              \
    "{\"ttl\":3,\"addr\":\"198.51.100.1\",\"sent\":5,\"received\":5,\"loss_pct\":0,\"best_ms\":4," \
    "\"avg_ms\":5,\"worst_ms\":6},"                                                                \
    "{\"ttl\":4,\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100,\"best_ms\":null,"        \
    "\"avg_ms\":null,\"worst_ms\":null}"
#define SILENT_HOPS                                                                                \
    "{\"ttl\":1,\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100},"                        \
    "{\"ttl\":2,\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100}"
#define SERVER_DOWN_HOPS                                                                           \
    "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":5,\"loss_pct\":0},"                  \
    "{\"ttl\":2,\"addr\":\"192.0.2.1\",\"sent\":5,\"received\":5,\"loss_pct\":0},"                 \
    "{\"ttl\":3,\"addr\":\"198.51.100.1\",\"sent\":5,\"received\":5,\"loss_pct\":0}"
#define PATH_LOSS_HOPS                                                                             \
    "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":5,\"loss_pct\":0},"                  \
    "{\"ttl\":2,\"addr\":\"192.0.2.1\",\"sent\":5,\"received\":2,\"loss_pct\":60},"                \
    "{\"ttl\":3,\"addr\":\"192.0.2.9\",\"sent\":5,\"received\":5,\"loss_pct\":0},"                 \
    "{\"ttl\":4,\"addr\":\"198.51.100.77\",\"sent\":5,\"received\":2,\"loss_pct\":60},"            \
    "{\"ttl\":5,\"addr\":\"203.0.113.10\",\"sent\":5,\"received\":2,\"loss_pct\":60}"

/* A diagnosis at HH:MM:SS: gateway and 8.8.8.8 reachable or not, the server's ICMP loss, TCP
 * refused or timed out, and the mtr's hops. */
static void diagnostic(struct records *rs, const char *hhmmss, bool gateway, bool external,
                       int server_loss, bool tcp_refused, bool reached, const char *hops)
{
    add(rs,
        "{\"id\":\"d-1-%zu\",\"time\":\"2026-11-21T%s.000Z\",\"trigger\":\"heartbeat failed\","
        "\"failures\":1,\"method\":\"raw\","
        "\"gateway\":{\"addr\":\"10.1.0.1\",\"reachable\":%s,\"sent\":3,\"received\":%d,"
        "\"loss_pct\":%d,\"rtt_ms\":%s},"
        "\"external\":[{\"target\":\"8.8.8.8\",\"addr\":\"8.8.8.8\",\"reachable\":%s,\"sent\":3,"
        "\"received\":%d,\"loss_pct\":%d,\"rtt_ms\":null}],"
        "\"server\":{\"target\":\"fl.example.net\",\"addr\":\"203.0.113.10\",\"sent\":10,"
        "\"received\":%d,\"loss_pct\":%d,\"rtt_min_ms\":null,\"rtt_avg_ms\":null,"
        "\"rtt_max_ms\":null},"
        "\"tcp\":{\"addr\":\"203.0.113.10\",\"port\":5000,\"ok\":false,\"reachable\":%s,"
        "\"connect_ms\":null,\"error\":\"%s\"},"
        "\"dns\":{\"name\":\"fl.example.net\",\"ok\":true,\"ms\":3.2,\"addr\":\"203.0.113.10\","
        "\"error\":null},"
        "\"mtr\":{\"target\":\"fl.example.net\",\"addr\":\"203.0.113.10\",\"method\":\"raw\","
        "\"rounds\":5,\"reached\":%s,\"hops\":[%s]}}",
        rs->n, hhmmss, gateway ? "true" : "false", gateway ? 3 : 0, gateway ? 0 : 100,
        gateway ? "0.41" : "null", external ? "true" : "false", external ? 3 : 0,
        external ? 0 : 100, (100 - server_loss) / 10, server_loss, tcp_refused ? "true" : "false",
        tcp_refused ? "connection refused" : "timeout after 2000 ms", reached ? "true" : "false",
        hops);
}

static void diagnose(const char *name, struct records *rs, struct worker_diagnosis *d)
{
    assert_int_equal(diagnose_worker(name, rs->r, rs->n, d), 0);
}

static void assert_text(const struct worker_diagnosis *d, const char *expected)
{
    char buf[1024];
    size_t n = worker_diagnosis_text(d, buf, sizeof buf);
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

/* Four minutes without the internet: gateway fine, the path stops after hop 3. */
static void upstream_outage(struct records *rs)
{
    metric(rs, "09:59:30", true, 0);
    metric(rs, "10:00:00", false, 0);
    diagnostic(rs, "10:00:00", true, false, 100, false, false, UPSTREAM_HOPS);
    metric(rs, "10:00:30", false, 0);
    metric(rs, "10:01:00", false, 0);
    diagnostic(rs, "10:01:00", true, false, 100, false, false, UPSTREAM_HOPS);
    metric(rs, "10:02:00", false, 0);
    diagnostic(rs, "10:02:00", true, false, 100, false, false, UPSTREAM_HOPS);
    metric(rs, "10:03:00", false, 0);
    diagnostic(rs, "10:03:00", true, false, 100, false, false, UPSTREAM_HOPS);
    metric(rs, "10:04:00", true, 0);
    metric(rs, "10:04:30", true, 0);
}

static void test_upstream_isp(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    upstream_outage(&rs);
    diagnose("brickbox-43", &rs, &d);
    assert_int_equal(d.attempts, 8);
    assert_int_equal(d.failed_attempts, 5);
    assert_int_equal(d.diagnoses, 4);
    assert_int_equal(d.gateway_checks, 4);
    assert_int_equal(d.gateway_ok, 4);
    assert_int_equal(d.traces, 4);
    assert_true(d.fault.found);
    assert_int_equal(d.fault.agreeing, 4);
    assert_int_equal(d.end_ms - d.start_ms, 4 * 60000);
    assert_int_equal(d.targets[0].unreachable_ms, 4 * 60000);
    assert_int_equal(d.verdict, VERDICT_UPSTREAM);
    assert_text(&d, "brickbox-43: gateway OK, 8.8.8.8 unreachable for 4m, loss began after hop 3 "
                    "(198.51.100.1) → upstream ISP");
    char ev[256];
    worker_diagnosis_evidence(&d, ev, sizeof ev);
    assert_string_equal(
        ev, "gateway OK, 8.8.8.8 unreachable for 4m, loss began after hop 3 (198.51.100.1)");
    release(&rs);
}

static void test_local_network(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    metric(&rs, "10:10:00", false, 0);
    diagnostic(&rs, "10:10:01", false, false, 100, false, false, SILENT_HOPS);
    metric(&rs, "10:10:30", false, 0);
    diagnostic(&rs, "10:11:01", false, false, 100, false, false, SILENT_HOPS);
    metric(&rs, "10:11:45", true, 0);
    diagnose("gpu-7", &rs, &d);
    assert_int_equal(d.verdict, VERDICT_LOCAL_NETWORK);
    assert_int_equal(d.end_ms - d.start_ms, 105000);
    assert_text(&d, "gpu-7: gateway unreachable, 8.8.8.8 unreachable for 1m 44s, no answer from "
                    "hop 1 → local network");
    release(&rs);
}

static void test_path_to_server(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    metric(&rs, "10:20:00", false, 0);
    diagnostic(&rs, "10:20:00", true, true, 60, false, true, PATH_LOSS_HOPS);
    metric(&rs, "10:20:45", true, 0);
    diagnose("db-1", &rs, &d);
    assert_int_equal(d.verdict, VERDICT_SERVER_PATH);
    assert_int_equal(d.fault.segment, PATH_SEGMENT_TRANSIT);
    assert_text(&d, "db-1: gateway OK, 8.8.8.8 reachable, loss began after hop 3 (192.0.2.9), "
                    "server 60% ICMP loss, TCP timeout after 2000 ms → path to server");
    release(&rs);
}

static void test_server_side(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    metric(&rs, "10:30:00", false, 0);
    diagnostic(&rs, "10:30:00", true, true, 100, false, false, SERVER_DOWN_HOPS);
    diagnose("edge-2", &rs, &d);
    assert_int_equal(d.verdict, VERDICT_SERVER_SIDE);
    assert_int_equal(d.end_ms, d.start_ms); /* no recovery in the records */
    assert_text(&d, "edge-2: gateway OK, 8.8.8.8 reachable, path answers up to hop 3 "
                    "(198.51.100.1), the server does not, server 100% ICMP loss, TCP timeout "
                    "after 2000 ms → server side");
    release(&rs);

    /* The server refuses the connection and the path is clean. */
    metric(&rs, "10:30:00", false, 0);
    diagnostic(&rs, "10:30:05", true, true, 0, true, true,
               "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":5,\"loss_pct\":0},"
               "{\"ttl\":2,\"addr\":\"203.0.113.10\",\"sent\":5,\"received\":5,\"loss_pct\":0}");
    metric(&rs, "10:31:00", true, 0);
    diagnose("edge-2", &rs, &d);
    assert_int_equal(d.verdict, VERDICT_SERVER_SIDE);
    assert_text(&d, "edge-2: gateway OK, 8.8.8.8 reachable, path to server clean, server 0% ICMP "
                    "loss, TCP refused → server side");
    release(&rs);

    /* Heartbeats answered with an HTTP error: the network works. */
    metric(&rs, "10:40:00", false, 503);
    metric(&rs, "10:40:30", false, 503);
    metric(&rs, "10:41:00", false, 503);
    diagnose("api-1", &rs, &d);
    assert_int_equal(d.verdict, VERDICT_SERVER_SIDE);
    assert_text(&d, "api-1: 3 failed heartbeats, no diagnostics, server answered HTTP 503 → "
                    "server side");
    release(&rs);
}

/* A 503 that ends an outage of unanswered heartbeats (the server writing the UP event of the
 * outage that just ended) says the path works again: the path's evidence decides. */
static void test_answer_after_outage_is_not_server_side(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    upstream_outage(&rs);
    metric(&rs, "10:03:59", false, 503);
    diagnose("brickbox-43", &rs, &d);
    assert_int_equal(d.http_status, 0);
    assert_int_equal(d.verdict, VERDICT_UPSTREAM);
    assert_text(&d, "brickbox-43: gateway OK, 8.8.8.8 unreachable for 4m, loss began after hop 3 "
                    "(198.51.100.1) → upstream ISP");
    release(&rs);
}

static void test_unknown_and_no_failures(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    metric(&rs, "10:00:00", true, 0);
    metric(&rs, "10:00:30", true, 0);
    diagnose("ok-box", &rs, &d);
    assert_int_equal(d.verdict, VERDICT_UNKNOWN);
    assert_int_equal(d.start_ms, 0);
    assert_text(&d, "ok-box: no failures recorded");
    release(&rs);

    metric(&rs, "10:00:00", false, 0);
    diagnose("lone", &rs, &d);
    assert_text(&d, "lone: 1 failed heartbeat, no diagnostics → cause unknown");
    release(&rs);

    diagnose(NULL, &rs, &d); /* nothing at all, no name */
    assert_text(&d, "no failures recorded");
}

static void test_odd_records_are_skipped(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    /* Backlog records carry "kind"; bad ones lose only what is bad. */
    add(&rs, "{\"kind\":\"metric\",\"id\":\"m-1\",\"time\":\"2026-11-21T10:00:00.000Z\","
             "\"ok\":false,\"status\":null}");
    add(&rs, "{\"kind\":\"diagnostic\",\"id\":\"d-1\",\"time\":\"2026-11-21T10:00:01.000Z\","
             "\"gateway\":null,\"external\":\"8.8.8.8\",\"server\":{\"loss_pct\":\"lots\"},"
             "\"tcp\":7,\"mtr\":{\"hops\":\"none\"}}");
    add(&rs, "{\"kind\":\"metric\",\"id\":\"m-2\",\"time\":\"yesterday\",\"ok\":false}");
    add(&rs, "{\"id\":\"x\",\"time\":\"2026-11-21T10:00:02.000Z\",\"something\":1}");
    add(&rs, "[1,2,3]");
    add(&rs, "{\"id\":\"m-3\",\"time\":\"2026-11-21T10:01:00.000Z\",\"ok\":true}");
    diagnose("odd", &rs, &d);
    assert_int_equal(d.records, 6);
    assert_int_equal(d.skipped, 3);
    assert_int_equal(d.attempts, 2);
    assert_int_equal(d.diagnoses, 1);
    assert_int_equal(d.traces, 0);
    assert_int_equal(d.gateway_checks, 0);
    assert_int_equal(d.server_checks, 0);
    assert_int_equal(d.end_ms - d.start_ms, 60000);
    assert_text(&d, "odd: 1 diagnosis without results → cause unknown");
    release(&rs);

    assert_int_equal(diagnose_worker("x", NULL, 1, &d), -1);
    assert_int_equal(diagnose_worker("x", NULL, 0, NULL), -1);
}

static void test_targets_that_failed_alike_are_named_together(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    static const char *const diag =
        "{\"time\":\"2026-11-21T10:%s.000Z\",\"trigger\":\"heartbeat failed\","
        "\"gateway\":{\"addr\":\"10.1.0.1\",\"reachable\":true},\"external\":["
        "{\"target\":\"8.8.8.8\",\"reachable\":false},{\"target\":\"1.1.1.1\",\"reachable\":false},"
        "{\"target\":\"9.9.9.9\",\"reachable\":%s},{\"target\":\"192.0.2.53\",\"reachable\":true}]"
        "}";
    metric(&rs, "10:00:00", false, 0);
    add(&rs, diag, "00:00", "false");
    add(&rs, diag, "01:00", "true");
    metric(&rs, "10:02:00", true, 0);
    diagnose("w", &rs, &d);
    assert_int_equal(d.n_targets, 4);
    assert_text(&d, "w: gateway OK, 8.8.8.8 and 1.1.1.1 unreachable for 2m, 9.9.9.9 unreachable "
                    "for 1m (1/2 checks), 192.0.2.53 reachable → upstream ISP");
    release(&rs);
}

static void test_json(void **state)
{
    (void)state;
    struct records rs = {0};
    struct worker_diagnosis d;
    metric(&rs, "10:00:00", false, 0);
    diagnostic(&rs, "10:00:00", true, false, 100, false, false, UPSTREAM_HOPS);
    metric(&rs, "10:04:00", true, 0);
    diagnose("brickbox-43", &rs, &d);
    json_t *j = worker_diagnosis_json(&d);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "worker")), "brickbox-43");
    assert_string_equal(json_string_value(json_object_get(j, "start")), "2026-11-21T10:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(j, "end")), "2026-11-21T10:04:00.000Z");
    assert_true(json_number_value(json_object_get(j, "duration_s")) == 240);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "upstream");
    assert_string_equal(json_string_value(json_object_get(j, "diagnosis")), "upstream ISP");
    assert_string_equal(json_string_value(json_object_get(j, "evidence")),
                        "gateway OK, 8.8.8.8 unreachable for 4m, loss began after hop 3 "
                        "(198.51.100.1)");
    json_t *fault = json_object_get(j, "path_fault");
    assert_string_equal(json_string_value(json_object_get(fault, "last_good_addr")),
                        "198.51.100.1");
    assert_int_equal(json_integer_value(json_object_get(fault, "last_good_ttl")), 3);
    assert_string_equal(json_string_value(json_object_get(fault, "segment")), "transit");
    json_t *ext = json_array_get(json_object_get(j, "external"), 0);
    assert_string_equal(json_string_value(json_object_get(ext, "target")), "8.8.8.8");
    assert_true(json_number_value(json_object_get(ext, "unreachable_s")) == 240);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "gateway"), "ok")), 1);
    assert_true(json_is_null(json_object_get(j, "http_status")));
    json_decref(j);
    release(&rs);

    /* Nothing failed: times are null, no fault. */
    metric(&rs, "10:00:00", true, 0);
    diagnose(NULL, &rs, &d);
    j = worker_diagnosis_json(&d);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "worker")));
    assert_true(json_is_null(json_object_get(j, "start")));
    assert_true(json_is_null(json_object_get(j, "path_fault")));
    assert_true(json_is_null(json_object_get(j, "gateway")));
    json_decref(j);
    release(&rs);
}

/* A worker whose path stops after the given hop-2 router. */
static void behind(struct worker_diagnosis *d, const char *name, const char *router)
{
    struct records rs = {0};
    char hops[512];
    snprintf(hops, sizeof hops,
             "{\"ttl\":1,\"addr\":\"192.168.1.1\",\"sent\":5,\"received\":5,\"loss_pct\":0},"
             "{\"ttl\":2,\"addr\":\"%s\",\"sent\":5,\"received\":5,\"loss_pct\":0},"
             "{\"ttl\":3,\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100}",
             router);
    metric(&rs, "10:00:00", false, 0);
    diagnostic(&rs, "10:00:00", true, false, 100, false, false, hops);
    metric(&rs, "10:00:45", true, 0);
    diagnose(name, &rs, d);
    release(&rs);
}

static size_t group_text(const struct worker_diagnosis *ds, size_t n, bool cut_off, char *buf,
                         size_t len)
{
    struct diagnosis_headline h;
    assert_int_equal(diagnosis_headline_of(ds, n, cut_off, &h), 0);
    return diagnosis_group_text(ds, n, &h, buf, len);
}

static void test_group_text(void **state)
{
    (void)state;
    struct worker_diagnosis ds[7];
    char buf[4096];
    behind(&ds[0], "w1", "10.0.0.1");
    behind(&ds[1], "w2", "10.0.0.1");
    behind(&ds[2], "w3", "10.0.0.1");
    behind(&ds[3], "w4", "172.16.0.1");
    behind(&ds[4], "w5", "10.0.0.1");
    behind(&ds[5], "w6", "10.0.0.1");
    behind(&ds[6], "w7", "10.0.0.1");
    const char *line = "gateway OK, 8.8.8.8 unreachable for 45s, loss began after hop 2 ";
    char expected[2048];
    snprintf(expected, sizeof expected,
             "paths of 6/7 agents stop after hop 2 (10.0.0.1): upstream ISP, likely fault point\n"
             "w1: %s(10.0.0.1) → upstream ISP\nw2: %s(10.0.0.1) → upstream ISP\n"
             "w3: %s(10.0.0.1) → upstream ISP\nw4: %s(172.16.0.1) → upstream ISP\n"
             "w5: %s(10.0.0.1) → upstream ISP\n… and 2 more",
             line, line, line, line, line);
    size_t n = group_text(ds, 7, false, buf, sizeof buf);
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
    struct diagnosis_headline h;
    assert_int_equal(diagnosis_headline_of(ds, 7, false, &h), 0);
    assert_int_equal(h.place, DIAGNOSIS_PLACE_FAULT_POINT);
    assert_string_equal(diagnosis_place_id(h.place), "fault_point");

    /* Two agents that do not agree. */
    n = group_text(&ds[2], 2, false, buf, sizeof buf);
    snprintf(expected, sizeof expected,
             "no fault point shared by the paths of 2 agents\n"
             "w3: %s(10.0.0.1) → upstream ISP\nw4: %s(172.16.0.1) → upstream ISP",
             line, line);
    assert_string_equal(buf, expected);

    /* A short buffer gets a cut, terminated text and the length the whole would need. */
    char small[16];
    size_t need = group_text(ds, 7, false, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_true(need > 300);
    assert_int_equal(group_text(ds, 7, false, NULL, 0), need);
}

/* One agent of a site whose uplink is cut, tracing at the same moment as the others: the gateway
 * answers every ping but only some of the trace's probes (its ICMP rate limit). */
static void behind_cut_uplink(struct worker_diagnosis *d, const char *name, const char *gateway)
{
    struct records rs = {0};
    char hops[512];
    snprintf(hops, sizeof hops,
             "{\"ttl\":1,\"addr\":\"%s\",\"sent\":5,\"received\":1,\"loss_pct\":80},"
             "{\"ttl\":2,\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100},"
             "{\"ttl\":3,\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100}",
             gateway);
    metric(&rs, "10:00:00", false, 0);
    diagnostic(&rs, "10:00:01", true, false, 100, false, false, hops);
    metric(&rs, "10:00:31", true, 0);
    diagnose(name, &rs, d);
    release(&rs);
}

static void test_gateway_ping_decides_hop_1(void **state)
{
    (void)state;
    struct worker_diagnosis d;
    behind_cut_uplink(&d, "fra1-01", "10.1.0.1");
    assert_int_equal(d.verdict, VERDICT_SITE_UPLINK);
    assert_int_equal(d.fault.segment, PATH_SEGMENT_TRANSIT);
    assert_int_equal(d.fault.last_good_ttl, 1);
    assert_text(&d, "fra1-01: gateway OK, 8.8.8.8 unreachable for 30s, loss began after hop 1 "
                    "(10.1.0.1) → site uplink");
    assert_string_equal(diagnosis_verdict_id(d.verdict), "site_uplink");

    /* A last diagnosis that ran as the uplink came back (its pings still failed, its path went
     * through) changes nothing. */
    struct records late = {0};
    metric(&late, "10:00:00", false, 0);
    diagnostic(&late, "10:00:01", true, false, 100, false, false,
               "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":1,\"loss_pct\":80},"
               "{\"ttl\":2,\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100}");
    add(&late,
        "{\"id\":\"d-1-9\",\"time\":\"2026-11-21T10:00:09.000Z\",\"trigger\":\"heartbeat failed\","
        "\"gateway\":{\"addr\":\"10.1.0.1\",\"reachable\":true},"
        "\"external\":[{\"target\":\"8.8.8.8\",\"reachable\":false}],"
        "\"tcp\":{\"ok\":false,\"reachable\":false,\"error\":\"No route to host\"},"
        "\"mtr\":{\"addr\":\"203.0.113.10\",\"reached\":true,\"hops\":["
        "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":5,\"loss_pct\":0},"
        "{\"ttl\":2,\"addr\":\"203.0.113.10\",\"sent\":5,\"received\":5,\"loss_pct\":0}]}}");
    metric(&late, "10:00:10", true, 0);
    diagnose("fra1-09", &late, &d);
    assert_int_equal(d.diagnoses, 2);
    assert_int_equal(d.traces, 1);
    assert_int_equal(d.verdict, VERDICT_SITE_UPLINK);
    assert_text(&d, "fra1-09: gateway OK, 8.8.8.8 unreachable for 8s, loss began after hop 1 "
                    "(10.1.0.1) → site uplink");
    release(&late);

    /* The same trace with the gateway silent to pings too: the local network. */
    struct records rs = {0};
    metric(&rs, "10:00:00", false, 0);
    diagnostic(&rs, "10:00:01", false, false, 100, false, false,
               "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":1,\"loss_pct\":80},"
               "{\"ttl\":2,\"addr\":\"\",\"sent\":5,\"received\":0,\"loss_pct\":100}");
    diagnose("fra1-02", &rs, &d);
    assert_int_equal(d.verdict, VERDICT_LOCAL_NETWORK);
    assert_text(&d, "fra1-02: gateway unreachable, 8.8.8.8 unreachable, loss from hop 1 "
                    "(10.1.0.1, 80%) → local network");
    release(&rs);

    /* Loss at the gateway with later hops answering is rate limiting: no fault at all. */
    metric(&rs, "10:00:00", false, 0);
    diagnostic(&rs, "10:00:01", true, true, 100, false, true,
               "{\"ttl\":1,\"addr\":\"10.1.0.1\",\"sent\":5,\"received\":1,\"loss_pct\":80},"
               "{\"ttl\":2,\"addr\":\"203.0.113.1\",\"sent\":5,\"received\":5,\"loss_pct\":0},"
               "{\"ttl\":3,\"addr\":\"203.0.113.10\",\"sent\":5,\"received\":5,\"loss_pct\":0}");
    metric(&rs, "10:00:31", true, 0);
    diagnose("fra1-03", &rs, &d);
    assert_false(d.fault.found);
    release(&rs);
}

static void test_headline_site_uplinks(void **state)
{
    (void)state;
    struct worker_diagnosis ds[8];
    char buf[4096];
    for (int i = 0; i < 5; i++) {
        char name[24];
        snprintf(name, sizeof name, "fra1-0%d", i + 1);
        behind_cut_uplink(&ds[i], name, "10.1.0.1");
    }
    const char *line = "gateway OK, 8.8.8.8 unreachable for 30s, loss began after hop 1";
    char expected[2048];
    snprintf(expected, sizeof expected,
             "paths of 5/5 agents stop right after their gateway (10.1.0.1): the site's uplink\n"
             "fra1-01: %s (10.1.0.1) → site uplink\nfra1-02: %s (10.1.0.1) → site uplink\n"
             "fra1-03: %s (10.1.0.1) → site uplink\nfra1-04: %s (10.1.0.1) → site uplink\n"
             "fra1-05: %s (10.1.0.1) → site uplink",
             line, line, line, line, line);
    group_text(ds, 5, false, buf, sizeof buf);
    assert_string_equal(buf, expected);

    /* Two sites cut, and one agent whose last diagnosis never ran a trace. */
    behind_cut_uplink(&ds[5], "ams1-01", "10.2.0.1");
    behind_cut_uplink(&ds[6], "ams1-02", "10.2.0.1");
    struct records rs = {0};
    metric(&rs, "10:00:00", false, 0);
    metric(&rs, "10:00:01", false, 0);
    diagnose("ams1-03", &rs, &ds[7]);
    release(&rs);
    struct diagnosis_headline h;
    assert_int_equal(diagnosis_headline_of(ds, 8, false, &h), 0);
    assert_int_equal(h.place, DIAGNOSIS_PLACE_SITE_UPLINK);
    assert_int_equal(h.diagnosed, 7);
    diagnosis_group_text(ds, 8, &h, buf, sizeof buf);
    assert_string_equal(strtok(buf, "\n"), "paths of 7/8 agents stop right after their gateways "
                                           "(10.1.0.1, 10.2.0.1): the sites' uplinks");
    /* The canaries failing changes nothing when the outside was not reachable. */
    assert_int_equal(diagnosis_headline_of(ds, 8, true, &h), 0);
    assert_int_equal(h.place, DIAGNOSIS_PLACE_SITE_UPLINK);
}

/* An agent that reaches the outside while its path to the server, whose uplink is cut, loops
 * between its ISP's router and the core router in front of the server. */
static void cut_from_server(struct worker_diagnosis *d, const char *name, const char *gateway,
                            const char *isp)
{
    struct records rs = {0};
    char hops[1024];
#define HOP(ttl, addr)                                                                             \
    "{\"ttl\":" #ttl ",\"addr\":\"" addr "\",\"sent\":3,\"received\":3,\"loss_pct\":0}"
    snprintf(hops, sizeof hops,
             HOP(1, "%s") "," HOP(2, "%s") "," HOP(3, "198.18.0.2") "," HOP(4, "%s") "," HOP(
                 5, "198.18.0.2") "," HOP(6, "%s"),
             gateway, isp, isp, isp);
#undef HOP
    metric(&rs, "10:00:00", false, 0);
    diagnostic(&rs, "10:00:01", true, true, 100, false, false, hops);
    metric(&rs, "10:00:20", true, 0);
    diagnose(name, &rs, d);
    release(&rs);
}

static void test_headline_server_uplink(void **state)
{
    (void)state;
    struct worker_diagnosis ds[4];
    char buf[4096];
    cut_from_server(&ds[0], "fra1-01", "10.1.0.1", "203.0.113.1");
    cut_from_server(&ds[1], "fra1-02", "10.1.0.1", "203.0.113.1");
    cut_from_server(&ds[2], "ams1-01", "10.2.0.1", "198.18.20.1");
    assert_true(ds[2].fault_loops);
    assert_int_equal(ds[0].verdict, VERDICT_SERVER_PATH);
    group_text(ds, 3, true, buf, sizeof buf);
    assert_string_equal(
        buf, "the server's own uplink: 3/3 agents reached the outside, their paths to the server "
             "stop after hop 3 (198.18.0.2), and the server's own canaries failed\n"
             "fra1-01: gateway OK, 8.8.8.8 reachable, path loops after hop 3 (198.18.0.2), "
             "server 100% ICMP loss, TCP timeout after 2000 ms → path to server\n"
             "fra1-02: gateway OK, 8.8.8.8 reachable, path loops after hop 3 (198.18.0.2), "
             "server 100% ICMP loss, TCP timeout after 2000 ms → path to server\n"
             "ams1-01: gateway OK, 8.8.8.8 reachable, path loops after hop 3 (198.18.0.2), "
             "server 100% ICMP loss, TCP timeout after 2000 ms → path to server");
    /* Without the canaries' word it is a shared fault point, not the server's uplink. */
    group_text(ds, 3, false, buf, sizeof buf);
    assert_string_equal(strtok(buf, "\n"),
                        "paths of 3/3 agents stop after hop 3 (198.18.0.2): path to server, likely "
                        "fault point");

    /* Local networks, by their gateways. */
    struct records rs = {0};
    for (int i = 0; i < 3; i++) {
        metric(&rs, "10:10:00", false, 0);
        diagnostic(&rs, "10:10:01", false, false, 100, false, false, SILENT_HOPS);
        diagnose("lan", &rs, &ds[i]);
        release(&rs);
    }
    struct diagnosis_headline h;
    assert_int_equal(diagnosis_headline_of(ds, 3, true, &h), 0);
    assert_int_equal(h.place, DIAGNOSIS_PLACE_LOCAL_NETWORKS);
    diagnosis_group_text(ds, 3, &h, buf, sizeof buf);
    assert_string_equal(strtok(buf, "\n"),
                        "3/3 agents lost their local network (gateway or hop 1 silent)");
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "0s"},           {-5, "0s"},          {45000, "45s"},  {59499, "59s"},
        {60000, "1m"},       {90000, "1m 30s"},   {240000, "4m"},  {599000, "9m 59s"},
        {610000, "10m"},     {3599000, "59m"},    {3600000, "1h"}, {3900000, "1h 5m"},
        {86400000, "1d 0h"}, {97200000, "1d 3h"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        diagnosis_format_duration(cases[i].ms, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
    assert_string_equal(diagnosis_verdict_id(VERDICT_SERVER_PATH), "server_path");
    assert_string_equal(diagnosis_verdict_text(VERDICT_LOCAL_NETWORK), "local network");
    assert_string_equal(diagnosis_verdict_id((enum diagnosis_verdict)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstream_isp),
        cmocka_unit_test(test_local_network),
        cmocka_unit_test(test_path_to_server),
        cmocka_unit_test(test_server_side),
        cmocka_unit_test(test_answer_after_outage_is_not_server_side),
        cmocka_unit_test(test_unknown_and_no_failures),
        cmocka_unit_test(test_odd_records_are_skipped),
        cmocka_unit_test(test_targets_that_failed_alike_are_named_together),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_group_text),
        cmocka_unit_test(test_gateway_ping_decides_hop_1),
        cmocka_unit_test(test_headline_site_uplinks),
        cmocka_unit_test(test_headline_server_uplink),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
