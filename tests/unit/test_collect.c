/* test_collect.c — the collectors: the system one over a fixture /proc tree (node_exporter's names
 * and labels, pseudo file systems and partitions skipped), the GPU one through a stand-in NVML
 * library (build/tests/libfake-nvml.so) and fake nvidia-smi scripts (missing, failing, hanging),
 * textfiles, METRICS_EXEC's parser and commands, and the walk of the table. Where promtool is
 * installed, the rendered text passes `promtool check metrics`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "collect/collect.h"
#include "model/metric.h"

static char dir[64];
static char fake_nvml[4096];

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

/* Writes an executable /bin/sh script; returns its path (static). */
static const char *script(const char *name, const char *body)
{
    char text[4096];
    snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);
    const char *path = put(name, text);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/faultline-collect-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The value of the sample name{label=value}; fails the test when there is none. */
static double value_of(const struct metric_list *l, const char *name, const char *label,
                       const char *value)
{
    const struct metric_sample *s = metric_list_find(l, name, label, value);
    if (!s)
        fail_msg("no sample %s{%s=\"%s\"}", name, label ? label : "", value ? value : "");
    return s->value;
}

static const char *label_of(const struct metric_sample *s, const char *name)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}

/* promtool's remarks on the names dashboards expect, which faultline keeps on purpose:
 * node_exporter's node_memory_MemTotal_bytes, dcgm-exporter's modelName and UUID labels and its
 * ECC counters without a _total suffix. A parse error or any other remark fails the test. */
#define PROMTOOL_EXPECTED                                                                          \
    "^node_memory_[A-Za-z0-9_]* metric names should be written in .snake_case. not .camelCase.$|"  \
    "^DCGM_FI_DEV_[A-Z_]* label names should be written in .snake_case. not .camelCase.$|"         \
    "^DCGM_FI_DEV_ECC_[A-Z_]* counter metrics should have \"_total\" suffix$"

/* Runs `promtool check metrics` on the list's text where promtool is installed; its output but
 * PROMTOOL_EXPECTED and the remarks matching also (an extended regex, or NULL) must be empty. */
static void assert_promtool_clean_but(const struct metric_list *l, const char *also)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        return;
    char *text;
    size_t len;
    assert_int_equal(metric_list_to_text(l, &text, &len), 0);
    const char *path = put("check.prom", text);
    free(text);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' 2>&1 | grep -Ev '%s%s%s'", path,
             PROMTOOL_EXPECTED, also ? "|" : "", also ? also : "");
    FILE *p = popen(cmd, "r");
    char out[1024] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    assert_string_equal(out, "");
}

static void assert_promtool_clean(const struct metric_list *l)
{
    assert_promtool_clean_but(l, NULL);
}

/* ---- system ---------------------------------------------------------------------------------- */

static const struct collect_options *fixture_root(bool per_cpu)
{
    static struct collect_options o;
    static char root[128];
    snprintf(root, sizeof root, "%s/root", dir);
    put("root/proc/stat", "cpu  100 20 30 4000 50 6 7 8 0 0\n"
                          "cpu0 50 10 15 2000 25 3 4 4 0 0\n"
                          "cpu1 50 10 15 2000 25 3 3 4 0 0\n"
                          "intr 123456 1 2 3\nctxt 987654\nbtime 1790000000\n"
                          "processes 4242\nprocs_running 3\nprocs_blocked 1\n");
    put("root/proc/loadavg", "0.52 0.41 0.30 2/345 6789\n");
    put("root/proc/meminfo", "MemTotal:       16384000 kB\nMemAvailable:    8192000 kB\n"
                             "Active(anon):      1000 kB\nHugePages_Total:       4\n"
                             "SwapTotal:       2048000 kB\nSwapFree:        1024000 kB\n");
    put("root/proc/sys/fs/file-nr", "2048\t0\t9223372036854775807\n");
    put("root/proc/mounts", "/dev/sda1 / ext4 rw,relatime 0 0\n"
                            "proc /proc proc rw 0 0\n"
                            "sysfs /sys sysfs rw 0 0\n"
                            "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
                            "overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n"
                            "devtmpfs /dev devtmpfs rw 0 0\n"
                            "tmpfs /run tmpfs rw,nosuid 0 0\n"
                            "/dev/sdb1 /mnt/big\\040disk xfs ro,noatime 0 0\n");
    put("root/mnt/big disk/.keep", "");
    put("root/run/.keep", "");
    put("root/proc/diskstats", "   8       0 sda 100 5 2000 300 200 6 4000 500 2 700 800 0 0 0 0\n"
                               "   8       1 sda1 90 5 1800 250 190 6 3800 450 0 600 700 0 0 0 0\n"
                               "   7       0 loop0 1 0 8 0 0 0 0 0 0 0 0\n"
                               " 259       0 nvme0n1 10 0 80 1 20 0 160 2 0 3 4 0 0 0 0\n"
                               " 259       1 nvme0n1p1 9 0 72 1 19 0 150 2 0 3 4 0 0 0 0\n");
    put("root/proc/net/dev",
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n"
        "    lo:  1000      10    0    0    0     0          0         0     1000      10    "
        "0    0    0     0       0          0\n"
        "  eth0: 5000000    4000    1    2    0     0          0         0  3000000    3000  "
        "  3    4    0     0       0          0\n");
    o = (struct collect_options){.root = root, .per_cpu = per_cpu};
    return &o;
}

static void test_system_fixture(void **state)
{
    struct metric_list l = {0};
    char err[256] = "";
    assert_int_equal(collect_system.collect(&l, fixture_root(true), err, sizeof err), 0);
    double hz = (double)sysconf(_SC_CLK_TCK);
    const struct metric_sample *s = metric_list_find(&l, "node_cpu_seconds_total", "cpu", "1");
    assert_non_null(s);
    assert_string_equal(s->type, "counter");
    assert_string_equal(label_of(s, "mode"), "user");
    assert_true(s->value == 50 / hz);
    assert_null(metric_list_find(&l, "node_cpu_seconds_total", "cpu", "all"));
    assert_true(value_of(&l, "node_cpu_seconds_total", "mode", "steal") == 4 / hz);
    assert_true(value_of(&l, "node_load1", NULL, NULL) == 0.52);
    assert_true(value_of(&l, "node_load15", NULL, NULL) == 0.30);
    assert_true(value_of(&l, "node_memory_MemTotal_bytes", NULL, NULL) == 16384000.0 * 1024);
    assert_true(value_of(&l, "node_memory_MemAvailable_bytes", NULL, NULL) == 8192000.0 * 1024);
    assert_true(value_of(&l, "node_memory_Active_anon_bytes", NULL, NULL) == 1000.0 * 1024);
    assert_true(value_of(&l, "node_memory_HugePages_Total", NULL, NULL) == 4);
    assert_true(value_of(&l, "node_memory_SwapFree_bytes", NULL, NULL) == 1024000.0 * 1024);
    assert_true(value_of(&l, "node_boot_time_seconds", NULL, NULL) == 1790000000);
    assert_true(value_of(&l, "node_context_switches_total", NULL, NULL) == 987654);
    assert_true(value_of(&l, "node_procs_running", NULL, NULL) == 3);
    assert_true(value_of(&l, "node_filefd_allocated", NULL, NULL) == 2048);
    assert_int_equal(collect_boot_time(&l), 1790000000);

    /* file systems: /, /run (tmpfs is kept, as node_exporter keeps it) and the escaped one */
    s = metric_list_find(&l, "node_filesystem_size_bytes", "mountpoint", "/mnt/big disk");
    assert_non_null(s);
    assert_string_equal(label_of(s, "device"), "/dev/sdb1");
    assert_string_equal(label_of(s, "fstype"), "xfs");
    assert_true(s->value > 0);
    assert_true(value_of(&l, "node_filesystem_readonly", "mountpoint", "/mnt/big disk") == 1);
    assert_true(value_of(&l, "node_filesystem_readonly", "mountpoint", "/") == 0);
    assert_non_null(metric_list_find(&l, "node_filesystem_avail_bytes", "mountpoint", "/run"));
    size_t filesystems = 0;
    for (size_t i = 0; i < l.count; i++)
        filesystems += strcmp(l.items[i].name, "node_filesystem_avail_bytes") == 0;
    assert_int_equal(filesystems, 3); /* no proc, sysfs, cgroup2, overlay, devtmpfs, /dev */

    /* disks: whole disks only */
    assert_true(value_of(&l, "node_disk_read_bytes_total", "device", "sda") == 2000.0 * 512);
    assert_true(value_of(&l, "node_disk_io_time_seconds_total", "device", "sda") == 0.7);
    assert_true(value_of(&l, "node_disk_writes_completed_total", "device", "nvme0n1") == 20);
    assert_null(metric_list_find(&l, "node_disk_read_bytes_total", "device", "sda1"));
    assert_null(metric_list_find(&l, "node_disk_read_bytes_total", "device", "loop0"));
    assert_null(metric_list_find(&l, "node_disk_read_bytes_total", "device", "nvme0n1p1"));

    /* network */
    assert_true(value_of(&l, "node_network_receive_bytes_total", "device", "eth0") == 5000000);
    assert_true(value_of(&l, "node_network_transmit_bytes_total", "device", "eth0") == 3000000);
    assert_true(value_of(&l, "node_network_transmit_drop_total", "device", "eth0") == 4);
    assert_true(value_of(&l, "node_network_receive_bytes_total", "device", "lo") == 1000);
    assert_non_null(metric_list_find(&l, "node_uname_info", NULL, NULL));
    assert_promtool_clean(&l);
    metric_list_free(&l);
}

static void test_system_total_cpu(void **state)
{
    struct metric_list l = {0};
    char err[256] = "";
    assert_int_equal(collect_system.collect(&l, fixture_root(false), err, sizeof err), 0);
    double hz = (double)sysconf(_SC_CLK_TCK);
    assert_true(value_of(&l, "node_cpu_seconds_total", "cpu", "all") == 100 / hz);
    assert_null(metric_list_find(&l, "node_cpu_seconds_total", "cpu", "0"));
    metric_list_free(&l);
}

static void test_system_missing_file_names_it(void **state)
{
    fixture_root(true);
    char path[256];
    snprintf(path, sizeof path, "%s/root/proc/loadavg", dir);
    unlink(path);
    struct metric_list l = {0};
    char err[256] = "";
    struct collect_options o = *fixture_root(true);
    unlink(path);
    assert_int_equal(collect_system.collect(&l, &o, err, sizeof err), -1);
    char expected[512];
    snprintf(expected, sizeof expected, "%s: No such file or directory", path);
    assert_string_equal(err, expected);
    assert_null(metric_list_find(&l, "node_load1", NULL, NULL));
    assert_non_null(metric_list_find(&l, "node_memory_MemTotal_bytes", NULL, NULL));
    metric_list_free(&l);
}

static void test_system_live_host(void **state)
{
    struct metric_list l = {0};
    char err[256] = "";
    struct collect_options o = {.per_cpu = true};
    assert_int_equal(collect_system.collect(&l, &o, err, sizeof err), 0);
    assert_true(value_of(&l, "node_memory_MemTotal_bytes", NULL, NULL) > 0);
    assert_true(collect_boot_time(&l) > 0);
    assert_promtool_clean(&l);
    metric_list_free(&l);
}

/* ---- gpu ------------------------------------------------------------------------------------- */

static void test_gpu_nvml(void **state)
{
    struct metric_list l = {0};
    char err[256] = "";
    struct collect_options o = {.nvml_library = fake_nvml, .nvidia_smi = "/nonexistent/smi"};
    assert_int_equal(collect_gpu.collect(&l, &o, err, sizeof err), 0);
    assert_int_equal(collect_gpu_count(&l), 2);
    assert_string_equal(label_of(metric_list_find(&l, "faultline_gpus", NULL, NULL), "source"),
                        "nvml");
    const struct metric_sample *s = metric_list_find(&l, "DCGM_FI_DEV_GPU_UTIL", "gpu", "0");
    assert_non_null(s);
    assert_true(s->value == 93);
    assert_string_equal(label_of(s, "UUID"), "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd");
    assert_string_equal(label_of(s, "modelName"), "NVIDIA H100 80GB HBM3");
    assert_string_equal(label_of(s, "device"), "nvidia0");
    assert_true(value_of(&l, "DCGM_FI_DEV_FB_USED", "gpu", "0") == 40000);
    assert_true(value_of(&l, "DCGM_FI_DEV_FB_TOTAL", "gpu", "1") == 81559);
    assert_true(value_of(&l, "DCGM_FI_DEV_GPU_TEMP", "gpu", "0") == 71);
    assert_true(value_of(&l, "DCGM_FI_DEV_POWER_USAGE", "gpu", "0") == 612.345);
    assert_true(value_of(&l, "DCGM_FI_DEV_SM_CLOCK", "gpu", "1") == 1980);
    assert_true(value_of(&l, "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "gpu", "0") == 12);
    assert_true(value_of(&l, "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "gpu", "0") == 1);
    assert_true(value_of(&l, "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "gpu", "0") == 0x40);
    assert_string_equal(
        label_of(metric_list_find(&l, "DCGM_FI_DEV_GPU_UTIL", "gpu", "1"), "modelName"),
        "NVIDIA L4");
    /* what the second GPU does not report is left out, not sent as 0 */
    assert_null(metric_list_find(&l, "DCGM_FI_DEV_POWER_USAGE", "gpu", "1"));
    assert_null(metric_list_find(&l, "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "gpu", "1"));
    assert_promtool_clean(&l);
    metric_list_free(&l);
}

static const char *SMI_TWO =
    "case \"$1\" in --query-gpu=index,uuid,name,*) ;; *) exit 3 ;; esac\n"
    "[ \"$2\" = --format=csv,noheader,nounits ] || exit 4\n"
    "echo '0, GPU-0a, NVIDIA H100 80GB HBM3, 87, 30, 1024, 80535, 81559, 64, 301.50, 1755, "
    "2619, 0, 0, 0x0000000000000000'\n"
    "echo '1, GPU-1b, NVIDIA H100 80GB HBM3, [N/A], 0, 0, 81559, 81559, 33, [N/A], 345, 2619, "
    "[N/A], [N/A], 0x0000000000000004'\n"
    "echo 'garbage'";

static void test_gpu_smi(void **state)
{
    struct metric_list l = {0};
    char err[256] = "";
    struct collect_options o = {.nvml_library = "/nonexistent/libnvidia-ml.so.1",
                                .nvidia_smi = script("smi2", SMI_TWO)};
    assert_int_equal(collect_gpu.collect(&l, &o, err, sizeof err), 0);
    assert_int_equal(collect_gpu_count(&l), 2);
    assert_string_equal(label_of(metric_list_find(&l, "faultline_gpus", NULL, NULL), "source"),
                        "nvidia-smi");
    assert_true(value_of(&l, "DCGM_FI_DEV_GPU_UTIL", "UUID", "GPU-0a") == 87);
    assert_true(value_of(&l, "DCGM_FI_DEV_POWER_USAGE", "gpu", "0") == 301.5);
    assert_true(value_of(&l, "DCGM_FI_DEV_FB_USED", "gpu", "0") == 1024);
    assert_true(value_of(&l, "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "gpu", "1") == 4);
    assert_null(metric_list_find(&l, "DCGM_FI_DEV_GPU_UTIL", "gpu", "1"));
    assert_null(metric_list_find(&l, "DCGM_FI_DEV_POWER_USAGE", "gpu", "1"));
    assert_null(metric_list_find(&l, "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "gpu", "1"));
    assert_true(value_of(&l, "DCGM_FI_DEV_GPU_TEMP", "gpu", "1") == 33);
    assert_promtool_clean(&l);
    metric_list_free(&l);
}

static void test_gpu_none(void **state)
{
    struct metric_list l = {0};
    char err[256] = "";
    struct collect_options o = {.nvml_library = "/nonexistent/libnvidia-ml.so.1",
                                .nvidia_smi = "/nonexistent/nvidia-smi"};
    assert_int_equal(collect_gpu.collect(&l, &o, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(collect_gpu_count(&l), 0);
    assert_string_equal(label_of(metric_list_find(&l, "faultline_gpus", NULL, NULL), "source"),
                        "none");
    assert_null(metric_list_find(&l, "DCGM_FI_DEV_GPU_UTIL", NULL, NULL));
    metric_list_free(&l);
}

static void test_gpu_smi_failing(void **state)
{
    struct metric_list l = {0};
    char err[256] = "";
    const char *smi = script("smi-fail", "echo '0, GPU-0a, half'\necho 'NVIDIA-SMI has failed' "
                                         ">&2\nexit 9");
    struct collect_options o = {.nvml_library = "/nonexistent/x.so", .nvidia_smi = smi};
    assert_int_equal(collect_gpu.collect(&l, &o, err, sizeof err), -1);
    char expected[600];
    snprintf(expected, sizeof expected, "%s: exit status 9; stderr: \"NVIDIA-SMI has failed\"",
             smi);
    assert_string_equal(err, expected);
    assert_int_equal(collect_gpu_count(&l), COLLECT_GPUS_FAILED);
    assert_non_null(metric_list_find(&l, "faultline_gpus", "source", "failed"));
    metric_list_free(&l);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A hung command (here a script whose child sleeps) is killed, with its children, at the limit. */
static void test_run_hanging_is_killed(void **state)
{
    char *argv[] = {(char *)script("hang", "echo 'up 1'\nsleep 30\necho 'up 2'"), NULL};
    char *out = NULL;
    size_t len = 0;
    char err[600] = "";
    double t0 = now_s();
    assert_int_equal(collect_run(argv, 300, NULL, 1024, &out, &len, err, sizeof err), -1);
    assert_true(now_s() - t0 < 3.0);
    char expected[600];
    snprintf(expected, sizeof expected, "%s: no answer within 300 ms, killed", argv[0]);
    assert_string_equal(err, expected);
    assert_string_equal(out, "up 1\n");
    free(out);
}

/* A stopping agent kills a running command at once, whatever its timeout. */
static void test_run_cancelled(void **state)
{
    char *argv[] = {(char *)script("hang-long", "sleep 30"), NULL};
    atomic_bool cancel;
    atomic_init(&cancel, true);
    char *out = NULL;
    size_t len = 0;
    char err[600] = "";
    double t0 = now_s();
    assert_int_equal(collect_run(argv, 60000, &cancel, 1024, &out, &len, err, sizeof err), -1);
    assert_true(now_s() - t0 < 1.0);
    char expected[600];
    snprintf(expected, sizeof expected, "%s: killed, the agent is stopping", argv[0]);
    assert_string_equal(err, expected);
    free(out);
}

/* ---- a hung mount --------------------------------------------------------------------------- */

static atomic_bool mount_hangs;

/* statvfs(3), except that it blocks on .../mnt/hung while mount_hangs holds, as on a network
 * mount whose server is gone. */
static int hanging_statvfs(const char *path, struct statvfs *st)
{
    size_t len = strlen(path);
    while (len >= 9 && strcmp(path + len - 9, "/mnt/hung") == 0 && atomic_load(&mount_hangs))
        usleep(10000);
    return statvfs(path, st);
}

/* A mount whose statvfs hangs costs the walk its timeout once (the mounts after it are read from
 * the next walk on), then nothing while it hangs, the other mounts read meanwhile; once it
 * answers it is read again. */
static void test_system_hung_mount(void **state)
{
    struct collect_options o = *fixture_root(true);
    put("root/proc/mounts", "/dev/sda1 / ext4 rw,relatime 0 0\n"
                            "filer:/export /mnt/hung nfs4 rw,hard 0 0\n"
                            "tmpfs /run tmpfs rw,nosuid 0 0\n");
    put("root/mnt/hung/.keep", "");
    o.statvfs = hanging_statvfs;
    o.mount_timeout_ms = 500;
    atomic_store(&mount_hangs, true);
    for (int walk = 1; walk <= 2; walk++) {
        char expected[256];
        snprintf(expected, sizeof expected,
                 "/mnt/hung: statvfs did not answer within 500 ms (not asked again until it "
                 "does)%s",
                 walk == 1 ? "; the mounts after it are read next time" : "");
        struct metric_list l = {0};
        char err[512] = "";
        double t0 = now_s();
        assert_int_equal(collect_system.collect(&l, &o, err, sizeof err), -1);
        double took = now_s() - t0;
        if (walk == 1)
            assert_true(took >= 0.49 && took < 3.0);
        else
            assert_true(took < 0.45); /* not waited for again */
        assert_string_equal(err, expected);
        assert_true(value_of(&l, "node_filesystem_device_error", "mountpoint", "/mnt/hung") == 1);
        assert_null(metric_list_find(&l, "node_filesystem_size_bytes", "mountpoint", "/mnt/hung"));
        assert_true(value_of(&l, "node_filesystem_device_error", "mountpoint", "/") == 0);
        assert_non_null(metric_list_find(&l, "node_filesystem_size_bytes", "mountpoint", "/"));
        if (walk == 1) /* after the hung one */
            assert_null(metric_list_find(&l, "node_filesystem_device_error", "mountpoint", "/run"));
        else
            assert_non_null(
                metric_list_find(&l, "node_filesystem_size_bytes", "mountpoint", "/run"));
        assert_non_null(metric_list_find(&l, "node_load1", NULL, NULL));
        metric_list_free(&l);
    }
    /* the server is back: its blocked statvfs returns, and a later walk reads the mount */
    atomic_store(&mount_hangs, false);
    int rc = -1;
    struct metric_list l = {0};
    for (double t0 = now_s(); rc != 0 && now_s() - t0 < 5.0; usleep(20000)) {
        char err[512] = "";
        metric_list_free(&l);
        rc = collect_system.collect(&l, &o, err, sizeof err);
    }
    assert_int_equal(rc, 0);
    assert_true(value_of(&l, "node_filesystem_device_error", "mountpoint", "/mnt/hung") == 0);
    assert_non_null(metric_list_find(&l, "node_filesystem_size_bytes", "mountpoint", "/mnt/hung"));
    metric_list_free(&l);
}

/* ---- textfile ------------------------------------------------------------------------------ */

static void test_textfile(void **state)
{
    put("text/jobs.prom", "# HELP backup_last_success_seconds Last good backup.\n"
                          "# TYPE backup_last_success_seconds gauge\n"
                          "backup_last_success_seconds{job=\"db\"} 1790000000\n"
                          "2bad_name 1\n"
                          "queue_depth{queue=\"a\\\"b\"} 3\n");
    put("text/ignored.txt", "not_read 1\n");
    put("text/.hidden.prom", "not_read 1\n");
    put("text/more.prom", "jobs_total 7\n"
                          "# TYPE request_seconds histogram\n"
                          "request_seconds_bucket{le=\"1\"} 2\n"
                          "request_seconds_bucket{le=\"+Inf\"} 3\n"
                          "request_seconds_sum 4.5\n"
                          "request_seconds_count 3\n");
    char tdir[128];
    snprintf(tdir, sizeof tdir, "%s/text", dir);
    struct collect_options o = {.textfile_dir = tdir};
    struct metric_list l = {0};
    char err[512] = "";
    assert_int_equal(collect_textfile.collect(&l, &o, err, sizeof err), -1);
    /* the file and line, then the parser's words (metric_text.h), which name the bad name */
    char expected[600];
    snprintf(expected, sizeof expected, "%s/jobs.prom line 4: ", tdir);
    const struct metric_sample *s =
        metric_list_find(&l, "backup_last_success_seconds", "job", "db");
    assert_non_null(s);
    assert_true(s->value == 1790000000);
    assert_string_equal(s->type, "gauge");
    assert_true(value_of(&l, "queue_depth", "queue", "a\"b") == 3);
    assert_true(value_of(&l, "jobs_total", NULL, NULL) == 7);
    assert_null(metric_list_find(&l, "not_read", NULL, NULL));
    assert_true(value_of(&l, "node_textfile_mtime_seconds", "file", "jobs.prom") > 0);
    assert_true(value_of(&l, "node_textfile_scrape_error", NULL, NULL) == 1);
    assert_memory_equal(err, expected, strlen(expected));
    assert_non_null(strstr(err + strlen(expected), "\"2bad_name\""));
    /* a textfile's HELP and TYPE lines are kept, as node_exporter keeps them */
    assert_string_equal(s->help, "Last good backup.");
    assert_promtool_clean_but(&l, "^(jobs_total|queue_depth|request_seconds) no help text$");
    char *text;
    size_t len;
    assert_int_equal(metric_list_to_text(&l, &text, &len), 0);
    assert_non_null(strstr(text, "# HELP backup_last_success_seconds Last good backup.\n"
                                 "# TYPE backup_last_success_seconds gauge\n"
                                 "backup_last_success_seconds{job=\"db\"} 1790000000\n"));
    assert_non_null(strstr(text, "# TYPE request_seconds histogram\n"
                                 "request_seconds_bucket{le=\"1\"} 2\n"
                                 "request_seconds_bucket{le=\"+Inf\"} 3\n"
                                 "request_seconds_sum 4.5\n"
                                 "request_seconds_count 3\n"));
    free(text);
    metric_list_free(&l);
}

static void test_textfile_missing_dir(void **state)
{
    struct collect_options o = {.textfile_dir = "/nonexistent/textfiles"};
    struct metric_list l = {0};
    char err[512] = "";
    assert_int_equal(collect_textfile.collect(&l, &o, err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/textfiles: No such file or directory");
    assert_true(value_of(&l, "node_textfile_scrape_error", NULL, NULL) == 1);
    metric_list_free(&l);
}

/* ---- exec ---------------------------------------------------------------------------------- */

static void test_exec_parse(void **state)
{
    struct collect_exec *cmds;
    size_t n;
    char err[512] = "";
    assert_int_equal(collect_exec_parse("raid:5:/usr/local/bin/raid-metrics --all -v ; "
                                        "queue:0.5:queue-stats",
                                        &cmds, &n, err, sizeof err),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(cmds[0].name, "raid");
    assert_int_equal(cmds[0].timeout_ms, 5000);
    assert_string_equal(cmds[0].argv[0], "/usr/local/bin/raid-metrics");
    assert_string_equal(cmds[0].argv[2], "-v");
    assert_null(cmds[0].argv[3]);
    assert_int_equal(cmds[1].timeout_ms, 500);
    assert_string_equal(cmds[1].argv[0], "queue-stats");
    collect_exec_free(cmds, n);

    assert_int_equal(collect_exec_parse("", &cmds, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    collect_exec_free(cmds, n);

    static const struct {
        const char *text, *error;
    } bad[] = {
        {"raid", "METRICS_EXEC: command 1 \"raid\": expected NAME:TIMEOUT:COMMAND [ARGS...]"},
        {"ok:1:x;Raid:5:y", "METRICS_EXEC: command 2: NAME \"Raid\": expected 1 to 63 of "
                            "[a-z0-9_-]"},
        {"raid:0:x", "METRICS_EXEC: command 1 (raid): TIMEOUT \"0\": expected seconds from 0.1 "
                     "to 300"},
        {"raid:5s:x", "METRICS_EXEC: command 1 (raid): TIMEOUT \"5s\": expected seconds from "
                      "0.1 to 300"},
        {"raid:301:x", "METRICS_EXEC: command 1 (raid): TIMEOUT \"301\": expected seconds from "
                       "0.1 to 300"},
        {"raid:5:  ", "METRICS_EXEC: command 1 (raid) has no COMMAND"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(collect_exec_parse(bad[i].text, &cmds, &n, err, sizeof err), -1);
        assert_string_equal(err, bad[i].error);
        assert_false(collect_exec_valid(bad[i].text));
    }
    assert_true(collect_exec_valid("a:1:b"));
}

static void test_exec_commands(void **state)
{
    char good[512], spec[4096];
    snprintf(good, sizeof good, "%s",
             script("good", "echo \"# TYPE app_requests_total counter\"\n"
                            "echo \"app_requests_total{site=\\\"$1\\\"} 12\"\n"
                            "echo 'app_temp{x=\"1\"} not-a-number'"));
    char failing[512], killed[512];
    snprintf(failing, sizeof failing, "%s",
             script("failing", "echo 'app_up 1'\nprintf '\\n  disk /dev/md0: \"gone\"\\n"
                               "second line\\n' >&2\nexit 3"));
    snprintf(killed, sizeof killed, "%s", script("killed", "echo oops >&2\nkill -TERM $$"));
    snprintf(spec, sizeof spec,
             "good:2:%s fleet-a;hang:0.3:%s;gone:1:/nonexistent/cmd;failing:2:%s;killed:2:%s", good,
             script("hang2", "echo 'still starting' >&2\nsleep 30"), failing, killed);
    struct collect_exec *cmds;
    size_t n;
    char err[1024] = "";
    assert_int_equal(collect_exec_parse(spec, &cmds, &n, err, sizeof err), 0);
    struct collect_options o = {.exec = cmds, .exec_count = n};
    struct metric_list l = {0};
    double t0 = now_s();
    assert_int_equal(collect_exec.collect(&l, &o, err, sizeof err), -1);
    assert_true(now_s() - t0 < 3.0);
    /* the command and output line, then the parser's words (metric_text.h) */
    assert_memory_equal(err, "good: output line 3: ", strlen("good: output line 3: "));
    assert_non_null(strstr(err, "\"not-a-number\""));
    const struct metric_sample *s = metric_list_find(&l, "app_requests_total", "site", "fleet-a");
    assert_non_null(s);
    assert_true(s->value == 12);
    assert_string_equal(s->type, "counter");
    assert_int_equal(l.count, 1);
    metric_list_free(&l);

    /* each failure alone, as the walk reports them */
    for (size_t i = 1; i < n; i++) {
        o = (struct collect_options){.exec = &cmds[i], .exec_count = 1};
        assert_int_equal(collect_exec.collect(&l, &o, err, sizeof err), -1);
        /* the command, the exit status or signal, and stderr's first line */
        char expected[600];
        if (i == 1)
            snprintf(expected, sizeof expected,
                     "hang: %s: no answer within 300 ms, killed; stderr: \"still starting\"",
                     cmds[1].argv[0]);
        else if (i == 2)
            snprintf(expected, sizeof expected, "gone: /nonexistent/cmd: not found");
        else if (i == 3)
            snprintf(expected, sizeof expected,
                     "failing: %s: exit status 3; stderr: \"disk /dev/md0: ?gone?\"", failing);
        else
            snprintf(expected, sizeof expected,
                     "killed: %s: killed by signal 15 (TERM); stderr: \"oops\"", killed);
        assert_string_equal(err, expected);
    }
    collect_exec_free(cmds, n);
}

/* ---- the table ------------------------------------------------------------------------------ */

static void test_walk(void **state)
{
    struct collect_options o = *fixture_root(true);
    o.nvml_library = fake_nvml;
    o.textfile_dir = "/nonexistent/textfiles";
    struct metric_list l = {0};
    char err[512] = "";
    int failed = 0;
    for (size_t i = 0; i < collect_count; i++)
        failed += collect_one(i, &l, &o, err, sizeof err) != 0;
    assert_int_equal(failed, 1);
    assert_string_equal(err, "textfile: /nonexistent/textfiles: No such file or directory");
    assert_true(value_of(&l, "node_scrape_collector_success", "collector", "system") == 1);
    assert_true(value_of(&l, "node_scrape_collector_success", "collector", "gpu") == 1);
    assert_true(value_of(&l, "node_scrape_collector_success", "collector", "textfile") == 0);
    assert_true(value_of(&l, "node_scrape_collector_success", "collector", "exec") == 1);
    assert_non_null(
        metric_list_find(&l, "node_scrape_collector_duration_seconds", "collector", "gpu"));
    assert_int_equal(collect_gpu_count(&l), 2);
    assert_promtool_clean(&l);
    metric_list_free(&l);
    assert_int_equal(collect_count, 4);
    for (size_t i = 0; i < collect_count; i++)
        for (size_t j = i + 1; j < collect_count; j++)
            assert_string_not_equal(collect_table[i]->name, collect_table[j]->name);
}

static void test_hostname(void **state)
{
    char name[65], host[65] = "", err[128];
    assert_int_equal(collect_hostname(name, sizeof name, err, sizeof err), 0);
    gethostname(host, sizeof host - 1);
    assert_string_equal(name, host);
}

int main(int argc, char **argv)
{
    /* beside this binary; dlopen needs a path with a slash to skip the library search */
    char self[2048];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(fake_nvml, sizeof fake_nvml, "%s/libfake-nvml.so", dirname(self));
    if (fake_nvml[0] != '/')
        snprintf(fake_nvml, sizeof fake_nvml, "./%s/libfake-nvml.so", self);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_system_fixture),
        cmocka_unit_test(test_system_total_cpu),
        cmocka_unit_test(test_system_missing_file_names_it),
        cmocka_unit_test(test_system_live_host),
        cmocka_unit_test(test_gpu_nvml),
        cmocka_unit_test(test_gpu_smi),
        cmocka_unit_test(test_gpu_none),
        cmocka_unit_test(test_gpu_smi_failing),
        cmocka_unit_test(test_run_hanging_is_killed),
        cmocka_unit_test(test_run_cancelled),
        cmocka_unit_test(test_system_hung_mount),
        cmocka_unit_test(test_textfile),
        cmocka_unit_test(test_textfile_missing_dir),
        cmocka_unit_test(test_exec_parse),
        cmocka_unit_test(test_exec_commands),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_hostname),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
