/* exposition.h — writing Prometheus text exposition format 0.0.4 into a growable buffer: the
 * HELP and TYPE lines of a metric, samples with their labels escaped, values as Prometheus reads
 * them. GET /metrics is written with it (agent_metrics.h for the agents' series, server_metrics.h
 * for the server's own). Out of memory is sticky: the buffer remembers it and ignores what
 * follows, so a writer checks once, at the end. */
#ifndef FAULTLINE_EXPOSITION_H
#define FAULTLINE_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>

struct expo {
    char *data; /* owned; not NUL-terminated */
    size_t len, cap;
    bool oom;
};

void expo_free(struct expo *b);
void expo_write(struct expo *b, const char *s, size_t len);
void expo_puts(struct expo *b, const char *s);
void expo_printf(struct expo *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Room for len more bytes; returns where they go (NULL when out of memory). The first room asked
 * of an empty buffer is exact when over 4 KiB; then it doubles. */
char *expo_reserve(struct expo *b, size_t len);

/* "# HELP name help\n# TYPE name type\n", help escaped (\\ and \n). */
void expo_family(struct expo *b, const char *name, const char *type, const char *help);
/* A label value, escaped (\\, \" and \n), without its quotes. */
void expo_label_value(struct expo *b, const char *value);
/* "name{l1="v1",...} value\n" from nlabels name/value pairs of C strings; the value as NaN,
 * +Inf, -Inf, or the shortest text that reads back the same. */
void expo_sample(struct expo *b, const char *name, double value, size_t nlabels, ...);

#endif
