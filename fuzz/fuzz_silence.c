/* fuzz_silence.c — libFuzzer target for silence definitions (alert/silence.h): the body of
 * POST /api/v1/silences. A body that reads as JSON goes to silence_parse; a silence it accepts is
 * matched, timed and written back as JSON, and its stored definition must read again; one it
 * refuses must name a field and say why. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert/silence.h"

#define NOW_MS 1796040000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *def = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!def)
        return 0;
    const char *field = NULL;
    char err[300] = "";
    struct silence *s = silence_parse(def, NOW_MS, NULL, &field, err, sizeof err);
    json_decref(def);
    if (!s) {
        if (!field || !err[0])
            abort();
        return 0;
    }
    const struct label l[] = {{"region", "eu"}, {"role", "gpu"}};
    const struct label_set labels = {l, 2};
    struct alert_match_input in = {"worker", "gpu-01", &labels, "critical"};
    silence_matches(s, &in);
    silence_active(s, NOW_MS);
    silence_next_start(s, NOW_MS);
    json_decref(silence_json(s, NOW_MS));
    json_t *stored = silence_definition_json(s);
    struct silence *again = silence_parse(stored, NOW_MS, NULL, &field, err, sizeof err);
    if (!again)
        abort(); /* what the store keeps must read back at start-up */
    json_decref(stored);
    silence_free(again);
    silence_free(s);
    return 0;
}
