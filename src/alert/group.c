/* group.c — grouping of alerts; see group.h. */
#include "alert/group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A group's deadline, while it is open. */
struct group {
    struct group *next;
    char *key;
    bool resolve;
    int64_t wait_ms;
    int64_t due_ms; /* wall clock */
};

struct alert_groups {
    int64_t wait_ms;
    struct group *groups;
};

struct alert_groups *alert_groups_new(int64_t wait_ms)
{
    struct alert_groups *g = calloc(1, sizeof *g);
    if (g)
        g->wait_ms = wait_ms;
    return g;
}

static void group_free(struct group *grp)
{
    free(grp->key);
    free(grp);
}

void alert_groups_free(struct alert_groups *g)
{
    while (g && g->groups) {
        struct group *grp = g->groups;
        g->groups = grp->next;
        group_free(grp);
    }
    free(g);
}

/* The open group of key, resolve and wait_ms at now_ms (groups past their deadline are
 * dropped), or a new one; NULL when out of memory. */
static struct group *group_at(struct alert_groups *g, const char *key, bool resolve,
                              int64_t wait_ms, int64_t now_ms)
{
    struct group *found = NULL;
    for (struct group **p = &g->groups; *p;) {
        struct group *grp = *p;
        if (grp->due_ms <= now_ms) {
            *p = grp->next;
            group_free(grp);
            continue;
        }
        if (grp->resolve == resolve && grp->wait_ms == wait_ms && strcmp(grp->key, key) == 0)
            found = grp;
        p = &grp->next;
    }
    if (found)
        return found;
    struct group *grp = calloc(1, sizeof *grp);
    if (!grp || !(grp->key = strdup(key))) {
        free(grp);
        return NULL;
    }
    grp->resolve = resolve;
    grp->wait_ms = wait_ms;
    grp->due_ms = now_ms + wait_ms;
    grp->next = g->groups;
    g->groups = grp;
    return grp;
}

/* fields_json with "group": key; a new string, NULL when out of memory. */
static char *fields_with_group(const char *fields_json, const char *key)
{
    json_t *f = json_loads(fields_json ? fields_json : "{}", 0, NULL);
    if (!json_is_object(f)) {
        json_decref(f);
        f = json_object();
    }
    json_object_set_new(f, "group", json_string(key));
    char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    return text;
}

int alert_groups_hold(struct alert_groups *g, const char *key, bool resolve, int64_t now_ms,
                      struct alert_batch *batch)
{
    char **fields = calloc(batch->n ? batch->n : 1, sizeof *fields);
    struct group **groups = calloc(batch->n ? batch->n : 1, sizeof *groups);
    bool ok = fields && groups;
    for (size_t i = 0; ok && i < batch->n; i++) {
        int64_t wait = batch->timing ? batch->timing[i].group_wait_ms : g->wait_ms;
        if (wait <= 0)
            continue; /* this row's route sends at once */
        ok = (groups[i] = group_at(g, key, resolve, wait, now_ms)) &&
             (fields[i] = fields_with_group(batch->rows[i].fields_json, key));
    }
    for (size_t i = 0; i < batch->n; i++) {
        if (ok && groups[i]) {
            free((char *)batch->rows[i].fields_json);
            batch->rows[i].fields_json = fields[i];
            batch->rows[i].next_attempt_ms = groups[i]->due_ms;
        } else if (fields) {
            free(fields[i]);
        }
    }
    free(fields);
    free(groups);
    return ok ? 0 : -1;
}

json_t *alert_groups_merge_fields(json_t *const *members, size_t n, const char *key)
{
    json_t *f = n && json_is_object(members[0]) ? json_deep_copy(members[0]) : json_object();
    size_t len = strlen(key) + 64, used = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(json_string_value(json_object_get(members[i], "name")) ?: "?") + 2;
    char *subject = malloc(len);
    if (!f || !subject) {
        json_decref(f);
        free(subject);
        return NULL;
    }
    used = (size_t)snprintf(subject, len, "%zu alerts of %s: ", n, key);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(subject + used, len - used, "%s%s", i ? ", " : "",
                                 json_string_value(json_object_get(members[i], "name")) ?: "?");
    json_object_set_new(f, "subject", json_string(subject));
    json_object_set_new(f, "group", json_string(key));
    free(subject);
    return f;
}
