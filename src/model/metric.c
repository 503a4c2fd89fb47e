/* metric.c — the sample list of model/metric.h. */
#include "model/metric.h"

#include <stdlib.h>

void metric_list_free(struct metric_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        struct metric_sample *s = &list->items[i];
        for (size_t j = 0; j < s->nlabels; j++) {
            free(s->labels[j].name);
            free(s->labels[j].value);
        }
        free(s->labels);
        free(s->name);
    }
    free(list->items);
    *list = (struct metric_list){0};
}
