/* faultline.c — the report's "faultline" section, its agent part: whether this node runs a
 * faultline agent (found in the process table by its command line) and its version (ours when
 * it is this very binary, else what `EXE --version` prints within 4 s). The server part is
 * netcheck.c's. */
#include "report/report_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collect/collect.h"

/* "faultline 0.1.0" from the running binary of p: ours without running anything when it is the
 * same file. NULL when unknown. */
static json_t *report_version_of(struct report_job *job, const struct report_proc *p)
{
    char exe[64];
    snprintf(exe, sizeof exe, "/proc/%d/exe", (int)p->pid);
    struct stat theirs, ours;
    if (stat(exe, &theirs) != 0)
        return json_null(); /* another user's process: its exe is not ours to read */
    if (stat("/proc/self/exe", &ours) == 0 && theirs.st_ino == ours.st_ino &&
        theirs.st_dev == ours.st_dev)
        return json_string(FAULTLINE_VERSION);
    char *argv[] = {exe, "--version", NULL};
    char *out = NULL, err[256];
    size_t len;
    json_t *v = json_null();
    if (collect_run(argv, REPORT_COMMAND_TIMEOUT_MS, NULL, 4096, &out, &len, err, sizeof err) ==
            0 &&
        strncmp(out, "faultline ", 10) == 0) {
        out[strcspn(out, "\n")] = '\0';
        v = json_string(out + 10);
    } else {
        report_fail(job, "agent version: %s", out ? "not a faultline --version answer" : err);
    }
    free(out);
    return v;
}

static void report_faultline_collect(struct report_job *job)
{
    const struct report_proc *agent = report_procs_find_faultline(job->procs, "agent");
    json_object_set_new(job->data, "agent",
                        json_pack("{s:b, s:o, s:o}", "running", agent != NULL, "pid",
                                  agent ? json_integer(agent->pid) : json_null(), "version",
                                  agent ? report_version_of(job, agent) : json_null()));
}

/* The server's part (its health over HTTP) is netcheck.c's. */
const struct report_section report_faultline = {"faultline", report_faultline_collect};
