/* report.c — the report's section table and its collection: the process table is read once,
 * then every section runs on its own thread with its own timeouts, and the document is assembled
 * in table order with the top-level members (timestamp, hostname, version, collect_ms, errors).
 * See report.h. */
#include "report/report_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "collect/collect.h"

static const struct report_section *const report_sections[] = {
    &report_system,     &report_services,   &report_network_sockets,
    &report_network_fw, &report_network_wg, &report_processes,
    &report_gpu,        &report_faultline,  &report_netcheck,
};

/* The sections' members, in the order the document lists them ("probes", an array, last). */
static const char *const report_members[] = {"system", "services", "network",  "processes",
                                             "tls",    "gpu",      "faultline"};
#define REPORT_SECTION_COUNT (sizeof report_sections / sizeof report_sections[0])

static void report_fail_va(struct report_job *job, const char *section, const char *fmt, va_list ap)
{
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    json_array_append_new(job->errors, json_pack("{s:s, s:s}", "section", section, "error", text));
}

void report_fail(struct report_job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_fail_va(job, job->section->name, fmt, ap);
    va_end(ap);
}

void report_fail_in(struct report_job *job, const char *section, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_fail_va(job, section, fmt, ap);
    va_end(ap);
}

char *report_read_file(const char *root, const char *path, size_t cap)
{
    char full[4096];
    snprintf(full, sizeof full, "%s%s", root, path);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(cap + 1);
    size_t len = 0;
    ssize_t n = 0;
    while (buf && len < cap && (n = read(fd, buf + len, cap - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t)n;
    }
    int saved = errno;
    close(fd);
    if (buf && n < 0) {
        free(buf);
        errno = saved;
        return NULL;
    }
    if (buf)
        buf[len] = '\0';
    return buf;
}

size_t report_list_each(const char *list, void (*fn)(const char *item, void *ctx), void *ctx)
{
    size_t count = 0;
    const char *p = list ? list : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        if (len > 0 && len < 4096) {
            char item[4096];
            memcpy(item, p, len);
            item[len] = '\0';
            fn(item, ctx);
            count++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return count;
}

json_t *report_real2(double v)
{
    return isfinite(v) ? json_real(round(v * 100.0) / 100.0) : json_null();
}

json_t *report_int_or_null(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

json_t *report_text_or_null(const char *text)
{
    return text && *text ? json_string(text) : json_null();
}

const char *report_sample_label(const struct metric_sample *s, const char *name)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return "";
}

/* ---- the process table ---------------------------------------------------------------------- */

/* Fills p from /proc/PID/stat ("pid (comm) S ppid ...", comm may hold spaces and parentheses)
 * and cmdline. Returns false when the process is gone. */
static bool report_proc_read(const char *root, pid_t pid, struct report_proc *p)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *stat = report_read_file(root, path, 1024);
    char *open_paren = stat ? strchr(stat, '(') : NULL;
    char *close_paren = stat ? strrchr(stat, ')') : NULL;
    int ppid = 0;
    if (!open_paren || !close_paren || close_paren < open_paren ||
        sscanf(close_paren + 1, " %c %d", &p->state, &ppid) != 2) {
        free(stat);
        return false;
    }
    *close_paren = '\0';
    p->pid = pid;
    p->ppid = (pid_t)ppid;
    snprintf(p->comm, sizeof p->comm, "%s", open_paren + 1);
    free(stat);
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    char *cmd = report_read_file(root, path, 4096);
    p->arg0[0] = p->arg1[0] = '\0';
    if (cmd && *cmd) {
        const char *slash = strrchr(cmd, '/');
        snprintf(p->arg0, sizeof p->arg0, "%s", slash ? slash + 1 : cmd);
        const char *next = cmd + strlen(cmd) + 1;
        if (*next)
            snprintf(p->arg1, sizeof p->arg1, "%s", next);
    }
    free(cmd);
    return true;
}

int report_procs_read(const char *root, struct report_procs *procs, char *err, size_t errlen)
{
    procs->items = NULL;
    procs->count = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/proc", root);
    DIR *d = opendir(dir);
    if (!d)
        return err_set(err, errlen, "%s: %s", dir, strerror(errno));
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (procs->count == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct report_proc *n = realloc(procs->items, ncap * sizeof *n);
            if (!n)
                break;
            procs->items = n;
            cap = ncap;
        }
        if (report_proc_read(root, (pid_t)atoi(e->d_name), &procs->items[procs->count]))
            procs->count++;
    }
    closedir(d);
    return 0;
}

const struct report_proc *report_procs_find_faultline(const struct report_procs *procs,
                                                      const char *command)
{
    for (size_t i = 0; i < procs->count; i++) {
        const struct report_proc *p = &procs->items[i];
        if (p->state != 'Z' && strcmp(p->arg0, "faultline") == 0 && strcmp(p->arg1, command) == 0)
            return p;
    }
    return NULL;
}

void report_procs_free(struct report_procs *procs)
{
    free(procs->items);
    procs->items = NULL;
    procs->count = 0;
}

/* ---- collection ----------------------------------------------------------------------------- */

/* Merges src's members into dst: objects member by member, anything else replaced. */
static void report_merge(json_t *dst, json_t *src)
{
    const char *key;
    json_t *value;
    json_object_foreach(src, key, value)
    {
        json_t *have = json_object_get(dst, key);
        if (json_is_object(have) && json_is_object(value))
            report_merge(have, value);
        else
            json_object_set(dst, key, value);
    }
}

static void *report_job_run(void *arg)
{
    struct report_job *job = arg;
    job->section->collect(job);
    return NULL;
}

json_t *report_collect(const struct report_options *opts)
{
    int64_t t0 = clock_mono_ms();
    int64_t wall = clock_wall_ms();
    const char *root = opts->root ? opts->root : "";
    json_t *report = json_object();
    json_t *errors = json_array();
    struct report_procs procs;
    char err[512];
    if (report_procs_read(root, &procs, err, sizeof err) != 0)
        json_array_append_new(errors,
                              json_pack("{s:s, s:s}", "section", "processes", "error", err));

    struct report_job jobs[REPORT_SECTION_COUNT];
    pthread_t threads[REPORT_SECTION_COUNT];
    bool started[REPORT_SECTION_COUNT];
    for (size_t i = 0; i < REPORT_SECTION_COUNT; i++) {
        jobs[i] = (struct report_job){
            .section = report_sections[i],
            .opts = opts,
            .procs = &procs,
            .root = root,
            .data = json_object(),
            .errors = json_array(),
        };
        started[i] = pthread_create(&threads[i], NULL, report_job_run, &jobs[i]) == 0;
        if (!started[i])
            report_job_run(&jobs[i]); /* no thread to spare: run it here */
    }
    char iso[CLOCK_ISO_LEN], host[256] = "";
    clock_format_iso(wall, iso, sizeof iso);
    collect_hostname(host, sizeof host, err, sizeof err);
    json_object_set_new(report, "timestamp", json_string(iso));
    json_object_set_new(report, "timestamp_ms", json_integer(wall));
    json_object_set_new(report, "hostname", json_string(host));
    json_object_set_new(report, "version", json_string(FAULTLINE_VERSION));
    for (size_t i = 0; i < sizeof report_members / sizeof report_members[0]; i++)
        json_object_set_new(report, report_members[i], json_object());
    json_object_set_new(report, "probes", json_array());
    for (size_t i = 0; i < REPORT_SECTION_COUNT; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        const char *name = jobs[i].section->name;
        if (name)
            report_merge(json_object_get(report, name), jobs[i].data);
        else
            report_merge(report, jobs[i].data);
        json_decref(jobs[i].data);
        json_array_extend(errors, jobs[i].errors);
        json_decref(jobs[i].errors);
    }
    report_procs_free(&procs);
    json_object_set_new(report, "collect_ms", json_integer(clock_mono_ms() - t0));
    json_object_set_new(report, "errors", errors);
    return report;
}
