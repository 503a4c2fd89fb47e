/* tags.c — agents' labels and run_on matching (tags.h). */
#include "check/tags.h"

#include <stdio.h>
#include <string.h>

#include "base/label.h"

json_t *tags_parse(const char *text, const char *site, char *err, size_t errlen)
{
    json_t *tags = json_object();
    if (!tags) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (site && label_valid(site))
        json_object_set_new(tags, "site", json_string(site));
    if (text && strlen(text) > TAGS_TEXT_MAX) {
        snprintf(err, errlen, "TAGS: expected at most %d characters, got %zu", TAGS_TEXT_MAX,
                 strlen(text));
        json_decref(tags);
        return NULL;
    }
    for (const char *p = text && *text ? text : NULL; p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char pair[TAGS_TEXT_MAX + 1];
        snprintf(pair, sizeof pair, "%.*s", (int)n, p);
        char *eq = strchr(pair, '=');
        if (eq)
            *eq = '\0';
        if (!eq || !label_valid(pair) || !label_valid(eq + 1)) {
            if (eq)
                *eq = '=';
            snprintf(err, errlen, "TAGS: expected %s (names and values " LABEL_RULE "), got \"%s\"",
                     TAGS_EXPECTED, pair);
            json_decref(tags);
            return NULL;
        }
        if (json_object_get(tags, pair) && !(strcmp(pair, "site") == 0 && site)) {
            snprintf(err, errlen, "TAGS: the tag \"%s\" is given twice", pair);
            json_decref(tags);
            return NULL;
        }
        json_object_set_new(tags, pair, json_string(eq + 1));
        p = end ? end + 1 : NULL;
    }
    return tags;
}

bool tags_valid(const char *text)
{
    char err[16];
    json_t *t = tags_parse(text, NULL, err, sizeof err);
    json_decref(t);
    return t != NULL;
}

bool tags_match(const json_t *want, const json_t *have)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)want, k, v)
    {
        const json_t *h = json_object_get(have, k);
        if (!h || !json_is_string(v) || !json_equal(h, v))
            return false;
    }
    return true;
}

static const json_t *run_on(const json_t *def)
{
    return json_object_get(def, "run_on");
}

bool tags_runs_on_agents(const json_t *def)
{
    return json_is_object(json_object_get(run_on(def), "tags"));
}

bool tags_runs_on_server(const json_t *def)
{
    const json_t *r = run_on(def);
    return !r || json_is_string(r) || json_is_true(json_object_get(r, "server"));
}
