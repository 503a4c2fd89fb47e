/* processes.c — the report's "processes" section: zombies and orphans (processes of
 * REPORT_ORPHANS names whose parent is PID 1) from the process table report.c reads once, and
 * the panic and fatal lines of the REPORT_LOGS files (their last REPORT_LOG_TAIL bytes). */
#include "report/report_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPORT_LOG_TAIL (8 * 1024 * 1024)
#define REPORT_ZOMBIES_LISTED 100

struct report_orphan_ctx {
    const struct report_procs *procs;
    json_t *orphans;
};

static void report_orphans_of(const char *name, void *arg)
{
    struct report_orphan_ctx *c = arg;
    for (size_t i = 0; i < c->procs->count; i++) {
        const struct report_proc *p = &c->procs->items[i];
        if (p->ppid == 1 && p->state != 'Z' &&
            (strcmp(p->comm, name) == 0 || strcmp(p->arg0, name) == 0))
            json_array_append_new(c->orphans,
                                  json_pack("{s:s, s:I}", "name", name, "pid", (json_int_t)p->pid));
    }
}

/* Whether text[i..] starts with word (lower case), in any case. */
static bool report_word_at(const char *text, size_t i, size_t len, const char *word)
{
    return i + 5 <= len && strncasecmp(text + i, word, 5) == 0;
}

/* Counts lines holding "panic" and "fatal" (any case) in text[0..len): one pass, looking
 * closer only at a 'p' or an 'f' (a log of 8 MiB takes a few ms). */
static void report_log_count(const char *text, size_t len, json_int_t *panics, json_int_t *fatals)
{
    bool panic = false, fatal = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i] | 0x20;
        if (text[i] == '\n') {
            *panics += panic;
            *fatals += fatal;
            panic = fatal = false;
        } else if (c == 'p' && !panic) {
            panic = report_word_at(text, i, len, "panic");
        } else if (c == 'f' && !fatal) {
            fatal = report_word_at(text, i, len, "fatal");
        }
    }
    *panics += panic;
    *fatals += fatal;
}

struct report_log_ctx {
    struct report_job *job;
    json_t *logs;
    json_int_t panics;
};

/* Reads the last REPORT_LOG_TAIL bytes of path into a malloc'd text (*len bytes); NULL with
 * errno set. */
static char *report_log_tail(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    bool ok = fstat(fd, &st) == 0;
    if (!ok || !S_ISREG(st.st_mode)) {
        int e = ok ? EISDIR : errno;
        close(fd);
        errno = e;
        return NULL;
    }
    off_t start = st.st_size > REPORT_LOG_TAIL ? st.st_size - REPORT_LOG_TAIL : 0;
    size_t cap = (size_t)(st.st_size - start);
    char *buf = malloc(cap + 1);
    ssize_t n = buf ? pread(fd, buf, cap, start) : -1;
    int e = errno;
    close(fd);
    if (n < 0) {
        free(buf);
        errno = e;
        return NULL;
    }
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void report_log_of(const char *path, void *arg)
{
    struct report_log_ctx *c = arg;
    size_t len = 0;
    char *text = report_log_tail(path, &len);
    if (!text) {
        report_fail(c->job, "%s: %s", path, strerror(errno));
        json_array_append_new(
            c->logs, json_pack("{s:s, s:n, s:n}", "path", path, "panic_count", "fatal_count"));
        return;
    }
    json_int_t panics = 0, fatals = 0;
    report_log_count(text, len, &panics, &fatals);
    free(text);
    c->panics += panics;
    json_array_append_new(c->logs, json_pack("{s:s, s:I, s:I}", "path", path, "panic_count", panics,
                                             "fatal_count", fatals));
}

static void report_processes_collect(struct report_job *job)
{
    const struct report_settings *s = job->opts->settings;
    json_t *zombies = json_array();
    json_int_t zombie_count = 0;
    for (size_t i = 0; i < job->procs->count; i++) {
        const struct report_proc *p = &job->procs->items[i];
        if (p->state != 'Z')
            continue;
        if (zombie_count++ < REPORT_ZOMBIES_LISTED)
            json_array_append_new(zombies, json_pack("{s:I, s:I, s:s}", "pid", (json_int_t)p->pid,
                                                     "ppid", (json_int_t)p->ppid, "name", p->comm));
    }
    struct report_orphan_ctx oc = {job->procs, json_array()};
    report_list_each(s->orphans, report_orphans_of, &oc);
    struct report_log_ctx lc = {job, json_array(), 0};
    report_list_each(s->logs, report_log_of, &lc);
    json_object_set_new(job->data, "zombie_count", json_integer(zombie_count));
    json_object_set_new(job->data, "zombies", zombies);
    json_object_set_new(job->data, "orphan_count",
                        json_integer((json_int_t)json_array_size(oc.orphans)));
    json_object_set_new(job->data, "orphans", oc.orphans);
    json_object_set_new(job->data, "logs", lc.logs);
    json_object_set_new(job->data, "panic_count", json_integer(lc.panics));
}

const struct report_section report_processes = {"processes", report_processes_collect};
