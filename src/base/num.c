/* num.c — whole numbers from text, checked against a range; see num.h. Leading white space and
 * a sign are accepted, as strtoll does. */
#include "base/num.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"

static bool parse_whole(const char *text, int64_t *value)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0')
        return false;
    *value = (int64_t)v;
    return true;
}

int num_parse_int64(const char *name, const char *text, int64_t min, int64_t max,
                    const char *expected, int64_t *out, char *err, size_t errlen)
{
    int64_t v;
    if (text && parse_whole(text, &v) && v >= min && v <= max) {
        *out = v;
        return 0;
    }
    char range[80];
    if (!expected) {
        snprintf(range, sizeof range, "a whole number from %" PRId64 " to %" PRId64, min, max);
        expected = range;
    }
    if (!text)
        return err_set(err, errlen, "%s: expected %s, got nothing", name, expected);
    return err_set(err, errlen, "%s: expected %s, got \"%.60s\"", name, expected, text);
}
