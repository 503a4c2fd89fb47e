/* fanout.c — the ssh fan-out: one `ssh ... HOST FAULTLINE report --json` per node, spawned with
 * uv_spawn (no shell here; the remote side runs the command through the user's login shell, as
 * ssh always does), all at once, each with its own deadline and a bound on what it may print;
 * see source.h. An unreachable node is a result with an error, never a failed collection. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "monitor/source.h"

#define FANOUT_STDOUT_MAX (4u << 20)
#define FANOUT_STDERR_KEEP 512
#define FANOUT_ARGS_MAX (32 + 2 * MONITOR_SSH_OPTIONS_MAX)
#define FANOUT_CONTROL_PERSIST_S 120

struct fanout;

/* One ssh process; done when the process has exited and both pipes are closed. */
struct ssh_call {
    struct fanout *fanout;
    struct monitor_result *result;
    uv_process_t process;
    uv_pipe_t out, err;
    uv_timer_t timer;
    char *stdout_buf;
    size_t stdout_len;
    char stderr_tail[FANOUT_STDERR_KEEP];
    size_t stderr_len;
    int64_t started_mono, started_wall, ended_mono, ended_wall;
    int64_t exit_status;
    int64_t timeout_ms;
    int open_handles;
    bool exited, timed_out, too_big;
};

struct fanout {
    struct monitor_collection base;
    struct monitor_snapshot snap;
    struct ssh_call *calls;
    size_t pending; /* calls not yet finished */
    int64_t started_mono;
    monitor_collect_cb done;
    void *ctx;
};

/* ---- the control directory ---------------------------------------------------------------- */

static int control_dir(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    /* ssh binds DIR/%C plus a temporary suffix: 58 bytes after the directory, within the 108 of
     * a Unix socket's path. A longer runtime directory falls back to /tmp. */
    if (runtime && *runtime == '/' && strlen(runtime) + strlen("/faultline-ssh/") + 58 < 108)
        snprintf(out, outlen, "%s/faultline-ssh", runtime);
    else
        snprintf(out, outlen, "/tmp/faultline-ssh-%u", (unsigned)getuid());
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return err_set(err, errlen, "%s: %s", out, strerror(errno));
    struct stat st;
    if (lstat(out, &st) != 0)
        return err_set(err, errlen, "%s: %s", out, strerror(errno));
    /* Another user's directory could hand our ssh a socket of theirs. */
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
        return err_set(err, errlen,
                       "%s: expected a directory of ours that only we can use (mode 0700)", out);
    return 0;
}

/* ---- the ssh command line ----------------------------------------------------------------- */

struct ssh_argv {
    char *args[FANOUT_ARGS_MAX + 1];
    char control_path[300];
    int count;
};

static void argv_add(struct ssh_argv *a, const char *arg)
{
    if (a->count < FANOUT_ARGS_MAX)
        a->args[a->count++] = (char *)arg;
}

static void build_argv(struct ssh_argv *a, const struct monitor_node *n, const char *dir,
                       int64_t timeout_ms, char *port, char *timeout, char *persist, char *remote,
                       size_t remotelen)
{
    memset(a, 0, sizeof *a);
    argv_add(a, "ssh");
    argv_add(a, "-T");
    argv_add(a, "-o");
    argv_add(a, "BatchMode=yes");
    argv_add(a, "-o");
    argv_add(a, "ControlMaster=auto");
    snprintf(a->control_path, sizeof a->control_path, "ControlPath=%s/%%C", dir);
    argv_add(a, "-o");
    argv_add(a, a->control_path);
    snprintf(persist, 48, "ControlPersist=%d", FANOUT_CONTROL_PERSIST_S);
    argv_add(a, "-o");
    argv_add(a, persist);
    snprintf(timeout, 48, "ConnectTimeout=%lld", (long long)(timeout_ms + 999) / 1000);
    argv_add(a, "-o");
    argv_add(a, timeout);
    if (n->port) {
        snprintf(port, 16, "%d", n->port);
        argv_add(a, "-p");
        argv_add(a, port);
    }
    if (n->user) {
        argv_add(a, "-l");
        argv_add(a, n->user);
    }
    if (n->identity_file) {
        argv_add(a, "-i");
        argv_add(a, n->identity_file);
    }
    for (size_t i = 0; i < n->ssh_option_count; i++) {
        argv_add(a, "-o");
        argv_add(a, n->ssh_options[i]);
    }
    argv_add(a, "--");
    argv_add(a, n->host);
    snprintf(remote, remotelen, "%s report --json", n->faultline);
    argv_add(a, remote);
    a->args[a->count] = NULL;
}

/* ---- one call ----------------------------------------------------------------------------- */

static void fanout_finish(struct fanout *f)
{
    f->snap.duration_ms = clock_mono_ms() - f->started_mono;
    struct monitor_snapshot snap = f->snap;
    monitor_collect_cb done = f->done;
    void *ctx = f->ctx;
    free(f->calls);
    free(f);
    done(&snap, ctx);
}

/* The last line ssh wrote to stderr, for the error text. */
static const char *stderr_last_line(struct ssh_call *c)
{
    while (c->stderr_len &&
           (c->stderr_tail[c->stderr_len - 1] == '\n' || c->stderr_tail[c->stderr_len - 1] == '\r'))
        c->stderr_len--;
    c->stderr_tail[c->stderr_len] = '\0';
    char *nl = strrchr(c->stderr_tail, '\n');
    return nl ? nl + 1 : c->stderr_tail;
}

static void call_conclude(struct ssh_call *c)
{
    struct monitor_result *r = c->result;
    r->collection_ms = c->ended_mono - c->started_mono;
    r->seen_at_ms = c->started_wall + (c->ended_wall - c->started_wall) / 2;
    if (r->error[0]) /* ssh never ran */
        return;
    if (c->timed_out) {
        snprintf(r->error, sizeof r->error, "no answer within %g s", (double)c->timeout_ms / 1000);
    } else if (c->too_big) {
        snprintf(r->error, sizeof r->error, "answer larger than %u bytes", FANOUT_STDOUT_MAX);
    } else {
        json_error_t jerr;
        json_t *doc = c->stdout_len ? json_loadb(c->stdout_buf, c->stdout_len, 0, &jerr) : NULL;
        if (json_is_object(doc)) {
            r->report = doc;
        } else {
            json_decref(doc);
            const char *why = stderr_last_line(c);
            if (c->exit_status != 0)
                snprintf(r->error, sizeof r->error, "ssh exited with status %lld%s%.200s",
                         (long long)c->exit_status, *why ? ": " : "", why);
            else
                snprintf(r->error, sizeof r->error, "the answer is not a JSON report%s%.200s",
                         c->stdout_len ? ": " : " (empty)", c->stdout_len ? jerr.text : "");
        }
    }
    free(c->stdout_buf);
    c->stdout_buf = NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ssh_call *c = h->data;
    if (--c->open_handles > 0)
        return;
    call_conclude(c);
    struct fanout *f = c->fanout;
    if (--f->pending == 0)
        fanout_finish(f);
}

static void call_maybe_done(struct ssh_call *c)
{
    if (!c->exited || !uv_is_closing((uv_handle_t *)&c->out) ||
        !uv_is_closing((uv_handle_t *)&c->err))
        return;
    c->ended_mono = clock_mono_ms();
    c->ended_wall = clock_wall_ms();
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->process, on_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char scratch[65536]; /* the loop thread only; read callbacks copy it out at once */
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

/* Kills ssh and stops reading: a process it left behind must not hold the call open. */
static void call_kill(struct ssh_call *c)
{
    if (!c->exited)
        uv_process_kill(&c->process, SIGKILL);
    if (!uv_is_closing((uv_handle_t *)&c->out))
        uv_close((uv_handle_t *)&c->out, on_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->err))
        uv_close((uv_handle_t *)&c->err, on_handle_closed);
    call_maybe_done(c);
}

static void on_stdout(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct ssh_call *c = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_handle_closed);
        call_maybe_done(c);
        return;
    }
    if (c->too_big || n == 0)
        return;
    if (c->stdout_len + (size_t)n > FANOUT_STDOUT_MAX) {
        c->too_big = true;
        call_kill(c);
        return;
    }
    char *grown = realloc(c->stdout_buf, c->stdout_len + (size_t)n + 1);
    if (!grown) {
        c->too_big = true;
        call_kill(c);
        return;
    }
    memcpy(grown + c->stdout_len, buf->base, (size_t)n);
    c->stdout_buf = grown;
    c->stdout_len += (size_t)n;
}

static void on_stderr(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct ssh_call *c = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_handle_closed);
        call_maybe_done(c);
        return;
    }
    /* Keep the tail: the last line says why ssh failed. */
    size_t keep = sizeof c->stderr_tail - 1;
    for (ssize_t i = 0; i < n; i++) {
        if (c->stderr_len == keep) {
            memmove(c->stderr_tail, c->stderr_tail + keep / 2, keep - keep / 2);
            c->stderr_len = keep - keep / 2;
        }
        c->stderr_tail[c->stderr_len++] = buf->base[i];
    }
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    struct ssh_call *c = p->data;
    c->exited = true;
    c->exit_status = term_signal ? 128 + term_signal : status;
    call_maybe_done(c);
}

static void on_timeout(uv_timer_t *t)
{
    struct ssh_call *c = t->data;
    c->timed_out = true;
    call_kill(c);
}

static int call_start(uv_loop_t *loop, struct ssh_call *c, const struct monitor_node *n,
                      const char *dir, int64_t timeout_ms)
{
    struct ssh_argv a;
    char port[16], timeout[48], persist[48], remote[1100];
    build_argv(&a, n, dir, timeout_ms, port, timeout, persist, remote, sizeof remote);
    c->process.data = c->out.data = c->err.data = c->timer.data = c;
    uv_pipe_init(loop, &c->out, 0);
    uv_pipe_init(loop, &c->err, 0);
    uv_timer_init(loop, &c->timer);
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->err},
    };
    uv_process_options_t opts = {
        .exit_cb = on_exit_cb, .file = "ssh", .args = a.args, .stdio_count = 3, .stdio = stdio};
    c->started_mono = clock_mono_ms();
    c->started_wall = clock_wall_ms();
    c->open_handles = 4;
    c->timeout_ms = timeout_ms;
    int rc = uv_spawn(loop, &c->process, &opts);
    if (rc != 0) {
        snprintf(c->result->error, sizeof c->result->error, "cannot run ssh: %s", uv_strerror(rc));
        c->exited = true;
        c->ended_mono = c->started_mono;
        c->ended_wall = c->started_wall;
        /* libuv initialises the handle even when the spawn fails: it is closed like the rest. */
        uv_close((uv_handle_t *)&c->process, on_handle_closed);
        uv_close((uv_handle_t *)&c->out, on_handle_closed);
        uv_close((uv_handle_t *)&c->err, on_handle_closed);
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        return 0;
    }
    uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0);
    uv_read_start((uv_stream_t *)&c->out, on_alloc, on_stdout);
    uv_read_start((uv_stream_t *)&c->err, on_alloc, on_stderr);
    return 0;
}

static void fanout_cancel(struct monitor_collection *self)
{
    struct fanout *f = (struct fanout *)self;
    for (size_t i = 0; i < f->snap.count; i++)
        if (!f->calls[i].exited && !uv_is_closing((uv_handle_t *)&f->calls[i].process)) {
            f->calls[i].timed_out = true;
            call_kill(&f->calls[i]);
        }
}

struct monitor_collection *monitor_fanout_start(uv_loop_t *loop,
                                                const struct monitor_node *const *nodes,
                                                size_t count, int64_t timeout_ms,
                                                monitor_collect_cb done, void *ctx, char *err,
                                                size_t errlen)
{
    char dir[256];
    if (control_dir(dir, sizeof dir, err, errlen) != 0)
        return NULL;
    struct fanout *f = calloc(1, sizeof *f);
    if (!f || !(f->calls = calloc(count ? count : 1, sizeof *f->calls)) ||
        !(f->snap.results = calloc(count ? count : 1, sizeof *f->snap.results))) {
        if (f)
            free(f->calls);
        free(f);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    f->base.cancel = fanout_cancel;
    f->snap.count = count;
    f->snap.started_ms = clock_wall_ms();
    f->started_mono = clock_mono_ms();
    f->done = done;
    f->ctx = ctx;
    f->pending = count;
    for (size_t i = 0; i < count; i++) {
        struct monitor_result *r = &f->snap.results[i];
        r->host = strdup(nodes[i]->host);
        r->name = strdup(monitor_node_label(nodes[i]));
        r->role = nodes[i]->role ? strdup(nodes[i]->role) : NULL;
        r->seen_at_ms = r->received_ms = -1;
        f->calls[i].fanout = f;
        f->calls[i].result = r;
    }
    for (size_t i = 0; i < count; i++)
        call_start(loop, &f->calls[i], nodes[i], dir, timeout_ms);
    return &f->base;
}
