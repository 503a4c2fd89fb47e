/* system.c — the report's "system" section: CPU count, load, memory, swap and disks read back
 * from the system collector's samples (collect/collect.h, node_exporter's names), plus what the
 * collector does not keep: OOM kills (/proc/vmstat oom_kill), uptime, and the clock's sync state
 * (adjtimex) with the time daemon found running. */
#include "report/report_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/timex.h>

#include "base/clock.h"
#include "collect/collect.h"

#define REPORT_MB (1024.0 * 1024.0)
#define REPORT_GB (1024.0 * 1024.0 * 1024.0)

static double report_value(const struct metric_list *list, const char *name)
{
    const struct metric_sample *s = metric_list_find(list, name, NULL, NULL);
    return s ? s->value : -1;
}

static double report_pct(double part, double whole)
{
    return whole > 0 ? part * 100.0 / whole : 0;
}

/* The file system sample of name at mountpoint, or -1. */
static double report_fs_value(const struct metric_list *list, const char *name,
                              const char *mountpoint)
{
    const struct metric_sample *s = metric_list_find(list, name, "mountpoint", mountpoint);
    return s ? s->value : -1;
}

/* Used as df counts it: size - free, in percent of what non-root users could have
 * (used + avail). */
static json_t *report_disks(const struct metric_list *list)
{
    json_t *disks = json_array();
    for (size_t i = 0; i < list->count; i++) {
        const struct metric_sample *s = &list->items[i];
        if (strcmp(s->name, "node_filesystem_size_bytes") != 0)
            continue;
        const char *mp = report_sample_label(s, "mountpoint");
        double free_b = report_fs_value(list, "node_filesystem_free_bytes", mp);
        double avail = report_fs_value(list, "node_filesystem_avail_bytes", mp);
        double used = free_b >= 0 ? s->value - free_b : 0;
        json_array_append_new(
            disks,
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "mountpoint", mp, "device",
                      report_sample_label(s, "device"), "fstype", report_sample_label(s, "fstype"),
                      "size_gb", report_real2(s->value / REPORT_GB), "used_gb",
                      report_real2(used / REPORT_GB), "used_pct",
                      report_real2(report_pct(used, used + (avail >= 0 ? avail : 0)))));
    }
    return disks;
}

static int report_cpu_count(const struct metric_list *list)
{
    int n = 0;
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].name, "node_cpu_seconds_total") == 0 &&
            strcmp(report_sample_label(&list->items[i], "mode"), "idle") == 0)
            n++;
    return n;
}

static void report_memory(json_t *sys, const struct metric_list *list)
{
    double total = report_value(list, "node_memory_MemTotal_bytes");
    double avail = report_value(list, "node_memory_MemAvailable_bytes");
    double used = total >= 0 && avail >= 0 ? total - avail : 0;
    double swap_total = report_value(list, "node_memory_SwapTotal_bytes");
    double swap_free = report_value(list, "node_memory_SwapFree_bytes");
    double swap_used = swap_total >= 0 && swap_free >= 0 ? swap_total - swap_free : 0;
    json_object_set_new(sys, "mem_total_mb", json_integer((json_int_t)(total / REPORT_MB)));
    json_object_set_new(sys, "mem_used_mb", json_integer((json_int_t)(used / REPORT_MB)));
    json_object_set_new(sys, "mem_used_pct", report_real2(report_pct(used, total)));
    json_object_set_new(sys, "swap_total_mb",
                        json_integer((json_int_t)(swap_total > 0 ? swap_total / REPORT_MB : 0)));
    json_object_set_new(sys, "swap_used_mb", json_integer((json_int_t)(swap_used / REPORT_MB)));
    json_object_set_new(sys, "swap_used_pct", report_real2(report_pct(swap_used, swap_total)));
}

/* oom_kill from /proc/vmstat (kernels since 4.13); -1 when absent. */
static int64_t report_oom_kills(struct report_job *job)
{
    char *text = report_read_file(job->root, "/proc/vmstat", 1 << 16);
    if (!text) {
        report_fail(job, "/proc/vmstat: %s", strerror(errno));
        return -1;
    }
    const char *line = strstr(text, "\noom_kill ");
    long long v = -1;
    if (!line || sscanf(line, "\noom_kill %lld", &v) != 1)
        report_fail(job, "/proc/vmstat: no oom_kill line (a kernel older than 4.13)");
    free(text);
    return v;
}

static const char *const report_time_daemons[] = {"chronyd", "ntpd", "systemd-timesyn", "openntpd",
                                                  "ntpdate"};

static json_t *report_time_sync(const struct report_job *job)
{
    struct timex tx = {0};
    int state = adjtimex(&tx);
    json_t *synced =
        state < 0 ? json_null() : json_boolean(state != TIME_ERROR && !(tx.status & STA_UNSYNC));
    const char *source = NULL;
    for (size_t i = 0; i < job->procs->count && !source; i++)
        for (size_t d = 0; d < sizeof report_time_daemons / sizeof *report_time_daemons; d++)
            if (strcmp(job->procs->items[i].comm, report_time_daemons[d]) == 0)
                source = strcmp(report_time_daemons[d], "systemd-timesyn") == 0
                             ? "systemd-timesyncd"
                             : report_time_daemons[d];
    return json_pack("{s:o, s:o}", "synchronized", synced, "source", report_text_or_null(source));
}

static void report_system_collect(struct report_job *job)
{
    struct metric_list list = {0};
    struct collect_options copts = {.root = job->root, .per_cpu = true};
    char err[512] = "";
    if (collect_system.collect(&list, &copts, err, sizeof err) != 0)
        report_fail(job, "%s", err);
    json_t *sys = job->data;
    json_object_set_new(sys, "cpu_count", json_integer(report_cpu_count(&list)));
    json_object_set_new(sys, "load_avg_1", report_real2(report_value(&list, "node_load1")));
    json_object_set_new(sys, "load_avg_5", report_real2(report_value(&list, "node_load5")));
    json_object_set_new(sys, "load_avg_15", report_real2(report_value(&list, "node_load15")));
    report_memory(sys, &list);
    json_object_set_new(sys, "disks", report_disks(&list));
    json_object_set_new(sys, "oom_kills", report_int_or_null(report_oom_kills(job)));
    const struct metric_sample *uname = metric_list_find(&list, "node_uname_info", NULL, NULL);
    json_object_set_new(sys, "kernel",
                        report_text_or_null(uname ? report_sample_label(uname, "release") : NULL));
    int64_t boot = collect_boot_time(&list);
    json_object_set_new(sys, "uptime_s",
                        boot > 0 ? json_integer(clock_wall_ms() / 1000 - boot) : json_null());
    json_object_set_new(sys, "time_sync", report_time_sync(job));
    metric_list_free(&list);
}

const struct report_section report_system = {"system", report_system_collect};
