/* report_internal.h — what the report's sections share inside src/report/: the section table's
 * row, a section's job (its own JSON object and errors, touched only by its thread), the process
 * table read once before the sections start, and small helpers. */
#ifndef FAULTLINE_REPORT_INTERNAL_H
#define FAULTLINE_REPORT_INTERNAL_H

#include <sys/types.h>

#include "model/metric.h"
#include "report/report.h"

/* One process from /proc, read once by report_collect and shared read-only by the sections. */
struct report_proc {
    pid_t pid, ppid;
    char state;     /* R, S, D, Z, ... */
    char comm[32];  /* /proc/PID/comm */
    char arg0[256]; /* basename of argv[0] */
    char arg1[64];  /* argv[1], "" when none */
};

struct report_procs {
    struct report_proc *items;
    size_t count;
};

struct report_job {
    const struct report_section *section;
    const struct report_options *opts;
    const struct report_procs *procs;
    const char *root; /* opts->root or "" */
    json_t *data;     /* the section's object, owned by the job */
    json_t *errors;   /* [{"section","error"}], owned by the job */
};

struct report_section {
    /* The member of the report it fills (rows with the same name fill one object), or NULL for
     * a row that fills several: its data is an object of members by name, merged in. */
    const char *name;
    /* Fills job->data; failures go to report_fail. */
    void (*collect)(struct report_job *job);
};

extern const struct report_section report_system, report_services, report_network_sockets,
    report_network_fw, report_network_wg, report_processes, report_gpu, report_faultline,
    report_netcheck;

/* Adds {"section": job's name, "error": text} to the job's errors. */
void report_fail(struct report_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same, naming the section (for a row that fills several). */
void report_fail_in(struct report_job *job, const char *section, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads root + path whole (at most cap bytes) into a malloc'd NUL-terminated buffer; NULL with
 * errno set on failure. */
char *report_read_file(const char *root, const char *path, size_t cap);

/* Splits a comma-separated list into trimmed, non-empty items; calls fn(item, ctx) for each
 * (the item is a temporary copy). Returns how many. */
size_t report_list_each(const char *list, void (*fn)(const char *item, void *ctx), void *ctx);

/* Number helpers: a JSON real rounded to two decimals; null for a negative "unknown". */
json_t *report_real2(double v);
json_t *report_int_or_null(int64_t v);
json_t *report_text_or_null(const char *text);

/* The value of a collector sample's label name, or "" when it has none. */
const char *report_sample_label(const struct metric_sample *s, const char *name);

/* Reads /proc (under root) into procs; returns 0 or -1 with err set. */
int report_procs_read(const char *root, struct report_procs *procs, char *err, size_t errlen);
void report_procs_free(struct report_procs *procs);

/* The first live process run as `faultline COMMAND` ("agent", "server"), or NULL. */
const struct report_proc *report_procs_find_faultline(const struct report_procs *procs,
                                                      const char *command);

#endif
