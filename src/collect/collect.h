/* collect.h — host collectors shared by the agent, report and monitor: each fills its part of
 * struct host_facts. A collector is a const table row (name + function); adding one is a new
 * file under src/collect/ plus one row in collect_table below.
 *
 * Collectors may block (the GPU one runs nvidia-smi for up to 10 s): callers on the event loop run
 * them on a worker thread (uv_queue_work). They keep no state and are safe to call from any
 * thread, but not twice at once on the same host_facts. */
#ifndef FAULTLINE_COLLECT_H
#define FAULTLINE_COLLECT_H

#include <stddef.h>
#include <stdint.h>

struct host_facts {
    char hostname[65];
    int64_t uptime_s;       /* seconds since boot */
    int gpus;               /* NVIDIA GPUs; 0 on a machine without any (normal, not an error) */
    const char *gpu_source; /* static text: "nvml", "nvidia-smi" or "none" */
};

struct collector {
    const char *name;
    /* Fills its fields of out. Returns 0, or -1 with what went wrong in err; on -1 its fields
     * hold safe defaults (0, ""). */
    int (*collect)(struct host_facts *out, char *err, size_t errlen);
};

extern const struct collector collect_system; /* hostname, uptime_s */
extern const struct collector collect_gpu;    /* gpus, gpu_source */

/* The registration table, in run order (collect.c), and its length. */
extern const struct collector *const collect_table[];
extern const size_t collect_count;

/* Runs every collector over a zeroed out. A failing collector does not stop the others. Returns
 * 0, or -1 with the first error as "name: text" in err. */
int collect_all(struct host_facts *out, char *err, size_t errlen);

/* GPU count from `PATH -L` (lines that start with "GPU "), run without a shell, killed after
 * timeout_ms. A missing binary is 0 GPUs and not an error; a failing or hanging one is 0 GPUs and
 * -1 with the reason in err. Exposed for tests; collect_gpu uses it as its fallback. */
int collect_gpu_count_smi(const char *path, int timeout_ms, int *gpus, char *err, size_t errlen);

#endif
