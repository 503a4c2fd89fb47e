/* regex_size.c — how large a POSIX extended regex grows inside glibc's regcomp, to refuse
 * patterns that would take gigabytes or seconds to compile (see regex_size.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/regex_size.h"

/* The closing "]" of the bracket expression at p ("]" first is a member, "[:alpha:]" is one
 * piece), or NULL when it has none. */
static const char *bracket_end(const char *p)
{
    p += 1 + (p[1] == '^');
    if (*p == ']')
        p++;
    while (*p && *p != ']') {
        const char *close = p[0] == '[' && p[1] && strchr(":.=", p[1]) ? strchr(p + 2, ']') : NULL;
        p = close ? close + 1 : p + 1;
    }
    return *p ? p : NULL;
}

/* The larger bound of the interval "{n}", "{n,}" or "{n,m}" at p, at least 1; *close gets its
 * "}" (or the last character when it has none). */
static int64_t interval_factor(const char *p, const char **close)
{
    const char *comma = strchr(p, ','), *brace = strchr(p, '}');
    long lo = strtol(p + 1, NULL, 10), hi = lo;
    if (comma && brace && comma < brace)
        hi = comma[1] == '}' ? lo + 1 : strtol(comma + 1, NULL, 10);
    *close = brace ? brace : p + strlen(p) - 1;
    long most = hi > lo ? hi : lo;
    return most < 1 ? 1 : most > REGEX_UNROLLED_MAX ? REGEX_UNROLLED_MAX + 1 : most;
}

/* The size of an extended regular expression with its repetitions unrolled, as regcomp builds
 * it: each level of parentheses sums its parts, "+" doubles the part before it, "{n,m}"
 * multiplies it by m; capped just above REGEX_UNROLLED_MAX. A repetition of a repetition
 * ("a+*", undefined in POSIX) counts as too large: glibc took seconds over "a++++*+++++". */
static int64_t regex_size(const char *p)
{
    enum { DEPTH = 32 };
    int64_t sum[DEPTH] = {0}, last[DEPTH] = {0}; /* per level: its size, its last part's */
    int depth = 0;
    bool repeated = false; /* the last thing read was a repetition */
    for (; *p; p++) {
        int64_t factor = 0, part = 1;
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '[' && bracket_end(p)) {
            p = bracket_end(p);
        } else if (*p == '(') {
            if (++depth >= DEPTH)
                return REGEX_UNROLLED_MAX + 1;
            sum[depth] = last[depth] = 0;
            repeated = false;
            continue;
        } else if (*p == ')' && depth > 0) {
            part = sum[depth--];
        } else if (*p == '|' || *p == '^' || *p == '$') {
            last[depth] = 0;
            repeated = false;
            continue;
        } else if (*p == '*' || *p == '?') {
            factor = 1;
        } else if (*p == '+') {
            factor = 2;
        } else if (*p == '{' && p[1] >= '0' && p[1] <= '9') {
            factor = interval_factor(p, &p);
        }
        if (factor && repeated)
            return REGEX_UNROLLED_MAX + 1;
        repeated = factor != 0;
        if (factor) {
            int64_t grown = last[depth] * factor;
            if (grown > REGEX_UNROLLED_MAX)
                grown = REGEX_UNROLLED_MAX + 1;
            sum[depth] += grown - last[depth];
            part = grown;
        } else {
            sum[depth] += part;
        }
        last[depth] = part;
        if (sum[depth] > REGEX_UNROLLED_MAX)
            return REGEX_UNROLLED_MAX + 1;
    }
    while (depth > 0) { /* unclosed: regcomp refuses it anyway */
        sum[depth - 1] += sum[depth];
        depth--;
    }
    return sum[0];
}

bool regex_size_ok(const char *pattern)
{
    return regex_size(pattern) <= REGEX_UNROLLED_MAX;
}
