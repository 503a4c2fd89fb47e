/* rca_codec.c — incidents to and from their stored JSON (see rca_codec.h). */
#include "base/err.h"
#include "rca/rca_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "model/json.h"

/* ---- encoding ------------------------------------------------------------------------------ */

/* Adds s to the ordered set (an object used for its keys); "" is left out. */
static void set_add(json_t *set, const char *s)
{
    if (s[0])
        json_object_set_new(set, s, json_true());
}

/* The keys of set as an array, in order; frees set. */
static json_t *set_to_array(json_t *set)
{
    json_t *arr = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(set, key, value) json_array_append_new(arr, json_string(key));
    json_decref(set);
    return arr;
}

void rca_codec_groups_add(json_t *by_key, const struct rca_worker *w)
{
    json_t *grp = json_object_get(by_key, w->key);
    if (!grp) {
        /* "ips" and "prefixes" are ordered sets until rca_codec_groups_finish */
        grp = json_pack("{s:s, s:s?, s:o, s:o, s:i, s:o}", "key", w->key, "site",
                        w->site[0] ? w->site : NULL, "ips", json_object(), "prefixes",
                        json_object(), "workers", 0, "names", json_array());
        json_object_set_new(by_key, w->key, grp);
    }
    set_add(json_object_get(grp, "ips"), w->ip);
    set_add(json_object_get(grp, "prefixes"), w->prefix);
    json_t *count = json_object_get(grp, "workers");
    json_integer_set(count, json_integer_value(count) + 1);
    json_array_append_new(json_object_get(grp, "names"), json_string(w->name));
}

json_t *rca_codec_groups_finish(json_t *by_key)
{
    json_t *arr = json_array();
    const char *key;
    json_t *grp;
    json_object_foreach(by_key, key, grp)
    {
        json_object_set_new(grp, "ips", set_to_array(json_incref(json_object_get(grp, "ips"))));
        json_object_set_new(grp, "prefixes",
                            set_to_array(json_incref(json_object_get(grp, "prefixes"))));
        json_array_append(arr, grp);
    }
    json_decref(by_key);
    return arr;
}

json_t *rca_codec_scope(const struct rca_incident *inc, const struct rca_grouping *g,
                        const char *label)
{
    const struct rca_group *at_fault = rca_scope_group(inc->verdict.cls, g);
    json_t *ips = json_object(), *prefixes = json_object(), *sites = json_object();
    for (size_t i = 0; i < inc->n_workers; i++) {
        const struct rca_worker *w = &inc->workers[i];
        if (at_fault && strcmp(w->key, at_fault->first->key) != 0)
            continue;
        set_add(ips, w->ip);
        set_add(prefixes, w->prefix);
        set_add(sites, w->site);
    }
    json_t *by_key = json_object();
    for (size_t i = 0; i < inc->n_workers; i++)
        rca_codec_groups_add(by_key, &inc->workers[i]);
    json_t *groups = rca_codec_groups_finish(by_key);
    json_t *scope =
        json_pack("{s:s, s:o, s:o, s:o, s:o}", "label", label, "ips", set_to_array(ips), "prefixes",
                  set_to_array(prefixes), "sites", set_to_array(sites), "groups", groups);
    if (scope && at_fault)
        json_object_set_new(scope, "group", json_string(at_fault->first->key));
    return scope;
}

static json_t *workers_json(const struct rca_incident *inc)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < inc->n_workers; i++) {
        const struct rca_worker *w = &inc->workers[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:s, s:o, s:o, s:b, s:b}", "name",
                                             w->name, "ip", w->ip, "site",
                                             w->site[0] ? w->site : NULL, "group", w->key,
                                             "down_at", json_time(w->down_ms), "up_at",
                                             json_time(w->up_ms), "unreachable",
                                             w->unreachable, "down_message", w->down_message));
    }
    return arr;
}

json_t *rca_codec_evidence(const struct rca_config *cfg, const struct rca_incident *inc,
                           const struct rca_grouping *g)
{
    int down, unreachable;
    rca_incident_counts(inc, &down, &unreachable);
    int back = (int)inc->n_workers - down - unreachable;
    json_t *largest = g->n_groups ? json_pack("{s:s, s:i}", "key", g->groups[g->largest].first->key,
                                              "workers", (int)g->groups[g->largest].count)
                                  : json_null();
    json_t *ev = json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:i, s:i, s:f, s:I, s:I}", "rule",
        inc->verdict.rule, "reason", inc->verdict.reason, "workers", (int)inc->n_workers, "down",
        (int)down, "back", (int)back, "unreachable", (int)unreachable, "fleet", (int)inc->fleet,
        "groups", (int)g->n_groups, "largest_group", largest, "groups_with_2_or_more",
        (int)g->two_plus, "threshold", (int)cfg->threshold, "server_fraction", cfg->server_fraction,
        "window_ms", (json_int_t)cfg->window_ms, "hold_ms", (json_int_t)cfg->hold_ms);
    if (!ev)
        return NULL;
    json_object_set_new(ev, "canary_driven", json_boolean(inc->canary_driven));
    json_object_set_new(ev, "canaries",
                        inc->canary_evidence ? json_incref(inc->canary_evidence) : json_null());
    json_object_set_new(ev, "canaries_ok_at", json_time(inc->canaries_ok_ms));
    json_object_set_new(ev, "announced", json_boolean(inc->announced));
    json_object_set_new(ev, "announced_classification",
                        inc->announced ? json_string(incident_class_name(inc->told_cls))
                                       : json_null());
    json_object_set_new(ev, "announced_workers", json_integer(inc->told_workers));
    return ev;
}

/* value as compact text (malloc'd), consuming value; NULL when value is. */
static char *dump(json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(value);
    return text;
}

int rca_codec_encode(const struct rca_config *cfg, const struct rca_incident *inc,
                     const struct rca_grouping *g, const char *label, struct incident_record *rec)
{
    *rec = (struct incident_record){.id = inc->id,
                                    .opened_ms = inc->opened_ms,
                                    .updated_ms = inc->updated_ms,
                                    .closed_ms = inc->closed_ms};
    snprintf(rec->classification, sizeof rec->classification, "%s",
             incident_class_name(inc->verdict.cls));
    rec->scope_json = dump(rca_codec_scope(inc, g, label));
    rec->workers_json = dump(workers_json(inc));
    rec->evidence_json = dump(rca_codec_evidence(cfg, inc, g));
    if (rec->scope_json && rec->workers_json && rec->evidence_json)
        return 0;
    rca_codec_record_free(rec);
    return -1;
}

void rca_codec_record_free(struct incident_record *rec)
{
    /* const in the model because readers only borrow them; here they were malloc'd */
    free((char *)rec->scope_json);
    free((char *)rec->workers_json);
    free((char *)rec->evidence_json);
    rec->scope_json = rec->workers_json = rec->evidence_json = NULL;
}

/* ---- decoding ------------------------------------------------------------------------------ */

static int decode_time(json_t *obj, const char *field, size_t index, bool nullable, int64_t *out,
                       char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, field);
    *out = 0;
    if (nullable && (!v || json_is_null(v)))
        return 0;
    if (!json_is_string(v) || clock_parse_iso(json_string_value(v), out) != 0) {
        err_set(err, errlen, "rca: workers[%zu].%s must be an ISO 8601 time%s", index, field,
                 nullable ? " or null" : "");
        return -1;
    }
    return 0;
}

static const char *decode_string(json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    return json_is_string(v) ? json_string_value(v) : "";
}

static int decode_workers(struct rca_incident *inc, const char *text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *arr = json_loads(text ? text : "[]", 0, &jerr);
    if (!json_is_array(arr)) {
        err_set(err, errlen, "rca: workers must be a JSON array (%s)",
                 arr ? "got another value" : jerr.text);
        json_decref(arr);
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        struct rca_worker *w = rca_incident_add_worker(inc);
        json_t *name = json_object_get(item, "name");
        if (!w || !json_is_string(name)) {
            err_set(err, errlen, "rca: workers[%zu].name must be a string", i);
            goto fail;
        }
        if (rca_worker_identify(w, json_string_value(name), decode_string(item, "ip"),
                                decode_string(item, "site"), err, errlen) != 0 ||
            decode_time(item, "down_at", i, false, &w->down_ms, err, errlen) != 0 ||
            decode_time(item, "up_at", i, true, &w->up_ms, err, errlen) != 0)
            goto fail;
        w->unreachable = json_is_true(json_object_get(item, "unreachable"));
        w->down_message = json_is_true(json_object_get(item, "down_message"));
    }
    json_decref(arr);
    return 0;
fail:
    json_decref(arr);
    return -1;
}

static int decode_evidence(struct rca_incident *inc, const char *text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *ev = json_loads(text ? text : "{}", 0, &jerr);
    if (!json_is_object(ev)) {
        err_set(err, errlen, "rca: evidence must be a JSON object (%s)",
                 ev ? "got another value" : jerr.text);
        json_decref(ev);
        return -1;
    }
    inc->announced = json_is_true(json_object_get(ev, "announced"));
    inc->canary_driven = json_is_true(json_object_get(ev, "canary_driven"));
    inc->fleet = (int)json_integer_value(json_object_get(ev, "fleet"));
    inc->told_workers = (int)json_integer_value(json_object_get(ev, "announced_workers"));
    const char *told = json_string_value(json_object_get(ev, "announced_classification"));
    if (inc->announced && incident_class_parse(told, &inc->told_cls) != 0) {
        err_set(err, errlen, "rca: evidence.announced_classification \"%s\" is not a class",
                 told ? told : "");
        json_decref(ev);
        return -1;
    }
    json_t *canaries = json_object_get(ev, "canaries");
    if (canaries && !json_is_null(canaries))
        inc->canary_evidence = json_incref(canaries);
    const char *ok = json_string_value(json_object_get(ev, "canaries_ok_at"));
    if (ok && clock_parse_iso(ok, &inc->canaries_ok_ms) != 0) {
        err_set(err, errlen, "rca: evidence.canaries_ok_at \"%s\" is not an ISO 8601 time", ok);
        json_decref(ev);
        return -1;
    }
    json_decref(ev);
    return 0;
}

int rca_codec_decode(const struct incident_record *rec, struct rca_incident *inc, char *err,
                     size_t errlen)
{
    inc->id = rec->id;
    inc->opened_ms = rec->opened_ms;
    inc->updated_ms = rec->updated_ms;
    if (decode_workers(inc, rec->workers_json, err, errlen) != 0 ||
        decode_evidence(inc, rec->evidence_json, err, errlen) != 0)
        return -1;
    return 0;
}
