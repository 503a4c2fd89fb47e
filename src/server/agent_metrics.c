/* agent_metrics.c — agents' pushed samples, kept as ready text (agent_metrics.h). Two hash
 * tables: the agents by name, and the metrics (families) any agent holds, each with the number
 * of agents holding it. An agent's text is its sample lines grouped by metric, each group a
 * span; a scrape sorts the metrics by name, buckets every agent's spans by metric (a counting
 * sort) and copies them. */
#include "server/agent_metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "model/metric_text.h"

#define DEFAULT_HELP "Pushed by the agents (no HELP given)."

struct family {
    char *name;
    const char *type; /* static, from metric_text */
    char *help;       /* NULL: DEFAULT_HELP */
    size_t refs;      /* agents holding samples of it */
    size_t index;     /* its place in name order, during a render */
    UT_hash_handle hh;
};

struct span {
    struct family *family;
    size_t offset, len;
};

struct agent {
    char *name;
    char *text;
    struct span *spans;
    size_t nspans;
    size_t series;
    int64_t pushed_mono, pushed_wall;
    UT_hash_handle hh;
};

struct agent_metrics {
    struct family *families;
    struct agent *agents;
    size_t max_series;
    int64_t ttl_ms;
    bool (*reserved)(const char *name);
};

struct agent_metrics *agent_metrics_new(size_t max_series, int64_t ttl_ms,
                                        bool (*reserved)(const char *name))
{
    struct agent_metrics *am = calloc(1, sizeof *am);
    if (am) {
        am->max_series = max_series;
        am->ttl_ms = ttl_ms;
        am->reserved = reserved;
    }
    return am;
}

static void family_unref(struct agent_metrics *am, struct family *f)
{
    if (--f->refs > 0)
        return;
    HASH_DEL(am->families, f);
    free(f->name);
    free(f->help);
    free(f);
}

/* Lets go of the agent's samples; the agent stays (with none). */
static void agent_clear(struct agent_metrics *am, struct agent *a)
{
    for (size_t i = 0; i < a->nspans; i++)
        family_unref(am, a->spans[i].family);
    free(a->spans);
    free(a->text);
    a->spans = NULL;
    a->text = NULL;
    a->nspans = a->series = 0;
}

static void agent_drop(struct agent_metrics *am, struct agent *a)
{
    agent_clear(am, a);
    HASH_DEL(am->agents, a);
    free(a->name);
    free(a);
}

void agent_metrics_free(struct agent_metrics *am)
{
    if (!am)
        return;
    struct agent *a, *tmp;
    HASH_ITER(hh, am->agents, a, tmp)
    agent_drop(am, a);
    struct family *f, *ftmp;
    HASH_ITER(hh, am->families, f, ftmp)
    { /* only those an out-of-memory push left behind */
        f->refs = 1;
        family_unref(am, f);
    }
    free(am);
}

/* ---- a push ---- */

/* A sample line, rendered, waiting to be grouped by metric. */
struct pending {
    struct family *family;
    size_t offset, len;
};

struct push_ctx {
    struct agent_metrics *am;
    const char *last_key;       /* the reader's name of the last sample's metric, while kept */
    struct family *last_family; /* and its family here */
    struct expo lines;
    struct expo ours; /* site="S",worker="W" */
    struct pending *pending;
    size_t npending, cap;
    size_t over, over_first; /* lines over the series cap, and the first of them */
    bool hold_refusal;       /* the refusal at hand is over the cap: count it, do not pass it */
    size_t refused;
    void (*refused_cb)(void *ctx, size_t line, const char *error);
    void *ctx;
};

static void push_refused(void *ctx, size_t line, const char *error)
{
    struct push_ctx *p = ctx;
    p->refused++;
    if (p->hold_refusal) {
        p->hold_refusal = false;
        return;
    }
    if (p->refused_cb)
        p->refused_cb(p->ctx, line, error);
}

static char *dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

/* The metric s belongs to, created (with no holder yet) when new; NULL when out of memory. */
static struct family *family_for(struct agent_metrics *am, const struct metric_text_sample *s)
{
    struct family *f;
    HASH_FIND_STR(am->families, s->family, f);
    if (f)
        return f;
    f = calloc(1, sizeof *f);
    if (!f || !(f->name = dup_text(s->family)) || (s->help && !(f->help = dup_text(s->help)))) {
        if (f)
            free(f->name);
        free(f);
        return NULL;
    }
    f->type = s->type;
    HASH_ADD_KEYPTR(hh, am->families, f->name, strlen(f->name), f);
    return f;
}

/* Whether the sample's labels leave out the server's own; when not, why in err. */
static bool labels_allowed(const struct metric_text_sample *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if ((s->labels[i].name[0] == 'w' && !strcmp(s->labels[i].name, "worker")) ||
            (s->labels[i].name[0] == 's' && !strcmp(s->labels[i].name, "site"))) {
            snprintf(err, errlen,
                     "label \"%s\" of metric \"%s\": reserved (the server adds the "
                     "worker and site labels)",
                     s->labels[i].name, s->name);
            return false;
        }
    return true;
}

/* Whether the sample may be kept; when not, why in err. */
static bool sample_allowed(struct push_ctx *p, const struct metric_text_sample *s, char *err,
                           size_t errlen)
{
    if (!labels_allowed(s, err, errlen))
        return false;
    if (p->am->reserved && p->am->reserved(s->family)) {
        snprintf(err, errlen, "metric \"%s\": reserved for the server's own metrics", s->family);
        return false;
    }
    struct family *f;
    HASH_FIND_STR(p->am->families, s->family, f);
    if (f && strcmp(f->type, s->type) != 0) {
        snprintf(err, errlen, "metric \"%s\": TYPE %s here, but other workers push it as %s",
                 s->family, s->type, f->type);
        return false;
    }
    return true;
}

static int on_sample(void *ctx, const struct metric_text_sample *s, char *err, size_t errlen)
{
    struct push_ctx *p = ctx;
    /* Samples of one metric come together: the metric's checks and lookup are done once. */
    bool same = s->family == p->last_key;
    if (!(same ? labels_allowed(s, err, errlen) : sample_allowed(p, s, err, errlen)))
        return 1;
    if (p->npending >= p->am->max_series) {
        if (p->over++ == 0)
            p->over_first = s->line;
        p->hold_refusal = true;
        return 1;
    }
    if (p->npending == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct pending *n = realloc(p->pending, cap * sizeof *n);
        if (!n)
            return -1;
        p->pending = n;
        p->cap = cap;
    }
    struct family *f = same ? p->last_family : family_for(p->am, s);
    if (!f)
        return -1;
    p->last_key = s->family;
    p->last_family = f;
    size_t start = p->lines.len;
    expo_puts(&p->lines, s->name);
    expo_puts(&p->lines, "{");
    for (size_t i = 0; i < s->nlabels; i++) {
        expo_puts(&p->lines, s->labels[i].name);
        expo_puts(&p->lines, "=\"");
        expo_label_value(&p->lines, s->labels[i].value);
        expo_puts(&p->lines, "\",");
    }
    expo_write(&p->lines, p->ours.data, p->ours.len);
    expo_puts(&p->lines, "} ");
    expo_write(&p->lines, s->value_text, s->value_len);
    expo_puts(&p->lines, "\n");
    if (p->lines.oom)
        return -1;
    p->pending[p->npending++] = (struct pending){f, start, p->lines.len - start};
    return 0;
}

static int pending_cmp(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Moves the rendered lines into the agent, grouped by metric. Returns 0 or -1 (out of memory). */
static int agent_fill(struct agent *a, struct push_ctx *p)
{
    if (p->npending)
        qsort(p->pending, p->npending, sizeof *p->pending, pending_cmp);
    a->text = malloc(p->lines.len ? p->lines.len : 1);
    a->spans = calloc(p->npending ? p->npending : 1, sizeof *a->spans);
    if (!a->text || !a->spans)
        return -1;
    size_t len = 0;
    for (size_t i = 0; i < p->npending; i++) {
        const struct pending *q = &p->pending[i];
        if (a->nspans == 0 || a->spans[a->nspans - 1].family != q->family) {
            a->spans[a->nspans++] = (struct span){q->family, len, 0};
            q->family->refs++;
        }
        memcpy(a->text + len, p->lines.data + q->offset, q->len);
        len += q->len;
        a->spans[a->nspans - 1].len += q->len;
    }
    a->series = p->npending;
    return 0;
}

static struct agent *agent_get(struct agent_metrics *am, const char *worker)
{
    struct agent *a;
    HASH_FIND_STR(am->agents, worker, a);
    if (a)
        return a;
    a = calloc(1, sizeof *a);
    if (!a || !(a->name = dup_text(worker))) {
        free(a);
        return NULL;
    }
    HASH_ADD_KEYPTR(hh, am->agents, a->name, strlen(a->name), a);
    return a;
}

int agent_metrics_push(struct agent_metrics *am, const char *worker, const char *site,
                       const char *text, size_t len, int64_t now_mono, int64_t now_wall,
                       void (*refused)(void *ctx, size_t line, const char *error), void *ctx,
                       struct agent_metrics_push *result)
{
    *result = (struct agent_metrics_push){0};
    struct agent *a = agent_get(am, worker);
    if (!a)
        return -1;
    agent_clear(am, a); /* first, so its own metrics do not stand in the way of a new TYPE */
    a->pushed_mono = now_mono;
    a->pushed_wall = now_wall;
    struct push_ctx p = {.am = am, .refused_cb = refused, .ctx = ctx};
    if (site && *site) {
        expo_puts(&p.ours, "site=\"");
        expo_label_value(&p.ours, site);
        expo_puts(&p.ours, "\",");
    }
    expo_puts(&p.ours, "worker=\"");
    expo_label_value(&p.ours, worker);
    expo_puts(&p.ours, "\"");
    int rc = p.ours.oom ? -1 : metric_text_each(text, len, on_sample, push_refused, &p);
    if (rc >= 0 && p.over && refused) {
        char err[160];
        snprintf(err, sizeof err,
                 "over the series cap (METRICS_MAX_SERIES, %zu): %zu samples "
                 "from this line on refused",
                 am->max_series, p.over);
        refused(ctx, p.over_first, err);
    }
    if (rc >= 0)
        rc = agent_fill(a, &p);
    if (rc < 0)
        agent_clear(am, a);
    result->accepted = a->series;
    result->refused = p.refused;
    expo_free(&p.lines);
    expo_free(&p.ours);
    free(p.pending);
    return rc < 0 ? -1 : 0;
}

/* ---- scrapes ---- */

size_t agent_metrics_expire(struct agent_metrics *am, int64_t now_mono)
{
    size_t dropped = 0;
    struct agent *a, *tmp;
    HASH_ITER(hh, am->agents, a, tmp)
    if (now_mono - a->pushed_mono > am->ttl_ms) {
        agent_drop(am, a);
        dropped++;
    }
    return dropped;
}

static int family_name_cmp(const void *a, const void *b)
{
    return strcmp((*(struct family *const *)a)->name, (*(struct family *const *)b)->name);
}

/* One agent's block of one metric. */
struct block {
    const char *text;
    size_t len;
};

/* The metrics in name order, each with its index set; NULL when out of memory. */
static struct family **families_sorted(struct agent_metrics *am, size_t *n)
{
    *n = HASH_COUNT(am->families);
    struct family **order = malloc((*n ? *n : 1) * sizeof *order);
    if (!order)
        return NULL;
    size_t i = 0;
    for (struct family *f = am->families; f; f = f->hh.next)
        order[i++] = f;
    qsort(order, *n, sizeof *order, family_name_cmp);
    for (i = 0; i < *n; i++)
        order[i]->index = i;
    return order;
}

static void render_blocks(struct agent_metrics *am, struct expo *out)
{
    size_t nfam, nblocks = 0, bytes = 0;
    struct family **order = families_sorted(am, &nfam);
    size_t *first = calloc(nfam + 1, sizeof *first);
    struct block *blocks = NULL;
    if (!order || !first)
        goto oom;
    for (struct agent *a = am->agents; a; a = a->hh.next) {
        nblocks += a->nspans;
        for (size_t i = 0; i < a->nspans; i++) {
            first[a->spans[i].family->index + 1]++;
            bytes += a->spans[i].len;
        }
    }
    blocks = malloc((nblocks ? nblocks : 1) * sizeof *blocks);
    if (!blocks || !expo_reserve(out, bytes + nfam * 256))
        goto oom;
    for (size_t i = 1; i <= nfam; i++)
        first[i] += first[i - 1];
    size_t *next = first; /* first[i] becomes where metric i's next block goes */
    for (struct agent *a = am->agents; a; a = a->hh.next)
        for (size_t i = 0; i < a->nspans; i++) {
            const struct span *s = &a->spans[i];
            blocks[next[s->family->index]++] = (struct block){a->text + s->offset, s->len};
        }
    /* next[i] is now the end of metric i's blocks, and so the start of metric i+1's */
    for (size_t f = 0, b = 0; f < nfam; f++) {
        expo_family(out, order[f]->name, order[f]->type,
                    order[f]->help ? order[f]->help : DEFAULT_HELP);
        for (; b < next[f]; b++)
            expo_write(out, blocks[b].text, blocks[b].len);
    }
    goto done;
oom:
    out->oom = true;
done:
    free(blocks);
    free(first);
    free(order);
}

void agent_metrics_render(struct agent_metrics *am, int64_t now_mono, struct expo *out)
{
    agent_metrics_expire(am, now_mono);
    render_blocks(am, out);
    if (!am->agents)
        return;
    expo_family(out, "faultline_push_time_seconds", "gauge",
                "When the worker last pushed its metrics, in seconds since the epoch.");
    for (struct agent *a = am->agents; a; a = a->hh.next)
        expo_sample(out, "faultline_push_time_seconds", (double)a->pushed_wall / 1000.0, 1,
                    "worker", a->name);
}

void agent_metrics_summarize(struct agent_metrics *am, int64_t now_mono,
                             struct agent_metrics_summary *out)
{
    agent_metrics_expire(am, now_mono);
    *out = (struct agent_metrics_summary){0};
    for (struct agent *a = am->agents; a; a = a->hh.next) {
        out->agents++;
        out->series += a->series;
        if (a->pushed_wall > out->last_push_wall_ms)
            out->last_push_wall_ms = a->pushed_wall;
    }
}
