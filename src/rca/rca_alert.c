/* rca_alert.c — an incident as its texts see it: fills struct alert_incident (alert/format.h)
 * from the engine's state, so that the engine itself holds no text. */
#include <stdlib.h>
#include <string.h>

#include "alert/format.h"
#include "rca/rca_state.h"

/* The view and the names it lists, in one allocation. */
struct alert_view {
    struct alert_incident alert; /* first: rca_alert_free frees through it */
    const char *names[];
};

struct alert_incident *rca_alert_new(const struct rca_incident *inc, const struct rca_grouping *g,
                                     const char *label, enum incident_class previous_class,
                                     int previous_workers)
{
    struct alert_view *v = calloc(1, sizeof *v + inc->n_workers * sizeof v->names[0]);
    if (!v)
        return NULL;
    const struct rca_group *at_fault = rca_scope_group(inc->verdict.cls, g);
    /* the group at fault first, then the others, each in order of DOWN */
    size_t n_names = 0;
    for (size_t i = 0; i < inc->n_workers; i++) {
        if (!at_fault || strcmp(inc->workers[i].key, at_fault->first->key) == 0)
            v->names[n_names++] = inc->workers[i].name;
    }
    for (size_t i = 0; at_fault && i < inc->n_workers; i++) {
        if (strcmp(inc->workers[i].key, at_fault->first->key) != 0)
            v->names[n_names++] = inc->workers[i].name;
    }
    v->alert = (struct alert_incident){
        .id = inc->id,
        .classification = inc->verdict.cls,
        .previous_classification = previous_class,
        .announced = inc->announced,
        .workers = (int)inc->n_workers,
        .previous_workers = previous_workers,
        .scope_workers = at_fault ? (int)at_fault->count : (int)inc->n_workers,
        .scope = label,
        .sites = g->sites,
        .networks = g->networks,
        .fleet = inc->fleet,
        .canaries_failing = inc->canary_driven,
        .names = v->names,
        .n_names = n_names,
        .opened_ms = inc->opened_ms,
        .closed_ms = inc->closed_ms,
    };
    return &v->alert;
}

void rca_alert_free(struct alert_incident *alert)
{
    free(alert);
}
