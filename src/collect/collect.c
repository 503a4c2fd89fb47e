/* collect.c — the collector registration table, the step that runs one collector, and the
 * heartbeat's facts read back from the samples; the collectors themselves live one per file
 * beside it (system.c, gpu.c, textfile.c, exec.c). */
#include "collect/collect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"

const struct collector *const collect_table[] = {&collect_system, &collect_gpu, &collect_textfile,
                                                 &collect_exec};
const size_t collect_count = sizeof collect_table / sizeof collect_table[0];

/* Appends "name: text" to err, after a "; " when it already holds a failure. */
static void collect_note_failure(char *err, size_t errlen, const char *name, const char *text)
{
    size_t used = strnlen(err, errlen);
    if (used + 1 >= errlen)
        return;
    snprintf(err + used, errlen - used, "%s%s: %s", used ? "; " : "", name, text);
}

int collect_one(size_t index, struct metric_list *out, const struct collect_options *opts,
                char *err, size_t errlen)
{
    const struct collector *c = collect_table[index];
    char e[512] = "";
    int64_t t0 = clock_mono_ms();
    int rc = c->collect(out, opts, e, sizeof e);
    double seconds = (double)(clock_mono_ms() - t0) / 1000.0;
    if (rc != 0)
        collect_note_failure(err, errlen, c->name, e);
    metric_list_add(out, "node_scrape_collector_success",
                    "node_exporter: Whether a collector succeeded.", "gauge", rc == 0, 1,
                    "collector", c->name);
    metric_list_add(out, "node_scrape_collector_duration_seconds",
                    "node_exporter: Duration of a collector scrape.", "gauge", seconds, 1,
                    "collector", c->name);
    return rc == 0 ? 0 : -1;
}

int collect_hostname(char *buf, size_t len, char *err, size_t errlen)
{
    if (gethostname(buf, len) != 0) {
        buf[0] = '\0';
        return err_set(err, errlen, "hostname: %s", strerror(errno));
    }
    buf[len - 1] = '\0'; /* gethostname may truncate without terminating */
    return 0;
}

int collect_gpu_count(const struct metric_list *list)
{
    const struct metric_sample *s = metric_list_find(list, "faultline_gpus", NULL, NULL);
    if (!s)
        return COLLECT_GPUS_UNKNOWN;
    if (metric_list_find(list, "faultline_gpus", "source", "failed"))
        return COLLECT_GPUS_FAILED;
    return (int)s->value;
}

int64_t collect_boot_time(const struct metric_list *list)
{
    const struct metric_sample *s = metric_list_find(list, "node_boot_time_seconds", NULL, NULL);
    return s ? (int64_t)s->value : -1;
}
