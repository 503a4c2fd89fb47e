/* faultline.c — the report's "faultline" section: whether this node runs a faultline agent and
 * server (found in the process table by their command line), the agent's version (ours when it
 * is this very binary, else what `EXE --version` prints within 4 s), and whether the server
 * answers GET / on 127.0.0.1:SERVER_PORT. */
#include "report/report_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collect/collect.h"

/* The first process run as `faultline COMMAND`, or NULL. */
static const struct report_proc *report_find_faultline(const struct report_procs *procs,
                                                       const char *command)
{
    for (size_t i = 0; i < procs->count; i++) {
        const struct report_proc *p = &procs->items[i];
        if (p->state != 'Z' && strcmp(p->arg0, "faultline") == 0 && strcmp(p->arg1, command) == 0)
            return p;
    }
    return NULL;
}

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
    const struct report_proc *agent = report_find_faultline(job->procs, "agent");
    const struct report_proc *server = report_find_faultline(job->procs, "server");
    json_object_set_new(job->data, "agent",
                        json_pack("{s:b, s:o, s:o}", "running", agent != NULL, "pid",
                                  agent ? json_integer(agent->pid) : json_null(), "version",
                                  agent ? report_version_of(job, agent) : json_null()));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", job->opts->server_port);
    struct report_http req = {.url = url};
    report_http_get_all(&req, 1);
    bool healthy = req.status == 200;
    if (server && !healthy)
        report_fail(job, "server: %s", req.error[0] ? req.error : "not HTTP 200 on GET /");
    json_object_set_new(
        job->data, "server",
        json_pack("{s:b, s:s, s:b}", "running", server != NULL, "url", url, "healthy", healthy));
}

const struct report_section report_faultline = {"faultline", false, report_faultline_collect};
