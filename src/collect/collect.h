/* collect.h — host collectors shared by the agent (and later `faultline report`): each appends
 * metric samples (model/metric.h) under node_exporter's names for host metrics and
 * dcgm-exporter's for GPUs. A collector is a const table row (name, function, timeout); adding
 * one is a new file under src/collect/ plus one row in collect_table (collect.c).
 *
 * Collectors read files and may run commands (nvidia-smi, METRICS_EXEC), so they block: callers
 * on an event loop run them on a worker thread (uv_queue_work). They keep no state and are safe
 * to call from any thread, but not twice at once on the same list. */
#ifndef FAULTLINE_COLLECT_H
#define FAULTLINE_COLLECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/metric.h"

struct statvfs;

#define COLLECT_EXEC_NAME_MAX 64
#define COLLECT_EXEC_MAX 16      /* commands METRICS_EXEC may list */
#define COLLECT_EXEC_ARGS_MAX 32 /* words one command may have, its path included */

/* One METRICS_EXEC command: run without a shell, killed after timeout_ms. */
struct collect_exec {
    char name[COLLECT_EXEC_NAME_MAX]; /* [a-z0-9_-]+, the collector label of its errors */
    int timeout_ms;
    char *argv[COLLECT_EXEC_ARGS_MAX + 1]; /* NULL-terminated, owned (collect_exec_free) */
};

/* What the collectors read. Zeroed options collect this host with the defaults. */
struct collect_options {
    const char *root;         /* prefix of /proc, /sys and mount points (tests); NULL: "" */
    bool per_cpu;             /* node_cpu_seconds_total per CPU; false: one cpu="all" */
    const char *textfile_dir; /* METRICS_TEXTFILE_DIR; NULL: no textfile metrics */
    const struct collect_exec *exec;
    size_t exec_count;
    const char *nvml_library;  /* NULL: $FAULTLINE_NVML_LIB, else libnvidia-ml.so.1 */
    const char *nvidia_smi;    /* NULL: $FAULTLINE_NVIDIA_SMI, else nvidia-smi from PATH */
    const atomic_bool *cancel; /* NULL, or set by another thread to kill running commands */
    int command_timeout_ms;    /* 0: each collector's own timeout; else its commands' limit
                                * (`faultline report` allows 4 s) */
    int mount_timeout_ms;      /* the longest a file system's statvfs may take; 0: 5000, or
                                * command_timeout_ms when shorter */
    /* NULL: statvfs(3); tests put a hung mount in. Called on a thread of its own. */
    int (*statvfs)(const char *path, struct statvfs *st);
};

struct collector {
    const char *name;
    /* Appends its samples to out. Returns 0, or -1 with what went wrong in err; on -1 the
     * samples it could read are still appended (a broken mount does not hide the others). */
    int (*collect)(struct metric_list *out, const struct collect_options *opts, char *err,
                   size_t errlen);
    int timeout_ms; /* the longest one run may take (its commands are killed then); 0: it
                     * only reads local files */
};

extern const struct collector collect_system;   /* CPU, load, memory, disks, network, uptime */
extern const struct collector collect_gpu;      /* NVML, else nvidia-smi; none without GPUs */
extern const struct collector collect_textfile; /* *.prom files in textfile_dir */
extern const struct collector collect_exec;     /* the METRICS_EXEC commands */

/* The registration table, in run order (collect.c), and its length. */
extern const struct collector *const collect_table[];
extern const size_t collect_count;

/* Runs collect_table[index] into out (a walk of the table calls it for index 0 to
 * collect_count - 1, in turn; a failing collector does not stop the others) and adds
 * node_exporter's node_scrape_collector_success{collector} and
 * node_scrape_collector_duration_seconds{collector} for it. Returns 0, or -1 with "name: text"
 * appended to err (after "; " when err already holds a failure). */
int collect_one(size_t index, struct metric_list *out, const struct collect_options *opts,
                char *err, size_t errlen);

/* ---- facts the heartbeat sends, read from the samples --------------------------------------- */

/* The host name (gethostname), NUL-terminated. Returns 0, or -1 with err set and buf "". */
int collect_hostname(char *buf, size_t len, char *err, size_t errlen);

/* faultline_gpus's value: NVIDIA GPUs found (0 without any), COLLECT_GPUS_FAILED when the GPU
 * check failed (nvidia-smi failing or hanging: source="failed"), or COLLECT_GPUS_UNKNOWN when the
 * list has no faultline_gpus. */
#define COLLECT_GPUS_UNKNOWN (-1)
#define COLLECT_GPUS_FAILED (-2)
int collect_gpu_count(const struct metric_list *list);

/* node_boot_time_seconds's value, or -1 when the list has none. */
int64_t collect_boot_time(const struct metric_list *list);

/* ---- commands ------------------------------------------------------------------------------ */

/* Runs argv (argv[0] found in PATH) without a shell, in its own process group, stdin on
 * /dev/null, and reads its stdout until it exits, timeout_ms pass or *cancel (when not NULL)
 * becomes true, within 100 ms (the group is killed then). Keeps the first cap bytes; *out is
 * malloc'd and NUL-terminated, the caller frees it. Returns 0 on exit status 0; 1 when argv[0] does
 * not exist (nothing run, *out NULL); -1 with the reason in err otherwise (*out holds what was
 * read, or NULL): "ARGV0: exit status N", "ARGV0: killed by signal N (NAME)" or "ARGV0: no answer
 * within N ms, killed", then `; stderr: "LINE"` with the first line it wrote to stderr, if any. */
int collect_run(char *const argv[], int timeout_ms, const atomic_bool *cancel, size_t cap,
                char **out, size_t *len, char *err, size_t errlen);

/* Appends the GPUs of `nvidia-smi --query-gpu=...` output (gpu.c's fields, CSV without header
 * or units; text is modified) and returns how many; lines that are not a GPU are skipped.
 * Exposed for the fuzz target; collect_gpu runs it on nvidia-smi's output. */
int collect_gpu_smi_parse(char *text, struct metric_list *out);

/* ---- METRICS_EXEC ---------------------------------------------------------------------------- */

#define COLLECT_EXEC_EXPECTED                                                                      \
    "commands separated by ';', each NAME:TIMEOUT:COMMAND [ARGS...] with NAME of "                 \
    "[a-z0-9_-], TIMEOUT seconds from 0.1 to 300 and COMMAND a path or a name found in PATH "      \
    "(at most 16 commands of 32 words; no shell, no quotes)"

/* Parses METRICS_EXEC (COLLECT_EXEC_EXPECTED) into *cmds (malloc'd, free with
 * collect_exec_free). Empty text is no commands. Returns 0, or -1 with err naming the entry. */
int collect_exec_parse(const char *text, struct collect_exec **cmds, size_t *count, char *err,
                       size_t errlen);
void collect_exec_free(struct collect_exec *cmds, size_t count);

/* Whether text parses (the METRICS_EXEC check of the option table). */
bool collect_exec_valid(const char *text);

#endif
