/* model/metric.h — metric samples as the collectors produce them and the agent pushes them: a
 * list of samples (name, sorted labels, value, HELP and TYPE), and its writer in Prometheus text
 * exposition format 0.0.4. The parser of that format is model/metric_text.h. */
#ifndef FAULTLINE_MODEL_METRIC_H
#define FAULTLINE_MODEL_METRIC_H

#include <stdbool.h>
#include <stddef.h>

struct metric_label {
    char *name;
    char *value;
};

/* A sample owns its name, its labels and their texts (metric_list_free frees them), its family
 * and, when owns_help, its help. */
struct metric_sample {
    char *name;                  /* a valid Prometheus metric name */
    struct metric_label *labels; /* sorted by name, no duplicates */
    size_t nlabels;
    double value;
    const char *help; /* static text, owned text (owns_help: read from a text) or NULL */
    const char *type; /* "counter", "gauge", "histogram", "summary", "untyped" (static) */
    char *family;     /* the metric its HELP and TYPE name, when not name (a histogram's or
                       * summary's _bucket, _sum or _count); NULL: name */
    bool owns_help;
};

struct metric_list {
    struct metric_sample *items;
    size_t count, cap;
};

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool metric_name_valid(const char *name);
/* [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved by Prometheus) */
bool metric_label_name_valid(const char *name);

/* Appends a sample with nlabels label pairs given as (const char *name, const char *value)
 * arguments, in any order: they are copied and sorted by name. help and type must outlive the
 * list (static text); type NULL is "untyped". Returns 0, or -1 when out of memory (the list is
 * unchanged). The names are not checked: callers pass constant names or checked ones. */
int metric_list_add(struct metric_list *list, const char *name, const char *help, const char *type,
                    double value, size_t nlabels, ...);

/* As metric_list_add, with the labels in an array (copied and sorted). */
int metric_list_add_labels(struct metric_list *list, const char *name, const char *help,
                           const char *type, double value, const struct metric_label *labels,
                           size_t nlabels);

/* The first sample called name whose labels include label=value (label NULL: any), or NULL. */
const struct metric_sample *metric_list_find(const struct metric_list *list, const char *name,
                                             const char *label, const char *value);

/* Frees every sample and leaves an empty list; list NULL is a no-op. */
void metric_list_free(struct metric_list *list);

/* Writes the list in Prometheus text format 0.0.4: samples of one metric (family) together (in
 * the order the metrics first appear), each metric once with its # HELP (when it has one) and
 * # TYPE, from its first sample; label
 * values and help escaped; values as NaN, +Inf, -Inf or the shortest exact decimal. *buf is
 * malloc'd, NUL-terminated, the caller frees it. Returns 0, or -1 when out of memory. */
int metric_list_to_text(const struct metric_list *list, char **buf, size_t *len);

#endif
