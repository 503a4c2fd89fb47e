/* gpu.c — the "gpu" collector: how many NVIDIA GPUs this machine has. Asks NVML (loaded at run
 * time, never linked, so the binary runs where no driver is installed), else counts the "GPU n:"
 * lines of `nvidia-smi -L`, else reports 0: a machine without a GPU is normal.
 * FAULTLINE_NVML_LIB and FAULTLINE_NVIDIA_SMI override the library and binary (tests use them). */
#include "collect/collect.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"

#define GPU_SMI_TIMEOUT_MS 10000
#define GPU_SMI_OUTPUT_CAP 65536

extern char **environ;

typedef int (*nvml_init_fn)(void);
typedef int (*nvml_count_fn)(unsigned int *count);
typedef int (*nvml_shutdown_fn)(void);

static const char *gpu_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Returns 0 and sets *gpus when NVML answered, -1 when it is missing or fails. */
static int gpu_count_nvml(const char *lib, int *gpus)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return -1;
    nvml_init_fn init = (nvml_init_fn)dlsym(h, "nvmlInit_v2");
    nvml_count_fn count = (nvml_count_fn)dlsym(h, "nvmlDeviceGetCount_v2");
    nvml_shutdown_fn shutdown = (nvml_shutdown_fn)dlsym(h, "nvmlShutdown");
    int rc = -1;
    unsigned int n = 0;
    if (init && count && shutdown && init() == 0) { /* 0 is NVML_SUCCESS */
        if (count(&n) == 0) {
            *gpus = (int)n;
            rc = 0;
        }
        shutdown();
    }
    dlclose(h);
    return rc;
}

/* Starts `path -L` in its own process group, stdout into a pipe, stdin and stderr on /dev/null,
 * no inherited descriptors and default signal handling. Returns 0, or the errno of the failure. */
static int gpu_smi_spawn(const char *path, pid_t *pid, int *out_fd)
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
    char *argv[] = {(char *)path, "-L", NULL};
    int rc = posix_spawnp(pid, path, &fa, &attr, argv, environ);
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

/* Reads fd until EOF or the deadline; keeps the first GPU_SMI_OUTPUT_CAP bytes. Returns 0 at EOF,
 * -1 on timeout or read error. */
static int gpu_smi_read(int fd, int64_t deadline_ms, char *buf, size_t cap, size_t *len)
{
    char scratch[4096];
    *len = 0;
    for (;;) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
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

/* Counts lines that start with "GPU " (MIG devices are indented and are not counted). */
static int gpu_count_lines(const char *text)
{
    int n = 0;
    for (const char *line = text; line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, "GPU ", 4) == 0)
            n++;
    }
    return n;
}

static int gpu_fail(char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen, "%s -L: %s", path, why);
    return -1;
}

int collect_gpu_count_smi(const char *path, int timeout_ms, int *gpus, char *err, size_t errlen)
{
    *gpus = 0;
    pid_t pid = -1;
    int fd = -1;
    int spawn_rc = gpu_smi_spawn(path, &pid, &fd);
    if (spawn_rc == ENOENT)
        return 0; /* no NVIDIA tools installed: no GPUs */
    if (spawn_rc != 0)
        return gpu_fail(err, errlen, path, strerror(spawn_rc));
    char *out = malloc(GPU_SMI_OUTPUT_CAP);
    size_t len = 0;
    int read_rc =
        out ? gpu_smi_read(fd, clock_mono_ms() + timeout_ms, out, GPU_SMI_OUTPUT_CAP, &len) : -1;
    close(fd);
    if (read_rc != 0)
        kill(-pid, SIGKILL); /* the whole group: a wrapper script's children too */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = 0;
    char why[96];
    if (read_rc != 0) {
        snprintf(why, sizeof why, out ? "no answer within %d ms, killed" : "out of memory",
                 timeout_ms);
        rc = gpu_fail(err, errlen, path, why);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof why, "exit status %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        rc = gpu_fail(err, errlen, path, why);
    } else {
        *gpus = gpu_count_lines(out);
    }
    free(out);
    return rc;
}

static int gpu_collect(struct host_facts *out, char *err, size_t errlen)
{
    int n = 0;
    if (gpu_count_nvml(gpu_env("FAULTLINE_NVML_LIB", "libnvidia-ml.so.1"), &n) == 0) {
        out->gpus = n;
        out->gpu_source = "nvml";
        return 0;
    }
    const char *smi = gpu_env("FAULTLINE_NVIDIA_SMI", "nvidia-smi");
    int rc = collect_gpu_count_smi(smi, GPU_SMI_TIMEOUT_MS, &n, err, errlen);
    out->gpus = n;
    out->gpu_source = n > 0 ? "nvidia-smi" : "none";
    return rc;
}

const struct collector collect_gpu = {"gpu", gpu_collect};
