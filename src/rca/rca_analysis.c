/* rca_analysis.c — the engine's current picture for GET /admin/api/analysis (rca_analysis in
 * rca.h): who is out now, by address, site and group, and each open incident. Read-only. */
#include "model/json.h"
#include "rca/rca.h"

#include "rca/rca_codec.h"
#include "rca/rca_state.h"

/* Adds name to the list at key of lists (an object of arrays). */
static void list_add(json_t *lists, const char *key, const char *name)
{
    json_t *list = json_object_get(lists, key);
    if (!list) {
        list = json_array();
        json_object_set_new(lists, key, list);
    }
    json_array_append_new(list, json_string(name));
}

static json_t *analysis_incident(const struct rca *rca, const struct rca_incident *inc)
{
    struct rca_grouping g;
    if (rca_group_workers(inc->workers, inc->n_workers, &g) != 0)
        return NULL;
    const struct rca_group *at_fault = rca_scope_group(inc->verdict.cls, &g);
    char label[RCA_LABEL_MAX] = "";
    if (at_fault)
        rca_scope_label(inc->workers, inc->n_workers, at_fault, label, sizeof label);
    int down, unreachable;
    rca_incident_counts(inc, &down, &unreachable);
    json_t *item = json_pack(
        "{s:I, s:s, s:b, s:o, s:i, s:i, s:i, s:o, s:o}", "id", (json_int_t)inc->id,
        "classification", incident_class_name(inc->verdict.cls), "announced", inc->announced,
        "opened_at", json_time(inc->opened_ms), "workers", (int)inc->n_workers, "down",
        (int)down, "unreachable", (int)unreachable, "scope", rca_codec_scope(inc, &g, label),
        "evidence", rca_codec_evidence(&rca->cfg, inc, &g));
    rca_grouping_free(&g);
    return item;
}

/* Most serious first when the analysis picks one class for the whole fleet. */
static int class_rank(enum incident_class cls)
{
    return (int)cls; /* individual < network < widespread < server */
}

json_t *rca_analysis(const struct rca *rca, int64_t now_ms)
{
    json_t *by_ip = json_object(), *by_site = json_object(), *groups = json_object();
    json_t *incidents = json_array();
    int down = 0, unreachable = 0;
    const struct rca_incident *worst = NULL;
    for (const struct rca_incident *inc = rca->incidents; inc; inc = inc->next) {
        bool any_out = false;
        for (size_t i = 0; i < inc->n_workers; i++) {
            const struct rca_worker *w = &inc->workers[i];
            if (!rca_incident_worker_out(inc, w))
                continue;
            any_out = true;
            if (w->unreachable)
                unreachable++;
            else
                down++;
            list_add(by_ip, w->ip[0] ? w->ip : "unknown", w->name);
            if (w->site[0])
                list_add(by_site, w->site, w->name);
            rca_codec_groups_add(groups, w);
        }
        if ((any_out || inc->canary_driven) &&
            (!worst || class_rank(inc->verdict.cls) > class_rank(worst->verdict.cls)))
            worst = inc;
        json_array_append_new(incidents, analysis_incident(rca, inc));
    }
    json_t *group_list = rca_codec_groups_finish(groups);
    json_t *canaries = json_pack("{s:b, s:o, s:O?}", "failing", rca->canaries_failing, "since",
                                 json_time(rca->canaries_failing ? rca->canaries_since_ms : 0),
                                 "evidence", rca->canary_evidence);
    return json_pack("{s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "classification",
                     worst ? incident_class_name(worst->verdict.cls) : "none", "down", (int)down,
                     "unreachable", (int)unreachable, "canaries", canaries, "by_ip", by_ip,
                     "by_site", by_site, "groups", group_list, "incidents", incidents, "at",
                     json_time(now_ms));
}
