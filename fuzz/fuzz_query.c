/* fuzz_query.c — libFuzzer target for query parameter values: what http_query_int and
 * http_query_time hand to num_parse_int64 and clock_parse_iso (?limit=, ?since=, ?until=). The
 * input is one value; a number accepted must lie within the limits asked for, and a failure must
 * come with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/num.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[256] = "";
    int64_t v = 0;
    if (num_parse_int64("limit", text, 1, 1000, "a number from 1 to 1000", &v, err, sizeof err) == 0) {
        if (v < 1 || v > 1000)
            abort();
    } else if (!err[0]) {
        abort();
    }
    int64_t ms = 0;
    clock_parse_iso(text, &ms);
    free(text);
    return 0;
}
