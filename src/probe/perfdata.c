/* perfdata.c — Nagios plugin output: the text before the first '|' is the status text, what
 * follows a '|' is performance data, items "label=value[UOM];warn;crit;min;max" separated by
 * spaces, a label in single quotes when it holds spaces ('' for a quote inside). See
 * probe_internal.h; fuzz/fuzz_probe_output.c feeds it anything. */
#include "probe/probe_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reads a label at *p (quoted or up to '='); false when there is none. */
static bool read_label(const char **p, const char *end, char *label, size_t cap)
{
    const char *s = *p;
    size_t n = 0;
    if (s < end && *s == '\'') {
        s++;
        for (;;) {
            if (s >= end)
                return false;
            if (*s == '\'') {
                if (s + 1 < end && s[1] == '\'') {
                    s++;
                } else {
                    s++;
                    break;
                }
            }
            if (n + 1 < cap)
                label[n++] = *s;
            s++;
        }
    } else {
        while (s < end && *s != '=' && !isspace((unsigned char)*s)) {
            if (n + 1 < cap)
                label[n++] = *s;
            s++;
        }
    }
    label[n] = '\0';
    *p = s;
    return n > 0;
}

/* Parses one item at *p (moving past it); true when it was well formed. */
static bool read_item(const char **p, const char *end, struct probe_perfdata *out)
{
    if (!read_label(p, end, out->label, sizeof out->label))
        return false;
    const char *s = *p;
    if (s >= end || *s != '=')
        return false;
    s++;
    char num[64];
    size_t n = 0;
    while (s < end && n + 1 < sizeof num && (isdigit((unsigned char)*s) || strchr("+-.eE", *s)))
        num[n++] = *s++;
    num[n] = '\0';
    char *num_end;
    double v = strtod(num, &num_end);
    if (n == 0 || *num_end || !isfinite(v))
        return false;
    out->value = v;
    size_t u = 0;
    while (s < end && *s != ';' && !isspace((unsigned char)*s)) {
        if (u + 1 < sizeof out->unit)
            out->unit[u++] = *s;
        s++;
    }
    out->unit[u] = '\0';
    while (s < end && !isspace((unsigned char)*s)) /* warn;crit;min;max: not kept */
        s++;
    *p = s;
    return true;
}

size_t probe_perfdata_parse(const char *text, size_t len, struct probe_perfdata *out, size_t max)
{
    const char *p = text, *end = text + len;
    size_t n = 0;
    while (p < end && n < max) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p >= end)
            break;
        struct probe_perfdata item = {0};
        if (read_item(&p, end, &item))
            out[n++] = item;
        else
            while (p < end && !isspace((unsigned char)*p))
                p++;
    }
    return n;
}

static void trim_end(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

void probe_split_plugin_output(char *text, struct probe_result *r)
{
    r->output = text;
    r->n_perfdata = 0;
    char *bar = strchr(text, '|');
    if (!bar) {
        trim_end(text);
        return;
    }
    *bar = '\0';
    /* What follows: perfdata up to the end of the first line; later lines are long text, and a
     * '|' among them starts more perfdata. */
    char *rest = bar + 1;
    char *line_end = strchr(rest, '\n');
    size_t first_len = line_end ? (size_t)(line_end - rest) : strlen(rest);
    r->n_perfdata = probe_perfdata_parse(rest, first_len, r->perfdata, PROBE_PERFDATA_MAX);
    if (line_end) {
        char *more = strchr(line_end, '|');
        if (more)
            r->n_perfdata +=
                probe_perfdata_parse(more + 1, strlen(more + 1), r->perfdata + r->n_perfdata,
                                     PROBE_PERFDATA_MAX - r->n_perfdata);
    }
    trim_end(text);
}
