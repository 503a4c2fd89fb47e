/* exec.c — the exec channel (exec.h), on uv_spawn: the child starts detached (its own session,
 * so its process group is its pid), gets the message on stdin and its first 1 KiB of output is
 * kept for the outcome. Each attempt owns its handles and outlives the channel if need be: the
 * timeout ends it either way. */
#include "alert/exec.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define EXEC_TIMEOUT_MS 10000
#define EXEC_OUTPUT_MAX 1024
#define EXEC_ARGS_MAX 64

struct exec_channel {
    uv_loop_t *loop;
    char **argv; /* NULL-terminated */
    int64_t timeout_ms;
};

/* One run. Freed when its four handles have closed. */
struct exec_run {
    uv_process_t process;
    uv_pipe_t in, out;
    uv_timer_t timer;
    uv_write_t write;
    int open_handles;
    char *input;
    char output[EXEC_OUTPUT_MAX + 1];
    size_t output_len;
    bool exited, timed_out, reported;
    int64_t status;
    int term_signal;
    char program[128];
    alert_sent_cb done;
    void *ctx;
};

static void run_handle_closed(uv_handle_t *h)
{
    struct exec_run *run = h->data;
    if (--run->open_handles == 0) {
        free(run->input);
        free(run);
    }
}

static void run_close(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, run_handle_closed);
}

/* Once the process exited and its output ended (or the pipe broke): the outcome. */
static void run_report(struct exec_run *run)
{
    if (run->reported || !run->exited)
        return;
    run->reported = true;
    struct alert_outcome outcome = {.result = ALERT_SENT};
    run->output[run->output_len] = '\0';
    size_t line = strcspn(run->output, "\r\n");
    if (run->timed_out) {
        outcome.result = ALERT_RETRY;
        snprintf(outcome.error, sizeof outcome.error, "exec: %s killed after its timeout",
                 run->program);
    } else if (run->term_signal || run->status != 0) {
        outcome.result = ALERT_RETRY;
        snprintf(outcome.error, sizeof outcome.error, "exec: %s %s %d%s%.*s", run->program,
                 run->term_signal ? "killed by signal" : "exited with status",
                 run->term_signal ? run->term_signal : (int)run->status, line ? ": " : "",
                 (int)(line < 160 ? line : 160), run->output);
    } else {
        snprintf(outcome.ref, sizeof outcome.ref, "%.*s", (int)(line < 31 ? line : 31),
                 run->output);
    }
    run->done(&outcome, run->ctx);
    run_close((uv_handle_t *)&run->timer);
    run_close((uv_handle_t *)&run->out);
    run_close((uv_handle_t *)&run->in);
    run_close((uv_handle_t *)&run->process);
}

static void exec_on_exit(uv_process_t *p, int64_t status, int term_signal)
{
    struct exec_run *run = p->data;
    run->exited = true;
    run->status = status;
    run->term_signal = term_signal;
    uv_timer_stop(&run->timer);
    run_report(run);
}

static void on_timeout(uv_timer_t *t)
{
    struct exec_run *run = t->data;
    run->timed_out = true;
    /* The whole group: a script's children die with it. */
    uv_kill(-run->process.pid, SIGKILL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    static char scratch[4096];
    (void)h;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct exec_run *run = s->data;
    if (n < 0) {
        uv_read_stop(s);
        return;
    }
    size_t room = EXEC_OUTPUT_MAX - run->output_len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(run->output + run->output_len, buf->base, take);
    run->output_len += take;
}

static void on_written(uv_write_t *w, int status)
{
    (void)status; /* a child that does not read its input gets EPIPE: not our failure */
    struct exec_run *run = w->data;
    run_close((uv_handle_t *)&run->in);
}

static void exec_send(void *state, const struct alert_delivery *msg, alert_sent_cb done, void *ctx)
{
    struct exec_channel *ex = state;
    struct exec_run *run = calloc(1, sizeof *run);
    struct alert_outcome fail = {.result = ALERT_RETRY, .error = "exec: out of memory"};
    if (run)
        run->input = malloc(strlen(msg->fields_json) + 2);
    if (run && run->input) /* one line, so that `read` takes it */
        snprintf(run->input, strlen(msg->fields_json) + 2, "%s\n", msg->fields_json);
    if (!run || !run->input) {
        free(run);
        done(&fail, ctx);
        return;
    }
    run->done = done;
    run->ctx = ctx;
    snprintf(run->program, sizeof run->program, "%s", ex->argv[0]);
    uv_pipe_init(ex->loop, &run->in, 0);
    uv_pipe_init(ex->loop, &run->out, 0);
    uv_timer_init(ex->loop, &run->timer);
    run->in.data = run->out.data = run->timer.data = run->process.data = run->write.data = run;
    run->open_handles = 3;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&run->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&run->out},
        {.flags = UV_IGNORE},
    };
    uv_process_options_t opts = {.exit_cb = exec_on_exit,
                                 .file = ex->argv[0],
                                 .args = ex->argv,
                                 .stdio_count = 3,
                                 .stdio = stdio,
                                 .flags = UV_PROCESS_DETACHED};
    int rc = uv_spawn(ex->loop, &run->process, &opts);
    run->open_handles++; /* the process handle is to be closed even when the spawn failed */
    if (rc != 0) {
        /* A command that cannot start will not start next time either. */
        struct alert_outcome refused = {.result = ALERT_REJECTED};
        snprintf(refused.error, sizeof refused.error, "exec: cannot run %s: %s", run->program,
                 uv_strerror(rc));
        run->reported = true;
        done(&refused, ctx);
        run_close((uv_handle_t *)&run->timer);
        run_close((uv_handle_t *)&run->out);
        run_close((uv_handle_t *)&run->in);
        run_close((uv_handle_t *)&run->process);
        return;
    }
    uv_buf_t b = uv_buf_init(run->input, (unsigned)strlen(run->input));
    if (uv_write(&run->write, (uv_stream_t *)&run->in, &b, 1, on_written) != 0)
        run_close((uv_handle_t *)&run->in);
    uv_read_start((uv_stream_t *)&run->out, on_alloc, on_read);
    uv_timer_start(&run->timer, on_timeout, (uint64_t)ex->timeout_ms, 0);
}

static void exec_close(void *state)
{
    struct exec_channel *ex = state;
    for (size_t i = 0; ex && ex->argv && ex->argv[i]; i++)
        free(ex->argv[i]);
    if (ex)
        free(ex->argv);
    free(ex);
}

static void *exec_open(const struct alert_channel_config *cfg, const struct alert_channel_env *env,
                       char *err, size_t errlen)
{
    const struct alert_channel_field *cmd = alert_channel_field(cfg, "command");
    const char *timeout = alert_channel_text(cfg, "timeout");
    if (!cmd || cmd->n_items == 0 || cmd->n_items > EXEC_ARGS_MAX || !cmd->items[0][0]) {
        snprintf(err, errlen, "command: expected a program and its arguments, as a list");
        return NULL;
    }
    struct exec_channel *ex = calloc(1, sizeof *ex);
    if (!ex || !(ex->argv = calloc(cmd->n_items + 1, sizeof *ex->argv))) {
        free(ex);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ex->loop = env->loop;
    ex->timeout_ms = EXEC_TIMEOUT_MS;
    for (size_t i = 0; i < cmd->n_items; i++)
        if (!(ex->argv[i] = strdup(cmd->items[i]))) {
            exec_close(ex);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    if (timeout && alert_timeout_ms(timeout, &ex->timeout_ms) != 0) {
        exec_close(ex);
        snprintf(err, errlen, "timeout: expected seconds from 0.001 to 600, got \"%.20s\"",
                 timeout);
        return NULL;
    }
    return ex;
}

static const struct alert_field_spec exec_fields[] = {
    {"command", ALERT_FIELD_REQUIRED | ALERT_FIELD_LIST},
    {"timeout", 0},
};

const struct alert_channel_type alert_channel_exec = {
    .name = "exec",
    .fields = exec_fields,
    .n_fields = sizeof exec_fields / sizeof exec_fields[0],
    .open = exec_open,
    .send = exec_send,
    .close = exec_close,
};
