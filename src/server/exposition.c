/* exposition.c — the Prometheus text writer (exposition.h). */
#include "server/exposition.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void expo_free(struct expo *b)
{
    free(b->data);
    *b = (struct expo){0};
}

char *expo_reserve(struct expo *b, size_t len)
{
    if (b->oom)
        return NULL;
    if (b->len + len > b->cap || !b->data) {
        size_t cap = b->cap ? b->cap : len > 4096 ? len : 4096; /* a first size asked: exact */
        while (cap < b->len + len)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return NULL;
        }
        b->data = d;
        b->cap = cap;
    }
    return b->data + b->len;
}

void expo_write(struct expo *b, const char *s, size_t len)
{
    char *p = expo_reserve(b, len);
    if (p) {
        memcpy(p, s, len);
        b->len += len;
    }
}

void expo_puts(struct expo *b, const char *s)
{
    expo_write(b, s, strlen(s));
}

void expo_printf(struct expo *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? expo_reserve(b, (size_t)n + 1) : NULL;
    if (!p)
        return;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* s with each byte of specials (a newline among them) escaped: a newline as \n, the others
 * behind a backslash. */
static void write_escaped(struct expo *b, const char *s, const char *specials)
{
    for (;;) {
        size_t plain = strcspn(s, specials);
        expo_write(b, s, plain);
        s += plain;
        if (!*s)
            return;
        if (*s == '\n')
            expo_write(b, "\\n", 2);
        else
            expo_write(b, (const char[]){'\\', *s}, 2);
        s++;
    }
}

void expo_family(struct expo *b, const char *name, const char *type, const char *help)
{
    expo_printf(b, "# HELP %s ", name);
    write_escaped(b, help, "\\\n");
    expo_printf(b, "\n# TYPE %s %s\n", name, type);
}

void expo_label_value(struct expo *b, const char *value)
{
    write_escaped(b, value, "\\\"\n");
}

static void expo_value(struct expo *b, double value)
{
    if (isnan(value))
        expo_puts(b, "NaN");
    else if (isinf(value))
        expo_puts(b, value > 0 ? "+Inf" : "-Inf");
    else if (value == (double)(long long)value && fabs(value) < 1e15)
        expo_printf(b, "%lld", (long long)value);
    else {
        char text[32];
        snprintf(text, sizeof text, "%.15g", value);
        if (strtod(text, NULL) != value)
            snprintf(text, sizeof text, "%.17g", value);
        expo_puts(b, text);
    }
}

void expo_sample(struct expo *b, const char *name, double value, size_t nlabels, ...)
{
    expo_puts(b, name);
    va_list ap;
    va_start(ap, nlabels);
    for (size_t i = 0; i < nlabels; i++) {
        const char *label = va_arg(ap, const char *);
        const char *v = va_arg(ap, const char *);
        expo_printf(b, "%s%s=\"", i ? "," : "{", label);
        expo_label_value(b, v);
        expo_puts(b, "\"");
    }
    va_end(ap);
    expo_puts(b, nlabels ? "} " : " ");
    expo_value(b, value);
    expo_puts(b, "\n");
}
