/* group.c — grouping of alerts; see group.h. */
#include "alert/group.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"

struct group {
    struct group *next;
    char *key;
    bool resolve;
    int64_t due_ms; /* monotonic */
    struct alert_batch rows;
};

struct alert_groups {
    uv_timer_t timer;
    int64_t wait_ms;
    alert_group_flush_fn flush;
    void *ctx;
    struct group *groups; /* oldest first */
};

/* A subject for n members: "3 alerts of 10.0.0.5:443: a, b, c". */
static char *merged_fields(const char *first_fields, const char *key, size_t members,
                           const char *names)
{
    json_t *f = json_loads(first_fields ? first_fields : "{}", 0, NULL);
    if (!f)
        f = json_object();
    char subject[1024];
    snprintf(subject, sizeof subject, "%zu alerts of %s: %s", members, key, names);
    json_object_set_new(f, "subject", json_string(subject));
    json_object_set_new(f, "group", json_string(key));
    char *text = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    return text;
}

static const char *fields_name(const char *fields, char *buf, size_t len)
{
    json_t *f = json_loads(fields ? fields : "{}", 0, NULL);
    snprintf(buf, len, "%s", json_string_value(json_object_get(f, "name")) ?: "?");
    json_decref(f);
    return buf;
}

size_t alert_groups_merge(const struct outbox_record *rows, size_t n, const char *key,
                          struct outbox_record *out)
{
    size_t n_out = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t k = 0; k < n_out && !seen; k++)
            seen = strcmp(out[k].channel, rows[i].channel) == 0;
        if (seen)
            continue;
        size_t members = 0, tlen = 0, nlen = 0;
        for (size_t j = i; j < n; j++)
            if (strcmp(rows[j].channel, rows[i].channel) == 0) {
                members++;
                tlen += strlen(rows[j].text ? rows[j].text : "") + 1;
                nlen += 2 + 160;
            }
        char *text = malloc(tlen + 1), *names = malloc(nlen + 1);
        if (!text || !names) {
            free(text);
            free(names);
            break;
        }
        text[0] = names[0] = '\0';
        for (size_t j = i; j < n; j++) {
            if (strcmp(rows[j].channel, rows[i].channel) != 0)
                continue;
            char name[160];
            if (text[0])
                strcat(text, "\n"), strcat(names, ", ");
            strcat(text, rows[j].text ? rows[j].text : "");
            strcat(names, fields_name(rows[j].fields_json, name, sizeof name));
        }
        out[n_out] = rows[i];
        out[n_out].text = text;
        out[n_out].fields_json = merged_fields(rows[i].fields_json, key, members, names);
        free(names);
        n_out++;
    }
    return n_out;
}

static void flush_group(struct alert_groups *g, struct group *grp)
{
    struct outbox_record *merged = calloc(grp->rows.n ? grp->rows.n : 1, sizeof *merged);
    size_t members_max = 0;
    for (size_t i = 0; i < grp->rows.n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < grp->rows.n; j++)
            m += strcmp(grp->rows.rows[i].channel, grp->rows.rows[j].channel) == 0;
        members_max = m > members_max ? m : members_max;
    }
    if (members_max <= 1 || !merged) { /* a group of one, or no memory to merge: as they were */
        g->flush(grp->rows.rows, grp->rows.n, g->ctx);
    } else {
        size_t n = alert_groups_merge(grp->rows.rows, grp->rows.n, grp->key, merged);
        log_info("alert: %zu alerts of %s sent as one per channel", members_max, grp->key);
        g->flush(merged, n, g->ctx);
        for (size_t i = 0; i < n; i++) {
            free((char *)merged[i].text);
            free((char *)merged[i].fields_json);
        }
    }
    free(merged);
    alert_batch_free(&grp->rows);
    free(grp->key);
    free(grp);
}

static void arm(struct alert_groups *g);

static void on_due(uv_timer_t *t)
{
    struct alert_groups *g = t->data;
    int64_t now = clock_mono_ms();
    for (struct group **p = &g->groups; *p;) {
        struct group *grp = *p;
        if (grp->due_ms > now) {
            p = &grp->next;
            continue;
        }
        *p = grp->next;
        flush_group(g, grp);
    }
    arm(g);
}

static void arm(struct alert_groups *g)
{
    if (!g->groups)
        return;
    int64_t due = g->groups->due_ms;
    for (struct group *grp = g->groups; grp; grp = grp->next)
        due = grp->due_ms < due ? grp->due_ms : due;
    int64_t now = clock_mono_ms();
    uv_timer_start(&g->timer, on_due, (uint64_t)(due > now ? due - now : 0), 0);
}

struct alert_groups *alert_groups_new(uv_loop_t *loop, int64_t wait_ms, alert_group_flush_fn flush,
                                      void *ctx)
{
    struct alert_groups *g = calloc(1, sizeof *g);
    if (!g || uv_timer_init(loop, &g->timer) != 0) {
        free(g);
        return NULL;
    }
    g->timer.data = g;
    g->wait_ms = wait_ms;
    g->flush = flush;
    g->ctx = ctx;
    return g;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void alert_groups_free(struct alert_groups *g)
{
    if (!g)
        return;
    while (g->groups) {
        struct group *grp = g->groups;
        g->groups = grp->next;
        flush_group(g, grp);
    }
    uv_close((uv_handle_t *)&g->timer, on_closed);
}

/* Appends the rows of from to to (from is left empty); -1 when out of memory. */
static int batch_take(struct alert_batch *to, struct alert_batch *from)
{
    if (to->n + from->n > to->cap) {
        size_t cap = (to->n + from->n) * 2;
        struct outbox_record *rows = realloc(to->rows, cap * sizeof *rows);
        if (!rows)
            return -1;
        to->rows = rows;
        to->cap = cap;
    }
    memcpy(to->rows + to->n, from->rows, from->n * sizeof *from->rows);
    to->n += from->n;
    free(from->rows);
    *from = (struct alert_batch){0};
    return 0;
}

int alert_groups_add(struct alert_groups *g, const char *key, bool resolve,
                     struct alert_batch *batch)
{
    if (batch->n == 0)
        return 0;
    struct group *grp = g->groups, *last = NULL;
    for (; grp && (grp->resolve != resolve || strcmp(grp->key, key) != 0); grp = grp->next)
        last = grp;
    if (!grp && (grp = calloc(1, sizeof *grp)) && !(grp->key = strdup(key))) {
        free(grp);
        grp = NULL;
    }
    if (grp && !grp->due_ms) {
        grp->resolve = resolve;
        grp->due_ms = clock_mono_ms() + g->wait_ms;
        if (last)
            last->next = grp;
        else
            g->groups = grp;
        arm(g);
    }
    if (!grp || batch_take(&grp->rows, batch) != 0) {
        log_error("alert: out of memory grouping %s; sent ungrouped", key);
        g->flush(batch->rows, batch->n, g->ctx);
        alert_batch_free(batch);
        return -1;
    }
    return 0;
}
