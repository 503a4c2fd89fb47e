/* probes.c — the report's "probes" section: an HTTP GET of each REPORT_PROBES entry
 * (NAME=URL), all at once with the report's 3 s limit; ok is a 2xx or 3xx answer. They stand in
 * for the per-service sections of a larger report: point them at the health routes of the
 * services this node runs. */
#include "report/report_internal.h"

#include <string.h>

#define REPORT_PROBES_MAX 32

struct report_probe_list {
    struct report_job *job;
    char names[REPORT_PROBES_MAX][64];
    char urls[REPORT_PROBES_MAX][1024];
    size_t count;
};

static void report_probe_of(const char *item, void *arg)
{
    struct report_probe_list *l = arg;
    const char *eq = strchr(item, '=');
    if (!eq || eq == item || (size_t)(eq - item) >= sizeof l->names[0] ||
        !config_check_url(eq + 1)) {
        report_fail(l->job,
                    "REPORT_PROBES: expected NAME=URL with an http:// or https:// URL, "
                    "got \"%s\"",
                    item);
        return;
    }
    if (l->count == REPORT_PROBES_MAX) {
        report_fail(l->job, "REPORT_PROBES: more than %d probes, \"%s\" left out",
                    REPORT_PROBES_MAX, item);
        return;
    }
    snprintf(l->names[l->count], sizeof l->names[0], "%.*s", (int)(eq - item), item);
    snprintf(l->urls[l->count], sizeof l->urls[0], "%s", eq + 1);
    l->count++;
}

static void report_probes_collect(struct report_job *job)
{
    static __thread struct report_probe_list list; /* large: kept off the thread's stack */
    memset(&list, 0, sizeof list);
    list.job = job;
    report_list_each(job->opts->settings->probes, report_probe_of, &list);
    struct report_http reqs[REPORT_PROBES_MAX] = {0};
    for (size_t i = 0; i < list.count; i++)
        reqs[i].url = list.urls[i];
    report_http_get_all(reqs, list.count);
    for (size_t i = 0; i < list.count; i++) {
        const struct report_http *r = &reqs[i];
        bool ok = r->status >= 200 && r->status < 400;
        char error[300] = "";
        if (r->error[0])
            snprintf(error, sizeof error, "%s", r->error);
        else if (!ok)
            snprintf(error, sizeof error, "HTTP %ld", r->status);
        if (error[0])
            report_fail(job, "%s: %s", list.names[i], error);
        json_array_append_new(job->data,
                              json_pack("{s:s, s:s, s:b, s:o, s:o, s:o}", "name", list.names[i],
                                        "url", list.urls[i], "ok", ok, "status",
                                        r->status ? json_integer(r->status) : json_null(), "ms",
                                        report_real2(r->ms), "error", report_text_or_null(error)));
    }
}

const struct report_section report_probes = {"probes", true, report_probes_collect};
