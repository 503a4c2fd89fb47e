/* model/metric.h — metric samples in Prometheus' model: a name, sorted labels and a value, as
 * the collectors produce them, the agent pushes them and the server keeps them. Their text form
 * (exposition format 0.0.4) is read by model/metric_text.h. */
#ifndef FAULTLINE_MODEL_METRIC_H
#define FAULTLINE_MODEL_METRIC_H

#include <stddef.h>

struct metric_label { char *name; char *value; };
struct metric_sample {
    char *name;                 /* a valid Prometheus metric name */
    struct metric_label *labels; size_t nlabels;  /* sorted by name, no duplicates */
    double value;
    const char *help;           /* static text or NULL */
    const char *type;           /* "counter", "gauge", "untyped" (static) */
};
struct metric_list { struct metric_sample *items; size_t count, cap; };

/* Frees every sample's name and labels and the items, and empties the list (which stays
 * usable); NULL is a no-op. */
void metric_list_free(struct metric_list *list);

#endif
