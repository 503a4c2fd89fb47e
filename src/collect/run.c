/* run.c — runs a collector's command (nvidia-smi, a METRICS_EXEC command) without a shell and
 * reads its output with a deadline; a command that hangs is killed with its whole process group.
 * The first line of its stderr goes into the error of a command that fails. See collect_run in
 * collect.h. */
#include "collect/collect.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"

extern char **environ;

#define RUN_STDERR_KEPT 200 /* bytes of stderr's first line quoted in an error */

/* Starts argv in its own process group, stdout and stderr into pipes (stderr's non-blocking),
 * stdin on /dev/null, no inherited descriptors and default signal handling. Returns 0, or the
 * errno of the failure. */
static int run_spawn(char *const argv[], pid_t *pid, int *out_fd, int *err_fd)
{
    int pipefd[2], errpipe[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return errno;
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        int e = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return e;
    }
    fcntl(errpipe[0], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errpipe[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pipefd[1]);
    close(errpipe[1]);
    if (rc != 0) {
        close(pipefd[0]);
        close(errpipe[0]);
        return rc;
    }
    *out_fd = pipefd[0];
    *err_fd = errpipe[0];
    return 0;
}

/* The first RUN_STDERR_KEPT bytes of a command's stderr (the rest is drained). */
struct run_stderr {
    int fd; /* -1 once at its end */
    char text[RUN_STDERR_KEPT + 1];
    size_t len;
};

/* Reads what stderr holds now (it does not block). */
static void run_read_stderr(struct run_stderr *e)
{
    char chunk[1024];
    ssize_t n;
    while (e->fd >= 0 && (n = read(e->fd, chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                e->fd = -1; /* closed by the caller */
            return;
        }
        size_t take = RUN_STDERR_KEPT - e->len < (size_t)n ? RUN_STDERR_KEPT - e->len : (size_t)n;
        memcpy(e->text + e->len, chunk, take);
        e->len += take;
    }
    e->fd = -1;
}

/* Appends `; stderr: "LINE"` (its first non-empty line, printable ASCII) to err when stderr
 * said something. */
static void run_note_stderr(const struct run_stderr *e, char *err, size_t errlen)
{
    const char *s = e->text, *end = e->text + e->len;
    while (s < end && (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t'))
        s++;
    const char *eol = s;
    while (eol < end && *eol != '\n' && *eol != '\r')
        eol++;
    size_t used = strnlen(err, errlen);
    if (s == eol || used + 16 >= errlen)
        return;
    char line[RUN_STDERR_KEPT + 1];
    size_t n = 0;
    for (; s < eol; s++)
        line[n++] = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f && *s != '"' ? *s : '?';
    line[n] = '\0';
    snprintf(err + used, errlen - used, "; stderr: \"%s\"", line);
}

#define RUN_CANCEL_CHECK_MS 100

/* Reads fd until EOF, the deadline or *cancel; keeps the first cap - 1 bytes and drains the rest;
 * meanwhile reads stderr into *e. Returns 0 at EOF, -1 on timeout, cancel or read error. */
static int run_read(int fd, struct run_stderr *e, int64_t deadline_ms, const atomic_bool *cancel,
                    char *buf, size_t cap, size_t *len)
{
    char scratch[4096];
    *len = 0;
    for (;;) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (left <= 0 || (cancel && atomic_load(cancel)))
            return -1;
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = e->fd, .events = POLLIN}};
        int pr = poll(p, 2, (int)(left < RUN_CANCEL_CHECK_MS ? left : RUN_CANCEL_CHECK_MS));
        if (pr > 0 && p[1].revents)
            run_read_stderr(e);
        if ((pr < 0 && errno == EINTR) || pr == 0 || (pr > 0 && !p[0].revents))
            continue;
        if (pr < 0)
            return -1;
        bool room = *len < cap - 1;
        ssize_t n = room ? read(fd, buf + *len, cap - 1 - *len) : read(fd, scratch, sizeof scratch);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (room)
            *len += (size_t)n;
    }
    buf[*len] = '\0';
    return 0;
}

int collect_run(char *const argv[], int timeout_ms, const atomic_bool *cancel, size_t cap,
                char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    pid_t pid = -1;
    int fd = -1;
    struct run_stderr e = {.fd = -1};
    int spawn_rc = run_spawn(argv, &pid, &fd, &e.fd);
    if (spawn_rc == ENOENT)
        return 1;
    if (spawn_rc != 0)
        return err_set(err, errlen, "%s: %s", argv[0], strerror(spawn_rc));
    char *buf = malloc(cap);
    int errfd = e.fd;
    int read_rc = buf ? run_read(fd, &e, clock_mono_ms() + timeout_ms, cancel, buf, cap, len) : -1;
    close(fd);
    if (read_rc != 0)
        kill(-pid, SIGKILL); /* the whole group: a wrapper script's children too */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    run_read_stderr(&e); /* what it wrote before it exited (a child holding stderr: no wait) */
    close(errfd);
    if (!buf)
        return err_set(err, errlen, "%s: out of memory", argv[0]);
    *out = buf;
    if (read_rc != 0) {
        buf[*len] = '\0';
        if (cancel && atomic_load(cancel))
            return err_set(err, errlen, "%s: killed, the agent is stopping", argv[0]);
        err_set(err, errlen, "%s: no answer within %d ms, killed", argv[0], timeout_ms);
    } else if (WIFSIGNALED(status)) {
        err_set(err, errlen, "%s: killed by signal %d (%s)", argv[0], WTERMSIG(status),
                sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    } else if (WEXITSTATUS(status) != 0) {
        err_set(err, errlen, "%s: exit status %d", argv[0], WEXITSTATUS(status));
    } else {
        return 0;
    }
    run_note_stderr(&e, err, errlen);
    return -1;
}
