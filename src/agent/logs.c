/* logs.c — the agent's JSONL line writer, rotation, mtr files and the size budget of
 * DATA_DIR/logs; see logs.h for the writing model and its guarantees. */
#include "agent/logs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"

#define LOGS_STACK_LINE 4096
#define LOGS_REPAIR_BLOCK 4096

/* ---- one append-only JSONL file ------------------------------------------------------------- */

struct jsonl {
    int fd;
    int64_t size;
    char path[PATH_MAX];
};

/* Where the last complete line ends (0 when there is none), reading backwards from size. */
static int64_t jsonl_last_newline_end(int fd, int64_t size)
{
    char block[LOGS_REPAIR_BLOCK];
    int64_t end = size;
    while (end > 0) {
        int64_t start = end > LOGS_REPAIR_BLOCK ? end - LOGS_REPAIR_BLOCK : 0;
        ssize_t n = pread(fd, block, (size_t)(end - start), start);
        if (n <= 0)
            return -1;
        for (ssize_t i = n - 1; i >= 0; i--)
            if (block[i] == '\n')
                return start + i + 1;
        end = start;
    }
    return 0;
}

/* Cuts a trailing partial line off an open file; sets *size to the length after. */
static int jsonl_repair(int fd, int64_t *size, int64_t *cut, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return err_set(err, errlen, "stat: %s", strerror(errno));
    *size = st.st_size;
    *cut = 0;
    if (*size == 0)
        return 0;
    char last;
    if (pread(fd, &last, 1, *size - 1) != 1)
        return err_set(err, errlen, "read: %s", strerror(errno));
    if (last == '\n')
        return 0;
    int64_t keep = jsonl_last_newline_end(fd, *size);
    if (keep < 0 || ftruncate(fd, keep) != 0)
        return err_set(err, errlen, "cutting a partial last line: %s", strerror(errno));
    *cut = *size - keep;
    *size = keep;
    return 0;
}

static int jsonl_open_fd(struct jsonl *f, int64_t *repaired, char *err, size_t errlen)
{
    int64_t cut = 0;
    int fd = open(f->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(err, errlen, "%s: %s", f->path, strerror(errno));
    char why[200];
    if (jsonl_repair(fd, &f->size, &cut, why, sizeof why) != 0) {
        close(fd);
        return err_set(err, errlen, "%s: %s", f->path, why);
    }
    f->fd = fd;
    if (repaired)
        *repaired = cut;
    return 0;
}

struct jsonl *jsonl_open(const char *path, int64_t *repaired_bytes, char *err, size_t errlen)
{
    struct jsonl *f = calloc(1, sizeof *f);
    if (!f) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    if (strlen(path) >= sizeof f->path) {
        err_set(err, errlen, "%s: path too long", path);
        free(f);
        return NULL;
    }
    strcpy(f->path, path);
    if (jsonl_open_fd(f, repaired_bytes, err, errlen) != 0) {
        free(f);
        return NULL;
    }
    return f;
}

void jsonl_free(struct jsonl *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f);
}

int jsonl_append(struct jsonl *f, const char *text, size_t len, char *err, size_t errlen)
{
    if (memchr(text, '\n', len))
        return err_set(err, errlen, "%s: a record must not contain a newline", f->path);
    char stack[LOGS_STACK_LINE];
    char *line = len < sizeof stack ? stack : malloc(len + 1);
    if (!line)
        return err_set(err, errlen, "out of memory");
    memcpy(line, text, len);
    line[len] = '\n';
    ssize_t n;
    do
        n = write(f->fd, line, len + 1);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    if (line != stack)
        free(line);
    if (n == (ssize_t)(len + 1)) {
        f->size += n;
        return 0;
    }
    /* A short write (disk full) leaves part of a line: take it back so readers never see it. */
    if (n > 0 && ftruncate(f->fd, f->size) != 0)
        saved = errno;
    return err_set(err, errlen, "%s: %s", f->path, n < 0 ? strerror(saved) : "short write");
}

int64_t jsonl_size(const struct jsonl *f)
{
    return f->size;
}

const char *jsonl_path(const struct jsonl *f)
{
    return f->path;
}

int jsonl_fd(const struct jsonl *f)
{
    return f->fd;
}

int jsonl_truncate(struct jsonl *f, char *err, size_t errlen)
{
    if (ftruncate(f->fd, 0) != 0)
        return err_set(err, errlen, "%s: %s", f->path, strerror(errno));
    f->size = 0;
    return 0;
}

int jsonl_reopen(struct jsonl *f, char *err, size_t errlen)
{
    int old = f->fd;
    if (jsonl_open_fd(f, NULL, err, errlen) != 0)
        return -1;
    close(old);
    return 0;
}

int jsonl_rotate(struct jsonl *f, char *err, size_t errlen)
{
    char older[PATH_MAX + 2];
    snprintf(older, sizeof older, "%s.1", f->path);
    if (rename(f->path, older) != 0)
        return err_set(err, errlen, "%s: rotating to .1: %s", f->path, strerror(errno));
    return jsonl_reopen(f, err, errlen);
}

/* ---- the agent's log folder ----------------------------------------------------------------- */

struct mtr_file {
    char name[LOGS_MTR_NAME_MAX]; /* "mtr/....json" */
    int64_t size;
};

static const char *const logs_stream_file[] = {"metrics.jsonl", "diagnostics.jsonl"};

struct agent_logs {
    char dir[PATH_MAX];
    int64_t budget;
    int64_t start_ms;
    uint64_t next_seq[2]; /* metric, diagnostic */
    struct jsonl *stream[2];
    int64_t rotated_size[2]; /* the .1 files, 0 when absent */
    struct mtr_file *mtr;    /* oldest first (names sort by time) */
    size_t n_mtr, cap_mtr;
    int64_t mtr_bytes;
};

/* mkdir -p for one path. */
static int logs_mkdirs(const char *path, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set(err, errlen, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return err_set(err, errlen, "cannot create %s: %s", buf, strerror(errno));
        if (end)
            break;
        *p = '/';
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, errlen, "%s is not a directory", buf);
    return 0;
}

static int64_t logs_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static void logs_path(const struct agent_logs *l, const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", l->dir, rel);
}

static int mtr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct mtr_file *)a)->name, ((const struct mtr_file *)b)->name);
}

static int logs_mtr_add(struct agent_logs *l, const char *name, int64_t size)
{
    if (l->n_mtr == l->cap_mtr) {
        size_t cap = l->cap_mtr ? l->cap_mtr * 2 : 64;
        struct mtr_file *m = realloc(l->mtr, cap * sizeof *m);
        if (!m)
            return -1;
        l->mtr = m;
        l->cap_mtr = cap;
    }
    snprintf(l->mtr[l->n_mtr].name, sizeof l->mtr[0].name, "%s", name);
    l->mtr[l->n_mtr++].size = size;
    l->mtr_bytes += size;
    return 0;
}

/* Lists logs/mtr (and removes temporary files a crash left there). */
static int logs_mtr_scan(struct agent_logs *l, char *err, size_t errlen)
{
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/mtr", l->dir);
    DIR *d = opendir(dir);
    if (!d)
        return err_set(err, errlen, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".tmp")) {
            unlink(path);
            continue;
        }
        char name[LOGS_MTR_NAME_MAX];
        if (snprintf(name, sizeof name, "mtr/%s", e->d_name) >= (int)sizeof name)
            continue; /* not ours: longer than any name we write */
        if (logs_mtr_add(l, name, st.st_size) != 0) {
            closedir(d);
            return err_set(err, errlen, "out of memory");
        }
    }
    closedir(d);
    if (l->n_mtr > 1)
        qsort(l->mtr, l->n_mtr, sizeof *l->mtr, mtr_cmp);
    return 0;
}

static int logs_open_streams(struct agent_logs *l, char *err, size_t errlen)
{
    for (int s = 0; s < 2; s++) {
        char path[PATH_MAX + 64];
        logs_path(l, logs_stream_file[s], path, sizeof path);
        l->stream[s] = jsonl_open(path, NULL, err, errlen);
        if (!l->stream[s])
            return -1;
        char older[PATH_MAX + 70];
        snprintf(older, sizeof older, "%s.1", path);
        l->rotated_size[s] = logs_file_size(older);
    }
    return 0;
}

/* A stream already past its share (LOG_MAX_MB smaller than last time) rotates at once. */
static void logs_rotate_oversized(struct agent_logs *l)
{
    for (int s = 0; s < 2; s++) {
        int64_t size = jsonl_size(l->stream[s]);
        if (size > l->budget * LOGS_STREAM_SHARE_PCT / 100 &&
            jsonl_rotate(l->stream[s], NULL, 0) == 0)
            l->rotated_size[s] = size;
    }
}

struct agent_logs *agent_logs_open(const char *data_dir, int64_t max_bytes, int64_t start_wall_ms,
                                   char *err, size_t errlen)
{
    struct agent_logs *l = calloc(1, sizeof *l);
    if (!l) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    l->budget = max_bytes;
    l->start_ms = start_wall_ms;
    char mtr_dir[PATH_MAX + 8];
    if (snprintf(l->dir, sizeof l->dir, "%s/logs", data_dir) >= (int)sizeof l->dir - 8) {
        err_set(err, errlen, "DATA_DIR: path too long");
        goto fail;
    }
    snprintf(mtr_dir, sizeof mtr_dir, "%s/mtr", l->dir);
    if (logs_mkdirs(mtr_dir, err, errlen) != 0 || logs_open_streams(l, err, errlen) != 0 ||
        logs_mtr_scan(l, err, errlen) != 0)
        goto fail;
    logs_rotate_oversized(l);
    return l;
fail:
    agent_logs_free(l);
    return NULL;
}

void agent_logs_free(struct agent_logs *l)
{
    if (!l)
        return;
    jsonl_free(l->stream[0]);
    jsonl_free(l->stream[1]);
    free(l->mtr);
    free(l);
}

const char *agent_logs_dir(const struct agent_logs *l)
{
    return l->dir;
}

int64_t agent_logs_budget(const struct agent_logs *l)
{
    return l->budget;
}

int64_t agent_logs_backlog_cap(const struct agent_logs *l)
{
    return l->budget * LOGS_BACKLOG_SHARE_PCT / 100;
}

void agent_logs_next_id(struct agent_logs *l, char kind, char *buf, size_t len)
{
    uint64_t seq = ++l->next_seq[kind == 'd'];
    snprintf(buf, len, "%c-%" PRId64 "-%" PRIu64, kind, l->start_ms, seq);
}

int agent_logs_append(struct agent_logs *l, enum logs_stream s, const char *line, size_t len,
                      char *err, size_t errlen)
{
    struct jsonl *f = l->stream[s];
    int64_t share = l->budget * LOGS_STREAM_SHARE_PCT / 100;
    if (jsonl_size(f) > 0 && jsonl_size(f) + (int64_t)len + 1 > share) {
        int64_t size = jsonl_size(f);
        if (jsonl_rotate(f, err, errlen) != 0)
            return -1;
        l->rotated_size[s] = size;
    }
    return jsonl_append(f, line, len, err, errlen);
}

void agent_logs_mtr_name(int64_t wall_ms, char *buf, size_t len)
{
    char iso[CLOCK_ISO_LEN];
    clock_format_iso(wall_ms, iso, sizeof iso);
    char compact[CLOCK_ISO_LEN];
    size_t n = 0;
    for (const char *p = iso; *p && n + 1 < sizeof compact; p++)
        if (*p != '-' && *p != ':')
            compact[n++] = *p;
    compact[n] = '\0';
    snprintf(buf, len, "mtr/%s.json", compact);
}

int agent_logs_write_mtr(struct agent_logs *l, const char *name, const char *json, size_t len,
                         char *err, size_t errlen)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 70];
    logs_path(l, name, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(err, errlen, "%s: %s", tmp, strerror(errno));
    ssize_t n = write(fd, json, len);
    int saved = errno;
    close(fd);
    if (n != (ssize_t)len || rename(tmp, path) != 0) {
        if (n == (ssize_t)len)
            saved = errno;
        unlink(tmp);
        return err_set(err, errlen, "%s: %s", path, n >= 0 ? "short write" : strerror(saved));
    }
    if (logs_mtr_add(l, name, (int64_t)len) != 0)
        return err_set(err, errlen, "out of memory");
    return 0;
}

int64_t agent_logs_total(const struct agent_logs *l)
{
    return jsonl_size(l->stream[0]) + jsonl_size(l->stream[1]) + l->rotated_size[0] +
           l->rotated_size[1] + l->mtr_bytes;
}

static void logs_drop_oldest_mtr(struct agent_logs *l)
{
    char path[PATH_MAX + 64];
    logs_path(l, l->mtr[0].name, path, sizeof path);
    unlink(path);
    l->mtr_bytes -= l->mtr[0].size;
    memmove(l->mtr, l->mtr + 1, (l->n_mtr - 1) * sizeof *l->mtr);
    l->n_mtr--;
}

static void logs_drop_rotated(struct agent_logs *l, int s)
{
    char path[PATH_MAX + 70];
    snprintf(path, sizeof path, "%s.1", jsonl_path(l->stream[s]));
    unlink(path);
    l->rotated_size[s] = 0;
}

int agent_logs_enforce(struct agent_logs *l, int64_t other_bytes)
{
    int removed = 0;
    while (agent_logs_total(l) + other_bytes > l->budget) {
        if (l->n_mtr > 0)
            logs_drop_oldest_mtr(l);
        else if (l->rotated_size[LOGS_METRICS] > 0)
            logs_drop_rotated(l, LOGS_METRICS);
        else if (l->rotated_size[LOGS_DIAGNOSTICS] > 0)
            logs_drop_rotated(l, LOGS_DIAGNOSTICS);
        else
            break;
        removed++;
    }
    return removed;
}
