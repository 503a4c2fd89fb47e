/* err.h — the one way faultline writes an error text into a caller's buffer: functions that fail
 * return -1 and describe the failure in `char *err, size_t errlen` (see STYLE.md, errors). */
#ifndef FAULTLINE_ERR_H
#define FAULTLINE_ERR_H

#include <stddef.h>

/* Formats the message into err (truncated to errlen; nothing is written when err is NULL or
 * errlen is 0) and returns -1, so that a failing path reads `return err_set(err, errlen, ...)`. */
int err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
