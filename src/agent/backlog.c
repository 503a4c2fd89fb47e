/* backlog.c — backlog.jsonl and backlog.offset: append, chunks for upload, acknowledgement and
 * cutting to size; see backlog.h for the crash-safety rules. Everything runs on the caller's
 * thread but the cut's rewrite, which runs on the loop's thread pool (backlog_cut_job). */
#include "agent/backlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/logs.h"
#include "base/clock.h"
#include "base/err.h"

#define BACKLOG_METRIC_PREFIX "{\"kind\":\"metric\""

struct backlog_cut_job;

struct backlog {
    struct jsonl *file;
    struct jsonl *rejected; /* backlog.rejected.jsonl */
    int64_t offset;
    uint64_t generation;
    char offset_path[PATH_MAX];
    struct backlog_cut_job *cut; /* the cut in flight, or NULL; owned by the job itself */
};

/* One cut in flight. Ownership: backlog_cut_start allocates it and hands it to the thread pool;
 * it owns itself from then on and backlog_cut_done (its after-work callback, on the loop thread)
 * frees it. The worker thread touches only the fields marked "worker": their inputs are set
 * before uv_queue_work and never changed after, their outputs are read on the loop thread only
 * after the work is over (uv_queue_work orders the two). The worker never touches the backlog
 * handle: it reads through its own descriptor, a duplicate that it closes itself, so that
 * neither a reopen nor backlog_free can close it underneath. */
struct backlog_cut_job {
    uv_work_t work;
    struct backlog *backlog; /* loop thread; NULL once backlog_free abandoned the job */
    backlog_cut_cb cb;       /* loop thread */
    void *ctx;
    /* worker, input */
    int fd;             /* dup of backlog.jsonl's descriptor */
    int64_t start, end; /* the bytes to rewrite: [offset, size) when the cut started */
    int64_t cap;
    char path[PATH_MAX];         /* backlog.jsonl, for error texts */
    char tmp_path[PATH_MAX + 8]; /* the new file, written by the worker */
    /* worker, output */
    int64_t read_end; /* end of the last whole line rewritten; later lines are carried over */
    struct backlog_cut_result result;
};

/* Reads exactly len bytes of fd at off; 0 or -1. */
static int backlog_pread(int fd, char *buf, size_t len, int64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, off + (int64_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* Writes data to path, opened with mode ("we" replaces, "ae" appends). 0 or -1 with err. Safe
 * on any thread. */
static int backlog_write_file(const char *path, const char *mode, const char *data, size_t len,
                              char *err, size_t errlen)
{
    FILE *f = fopen(path, mode);
    if (!f)
        return err_set(err, errlen, "%s: %s", path, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : err_set(err, errlen, "%s: %s", path, strerror(errno));
}

/* Replaces backlog.offset with value (temporary file + rename). */
static int backlog_write_offset(struct backlog *b, int64_t value, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 8], text[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", b->offset_path);
    int len = snprintf(text, sizeof text, "%" PRId64 "\n", value);
    if (backlog_write_file(tmp, "we", text, (size_t)len, err, errlen) != 0) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, b->offset_path) != 0) {
        int saved = errno;
        unlink(tmp);
        return err_set(err, errlen, "%s: %s", b->offset_path, strerror(saved));
    }
    return 0;
}

/* The acknowledged offset on disk, or 0 when it cannot be trusted (see backlog.h). */
static int64_t backlog_read_offset(const struct backlog *b)
{
    FILE *f = fopen(b->offset_path, "re");
    if (!f)
        return 0;
    char text[32] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (errno || end == text || *end != '\0' || v <= 0 || v > jsonl_size(b->file))
        return 0;
    char before;
    if (backlog_pread(jsonl_fd(b->file), &before, 1, v - 1) != 0 || before != '\n')
        return 0;
    return v;
}

/* Empties the file and resets the offset, in the order that can only ever resend records. */
static int backlog_reset(struct backlog *b, char *err, size_t errlen)
{
    if (jsonl_truncate(b->file, err, errlen) != 0)
        return -1;
    b->offset = 0;
    /* If this write fails the stale offset is past the end of the file and counts as 0. */
    return backlog_write_offset(b, 0, err, errlen);
}

struct backlog *backlog_open(const char *logs_dir, char *err, size_t errlen)
{
    struct backlog *b = calloc(1, sizeof *b);
    char path[PATH_MAX], rejected[PATH_MAX];
    if (!b)
        err_set(err, errlen, "out of memory");
    else if (snprintf(path, sizeof path, "%s/backlog.jsonl", logs_dir) >= (int)sizeof path ||
             snprintf(rejected, sizeof rejected, "%s/backlog.rejected.jsonl", logs_dir) >=
                 (int)sizeof rejected ||
             snprintf(b->offset_path, sizeof b->offset_path, "%s/backlog.offset", logs_dir) >=
                 (int)sizeof b->offset_path)
        err_set(err, errlen, "%s: path too long", logs_dir);
    else if ((b->file = jsonl_open(path, NULL, err, errlen)) != NULL &&
             (b->rejected = jsonl_open(rejected, NULL, err, errlen)) != NULL) {
        b->offset = backlog_read_offset(b);
        if (b->offset > 0 && b->offset == jsonl_size(b->file))
            backlog_reset(b, NULL, 0); /* all acknowledged before a crash */
        return b;
    }
    backlog_free(b);
    return NULL;
}

void backlog_free(struct backlog *b)
{
    if (!b)
        return;
    if (b->cut) {
        b->cut->backlog = NULL; /* abandoned: backlog_cut_done discards its result */
        uv_cancel((uv_req_t *)&b->cut->work);
    }
    jsonl_free(b->file);
    jsonl_free(b->rejected);
    free(b);
}

int backlog_append(struct backlog *b, const char *kind, const char *record, size_t len, char *err,
                   size_t errlen)
{
    if (len < 2 || record[0] != '{' || record[len - 1] != '}')
        return err_set(err, errlen, "backlog: a record must be a JSON object");
    bool empty = len == 2;
    size_t kind_len = strlen(kind);
    size_t total = len + kind_len + 12;
    char *line = malloc(total);
    if (!line)
        return err_set(err, errlen, "out of memory");
    int n = snprintf(line, total, "{\"kind\":\"%s\"%s%.*s", kind, empty ? "" : ",", (int)(len - 1),
                     record + 1);
    int rc = jsonl_append(b->file, line, (size_t)n, err, errlen);
    free(line);
    return rc;
}

int64_t backlog_size(const struct backlog *b)
{
    return jsonl_size(b->file);
}

int64_t backlog_offset(const struct backlog *b)
{
    return b->offset;
}

bool backlog_pending(const struct backlog *b)
{
    return b->offset < jsonl_size(b->file);
}

/* ---- chunks -----------------------------------------------------------------------------------
 */

/* Reads the bytes [start, end) of fd; *len is the length of the whole lines in them (up to the
 * last '\n'). malloc'd, NULL on failure. Safe on any thread. */
static char *backlog_read_lines(int fd, int64_t start, int64_t end, size_t *len)
{
    size_t want = (size_t)(end - start);
    char *buf = malloc(want + 1);
    if (!buf || backlog_pread(fd, buf, want, start) != 0) {
        free(buf);
        return NULL;
    }
    char *nl = want ? memrchr(buf, '\n', want) : NULL;
    *len = nl ? (size_t)(nl - buf) + 1 : 0;
    return buf;
}

/* Reads the pending bytes from b->offset: at least max_bytes of them (all if fewer), and more if
 * needed to hold one complete line. *len excludes a trailing partial line. malloc'd. */
static char *backlog_read_pending(struct backlog *b, size_t max_bytes, size_t *len)
{
    int64_t avail = jsonl_size(b->file) - b->offset;
    int64_t want = avail < (int64_t)max_bytes ? avail : (int64_t)max_bytes;
    for (;;) {
        char *buf = backlog_read_lines(jsonl_fd(b->file), b->offset, b->offset + want, len);
        if (!buf || *len > 0 || want >= avail)
            return buf;
        free(buf);
        want = want * 2 < avail ? want * 2 : avail;
    }
}

static bool backlog_line_is_object(const char *line, size_t len)
{
    json_t *v = json_loadb(line, len, 0, NULL);
    bool ok = json_is_object(v);
    json_decref(v);
    return ok;
}

/* Fills c from the lines in buf (len bytes of complete lines starting at b->offset). */
static int backlog_build_chunk(const char *name, const char *buf, size_t len, int max_records,
                               size_t max_bytes, struct backlog_chunk *c)
{
    json_t *jname = json_string(name);
    char *quoted = jname ? json_dumps(jname, JSON_ENCODE_ANY) : NULL;
    json_decref(jname);
    size_t cap = len + (quoted ? strlen(quoted) : 0) + (size_t)max_records + 32;
    char *body = quoted ? malloc(cap) : NULL;
    if (!body) {
        free(quoted);
        return -1;
    }
    size_t n = (size_t)snprintf(body, cap, "{\"name\":%s,\"records\":[", quoted);
    free(quoted);
    size_t pos = 0;
    while (pos < len && c->records < max_records) {
        const char *line = buf + pos;
        size_t line_len = (size_t)((const char *)memchr(line, '\n', len - pos) - line);
        if (c->records > 0 && n + line_len + 3 > max_bytes)
            break;
        pos += line_len + 1;
        if (!backlog_line_is_object(line, line_len)) {
            c->skipped++;
            continue;
        }
        if (c->records++ > 0)
            body[n++] = ',';
        memcpy(body + n, line, line_len);
        n += line_len;
    }
    memcpy(body + n, "]}", 3);
    c->body = body;
    c->body_len = n + 2;
    c->end = c->start + (int64_t)pos;
    return 0;
}

int backlog_next_chunk(struct backlog *b, const char *name, int max_records, size_t max_bytes,
                       struct backlog_chunk *out, char *err, size_t errlen)
{
    for (;;) {
        *out = (struct backlog_chunk){
            .start = b->offset, .end = b->offset, .generation = b->generation};
        if (!backlog_pending(b) || b->cut)
            return 0;
        size_t len;
        char *buf = backlog_read_pending(b, max_bytes, &len);
        if (!buf)
            return err_set(err, errlen, "backlog: reading %s: %s", jsonl_path(b->file),
                                errno ? strerror(errno) : "out of memory");
        int rc = backlog_build_chunk(name, buf, len, max_records, max_bytes, out);
        free(buf);
        if (rc != 0)
            return err_set(err, errlen, "out of memory");
        if (out->records > 0 || out->end == out->start)
            return 0;
        /* Only lines that are not records: step past them and look again. */
        int skipped = out->skipped;
        if (backlog_ack(b, out, err, errlen) < 0) {
            backlog_chunk_free(out);
            return -1;
        }
        backlog_chunk_free(out);
        out->skipped = skipped;
    }
}

void backlog_chunk_free(struct backlog_chunk *c)
{
    if (!c)
        return;
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
}

int backlog_ack(struct backlog *b, const struct backlog_chunk *c, char *err, size_t errlen)
{
    if (b->cut || c->generation != b->generation || c->start != b->offset || c->end <= c->start)
        return 1;
    if (c->end >= jsonl_size(b->file))
        return backlog_reset(b, err, errlen) == 0 || b->offset == 0 ? 0 : -1;
    if (backlog_write_offset(b, c->end, err, errlen) != 0)
        return -1;
    b->offset = c->end;
    return 0;
}

/* ---- records the server refuses ----------------------------------------------------------------
 */

/* Finds the record number index of the lines buf[0..len) (counted as backlog_build_chunk
 * counts them: JSON objects only): its place and length. false if there are fewer. */
static bool backlog_find_record(const char *buf, size_t len, int index, size_t *at, size_t *n)
{
    for (size_t pos = 0; pos < len;) {
        const char *line = buf + pos;
        size_t line_len = (size_t)((const char *)memchr(line, '\n', len - pos) - line);
        if (backlog_line_is_object(line, line_len) && index-- == 0) {
            *at = pos;
            *n = line_len;
            return true;
        }
        pos += line_len + 1;
    }
    return false;
}

/* Appends {"time":..., "error": reason, "record": record} to backlog.rejected.jsonl, rotating
 * it first when it is over BACKLOG_REJECTED_MAX. */
static int backlog_write_rejected(struct backlog *b, const char *record, size_t len,
                                  const char *reason, char *err, size_t errlen)
{
    char now[CLOCK_ISO_LEN];
    clock_format_iso(clock_wall_ms(), now, sizeof now);
    json_t *rec = json_loadb(record, len, 0, NULL);
    json_t *line = json_pack("{s:s, s:s, s:o}", "time", now, "error", reason, "record", rec);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(line);
    if (!text)
        return err_set(err, errlen, "out of memory");
    if (jsonl_size(b->rejected) > BACKLOG_REJECTED_MAX)
        jsonl_rotate(b->rejected, NULL, 0); /* if that fails, the file only grows a little more */
    int rc = jsonl_append(b->rejected, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

int backlog_set_aside(struct backlog *b, const struct backlog_chunk *c, int index,
                      const char *expected_id, const char *reason, char *err, size_t errlen)
{
    if (b->cut || c->generation != b->generation || c->start != b->offset || c->end <= c->start)
        return 1;
    if (index < 0 || index >= c->records)
        return err_set(err, errlen, "backlog: the server named record %d of a chunk of %d", index,
                       c->records);
    size_t len, at, n;
    char *buf = backlog_read_lines(jsonl_fd(b->file), c->start, c->end, &len);
    if (!buf)
        return err_set(err, errlen, "backlog: reading %s: %s", jsonl_path(b->file),
                       errno ? strerror(errno) : "out of memory");
    int rc = 1;
    json_t *rec = NULL;
    const char *id = NULL;
    if (!backlog_find_record(buf, len, index, &at, &n))
        rc = err_set(err, errlen, "backlog: record %d is no longer in the file", index);
    else if (expected_id && (rec = json_loadb(buf + at, n, 0, NULL)) &&
             (!(id = json_string_value(json_object_get(rec, "id"))) || strcmp(expected_id, id)))
        rc = err_set(err, errlen,
                     "backlog: the server named id \"%s\" for record %d, which has another",
                     expected_id, index);
    else if (index == 0) {
        struct backlog_chunk past = *c;
        past.end = c->start + (int64_t)(at + n + 1);
        rc = backlog_write_rejected(b, buf + at, n, reason, err, errlen) != 0 ||
                     backlog_ack(b, &past, err, errlen) < 0
                 ? -1
                 : 0;
    }
    json_decref(rec);
    free(buf);
    return rc;
}

/* ---- cutting to size --------------------------------------------------------------------------
 */

/* Marks lines to drop, oldest first, metrics before anything else, until need bytes are freed. */
static void backlog_choose_drops(const char *buf, size_t len, int64_t need, bool *drop,
                                 int *dropped_metrics, int *dropped_other)
{
    for (int pass = 0; pass < 2 && need > 0; pass++) {
        size_t pos = 0;
        for (int i = 0; pos < len && need > 0; i++) {
            const char *line = buf + pos;
            size_t line_len = (size_t)((const char *)memchr(line, '\n', len - pos) - line) + 1;
            pos += line_len;
            bool metric = !strncmp(line, BACKLOG_METRIC_PREFIX, strlen(BACKLOG_METRIC_PREFIX));
            if (drop[i] || metric != (pass == 0))
                continue;
            drop[i] = true;
            need -= (int64_t)line_len;
            (*(metric ? dropped_metrics : dropped_other))++;
        }
    }
}

/* Copies the lines not marked in drop to the front of buf; returns the new length. */
static size_t backlog_keep_lines(char *buf, size_t len, const bool *drop)
{
    size_t pos = 0, out = 0;
    for (int i = 0; pos < len; i++) {
        size_t line_len = (size_t)((char *)memchr(buf + pos, '\n', len - pos) - (buf + pos)) + 1;
        if (!drop[i]) {
            memmove(buf + out, buf + pos, line_len);
            out += line_len;
        }
        pos += line_len;
    }
    return out;
}

/* The worker: rewrites [start, end) of the backlog into tmp_path without the lines the cap
 * forces out. Touches only the job (see struct backlog_cut_job). */
static void backlog_cut_work(uv_work_t *w)
{
    struct backlog_cut_job *j = w->data;
    struct backlog_cut_result *r = &j->result;
    size_t len;
    char *buf = backlog_read_lines(j->fd, j->start, j->end, &len);
    if (!buf) {
        r->rc = err_set(r->err, sizeof r->err, "backlog: reading %s: %s", j->path,
                             errno ? strerror(errno) : "out of memory");
        return;
    }
    j->read_end = j->start + (int64_t)len;
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    bool *drop = calloc((size_t)lines + 1, sizeof *drop);
    if (!drop) {
        free(buf);
        r->rc = err_set(r->err, sizeof r->err, "out of memory");
        return;
    }
    int64_t need = (int64_t)len - j->cap * 3 / 4;
    backlog_choose_drops(buf, len, need, drop, &r->dropped_metrics, &r->dropped_diagnostics);
    size_t kept = backlog_keep_lines(buf, len, drop);
    r->rc = backlog_write_file(j->tmp_path, "we", buf, kept, r->err, sizeof r->err);
    free(drop);
    free(buf);
}

/* On the loop thread, once the worker has written the new file: appends the records that came in
 * meanwhile (whole lines, a few at most), resets the offset, and renames the new file into
 * place, in the order that can only ever resend records. */
static int backlog_cut_commit(struct backlog *b, const struct backlog_cut_job *j, char *err,
                              size_t errlen)
{
    if (jsonl_size(b->file) > j->read_end) {
        size_t len;
        char *tail = backlog_read_lines(jsonl_fd(b->file), j->read_end, jsonl_size(b->file), &len);
        int rc = tail ? backlog_write_file(j->tmp_path, "ae", tail, len, err, errlen)
                      : err_set(err, errlen, "backlog: reading %s: %s", j->path,
                                     errno ? strerror(errno) : "out of memory");
        free(tail);
        if (rc != 0)
            return -1;
    }
    if (backlog_write_offset(b, 0, err, errlen) != 0)
        return -1;
    if (rename(j->tmp_path, j->path) != 0)
        return err_set(err, errlen, "%s: %s", j->path, strerror(errno));
    b->offset = 0;
    b->generation++;
    return jsonl_reopen(b->file, err, errlen);
}

/* The after-work callback, on the loop thread: commits the cut (unless it was cancelled, failed
 * or abandoned), tells the caller, and frees the job. */
static void backlog_cut_done(uv_work_t *w, int status)
{
    struct backlog_cut_job *j = w->data;
    struct backlog *b = j->backlog;
    struct backlog_cut_result *r = &j->result;
    if (status != 0)
        r->rc = err_set(r->err, sizeof r->err, "backlog: cut cancelled");
    else if (b && r->rc == 0)
        r->rc = backlog_cut_commit(b, j, r->err, sizeof r->err);
    if (r->rc != 0 || !b) {
        unlink(j->tmp_path);
        r->dropped_metrics = r->dropped_diagnostics = 0;
    }
    close(j->fd);
    if (b) {
        b->cut = NULL;
        j->cb(r, j->ctx);
    }
    free(j);
}

int backlog_cut_start(struct backlog *b, uv_loop_t *loop, int64_t cap, backlog_cut_cb cb, void *ctx,
                      char *err, size_t errlen)
{
    if (b->cut)
        return BACKLOG_CUT_BUSY;
    int64_t size = jsonl_size(b->file);
    if (size <= cap)
        return BACKLOG_CUT_NOT_NEEDED;
    struct backlog_cut_job *j = malloc(sizeof *j);
    if (!j)
        return err_set(err, errlen, "out of memory");
    *j = (struct backlog_cut_job){.backlog = b,
                                  .cb = cb,
                                  .ctx = ctx,
                                  .fd = fcntl(jsonl_fd(b->file), F_DUPFD_CLOEXEC, 0),
                                  .start = b->offset,
                                  .end = size,
                                  .cap = cap,
                                  .result.size_before = size};
    snprintf(j->path, sizeof j->path, "%s", jsonl_path(b->file));
    snprintf(j->tmp_path, sizeof j->tmp_path, "%s.tmp", j->path);
    j->work.data = j;
    int rc = j->fd < 0 ? -errno : uv_queue_work(loop, &j->work, backlog_cut_work, backlog_cut_done);
    if (rc != 0) {
        if (j->fd >= 0)
            close(j->fd);
        free(j);
        return err_set(err, errlen, "backlog: cannot start the cut: %s", uv_strerror(rc));
    }
    b->cut = j;
    return 0;
}

bool backlog_cutting(const struct backlog *b)
{
    return b->cut != NULL;
}
