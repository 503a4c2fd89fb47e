/* model/metric.c — metric sample lists and their Prometheus text writer; see metric.h. */
#include "model/metric.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRIC_MAX_LABELS 32

static bool metric_name_char(char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

static bool metric_ident_valid(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; s[i]; i++)
        if (!metric_name_char(s[i], i == 0, colon))
            return false;
    return true;
}

bool metric_name_valid(const char *name)
{
    return metric_ident_valid(name, true);
}

bool metric_label_name_valid(const char *name)
{
    return metric_ident_valid(name, false) && strncmp(name, "__", 2) != 0;
}

static void metric_sample_free(struct metric_sample *s)
{
    for (size_t i = 0; i < s->nlabels; i++) {
        free(s->labels[i].name);
        free(s->labels[i].value);
    }
    free(s->labels);
    free(s->name);
    free(s->family);
    if (s->owns_help)
        free((char *)s->help);
}

static int metric_label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct metric_label *)a)->name, ((const struct metric_label *)b)->name);
}

static int metric_list_reserve(struct metric_list *list, size_t more)
{
    if (list->count + more <= list->cap)
        return 0;
    size_t cap = list->cap ? list->cap * 2 : 64;
    while (cap < list->count + more)
        cap *= 2;
    struct metric_sample *items = realloc(list->items, cap * sizeof *items);
    if (!items)
        return -1;
    list->items = items;
    list->cap = cap;
    return 0;
}

int metric_list_add_labels(struct metric_list *list, const char *name, const char *help,
                           const char *type, double value, const struct metric_label *labels,
                           size_t nlabels)
{
    if (metric_list_reserve(list, 1) != 0)
        return -1;
    struct metric_sample s = {.name = strdup(name),
                              .labels = nlabels ? calloc(nlabels, sizeof *s.labels) : NULL,
                              .value = value,
                              .help = help,
                              .type = type ? type : "untyped"};
    bool ok = s.name && (nlabels == 0 || s.labels);
    for (size_t i = 0; ok && i < nlabels; i++) {
        s.labels[i].name = strdup(labels[i].name);
        s.labels[i].value = strdup(labels[i].value);
        s.nlabels = i + 1;
        ok = s.labels[i].name && s.labels[i].value;
    }
    if (!ok) {
        metric_sample_free(&s);
        return -1;
    }
    if (s.nlabels > 1)
        qsort(s.labels, s.nlabels, sizeof *s.labels, metric_label_cmp);
    list->items[list->count++] = s;
    return 0;
}

int metric_list_add(struct metric_list *list, const char *name, const char *help, const char *type,
                    double value, size_t nlabels, ...)
{
    struct metric_label labels[METRIC_MAX_LABELS];
    if (nlabels > METRIC_MAX_LABELS)
        return -1;
    va_list ap;
    va_start(ap, nlabels);
    for (size_t i = 0; i < nlabels; i++) {
        labels[i].name = va_arg(ap, char *);
        labels[i].value = va_arg(ap, char *);
    }
    va_end(ap);
    return metric_list_add_labels(list, name, help, type, value, labels, nlabels);
}

const struct metric_sample *metric_list_find(const struct metric_list *list, const char *name,
                                             const char *label, const char *value)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct metric_sample *s = &list->items[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (!label)
            return s;
        for (size_t j = 0; j < s->nlabels; j++)
            if (strcmp(s->labels[j].name, label) == 0 && strcmp(s->labels[j].value, value) == 0)
                return s;
    }
    return NULL;
}

void metric_list_free(struct metric_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        metric_sample_free(&list->items[i]);
    free(list->items);
    *list = (struct metric_list){0};
}

/* ---- the text writer ----------------------------------------------------------------------- */

/* Writes s with \\ and \n escaped, and \" too when quoted (label values; HELP leaves quotes). */
static void metric_write_escaped(FILE *out, const char *s, bool quoted)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else if (quoted && *s == '"')
            fputs("\\\"", out);
        else
            fputc(*s, out);
    }
}

/* The shortest of %.15g .. %.17g that reads back as v. */
static void metric_write_value(FILE *out, double v)
{
    if (isnan(v)) {
        fputs("NaN", out);
        return;
    }
    if (isinf(v)) {
        fputs(v > 0 ? "+Inf" : "-Inf", out);
        return;
    }
    char text[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, v);
        if (strtod(text, NULL) == v)
            break;
    }
    fputs(text, out);
}

static void metric_write_sample(FILE *out, const struct metric_sample *s)
{
    fputs(s->name, out);
    for (size_t i = 0; i < s->nlabels; i++) {
        fprintf(out, "%s%s=\"", i == 0 ? "{" : ",", s->labels[i].name);
        metric_write_escaped(out, s->labels[i].value, true);
        fputc('"', out);
    }
    if (s->nlabels > 0)
        fputc('}', out);
    fputc(' ', out);
    metric_write_value(out, s->value);
    fputc('\n', out);
}

/* The name a sample's HELP and TYPE go by. */
static const char *metric_family(const struct metric_sample *s)
{
    return s->family ? s->family : s->name;
}

/* Samples in output order: by the position of their metric's first sample, then their own. */
struct metric_order {
    size_t family; /* index of the first sample of this metric */
    size_t index;
};

static int metric_order_cmp(const void *a, const void *b)
{
    const struct metric_order *x = a, *y = b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Fills order[i].family by a scan that remembers each name's first index (names are few: a linear
 * search over the distinct ones seen so far, kept in firsts). */
static void metric_order_fill(const struct metric_list *list, struct metric_order *order,
                              size_t *firsts)
{
    size_t nfirsts = 0;
    for (size_t i = 0; i < list->count; i++) {
        size_t f = SIZE_MAX;
        /* consecutive samples usually share a name: check the last family first */
        const char *name = metric_family(&list->items[i]);
        if (i > 0 && strcmp(metric_family(&list->items[order[i - 1].family]), name) == 0)
            f = order[i - 1].family;
        for (size_t j = 0; f == SIZE_MAX && j < nfirsts; j++)
            if (strcmp(metric_family(&list->items[firsts[j]]), name) == 0)
                f = firsts[j];
        if (f == SIZE_MAX)
            f = firsts[nfirsts++] = i;
        order[i] = (struct metric_order){f, i};
    }
}

int metric_list_to_text(const struct metric_list *list, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    struct metric_order *order = calloc(list->count + 1, sizeof *order);
    size_t *firsts = calloc(list->count + 1, sizeof *firsts);
    FILE *out = order && firsts ? open_memstream(buf, len) : NULL;
    if (!out) {
        free(order);
        free(firsts);
        return -1;
    }
    metric_order_fill(list, order, firsts);
    qsort(order, list->count, sizeof *order, metric_order_cmp);
    for (size_t i = 0; i < list->count; i++) {
        const struct metric_sample *s = &list->items[order[i].index];
        if (i == 0 || order[i].family != order[i - 1].family) {
            if (s->help) {
                fprintf(out, "# HELP %s ", metric_family(s));
                metric_write_escaped(out, s->help, false);
                fputc('\n', out);
            }
            fprintf(out, "# TYPE %s %s\n", metric_family(s), s->type ? s->type : "untyped");
        }
        metric_write_sample(out, s);
    }
    free(order);
    free(firsts);
    if (fclose(out) != 0 || !*buf) {
        free(*buf);
        *buf = NULL;
        *len = 0;
        return -1;
    }
    return 0;
}
