/* system.c — the "system" collector: CPU time, load, memory and swap, file systems (skipping
 * pseudo ones), disk I/O, network traffic, boot time, file descriptors and uname, read from /proc
 * and statvfs(3) under node_exporter's names and labels, so dashboards made for node_exporter
 * work unchanged. Every path is read under opts->root, so tests run it over a fixture tree.
 *
 * statvfs on a hung network mount blocks until the server comes back, so a walk's statvfs calls
 * run on a detached thread of its own, one after the other (one thread per walk, not per mount:
 * a machine may have hundreds of mounts), and the walk waits for them up to mount_timeout_ms. A
 * mount that did not answer is reported with node_filesystem_device_error 1 and is not asked
 * again (the thread is still blocked on it) until its statvfs returns: the one process-wide
 * state of the collectors, the stuck list below, under its lock. The mounts after it are read
 * from the next walk on. */
#include "collect/collect.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"

#define SYSTEM_LINE_MAX 4096
#define SYSTEM_MOUNTS_MAX 512
#define SYSTEM_MOUNT_TIMEOUT_MS 5000 /* node_exporter's --collector.filesystem.mount-timeout */

/* node_exporter's defaults: file systems that hold no user data, and mount points under the
 * kernel's and the container runtimes' own trees. */
static const char *const system_pseudo_fs[] = {
    "autofs",   "binfmt_misc", "bpf",     "cgroup",    "cgroup2",    "configfs",   "debugfs",
    "devpts",   "devtmpfs",    "fusectl", "hugetlbfs", "iso9660",    "mqueue",     "nsfs",
    "overlay",  "proc",        "procfs",  "pstore",    "rpc_pipefs", "securityfs", "selinuxfs",
    "squashfs", "erofs",       "sysfs",   "tracefs"};
#define SYSTEM_SKIP_MOUNT_RE                                                                       \
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
/* Partitions, RAM and loop devices: their I/O is counted on the whole disk already. */
#define SYSTEM_SKIP_DISK_RE "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme[0-9]+n[0-9]+p)[0-9]+$"

struct system_ctx {
    struct metric_list *out;
    const char *root;
    char *err;
    size_t errlen;
    int rc;
    int mount_timeout_ms;
    int (*statvfs)(const char *path, struct statvfs *st);
};

/* Records the first failure; the other readers go on. */
static void system_fail(struct system_ctx *c, const char *what, const char *why)
{
    if (c->rc == 0)
        err_set(c->err, c->errlen, "%s: %s", what, why);
    c->rc = -1;
}

static FILE *system_open(struct system_ctx *c, const char *path)
{
    char full[4096];
    snprintf(full, sizeof full, "%s%s", c->root, path);
    FILE *f = fopen(full, "re");
    if (!f)
        system_fail(c, full, strerror(errno));
    return f;
}

static void system_gauge(struct system_ctx *c, const char *name, const char *help, double v)
{
    metric_list_add(c->out, name, help, "gauge", v, 0);
}

/* ---- /proc/stat ------------------------------------------------------------------------------ */

static const char *const system_cpu_modes[] = {"user",   "nice", "system",  "idle",
                                               "iowait", "irq",  "softirq", "steal"};

static void system_cpu_line(struct system_ctx *c, const char *line, bool per_cpu, double hz)
{
    char cpu[32];
    unsigned long long t[8] = {0};
    int n = sscanf(line, "cpu%31s %llu %llu %llu %llu %llu %llu %llu %llu", cpu, &t[0], &t[1],
                   &t[2], &t[3], &t[4], &t[5], &t[6], &t[7]);
    bool total = line[3] == ' ';
    if (total)
        n = 1 + sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &t[0], &t[1], &t[2],
                       &t[3], &t[4], &t[5], &t[6], &t[7]);
    if (n < 5 || total == per_cpu)
        return;
    for (size_t m = 0; m < 8; m++)
        metric_list_add(c->out, "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                        "counter", (double)t[m] / hz, 2, "cpu", total ? "all" : cpu, "mode",
                        system_cpu_modes[m]);
}

static void system_stat(struct system_ctx *c, bool per_cpu)
{
    FILE *f = system_open(c, "/proc/stat");
    if (!f)
        return;
    long hz = sysconf(_SC_CLK_TCK);
    char line[SYSTEM_LINE_MAX];
    unsigned long long v;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "cpu", 3) == 0)
            system_cpu_line(c, line, per_cpu, hz > 0 ? (double)hz : 100.0);
        else if (sscanf(line, "btime %llu", &v) == 1)
            system_gauge(c, "node_boot_time_seconds", "Node boot time, in unixtime.", (double)v);
        else if (sscanf(line, "ctxt %llu", &v) == 1)
            metric_list_add(c->out, "node_context_switches_total",
                            "Total number of context switches.", "counter", (double)v, 0);
        else if (sscanf(line, "intr %llu", &v) == 1)
            metric_list_add(c->out, "node_intr_total", "Total number of interrupts serviced.",
                            "counter", (double)v, 0);
        else if (sscanf(line, "processes %llu", &v) == 1)
            metric_list_add(c->out, "node_forks_total", "Total number of forks.", "counter",
                            (double)v, 0);
        else if (sscanf(line, "procs_running %llu", &v) == 1)
            system_gauge(c, "node_procs_running", "Number of processes in runnable state.",
                         (double)v);
        else if (sscanf(line, "procs_blocked %llu", &v) == 1)
            system_gauge(c, "node_procs_blocked", "Number of processes blocked waiting for I/O.",
                         (double)v);
    }
    fclose(f);
}

/* ---- load, memory, file descriptors -------------------------------------------------------- */

static void system_load(struct system_ctx *c)
{
    FILE *f = system_open(c, "/proc/loadavg");
    if (!f)
        return;
    double l1, l5, l15;
    if (fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3) {
        system_gauge(c, "node_load1", "1m load average.", l1);
        system_gauge(c, "node_load5", "5m load average.", l5);
        system_gauge(c, "node_load15", "15m load average.", l15);
    } else {
        system_fail(c, "/proc/loadavg", "not three load averages");
    }
    fclose(f);
}

/* Every /proc/meminfo line, as node_exporter names it: "Active(anon): 12 kB" is
 * node_memory_Active_anon_bytes 12288; a line without kB keeps its number and has no suffix. */
static void system_meminfo(struct system_ctx *c)
{
    FILE *f = system_open(c, "/proc/meminfo");
    if (!f)
        return;
    char line[SYSTEM_LINE_MAX];
    while (fgets(line, sizeof line, f)) {
        char key[64], unit[8] = "";
        unsigned long long v;
        if (sscanf(line, "%63[^:]: %llu %7s", key, &v, unit) < 2)
            continue;
        for (char *p = key; *p; p++)
            if (*p == '(')
                *p = '_';
        key[strcspn(key, ")")] = '\0';
        bool kb = strcmp(unit, "kB") == 0;
        char name[128];
        snprintf(name, sizeof name, "node_memory_%s%s", key, kb ? "_bytes" : "");
        if (!metric_name_valid(name))
            continue;
        metric_list_add(c->out, name, "Memory information field from /proc/meminfo.", "gauge",
                        kb ? (double)v * 1024.0 : (double)v, 0);
    }
    fclose(f);
}

static void system_filefd(struct system_ctx *c)
{
    FILE *f = system_open(c, "/proc/sys/fs/file-nr");
    if (!f)
        return;
    unsigned long long allocated, unused, max;
    if (fscanf(f, "%llu %llu %llu", &allocated, &unused, &max) == 3) {
        system_gauge(c, "node_filefd_allocated", "File descriptor statistics: allocated.",
                     (double)allocated);
        system_gauge(c, "node_filefd_maximum", "File descriptor statistics: maximum.", (double)max);
    }
    fclose(f);
}

/* ---- file systems ---------------------------------------------------------------------------- */

/* Undoes /proc/mounts' octal escapes ("\040" is a space) in place. */
static void system_unescape_mount(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static bool system_pseudo(const char *fstype)
{
    for (size_t i = 0; i < sizeof system_pseudo_fs / sizeof system_pseudo_fs[0]; i++)
        if (strcmp(fstype, system_pseudo_fs[i]) == 0)
            return true;
    return false;
}

struct system_mount {
    char device[256], mountpoint[1024], fstype[64];
    bool readonly;
    bool stuck; /* its statvfs of an earlier walk has not returned: not asked */
    long item;  /* its statvfs in the walk; -1: not asked (stuck, or covered by a later mount) */
};

/* The walk's statvfs calls, made one after the other by a detached thread of its own. The walk
 * frees it when the thread got through in time; else (abandoned) the thread frees it once its
 * blocked call returns. */
struct statvfs_walk {
    int (*call)(const char *path, struct statvfs *st);
    size_t n, next; /* next: the mount being asked (under statvfs_lock); n: all asked */
    bool abandoned; /* under statvfs_lock */
    struct statvfs_item {
        char path[2048];
        struct statvfs st;
        int rc;
    } items[];
};

/* Guards each walk's next and abandoned, and the stuck list. */
static pthread_mutex_t statvfs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t statvfs_progress;
static pthread_once_t statvfs_once = PTHREAD_ONCE_INIT;
/* The paths whose statvfs has not returned: each the item of an abandoned walk. */
static const char *stuck[SYSTEM_MOUNTS_MAX];
static size_t nstuck;

static void statvfs_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&statvfs_progress, &attr);
    pthread_condattr_destroy(&attr);
}

static bool statvfs_stuck(const char *path)
{
    for (size_t i = 0; i < nstuck; i++)
        if (strcmp(stuck[i], path) == 0)
            return true;
    return false;
}

static void *statvfs_thread(void *arg)
{
    struct statvfs_walk *w = arg;
    pthread_mutex_lock(&statvfs_lock);
    while (w->next < w->n && !w->abandoned) {
        struct statvfs_item *it = &w->items[w->next];
        pthread_mutex_unlock(&statvfs_lock);
        it->rc = w->call(it->path, &it->st);
        pthread_mutex_lock(&statvfs_lock);
        w->next++;
        pthread_cond_broadcast(&statvfs_progress);
    }
    /* Past the walk's deadline: its item that was stuck is stuck no more. */
    bool abandoned = w->abandoned;
    for (size_t i = 0; abandoned && i < nstuck; i++)
        if ((uintptr_t)stuck[i] >= (uintptr_t)w->items &&
            (uintptr_t)stuck[i] < (uintptr_t)&w->items[w->n])
            stuck[i--] = stuck[--nstuck];
    pthread_mutex_unlock(&statvfs_lock); /* not abandoned: the walk frees w from here on */
    if (abandoned)
        free(w);
    return NULL;
}

static void system_filesystem(struct system_ctx *c, const struct system_mount *m,
                              const struct statvfs_item *it)
{
    metric_list_add(c->out, "node_filesystem_device_error",
                    "Whether an error occurred while getting statistics for the given device.",
                    "gauge", it && it->rc == 0 ? 0.0 : 1.0, 3, "device", m->device, "fstype",
                    m->fstype, "mountpoint", m->mountpoint);
    if (!it || it->rc != 0)
        return; /* hung, gone since it was listed or not ours to read: as node_exporter, only
                 * node_filesystem_device_error 1 */
    const struct statvfs st = it->st;
    struct {
        const char *name, *help;
        double value;
    } fields[] = {
        {"node_filesystem_size_bytes", "Filesystem size in bytes.",
         (double)st.f_blocks * (double)st.f_frsize},
        {"node_filesystem_free_bytes", "Filesystem free space in bytes.",
         (double)st.f_bfree * (double)st.f_frsize},
        {"node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.",
         (double)st.f_bavail * (double)st.f_frsize},
        {"node_filesystem_files", "Filesystem total file nodes.", (double)st.f_files},
        {"node_filesystem_files_free", "Filesystem total free file nodes.", (double)st.f_ffree},
        {"node_filesystem_readonly", "Filesystem read-only status.",
         m->readonly || (st.f_flag & ST_RDONLY) ? 1.0 : 0.0},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        metric_list_add(c->out, fields[i].name, fields[i].help, "gauge", fields[i].value, 3,
                        "device", m->device, "fstype", m->fstype, "mountpoint", m->mountpoint);
}

/* Reads /proc/mounts into mounts; returns how many. */
static size_t system_read_mounts(struct system_ctx *c, struct system_mount *mounts,
                                 const regex_t *skip)
{
    FILE *f = system_open(c, "/proc/mounts");
    if (!f)
        return 0;
    size_t n = 0;
    char line[SYSTEM_LINE_MAX];
    while (n < SYSTEM_MOUNTS_MAX && fgets(line, sizeof line, f)) {
        struct system_mount *m = &mounts[n];
        char opts[1024];
        if (sscanf(line, "%255s %1023s %63s %1023s", m->device, m->mountpoint, m->fstype, opts) !=
            4)
            continue;
        system_unescape_mount(m->device);
        system_unescape_mount(m->mountpoint);
        if (system_pseudo(m->fstype) || regexec(skip, m->mountpoint, 0, NULL, 0) == 0)
            continue;
        m->readonly = strncmp(opts, "ro", 2) == 0 && (opts[2] == ',' || opts[2] == '\0');
        n++;
    }
    fclose(f);
    return n;
}

/* The walk's statvfs items: each mount neither covered by a later one nor stuck, its item index
 * in m->item (-1: none). NULL when out of memory. */
static struct statvfs_walk *statvfs_walk_new(struct system_ctx *c, struct system_mount *mounts,
                                             size_t n)
{
    struct statvfs_walk *w = calloc(1, sizeof *w + n * sizeof w->items[0]);
    if (!w)
        return NULL;
    w->call = c->statvfs ? c->statvfs : statvfs;
    for (size_t i = 0; i < n; i++) {
        mounts[i].item = -1;
        bool covered = false; /* a later mount on the same point hides this one */
        for (size_t j = i + 1; j < n && !covered; j++)
            covered = strcmp(mounts[i].mountpoint, mounts[j].mountpoint) == 0;
        if (covered)
            continue;
        struct statvfs_item *it = &w->items[w->n];
        snprintf(it->path, sizeof it->path, "%s%s", c->root, mounts[i].mountpoint);
        pthread_mutex_lock(&statvfs_lock);
        mounts[i].stuck = statvfs_stuck(it->path);
        pthread_mutex_unlock(&statvfs_lock);
        if (!mounts[i].stuck)
            mounts[i].item = (long)w->n++;
    }
    return w;
}

/* Runs w's statvfs calls on a thread and waits for them up to the timeout, under statvfs_lock
 * on return. Returns whether the thread got through (else w is abandoned, its thread's). */
static bool statvfs_walk_run(struct system_ctx *c, struct statvfs_walk *w)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    bool started = w->n == 0 || pthread_create(&t, &attr, statvfs_thread, w) == 0;
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&statvfs_lock);
    if (!started) { /* no thread: every mount unread this walk */
        for (size_t i = 0; i < w->n; i++)
            w->items[i].rc = -1;
        w->next = w->n;
        return true;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += c->mount_timeout_ms / 1000;
    deadline.tv_nsec += (long)(c->mount_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (w->next < w->n &&
           pthread_cond_timedwait(&statvfs_progress, &statvfs_lock, &deadline) != ETIMEDOUT)
        ;
    if (w->next == w->n)
        return true;
    w->abandoned = true;
    if (nstuck < SYSTEM_MOUNTS_MAX)
        stuck[nstuck++] = w->items[w->next].path;
    return false;
}

static void system_filesystems(struct system_ctx *c)
{
    regex_t skip;
    struct system_mount *mounts = calloc(SYSTEM_MOUNTS_MAX, sizeof *mounts);
    if (!mounts || regcomp(&skip, SYSTEM_SKIP_MOUNT_RE, REG_EXTENDED | REG_NOSUB) != 0) {
        free(mounts);
        system_fail(c, "file systems", "out of memory");
        return;
    }
    size_t n = system_read_mounts(c, mounts, &skip);
    regfree(&skip);
    pthread_once(&statvfs_once, statvfs_init);
    struct statvfs_walk *w = statvfs_walk_new(c, mounts, n);
    if (!w) {
        free(mounts);
        system_fail(c, "file systems", "out of memory");
        return;
    }
    bool through = statvfs_walk_run(c, w); /* statvfs_lock held from here */
    const char *hung = NULL;
    size_t unread = 0;
    for (size_t i = 0; i < n; i++) {
        long k = mounts[i].item;
        if (k < 0 && !mounts[i].stuck)
            continue; /* covered */
        bool answered = k >= 0 && (size_t)k < w->next;
        if (!answered && !hung)
            hung = mounts[i].mountpoint;
        else if (!answered && k >= 0 && (size_t)k > w->next)
            unread++; /* after the hung one: read from the next walk on */
        if (answered || k < 0 || (size_t)k == w->next)
            system_filesystem(c, &mounts[i], answered ? &w->items[k] : NULL);
    }
    pthread_mutex_unlock(&statvfs_lock);
    if (through)
        free(w);
    if (hung) {
        char why[200];
        snprintf(why, sizeof why,
                 "statvfs did not answer within %d ms (not asked again until it does)%s",
                 c->mount_timeout_ms, unread ? "; the mounts after it are read next time" : "");
        system_fail(c, hung, why);
    }
    free(mounts);
}

/* ---- disks and network --------------------------------------------------------------------- */

static void system_counter(struct system_ctx *c, const char *name, const char *help, double v,
                           const char *device)
{
    metric_list_add(c->out, name, help, "counter", v, 1, "device", device);
}

static void system_diskstats(struct system_ctx *c)
{
    regex_t skip;
    if (regcomp(&skip, SYSTEM_SKIP_DISK_RE, REG_EXTENDED | REG_NOSUB) != 0) {
        system_fail(c, "disks", "out of memory");
        return;
    }
    FILE *f = system_open(c, "/proc/diskstats");
    char line[SYSTEM_LINE_MAX];
    while (f && fgets(line, sizeof line, f)) {
        char dev[64];
        unsigned long long v[11];
        if (sscanf(line, "%*u %*u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", dev,
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
                   &v[10]) != 12 ||
            regexec(&skip, dev, 0, NULL, 0) == 0)
            continue;
        system_counter(c, "node_disk_reads_completed_total",
                       "The total number of reads completed successfully.", (double)v[0], dev);
        system_counter(c, "node_disk_reads_merged_total", "The total number of reads merged.",
                       (double)v[1], dev);
        system_counter(c, "node_disk_read_bytes_total",
                       "The total number of bytes read successfully.", (double)v[2] * 512.0, dev);
        system_counter(c, "node_disk_read_time_seconds_total",
                       "The total number of seconds spent by all reads.", (double)v[3] / 1000.0,
                       dev);
        system_counter(c, "node_disk_writes_completed_total",
                       "The total number of writes completed successfully.", (double)v[4], dev);
        system_counter(c, "node_disk_writes_merged_total", "The number of writes merged.",
                       (double)v[5], dev);
        system_counter(c, "node_disk_written_bytes_total",
                       "The total number of bytes written successfully.", (double)v[6] * 512.0,
                       dev);
        system_counter(c, "node_disk_write_time_seconds_total",
                       "This is the total number of seconds spent by all writes.",
                       (double)v[7] / 1000.0, dev);
        metric_list_add(c->out, "node_disk_io_now", "The number of I/Os currently in progress.",
                        "gauge", (double)v[8], 1, "device", dev);
        system_counter(c, "node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.",
                       (double)v[9] / 1000.0, dev);
        system_counter(c, "node_disk_io_time_weighted_seconds_total",
                       "The weighted number of seconds spent doing I/Os.", (double)v[10] / 1000.0,
                       dev);
    }
    if (f)
        fclose(f);
    regfree(&skip);
}

static void system_netdev(struct system_ctx *c)
{
    FILE *f = system_open(c, "/proc/net/dev");
    char line[SYSTEM_LINE_MAX];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        unsigned long long v[16];
        if (!colon)
            continue; /* the two header lines */
        *colon = '\0';
        char *dev = line + strspn(line, " ");
        if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
                   &v[11]) != 12)
            continue;
        system_counter(c, "node_network_receive_bytes_total",
                       "Network device statistic receive_bytes.", (double)v[0], dev);
        system_counter(c, "node_network_receive_packets_total",
                       "Network device statistic receive_packets.", (double)v[1], dev);
        system_counter(c, "node_network_receive_errs_total",
                       "Network device statistic receive_errs.", (double)v[2], dev);
        system_counter(c, "node_network_receive_drop_total",
                       "Network device statistic receive_drop.", (double)v[3], dev);
        system_counter(c, "node_network_transmit_bytes_total",
                       "Network device statistic transmit_bytes.", (double)v[8], dev);
        system_counter(c, "node_network_transmit_packets_total",
                       "Network device statistic transmit_packets.", (double)v[9], dev);
        system_counter(c, "node_network_transmit_errs_total",
                       "Network device statistic transmit_errs.", (double)v[10], dev);
        system_counter(c, "node_network_transmit_drop_total",
                       "Network device statistic transmit_drop.", (double)v[11], dev);
    }
    if (f)
        fclose(f);
}

static void system_uname(struct system_ctx *c)
{
    struct utsname u;
    if (uname(&u) != 0) {
        system_fail(c, "uname", strerror(errno));
        return;
    }
    metric_list_add(c->out, "node_uname_info",
                    "Labeled system information as provided by the uname system call.", "gauge", 1,
                    6, "sysname", u.sysname, "release", u.release, "version", u.version, "machine",
                    u.machine, "nodename", u.nodename, "domainname", u.domainname);
}

static int system_collect(struct metric_list *out, const struct collect_options *opts, char *err,
                          size_t errlen)
{
    int mount_ms = opts->mount_timeout_ms ? opts->mount_timeout_ms : SYSTEM_MOUNT_TIMEOUT_MS;
    if (!opts->mount_timeout_ms && opts->command_timeout_ms > 0 &&
        opts->command_timeout_ms < mount_ms)
        mount_ms = opts->command_timeout_ms;
    struct system_ctx c = {.out = out,
                           .root = opts->root ? opts->root : "",
                           .err = err,
                           .errlen = errlen,
                           .mount_timeout_ms = mount_ms,
                           .statvfs = opts->statvfs};
    system_stat(&c, opts->per_cpu);
    system_load(&c);
    system_meminfo(&c);
    system_filefd(&c);
    system_filesystems(&c);
    system_diskstats(&c);
    system_netdev(&c);
    system_uname(&c);
    system_gauge(&c, "node_time_seconds", "System time in seconds since epoch (1970).",
                 (double)clock_wall_ms() / 1000.0);
    return c.rc;
}

const struct collector collect_system = {"system", system_collect, 0};
