/* depend.c — the `dependencies:` section and the question "is a parent of this worker down?"
 * (depend.h). Every error of the reader names file, line and column. */
#include "alert/depend.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- freeing ----------------------------------------------------------------------------- */

static void rule_free(struct depend_rule *r)
{
    free(r->name);
    for (size_t i = 0; i < r->n_labels; i++) {
        free((char *)r->labels[i].key);
        free((char *)r->labels[i].value);
    }
    free(r->labels);
    for (size_t i = 0; i < r->n_parents; i++)
        free(r->parents[i].name);
    free(r->parents);
}

static void rules_free(struct depend_settings *s)
{
    for (size_t i = 0; i < s->n_rules; i++)
        rule_free(&s->rules[i]);
    free(s->rules);
    s->rules = NULL;
    s->n_rules = 0;
}

static void sections_init(void *settings)
{
    *(struct depend_settings *)settings = (struct depend_settings){0};
}

static void sections_free(void *settings)
{
    rules_free(settings);
}

/* ---- the reader -------------------------------------------------------------------------- */

static int oom(const struct config_node *n, char *err, size_t errlen)
{
    return config_node_fail(n, err, errlen, "out of memory");
}

/* A non-empty scalar of at most DEPEND_NAME_MAX bytes, copied into *out. */
static int read_name(const struct config_node *n, const char *what, char **out, char *err,
                     size_t errlen)
{
    const char *t = config_node_text(n);
    if (!t || !t[0] || strlen(t) > DEPEND_NAME_MAX)
        return config_node_fail(n, err, errlen, "expected %s (1-%d characters)%s%.40s%s", what,
                                DEPEND_NAME_MAX, t ? ", got \"" : "", t ? t : "", t ? "\"" : "");
    return (*out = strdup(t)) ? 0 : oom(n, err, errlen);
}

static int read_labels(const struct config_node *m, struct depend_rule *r, char *err, size_t errlen)
{
    if (config_node_type(m) != CONFIG_NODE_MAPPING || config_node_length(m) == 0)
        return config_node_fail(m, err, errlen,
                                "expected a mapping of labels to globs, such "
                                "as {site: fra1}");
    size_t n = config_node_length(m);
    if (!(r->labels = calloc(n, sizeof *r->labels)))
        return oom(m, err, errlen);
    for (size_t i = 0; i < n; i++) {
        struct config_node key = config_node_key_at(m, i), value = config_node_value_at(m, i);
        char *k = NULL, *v = NULL;
        r->n_labels++; /* freed with the rule from here on, whatever is read */
        if (read_name(&key, "a label name", &k, err, errlen) != 0)
            return -1;
        r->labels[i].key = k;
        if (read_name(&value, "a label value or glob", &v, err, errlen) != 0)
            return -1;
        r->labels[i].value = v;
    }
    return 0;
}

static int read_match(const struct config_node *m, struct depend_rule *r, char *err, size_t errlen)
{
    if (config_node_type(m) == CONFIG_NODE_NONE)
        return config_node_fail(m, err, errlen,
                                "required: match, the workers ({name: GLOB} "
                                "or {labels: {KEY: GLOB}})");
    if (config_node_type(m) != CONFIG_NODE_MAPPING || config_node_length(m) == 0)
        return config_node_fail(m, err, errlen, "expected a mapping of name, labels");
    for (size_t i = 0; i < config_node_length(m); i++) {
        struct config_node key = config_node_key_at(m, i), value = config_node_value_at(m, i);
        const char *k = config_node_text(&key);
        int rc;
        if ((k && strcmp(k, "name") == 0 && r->name) ||
            (k && strcmp(k, "labels") == 0 && r->labels))
            rc = config_node_fail(&key, err, errlen, "given twice");
        else if (k && strcmp(k, "name") == 0)
            rc = read_name(&value, "a worker name or glob", &r->name, err, errlen);
        else if (k && strcmp(k, "labels") == 0)
            rc = read_labels(&value, r, err, errlen);
        else
            rc = config_node_fail(&key, err, errlen, "expected one of name, labels");
        if (rc)
            return rc;
    }
    return 0;
}

static int read_parents(const struct config_node *list, struct depend_rule *r, char *err,
                        size_t errlen)
{
    if (config_node_type(list) == CONFIG_NODE_NONE)
        return config_node_fail(list, err, errlen,
                                "required: depends_on, a list of checks or "
                                "workers");
    if (config_node_type(list) != CONFIG_NODE_SEQUENCE || config_node_length(list) == 0)
        return config_node_fail(list, err, errlen, "expected a list of check or worker names");
    size_t n = config_node_length(list);
    if (!(r->parents = calloc(n, sizeof *r->parents)))
        return oom(list, err, errlen);
    for (size_t i = 0; i < n; i++, r->n_parents++) {
        struct config_node item = config_node_item(list, i);
        struct depend_parent *p = &r->parents[i];
        if (read_name(&item, "a check or worker name", &p->name, err, errlen) != 0)
            return -1;
        snprintf(p->where, sizeof p->where, "%s:%zu:%zu: %s", item.file ? item.file : "-",
                 item.line, item.column, item.path);
    }
    return 0;
}

static int read_rule(const struct config_node *item, struct depend_rule *r, char *err,
                     size_t errlen)
{
    if (config_node_type(item) != CONFIG_NODE_MAPPING)
        return config_node_fail(item, err, errlen, "expected a mapping {match, depends_on}");
    for (size_t i = 0; i < config_node_length(item); i++) {
        struct config_node key = config_node_key_at(item, i);
        const char *k = config_node_text(&key);
        if (!k || (strcmp(k, "match") && strcmp(k, "depends_on")))
            return config_node_fail(&key, err, errlen, "expected one of match, depends_on");
    }
    struct config_node match = config_node_get(item, "match");
    struct config_node parents = config_node_get(item, "depends_on");
    if (read_match(&match, r, err, errlen) != 0 || read_parents(&parents, r, err, errlen) != 0)
        return -1;
    return 0;
}

static int read_dependencies(const struct config_node *value, void *settings, char *err,
                             size_t errlen)
{
    if (config_node_type(value) != CONFIG_NODE_SEQUENCE)
        return config_node_fail(value, err, errlen,
                                "expected a list of dependencies ({match, "
                                "depends_on})");
    struct depend_settings scratch = {0}, *s = settings ? settings : &scratch;
    rules_free(s);
    size_t n = config_node_length(value);
    if (!(s->rules = calloc(n ? n : 1, sizeof *s->rules)))
        return oom(value, err, errlen);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct config_node item = config_node_item(value, i);
        rc = read_rule(&item, &s->rules[s->n_rules++], err, errlen);
    }
    if (rc != 0 || s == &scratch)
        rules_free(s);
    return rc;
}

static const struct config_section depend_sections[] = {{"dependencies", read_dependencies}};

const struct config_table depend_settings_table = {
    .module = "dependencies",
    .sections = depend_sections,
    .section_count = 1,
    .sections_init = sections_init,
    .sections_free = sections_free,
};

/* ---- matching ---------------------------------------------------------------------------- */

bool depend_rule_matches(const struct depend_rule *r, const char *name, const struct label *labels,
                         size_t n_labels)
{
    if (r->name && fnmatch(r->name, name, 0) != 0)
        return false;
    for (size_t i = 0; i < r->n_labels; i++) {
        bool found = false;
        for (size_t j = 0; j < n_labels && !found; j++)
            found = labels[j].key && labels[j].value &&
                    strcmp(labels[j].key, r->labels[i].key) == 0 &&
                    fnmatch(r->labels[i].value, labels[j].value, 0) == 0;
        if (!found)
            return false;
    }
    return true;
}

const char *depend_down_parent(const struct depend_settings *s, const char *name,
                               const struct label *labels, size_t n_labels,
                               depend_is_down_fn is_down, void *ctx)
{
    for (size_t i = 0; s && i < s->n_rules; i++) {
        const struct depend_rule *r = &s->rules[i];
        if (!depend_rule_matches(r, name, labels, n_labels))
            continue;
        for (size_t j = 0; j < r->n_parents; j++)
            if (strcmp(r->parents[j].name, name) != 0 && is_down(r->parents[j].name, ctx))
                return r->parents[j].name;
    }
    return NULL;
}
