/* fuzz_metric_text.c — libFuzzer target for Prometheus text (metric_text_parse), the reader of
 * agents' pushes and of the textfile and exec collectors. */
#include <stddef.h>
#include <stdint.h>

#include "model/metric_text.h"

static void ignore(void *ctx, size_t line, const char *error)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct metric_list list = {0};
    metric_text_parse((const char *)data, size, &list, ignore, NULL);
    metric_list_free(&list);
    return 0;
}
