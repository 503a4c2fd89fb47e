/* test_report.c — `faultline report`'s parsers and its document: `wg show all dump`, the
 * listening sockets of /proc/net/{tcp,tcp6,udp,udp6}, the retransmission rate of /proc/net/snmp,
 * the restart-loop rule over sd-bus's unit properties, the sections read over a fixture /proc
 * tree (zombies, orphans, OOM kills, panic lines), and report_check, the server's test of a
 * pushed body; the gpu section read from the gpu collector over the fake NVML library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "report/report.h"

static char dir[64];
static char fake_nvml[4096]; /* build/tests/libfake-nvml.so, beside this binary */

/* Writes text to dir/rel, creating the folders on the way; returns the full path (static). */
static const char *put(const char *rel, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/faultline-report-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

#define S(obj, key) json_string_value(json_object_get((obj), (key)))
#define I(obj, key) json_integer_value(json_object_get((obj), (key)))

/* ---- wg show all dump ------------------------------------------------------------------------ */

static void test_wg_dump(void **state)
{
    char text[] = "wg0\tPRIVATEKEY0=\tPUBKEY0=\t51820\toff\n"
                  "wg0\tPEER1=\t(none)\t203.0.113.7:51820\t10.0.0.2/32,fd00::2/128\t1795000000\t"
                  "100\t200\t25\n"
                  "wg0\tPEER2=\tPSK=\t(none)\t(none)\t0\t0\t0\toff\n"
                  "wg9\tPEER3=\t(none)\t(none)\t10.9.0.1/32\t1\t0\t0\toff\n" /* no such itf */
                  "garbage line\n"
                  "wg1\tPRIV1=\tPUB1=\tnot-a-port\toff\n";
    json_t *wg = report_wg_parse(text, 1795000100);
    char *dump = json_dumps(wg, JSON_COMPACT);
    assert_null(strstr(dump, "PRIVATE")); /* private and preshared keys never leave */
    assert_null(strstr(dump, "PSK"));
    free(dump);
    json_t *itfs = json_object_get(wg, "interfaces");
    assert_int_equal(json_array_size(itfs), 2);
    json_t *wg0 = json_array_get(itfs, 0);
    assert_string_equal(S(wg0, "name"), "wg0");
    assert_string_equal(S(wg0, "public_key"), "PUBKEY0=");
    assert_int_equal(I(wg0, "listen_port"), 51820);
    json_t *peers = json_object_get(wg0, "peers");
    assert_int_equal(json_array_size(peers), 2);
    json_t *p1 = json_array_get(peers, 0);
    assert_string_equal(S(p1, "public_key"), "PEER1=");
    assert_string_equal(S(p1, "endpoint"), "203.0.113.7:51820");
    assert_int_equal(json_array_size(json_object_get(p1, "allowed_ips")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p1, "allowed_ips"), 1)),
                        "fd00::2/128");
    assert_int_equal(I(p1, "latest_handshake_age_s"), 100);
    json_t *p2 = json_array_get(peers, 1);
    assert_true(json_is_null(json_object_get(p2, "endpoint")));
    assert_true(json_is_null(json_object_get(p2, "latest_handshake_age_s"))); /* never */
    assert_int_equal(json_array_size(json_object_get(p2, "allowed_ips")), 0);
    json_t *wg1 = json_array_get(itfs, 1);
    assert_true(json_is_null(json_object_get(wg1, "listen_port")));
    json_decref(wg);
}

static void test_wg_dump_empty(void **state)
{
    char text[] = "";
    json_t *wg = report_wg_parse(text, 0);
    assert_int_equal(json_array_size(json_object_get(wg, "interfaces")), 0);
    json_decref(wg);
}

/* ---- /proc/net ------------------------------------------------------------------------------- */

static const char tcp_text[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 1 1\n"
    "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 2 1\n"
    "   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  0 0 3 1\n"
    "   3: nonsense\n";
static const char tcp6_text[] =
    "  sl  local_address                         remote_address                        st\n"
    "   0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 0 0\n";
static const char udp_text[] =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    "  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   0\n"
    "  101: 0100007F:9C40 0100007F:0035 01 00000000:00000000 00:00000000 00000000   0\n";

static void test_listening_ports(void **state)
{
    json_t *ports = json_array();
    assert_int_equal(report_listen_parse(tcp_text, "tcp", ports), 2);
    assert_int_equal(report_listen_parse(tcp6_text, "tcp6", ports), 1);
    assert_int_equal(report_listen_parse(udp_text, "udp", ports), 1);
    assert_int_equal(json_array_size(ports), 4);
    json_t *p = json_array_get(ports, 0);
    assert_string_equal(S(p, "proto"), "tcp");
    assert_string_equal(S(p, "addr"), "127.0.0.1");
    assert_int_equal(I(p, "port"), 8080);
    assert_string_equal(S(json_array_get(ports, 1), "addr"), "0.0.0.0");
    assert_int_equal(I(json_array_get(ports, 1), "port"), 22);
    assert_string_equal(S(json_array_get(ports, 2), "addr"), "::1");
    assert_int_equal(I(json_array_get(ports, 2), "port"), 631);
    assert_string_equal(S(json_array_get(ports, 3), "addr"), "127.0.0.53");
    assert_int_equal(I(json_array_get(ports, 3), "port"), 53);
    json_decref(ports);
}

static void test_retrans_pct(void **state)
{
    const char snmp[] = "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
                        "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens "
                        "AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs "
                        "OutRsts InCsumErrors\n"
                        "Tcp: 1 200 120000 -1 10 5 0 0 2 1000 2000 50 0 3 0\n"
                        "Udp: InDatagrams\nUdp: 7\n";
    assert_true(report_retrans_pct(snmp) == 2.5);
    assert_true(report_retrans_pct("Ip: 1\nIp: 2\n") == -1);
    assert_true(report_retrans_pct("Tcp: OutSegs RetransSegs\nTcp: 0 0\n") == -1);
}

/* ---- services: restart loops ----------------------------------------------------------------- */

static void test_restart_loop(void **state)
{
    const int64_t now = 1795000000000;
    struct {
        const char *active, *sub;
        int64_t restarts, since_ms;
        bool loop;
    } cases[] = {
        {"active", "running", 0, now - 1000, false},
        {"activating", "auto-restart", 1, 0, true},
        {"activating", "start", 2, 0, true},
        {"activating", "start", 0, 0, false},
        {"active", "running", 5, now - 60 * 1000, true},    /* 5 restarts, up a minute */
        {"active", "running", 5, now - 3600 * 1000, false}, /* up an hour since */
        {"active", "running", 2, now - 1000, false},
        {"failed", "failed", 7, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct report_unit u = {.restarts = cases[i].restarts,
                                .active_since_ms = cases[i].since_ms,
                                .restarts_before = -1};
        snprintf(u.active_state, sizeof u.active_state, "%s", cases[i].active);
        snprintf(u.sub_state, sizeof u.sub_state, "%s", cases[i].sub);
        assert_int_equal(report_unit_restart_loop(&u, now), cases[i].loop);
    }
}

/* With the agent's history: NRestarts grown by 3 within 10 minutes, whenever the unit came up. */
static void test_restart_loop_history(void **state)
{
    struct report_history *h = report_history_new();
    const int64_t t0 = 1795000000000, min = 60 * 1000;
    struct report_unit u = {.name = "app.service",
                            .active_state = "active",
                            .sub_state = "running",
                            .restarts = 10,
                            .active_since_ms = t0 - 3600 * 1000};
    struct {
        int64_t at_min, restarts;
        bool loop;
    } seen[] = {
        {0, 10, false},  {1, 11, false}, /* one restart */
        {2, 13, true},                   /* three within 2 minutes */
        {9, 13, true},                   /* still 3 over the last 10 minutes */
        {11, 13, false},                 /* the sample of minute 0 is out: 11 -> 13 */
        {12, 13, false},
    };
    for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++) {
        u.restarts = seen[i].restarts;
        report_history_note(h, &u, t0 + seen[i].at_min * min);
        assert_int_equal(report_unit_restart_loop(&u, t0 + seen[i].at_min * min), seen[i].loop);
    }
    /* Another unit has its own samples. */
    struct report_unit other = u;
    snprintf(other.name, sizeof other.name, "other.service");
    report_history_note(h, &other, t0 + 30 * min);
    assert_int_equal(other.restarts_before, -1);
    report_history_note(NULL, &other, t0); /* no history: nothing known */
    assert_int_equal(other.restarts_before, -1);
    report_history_free(h);
}

static void test_unit_json(void **state)
{
    struct report_unit u = {.name = "ssh.service",
                            .load_state = "loaded",
                            .active_state = "active",
                            .sub_state = "running",
                            .restarts = 0,
                            .memory_bytes = -1,
                            .cpu_ns = 12345,
                            .restarts_before = -1,
                            .active_since_ms = 1795000000000};
    json_t *j = report_unit_json(&u, 1795000001000);
    assert_string_equal(S(j, "name"), "ssh.service");
    assert_int_equal(I(j, "restarts"), 0);
    assert_true(json_is_null(json_object_get(j, "memory_bytes"))); /* systemd: not accounted */
    assert_int_equal(I(j, "cpu_ns"), 12345);
    assert_string_equal(S(j, "active_since"), "2026-11-18T11:06:40.000Z");
    assert_true(json_is_false(json_object_get(j, "restart_loop")));
    json_decref(j);
}

/* ---- the document over a fixture /proc ------------------------------------------------------- */

static json_t *fixture_report(void)
{
    put("root/proc/stat", "cpu  100 20 30 4000 50 6 7 8 0 0\ncpu0 50 10 15 2000 25 3 4 4 0 0\n"
                          "cpu1 50 10 15 2000 25 3 3 4 0 0\nbtime 1790000000\n");
    put("root/proc/loadavg", "0.52 0.41 0.30 2/345 6789\n");
    put("root/proc/meminfo", "MemTotal:       16384000 kB\nMemAvailable:    4096000 kB\n"
                             "SwapTotal:       2048000 kB\nSwapFree:        1024000 kB\n");
    put("root/proc/mounts", "proc /proc proc rw 0 0\n");
    put("root/proc/vmstat", "nr_free_pages 1\noom_kill 3\n");
    put("root/proc/net/snmp", "Tcp: OutSegs RetransSegs\nTcp: 400 4\n");
    put("root/proc/net/tcp", tcp_text);
    put("root/proc/1/stat", "1 (init) S 0 1 1 0\n");
    put("root/proc/1/cmdline", "/sbin/init");
    put("root/proc/20/stat", "20 (my daemon) S 1 20 20 0\n"); /* an orphan, with a space */
    put("root/proc/20/cmdline", "/usr/bin/mydaemon\0--flag");
    put("root/proc/30/stat", "30 (bash) S 1 30 30 0\n"); /* parent 1, but not a listed name */
    put("root/proc/30/cmdline", "bash");
    put("root/proc/40/stat", "40 (defunct)) Z 30 40 40 0\n"); /* a zombie, ')' in its name */
    put("root/proc/40/cmdline", "");
    const char *log = put("app.log", "ok\nkernel panic: oops\nFATAL error\npanic and fatal\nok\n");
    static char root[128], logs[600];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(logs, sizeof logs, "%s, %s/missing.log", log, dir);
    static struct report_settings s;
    s = (struct report_settings){.orphans = "mydaemon,other", .logs = logs, .targets = "none"};
    struct report_options o = {.settings = &s, .server_port = 1, .root = root};
    return report_collect(&o);
}

static bool has_error(const json_t *report, const char *section, const char *text)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(report, "errors"), i, e)
    {
        if (!strcmp(S(e, "section"), section) && strstr(S(e, "error"), text))
            return true;
    }
    return false;
}

static void test_fixture_document(void **state)
{
    json_t *r = fixture_report();
    json_t *sys = json_object_get(r, "system");
    assert_int_equal(I(sys, "cpu_count"), 2);
    assert_int_equal(I(sys, "mem_total_mb"), 16000);
    assert_int_equal(I(sys, "mem_used_mb"), 12000);
    assert_true(json_real_value(json_object_get(sys, "mem_used_pct")) == 75.0);
    assert_true(json_real_value(json_object_get(sys, "swap_used_pct")) == 50.0);
    assert_true(json_real_value(json_object_get(sys, "load_avg_1")) == 0.52);
    assert_int_equal(I(sys, "oom_kills"), 3);
    int64_t uptime = (int64_t)time(NULL) - 1790000000; /* the fixture's btime */
    assert_in_range(I(sys, "uptime_s"), uptime - 1, uptime + 1);
    json_t *net = json_object_get(r, "network");
    assert_true(json_real_value(json_object_get(net, "tcp_retrans_pct")) == 1.0);
    assert_int_equal(json_array_size(json_object_get(net, "listening_ports")), 2);
    assert_true(json_is_null(json_object_get(net, "internet_reachable"))); /* none configured */
    json_t *procs = json_object_get(r, "processes");
    assert_int_equal(I(procs, "zombie_count"), 1);
    json_t *z = json_array_get(json_object_get(procs, "zombies"), 0);
    assert_int_equal(I(z, "pid"), 40);
    assert_int_equal(I(z, "ppid"), 30);
    assert_string_equal(S(z, "name"), "defunct)");
    assert_int_equal(I(procs, "orphan_count"), 1);
    json_t *o = json_array_get(json_object_get(procs, "orphans"), 0);
    assert_string_equal(S(o, "name"), "mydaemon");
    assert_int_equal(I(o, "pid"), 20);
    json_t *logs = json_object_get(procs, "logs");
    assert_int_equal(I(json_array_get(logs, 0), "panic_count"), 2);
    assert_int_equal(I(json_array_get(logs, 0), "fatal_count"), 2);
    assert_true(json_is_null(json_object_get(json_array_get(logs, 1), "panic_count")));
    assert_int_equal(I(procs, "panic_count"), 2);
    assert_true(has_error(r, "processes", "missing.log: No such file or directory"));
    char err[256] = "";
    assert_int_equal(report_check(r, err, sizeof err), 0);
    json_decref(r);
}

/* ---- gpu: the gpu collector's samples, here from the fake NVML (tests/unit/fake_nvml.c) --- */

static void test_gpu_section(void **state)
{
    setenv("FAULTLINE_NVML_LIB", fake_nvml, 1);
    json_t *r = fixture_report();
    unsetenv("FAULTLINE_NVML_LIB");
    json_t *gpu = json_object_get(r, "gpu");
    assert_int_equal(I(gpu, "count"), 2);
    assert_true(json_is_null(json_object_get(gpu, "error")));
    json_t *g0 = json_array_get(json_object_get(gpu, "gpus"), 0);
    assert_int_equal(I(g0, "index"), 0);
    assert_string_equal(S(g0, "uuid"), "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd");
    assert_string_equal(S(g0, "name"), "NVIDIA H100 80GB HBM3");
    assert_true(json_real_value(json_object_get(g0, "util_pct")) == 93.0);
    assert_int_equal(I(g0, "mem_used_mb"), 40000);
    assert_int_equal(I(g0, "mem_total_mb"), 81559);
    assert_true(json_real_value(json_object_get(g0, "temp_c")) == 71.0);
    assert_true(json_real_value(json_object_get(g0, "power_w")) == 612.35);
    json_t *g1 = json_array_get(json_object_get(gpu, "gpus"), 1);
    assert_string_equal(S(g1, "name"), "NVIDIA L4");
    assert_true(json_is_null(json_object_get(g1, "power_w"))); /* the driver does not say */
    char err[256];
    assert_int_equal(report_check(r, err, sizeof err), 0);
    json_decref(r);
}

/* ---- report_check ---------------------------------------------------------------------------- */

static void test_check_names_the_member(void **state)
{
    json_t *r = fixture_report();
    char err[256] = "";
    json_object_set_new(json_object_get(r, "system"), "mem_used_pct", json_string("x"));
    assert_int_equal(report_check(r, err, sizeof err), -1);
    assert_string_equal(err, "system.mem_used_pct: expected a number, got \"x\"");
    json_object_del(r, "system");
    assert_int_equal(report_check(r, err, sizeof err), -1);
    assert_string_equal(err, "system: required, missing");
    json_t *bad = json_pack("{s:s}", "section", "tls");
    json_array_clear(json_object_get(r, "errors"));
    json_array_append_new(json_object_get(r, "errors"), bad);
    assert_int_equal(report_check(r, err, sizeof err), -1);
    assert_string_equal(err, "errors[0].error: required, missing");
    json_decref(r);
    json_t *arr = json_array();
    assert_int_equal(report_check(arr, err, sizeof err), -1);
    assert_string_equal(err, "the body: expected a JSON object (a report)");
    json_decref(arr);
}

int main(int argc, char **argv)
{
    char self[2048];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(fake_nvml, sizeof fake_nvml, "%s/libfake-nvml.so", dirname(self));
    if (fake_nvml[0] != '/') /* dlopen needs a slash to skip the library search */
        snprintf(fake_nvml, sizeof fake_nvml, "./%s/libfake-nvml.so", self);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wg_dump),
        cmocka_unit_test(test_wg_dump_empty),
        cmocka_unit_test(test_listening_ports),
        cmocka_unit_test(test_retrans_pct),
        cmocka_unit_test(test_restart_loop),
        cmocka_unit_test(test_restart_loop_history),
        cmocka_unit_test(test_unit_json),
        cmocka_unit_test_setup_teardown(test_fixture_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpu_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_names_the_member, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
