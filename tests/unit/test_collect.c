/* test_collect.c — the collectors: GPU count from a fake nvidia-smi script (NVML forced away with
 * FAULTLINE_NVML_LIB), a missing, failing or hanging binary, and the system facts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collect/collect.h"

static char dir[64];

/* Writes an executable /bin/sh script into the test directory; returns its path (static). */
static const char *script(const char *name, const char *body)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/faultline-collect-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    setenv("FAULTLINE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *FOUR_GPUS = "[ \"$1\" = \"-L\" ] || exit 3\n"
                               "echo 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0a)'\n"
                               "echo 'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-1b)'\n"
                               "echo '  MIG 1g.10gb     Device  0: (UUID: MIG-3c)'\n"
                               "echo 'GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-2d)'\n"
                               "echo 'GPU 3: NVIDIA H100 80GB HBM3 (UUID: GPU-3e)'\n"
                               "echo 'GPUs are great'";

static void test_fake_smi_four_gpus(void **state)
{
    setenv("FAULTLINE_NVIDIA_SMI", script("smi4", FOUR_GPUS), 1);
    struct host_facts f = {.gpus = -1};
    char err[256] = "";
    assert_int_equal(collect_gpu.collect(&f, err, sizeof err), 0);
    assert_int_equal(f.gpus, 4);
    assert_string_equal(f.gpu_source, "nvidia-smi");
}

static void test_missing_smi_is_zero(void **state)
{
    setenv("FAULTLINE_NVIDIA_SMI", "/nonexistent/nvidia-smi", 1);
    struct host_facts f = {.gpus = -1};
    char err[256] = "";
    assert_int_equal(collect_gpu.collect(&f, err, sizeof err), 0);
    assert_int_equal(f.gpus, 0);
    assert_string_equal(f.gpu_source, "none");
    assert_string_equal(err, "");
}

static void test_failing_smi_is_zero(void **state)
{
    const char *path = script("smi-fail", "echo 'GPU 0: half an answer'\n"
                                          "echo 'NVIDIA-SMI has failed' >&2\nexit 9");
    setenv("FAULTLINE_NVIDIA_SMI", path, 1);
    struct host_facts f = {.gpus = -1};
    char err[256] = "";
    assert_int_equal(collect_gpu.collect(&f, err, sizeof err), -1);
    assert_int_equal(f.gpus, 0);
    assert_non_null(strstr(err, "exit status 9"));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A hung nvidia-smi (here a script whose child sleeps) is killed, with its children, at the limit.
 */
static void test_hanging_smi_is_killed(void **state)
{
    const char *path = script("smi-hang", "echo 'GPU 0: slow'\nsleep 30\necho 'GPU 1: slow'");
    int gpus = -1;
    char err[256] = "";
    double t0 = now_s();
    assert_int_equal(collect_gpu_count_smi(path, 300, &gpus, err, sizeof err), -1);
    assert_true(now_s() - t0 < 3.0);
    assert_int_equal(gpus, 0);
    assert_non_null(strstr(err, "no answer within 300 ms"));
}

static void test_system_facts(void **state)
{
    struct host_facts f = {0};
    char err[256] = "";
    assert_int_equal(collect_system.collect(&f, err, sizeof err), 0);
    char host[65] = "";
    gethostname(host, sizeof host - 1);
    assert_string_equal(f.hostname, host);
    assert_true(f.uptime_s > 0);
}

static void test_collect_all_and_table(void **state)
{
    setenv("FAULTLINE_NVIDIA_SMI", script("smi4b", FOUR_GPUS), 1);
    struct host_facts f;
    char err[256] = "";
    assert_int_equal(collect_all(&f, err, sizeof err), 0);
    assert_int_equal(f.gpus, 4);
    assert_true(f.hostname[0] != '\0');
    assert_true(collect_count >= 2);
    for (size_t i = 0; i < collect_count; i++)
        for (size_t j = i + 1; j < collect_count; j++)
            assert_string_not_equal(collect_table[i]->name, collect_table[j]->name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_smi_four_gpus),  cmocka_unit_test(test_missing_smi_is_zero),
        cmocka_unit_test(test_failing_smi_is_zero), cmocka_unit_test(test_hanging_smi_is_killed),
        cmocka_unit_test(test_system_facts),        cmocka_unit_test(test_collect_all_and_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
