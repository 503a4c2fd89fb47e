/* fuzz_metric_text.c — libFuzzer target for Prometheus text: the reader (metric_text_parse) of
 * agents' pushes and of the textfile and exec collectors, the agent's writer of what it read
 * (metric_list_to_text), and the server's build of a push into an agent's block
 * (agent_block_build, which writes every line with the server's labels added) and its swap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/metric_text.h"
#include "server/agent_metrics.h"

static void ignore(void *ctx, size_t line, const char *error)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct metric_list list = {0};
    metric_text_parse((const char *)data, size, &list, ignore, NULL);
    char *text = NULL;
    size_t len = 0;
    if (metric_list_to_text(&list, &text, &len) == 0)
        free(text);
    metric_list_free(&list);

    struct agent_metrics *am = agent_metrics_new(100, 60000, NULL);
    struct agent_metrics_limits limits;
    agent_metrics_limits(am, &limits);
    struct agent_block *b = agent_block_build(&limits, "fuzz-\"1\"\n", "site\\",
                                              (const char *)data, size, ignore, NULL);
    struct agent_metrics_push result;
    if (b)
        agent_metrics_swap(am, "fuzz-\"1\"\n", b, 1, 1, ignore, NULL, &result);
    agent_metrics_free(am);
    return 0;
}
