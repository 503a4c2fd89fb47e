/* fuzz_agent_checks.c — libFuzzer target for what agents send about checks: the input as a
 * heartbeat's TAGS text (tags_parse), and as JSON, a batch of results
 * (POST /api/v1/checks/results/NAME: check_results_validate). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check/tags.h"
#include "server/check_results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512], field[128];
    json_t *tags = tags_parse(text, "site-1", err, sizeof err);
    if (tags) {
        json_t *want = json_pack("{ss}", "site", "site-1");
        tags_match(want, tags);
        json_decref(want);
    }
    json_decref(tags);
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (body)
        check_results_validate(body, field, sizeof field, err, sizeof err);
    json_decref(body);
    free(text);
    return 0;
}
