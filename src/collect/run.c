/* run.c — runs a collector's command (nvidia-smi, a METRICS_EXEC command) without a shell and
 * reads its output with a deadline; a command that hangs is killed with its whole process group.
 * See collect_run in collect.h. */
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

/* Starts argv in its own process group, stdout into a pipe, stdin and stderr on /dev/null, no
 * inherited descriptors and default signal handling. Returns 0, or the errno of the failure. */
static int run_spawn(char *const argv[], pid_t *pid, int *out_fd)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
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
    if (rc != 0) {
        close(pipefd[0]);
        return rc;
    }
    *out_fd = pipefd[0];
    return 0;
}

#define RUN_CANCEL_CHECK_MS 100

/* Reads fd until EOF, the deadline or *cancel; keeps the first cap - 1 bytes and drains the rest.
 * Returns 0 at EOF, -1 on timeout, cancel or read error. */
static int run_read(int fd, int64_t deadline_ms, const atomic_bool *cancel, char *buf, size_t cap,
                    size_t *len)
{
    char scratch[4096];
    *len = 0;
    for (;;) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (left <= 0 || (cancel && atomic_load(cancel)))
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(left < RUN_CANCEL_CHECK_MS ? left : RUN_CANCEL_CHECK_MS));
        if ((pr < 0 && errno == EINTR) || pr == 0)
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
    int spawn_rc = run_spawn(argv, &pid, &fd);
    if (spawn_rc == ENOENT)
        return 1;
    if (spawn_rc != 0)
        return err_set(err, errlen, "%s: %s", argv[0], strerror(spawn_rc));
    char *buf = malloc(cap);
    int read_rc = buf ? run_read(fd, clock_mono_ms() + timeout_ms, cancel, buf, cap, len) : -1;
    close(fd);
    if (read_rc != 0)
        kill(-pid, SIGKILL); /* the whole group: a wrapper script's children too */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!buf)
        return err_set(err, errlen, "%s: out of memory", argv[0]);
    *out = buf;
    if (read_rc != 0) {
        buf[*len] = '\0';
        if (cancel && atomic_load(cancel))
            return err_set(err, errlen, "%s: killed, the agent is stopping", argv[0]);
        return err_set(err, errlen, "%s: no answer within %d ms, killed", argv[0], timeout_ms);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return err_set(err, errlen, "%s: exit status %d", argv[0],
                       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}
