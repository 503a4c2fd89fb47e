/* fuzz_collect.c — libFuzzer target for what the collectors read from outside: METRICS_EXEC's
 * command list (first byte even) and nvidia-smi's CSV output (first byte odd). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect/collect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] % 2 == 0) {
        struct collect_exec *cmds;
        size_t n;
        char err[256];
        if (collect_exec_parse(text, &cmds, &n, err, sizeof err) == 0)
            collect_exec_free(cmds, n);
    } else {
        struct metric_list list = {0};
        collect_gpu_smi_parse(text, &list);
        char *out;
        size_t len;
        if (metric_list_to_text(&list, &out, &len) == 0)
            free(out);
        metric_list_free(&list);
    }
    free(text);
    return 0;
}
