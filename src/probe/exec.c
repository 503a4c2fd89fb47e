/* exec.c — the `exec` probe type: runs `command` (an argv list, no shell) with uv_spawn in a
 * session and process group of its own, stdout and stderr into one pipe, stdin from /dev/null.
 * The output is kept up to EXEC_OUTPUT_MAX bytes (the rest is read and dropped, so the plugin
 * never blocks on a full pipe). The run ends when the process has exited and the pipe is closed;
 * the timeout (or a cancel) kills the whole group with SIGKILL, children included. The exit code
 * follows the Nagios plugin convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: the check engine
 * maps it); the text after '|' is performance data (perfdata.c). */
#include "probe/probe_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXEC_OUTPUT_MAX 65536
#define EXEC_ARGS_MAX 256

struct exec_options {
    char **argv; /* NULL-terminated */
};

struct exec_run {
    struct probe_env *env;
    probe_done_cb done;
    void *ctx;
    uv_process_t process;
    uv_pipe_t out;
    uv_timer_t timer;
    int open_handles;
    bool exited, eof, finished, reported, timed_out, cancelled;
    int exit_code; /* -1: killed by a signal */
    int timeout_ms;
    int64_t start_ns, end_ns;
    char *output; /* output_cap + 1 bytes, grown as the plugin writes */
    size_t output_len, output_cap;
    char error[PROBE_ERROR_MAX];
};

/* ---- options -------------------------------------------------------------------------------- */

static void exec_free_options(void *options)
{
    struct exec_options *o = options;
    if (!o)
        return;
    for (size_t i = 0; o->argv && o->argv[i]; i++)
        free(o->argv[i]);
    free(o->argv);
    free(o);
}

static void *exec_parse(const json_t *def, const char **field, char *err, size_t errlen)
{
    const json_t *cmd = json_object_get(def, "command");
    *field = "command";
    if (!cmd) {
        snprintf(err, errlen, "missing (expected a list: [program, arguments...])");
        return NULL;
    }
    size_t n = json_is_array(cmd) ? json_array_size(cmd) : 0;
    if (n == 0 || n > EXEC_ARGS_MAX) {
        snprintf(err, errlen, "expected a list of 1..%d strings: [program, arguments...]",
                 EXEC_ARGS_MAX);
        return NULL;
    }
    struct exec_options *o = calloc(1, sizeof *o);
    if (o)
        o->argv = calloc(n + 1, sizeof *o->argv);
    for (size_t i = 0; o && o->argv && i < n; i++) {
        const json_t *a = json_array_get(cmd, i);
        if (!json_is_string(a) || (i == 0 && json_string_length(a) == 0)) {
            static char which[32];
            snprintf(which, sizeof which, "command[%zu]", i);
            *field = which;
            snprintf(err, errlen, "expected %s",
                     i == 0 ? "a program (a non-empty string)" : "a string");
            exec_free_options(o);
            return NULL;
        }
        if (!(o->argv[i] = strdup(json_string_value(a))))
            break;
    }
    if (!o || !o->argv || !o->argv[n - 1]) {
        exec_free_options(o);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return o;
}

/* ---- the run --------------------------------------------------------------------------------- */

static void on_exec_closed(uv_handle_t *h)
{
    struct exec_run *r = h->data;
    if (--r->open_handles > 0)
        return;
    struct probe_env *env = r->env;
    free(r->output);
    free(r);
    probe_env_release(env);
}

static void close_handle(struct exec_run *r, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_exec_closed);
}

static void report(struct exec_run *r)
{
    if (r->reported || r->cancelled)
        return;
    r->reported = true;
    struct probe_result *res = calloc(1, sizeof *res);
    if (!res)
        return;
    res->ran = true;
    res->timed_out = r->timed_out;
    res->exit_code = r->timed_out ? -1 : r->exit_code;
    res->response_time_ms = probe_ns_to_ms(r->end_ns - r->start_ns);
    snprintf(res->error, sizeof res->error, "%s", r->error);
    char *text = r->output ? r->output : "";
    probe_split_plugin_output(text, res);
    r->done(res, r->ctx);
    free(res);
}

/* Ends the run once the process has exited and its output is read (or the timeout struck). */
static void maybe_end(struct exec_run *r)
{
    if (r->finished || !r->exited || !(r->eof || r->timed_out || r->cancelled))
        return;
    r->finished = true;
    if (!r->end_ns)
        r->end_ns = probe_now_ns();
    report(r);
    uv_timer_stop(&r->timer);
    close_handle(r, (uv_handle_t *)&r->timer);
    close_handle(r, (uv_handle_t *)&r->out);
    close_handle(r, (uv_handle_t *)&r->process);
}

/* The whole group: the plugin and what it started (its pid is the group's id, which stays
 * taken while any member lives). */
static void kill_group(struct exec_run *r)
{
    if (r->process.pid > 0)
        kill(-r->process.pid, SIGKILL);
}

static void on_exec_timer(uv_timer_t *t)
{
    struct exec_run *r = t->data;
    r->timed_out = true;
    r->end_ns = probe_now_ns();
    snprintf(r->error, sizeof r->error, "timeout after %d ms: killed the process group",
             r->timeout_ms);
    kill_group(r);
    uv_read_stop((uv_stream_t *)&r->out);
    maybe_end(r); /* else when the exit is seen, right after the kill */
}

static void on_process_exit(uv_process_t *p, int64_t status, int term_signal)
{
    struct exec_run *r = p->data;
    r->exited = true;
    r->exit_code = term_signal ? -1 : (int)status;
    if (term_signal && !r->timed_out && !r->error[0])
        snprintf(r->error, sizeof r->error, "killed by signal %d", term_signal);
    maybe_end(r);
}

/* Room for the next read: the output buffer, doubled from 4 KiB up to the bound when full, or
 * past the bound a scratch area whose bytes are dropped. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char scratch[16384]; /* loop thread only */
    struct exec_run *r = h->data;
    if (r->output_len == r->output_cap && r->output_cap < EXEC_OUTPUT_MAX) {
        size_t cap = r->output_cap ? r->output_cap * 2 : 4096;
        if (cap > EXEC_OUTPUT_MAX)
            cap = EXEC_OUTPUT_MAX;
        char *grown = realloc(r->output, cap + 1);
        if (grown) {
            r->output = grown;
            r->output_cap = cap;
        }
    }
    if (r->output_len < r->output_cap)
        *buf = uv_buf_init(r->output + r->output_len, (unsigned)(r->output_cap - r->output_len));
    else
        *buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct exec_run *r = s->data;
    if (n > 0 && r->output && buf->base == r->output + r->output_len) {
        r->output_len += (size_t)n;
        r->output[r->output_len] = '\0';
    }
    if (n < 0) {
        r->eof = true;
        uv_read_stop(s);
        maybe_end(r);
    }
}

/* A pipe for stdout and stderr both: the child gets the write end twice. */
static int spawn(struct exec_run *r, const struct exec_options *o)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
        {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
    };
    uv_process_options_t opts = {.exit_cb = on_process_exit,
                                 .file = o->argv[0],
                                 .args = o->argv,
                                 .stdio_count = 3,
                                 .stdio = stdio,
                                 .flags = UV_PROCESS_DETACHED | UV_PROCESS_WINDOWS_HIDE};
    r->process.data = r;
    int rc = uv_spawn(r->env->loop, &r->process, &opts);
    close(fds[1]);
    uv_pipe_init(r->env->loop, &r->out, 0);
    r->out.data = r;
    r->open_handles++;
    if (rc != 0 || uv_pipe_open(&r->out, fds[0]) != 0) {
        if (rc == 0)
            rc = UV_EIO;
        close(fds[0]);
        return rc;
    }
    uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
    return 0;
}

static struct probe_run *exec_start(struct probe_env *env, const void *options, int timeout_ms,
                                    probe_done_cb done, void *ctx, char *err, size_t errlen)
{
    const struct exec_options *o = options;
    struct exec_run *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->env = env;
    r->done = done;
    r->ctx = ctx;
    r->timeout_ms = timeout_ms;
    r->start_ns = probe_now_ns();
    uv_timer_init(env->loop, &r->timer);
    r->timer.data = r;
    r->open_handles = 2; /* the timer and the process (closed even when spawn failed) */
    probe_env_hold(env);
    int rc = spawn(r, o);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %.100s: %s", o->argv[0], uv_strerror(rc));
        r->cancelled = r->exited = r->finished = true;
        uv_close((uv_handle_t *)&r->timer, on_exec_closed);
        uv_close((uv_handle_t *)&r->out, on_exec_closed);
        uv_close((uv_handle_t *)&r->process, on_exec_closed);
        return NULL;
    }
    uv_timer_start(&r->timer, on_exec_timer, (uint64_t)timeout_ms, 0);
    return (struct probe_run *)r;
}

/* No done; the group is killed and the handles close once the exit is seen. */
static void exec_cancel(struct probe_run *run)
{
    struct exec_run *r = (struct exec_run *)run;
    r->cancelled = true;
    kill_group(r);
    uv_timer_stop(&r->timer);
    uv_read_stop((uv_stream_t *)&r->out);
    maybe_end(r);
}

static const char *const exec_members[] = {"target", "command", NULL}; /* target: free text */

const struct probe_type probe_type_exec = {
    .name = "exec",
    .placeholders = PH_BIT(PH_EXIT_CODE) | PH_BIT(PH_OUTPUT) | PH_BIT(PH_RESPONSE_TIME),
    .default_condition = "[EXIT_CODE] == 0",
    .parse = exec_parse,
    .free_options = exec_free_options,
    .start = exec_start,
    .cancel = exec_cancel,
    .members = exec_members,
};
