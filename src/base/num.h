/* num.h — range-checked parsing of whole numbers from text (settings, command-line options,
 * query parameters), with one shape of error text: NAME: expected WHAT, got "TEXT". */
#ifndef FAULTLINE_NUM_H
#define FAULTLINE_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses text, a whole decimal number (optional leading spaces and sign, nothing after it), into
 * *out when it lies in [min, max]. Returns 0, or -1 with err set (err may be NULL) to
 *   NAME: expected EXPECTED, got "TEXT"     (TEXT cut at 60 bytes)
 *   NAME: expected EXPECTED, got nothing    (text NULL)
 * where EXPECTED is "a whole number from MIN to MAX" when expected is NULL. *out is untouched
 * on error. */
int num_parse_int64(const char *name, const char *text, int64_t min, int64_t max,
                    const char *expected, int64_t *out, char *err, size_t errlen);

#endif
