/* gpu.c — the report's "gpu" section, read back from the gpu collector's samples
 * (collect/gpu.c: NVML, else nvidia-smi, with the report's 4 s command limit): count, one entry
 * per GPU, and the collector's error (null when it succeeded). */
#include "report/report_internal.h"

#include <stdlib.h>
#include <string.h>

#include "collect/collect.h"

/* The value of name for GPU index, or null. */
static json_t *report_gpu_field(const struct metric_list *list, const char *name, const char *index)
{
    const struct metric_sample *s = metric_list_find(list, name, "gpu", index);
    return s ? report_real2(s->value) : json_null();
}

static json_t *report_gpu_entry(const struct metric_list *list, const struct metric_sample *s)
{
    const char *index = report_sample_label(s, "gpu");
    const struct metric_sample *used = metric_list_find(list, "DCGM_FI_DEV_FB_USED", "gpu", index);
    const struct metric_sample *total =
        metric_list_find(list, "DCGM_FI_DEV_FB_TOTAL", "gpu", index);
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "index",
                     (json_int_t)strtol(index, NULL, 10), "uuid", report_sample_label(s, "UUID"),
                     "name", report_sample_label(s, "modelName"), "util_pct",
                     report_gpu_field(list, "DCGM_FI_DEV_GPU_UTIL", index), "mem_used_mb",
                     used ? json_integer((json_int_t)used->value) : json_null(), "mem_total_mb",
                     total ? json_integer((json_int_t)total->value) : json_null(), "temp_c",
                     report_gpu_field(list, "DCGM_FI_DEV_GPU_TEMP", index), "power_w",
                     report_gpu_field(list, "DCGM_FI_DEV_POWER_USAGE", index));
}

/* Every GPU has at least one sample; the first sample of each index names it. */
static json_t *report_gpu_list(const struct metric_list *list)
{
    json_t *gpus = json_array();
    for (size_t i = 0; i < list->count; i++) {
        const struct metric_sample *s = &list->items[i];
        if (strncmp(s->name, "DCGM_FI_DEV_", 12) != 0)
            continue;
        const char *index = report_sample_label(s, "gpu");
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strncmp(list->items[j].name, "DCGM_FI_DEV_", 12) == 0 &&
                   strcmp(report_sample_label(&list->items[j], "gpu"), index) == 0;
        if (!seen)
            json_array_append_new(gpus, report_gpu_entry(list, s));
    }
    return gpus;
}

static void report_gpu_collect(struct report_job *job)
{
    struct metric_list list = {0};
    struct collect_options copts = {.root = job->root,
                                    .command_timeout_ms = REPORT_COMMAND_TIMEOUT_MS};
    char err[512] = "";
    int rc = collect_gpu.collect(&list, &copts, err, sizeof err);
    json_t *gpus = report_gpu_list(&list);
    int count = collect_gpu_count(&list);
    json_object_set_new(job->data, "count",
                        json_integer(count >= 0 ? count : (json_int_t)json_array_size(gpus)));
    json_object_set_new(job->data, "gpus", gpus);
    json_object_set_new(job->data, "error", rc == 0 ? json_null() : json_string(err));
    if (rc != 0)
        report_fail(job, "%s", err);
    metric_list_free(&list);
}

const struct report_section report_gpu = {"gpu", report_gpu_collect};
