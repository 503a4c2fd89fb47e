/* agent_metrics.c — agents' pushed samples, kept as ready text (agent_metrics.h). Two hash
 * tables on the loop: the agents by name, and the metrics (families) any agent holds. Each agent
 * holds one block: its sample lines grouped by metric, each group a span naming its family once
 * swapped in. A scrape's snapshot holds references to the blocks and families; writing it sorts
 * the metrics by name, buckets every block's spans by metric (a counting sort) and copies them. */
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
    size_t holders;   /* agents whose block has it; in the table while > 0 */
    size_t refs;      /* holders, plus the snapshots using it */
    UT_hash_handle hh;
};

/* One metric's lines in a block. */
struct span {
    struct family *family; /* NULL until swapped in */
    size_t name, help;     /* offsets in the block's names until swapped in; NO_HELP: none */
    const char *type;
    size_t offset, len;        /* in the block's text */
    size_t first_line, nlines; /* in the block's lines, until swapped in */
};

#define NO_HELP ((size_t)-1)

struct agent_block {
    size_t refs; /* its agent, and the snapshots writing it; moved on the loop only */
    char *worker;
    int64_t pushed_wall;
    char *text;
    struct span *spans;
    size_t nspans;
    size_t series;
    size_t refused;
    /* Until swapped in (NULL after): */
    char *names;   /* the spans' metric names and HELP texts, NUL-terminated */
    size_t *lines; /* each kept sample's line number, in span order */
};

struct agent {
    char *name;
    struct agent_block *block; /* NULL: none */
    int64_t pushed_mono;
    UT_hash_handle hh;
};

struct agent_metrics {
    struct family *families;
    struct agent *agents;
    struct agent_metrics_limits limits;
    int64_t ttl_ms;
};

struct agent_metrics *agent_metrics_new(size_t max_series, int64_t ttl_ms,
                                        bool (*reserved)(const char *name))
{
    struct agent_metrics *am = calloc(1, sizeof *am);
    if (am) {
        am->limits = (struct agent_metrics_limits){max_series, reserved};
        am->ttl_ms = ttl_ms;
    }
    return am;
}

void agent_metrics_limits(const struct agent_metrics *am, struct agent_metrics_limits *out)
{
    *out = am->limits;
}

static void family_unref(struct family *f)
{
    if (--f->refs > 0)
        return;
    free(f->name);
    free(f->help);
    free(f);
}

static void family_unhold(struct agent_metrics *am, struct family *f)
{
    if (--f->holders == 0)
        HASH_DEL(am->families, f);
    family_unref(f);
}

void agent_block_free(struct agent_block *b)
{
    if (!b)
        return;
    free(b->worker);
    free(b->text);
    free(b->spans);
    free(b->names);
    free(b->lines);
    free(b);
}

static void block_unref(struct agent_block *b)
{
    if (--b->refs == 0)
        agent_block_free(b);
}

/* Lets go of the agent's block; the agent stays (with none). */
static void agent_clear(struct agent_metrics *am, struct agent *a)
{
    struct agent_block *b = a->block;
    if (!b)
        return;
    for (size_t i = 0; i < b->nspans; i++)
        family_unhold(am, b->spans[i].family);
    block_unref(b);
    a->block = NULL;
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
    free(am);
}

/* ---- building a block (any thread) ---- */

#define BUILD_RESERVE_MAX (1 << 20) /* bytes of lines reserved before reading a push */
#define RUNS_TRACKED 64 /* runs of samples checked for a metric met before; then sorted anyway */

/* A sample line, written, waiting to be grouped by metric. */
struct pending {
    uintptr_t key;    /* the reader's name of its metric: one per metric while it reads */
    size_t name, help; /* in names */
    const char *type;
    size_t line, offset, len;
};

struct build {
    const struct agent_metrics_limits *limits;
    uintptr_t last_key; /* the last kept sample's metric */
    size_t last_name, last_help;
    uintptr_t runs[RUNS_TRACKED]; /* the metrics of the runs of samples so far */
    size_t nruns;
    bool scattered; /* a metric's samples came in two runs or more: sort them together */
    struct expo lines;
    struct expo names;
    struct expo ours; /* site="S",worker="W" */
    struct pending *pending;
    size_t npending, cap;
    size_t over, over_first; /* lines over the series cap, and the first of them */
    bool hold_refusal;       /* the refusal at hand is over the cap: count it, do not pass it */
    size_t refused;
    void (*refused_cb)(void *ctx, size_t line, const char *error);
    void *ctx;
};

static void build_refused(void *ctx, size_t line, const char *error)
{
    struct build *p = ctx;
    p->refused++;
    if (p->hold_refusal) {
        p->hold_refusal = false;
        return;
    }
    if (p->refused_cb)
        p->refused_cb(p->ctx, line, error);
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

/* Notes the sample's metric as the one at hand (its name and HELP copied). Returns whether it
 * may be pushed; when not, why in err. */
static bool metric_allowed(struct build *p, const struct metric_text_sample *s, char *err,
                           size_t errlen)
{
    if (p->limits->reserved && p->limits->reserved(s->family)) {
        snprintf(err, errlen, "metric \"%s\": reserved for the server's own metrics", s->family);
        return false;
    }
    p->last_key = (uintptr_t)s->family;
    for (size_t i = 0; i < p->nruns && !p->scattered; i++)
        p->scattered = p->runs[i] == p->last_key;
    if (p->nruns < RUNS_TRACKED)
        p->runs[p->nruns++] = p->last_key;
    else
        p->scattered = true;
    p->last_name = p->names.len;
    expo_write(&p->names, s->family, strlen(s->family) + 1);
    p->last_help = s->help ? p->names.len : NO_HELP;
    if (s->help)
        expo_write(&p->names, s->help, strlen(s->help) + 1);
    return true;
}

static char *put(char *o, const char *s, size_t len)
{
    memcpy(o, s, len);
    return o + len;
}

/* Appends s's line with the server's labels (ours: `site="S",worker="W"`) after its own, label
 * values escaped: the room for it reserved once. Returns false when out of memory. */
static bool write_line(struct expo *lines, const struct metric_text_sample *s,
                       const struct expo *ours)
{
    size_t name_len = strlen(s->name), need = name_len + ours->len + s->value_len + 4;
    for (size_t i = 0; i < s->nlabels; i++) /* a value escaped is at most twice as long */
        need += strlen(s->labels[i].name) + 2 * strlen(s->labels[i].value) + 4;
    char *o = expo_reserve(lines, need), *start = o;
    if (!o)
        return false;
    o = put(o, s->name, name_len);
    *o++ = '{';
    for (size_t i = 0; i < s->nlabels; i++) {
        o = stpcpy(o, s->labels[i].name);
        *o++ = '=';
        *o++ = '"';
        const char *v = s->labels[i].value;
        size_t plain = strcspn(v, "\\\"\n");
        o = put(o, v, plain);
        for (v += plain; *v; v++) { /* escaped in the text pushed: rare */
            if (*v == '\\' || *v == '"' || *v == '\n')
                *o++ = '\\';
            *o++ = *v == '\n' ? 'n' : *v;
        }
        *o++ = '"';
        *o++ = ',';
    }
    o = put(o, ours->data, ours->len);
    *o++ = '}';
    *o++ = ' ';
    o = put(o, s->value_text, s->value_len);
    *o++ = '\n';
    lines->len += (size_t)(o - start);
    return true;
}

static int on_sample(void *ctx, const struct metric_text_sample *s, char *err, size_t errlen)
{
    struct build *p = ctx;
    /* Samples of one metric come together: the metric's checks and copy are done once. */
    if (!labels_allowed(s, err, errlen) ||
        ((uintptr_t)s->family != p->last_key && !metric_allowed(p, s, err, errlen)))
        return 1;
    if (p->npending >= p->limits->max_series) {
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
    size_t start = p->lines.len;
    if (!write_line(&p->lines, s, &p->ours))
        return -1;
    if (p->lines.oom || p->names.oom)
        return -1;
    p->pending[p->npending++] = (struct pending){p->last_key,  p->last_name, p->last_help,
                                                 s->type,      s->line,      start,
                                                 p->lines.len - start};
    return 0;
}

static int pending_cmp(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Moves the written lines into b, grouped by metric. Returns 0 or -1 (out of memory). */
static int block_fill(struct agent_block *b, struct build *p)
{
    b->spans = calloc(p->npending ? p->npending : 1, sizeof *b->spans);
    b->lines = malloc((p->npending ? p->npending : 1) * sizeof *b->lines);
    if (!b->spans || !b->lines)
        return -1;
    if (p->scattered) {
        qsort(p->pending, p->npending, sizeof *p->pending, pending_cmp);
        if (!(b->text = malloc(p->lines.len)))
            return -1;
    } else { /* grouped as they came (the usual case): the lines are the text as they are */
        char *fitted = realloc(p->lines.data, p->lines.len ? p->lines.len : 1);
        b->text = fitted ? fitted : p->lines.data;
        p->lines = (struct expo){0};
    }
    size_t len = 0;
    uintptr_t key = 0;
    for (size_t i = 0; i < p->npending; i++) {
        const struct pending *q = &p->pending[i];
        if (b->nspans == 0 || key != q->key)
            b->spans[b->nspans++] = (struct span){.name = q->name,
                                                  .help = q->help,
                                                  .type = q->type,
                                                  .offset = len,
                                                  .first_line = i};
        key = q->key;
        if (p->scattered)
            memcpy(b->text + len, p->lines.data + q->offset, q->len);
        len += q->len;
        b->spans[b->nspans - 1].len += q->len;
        b->spans[b->nspans - 1].nlines++;
        b->lines[i] = q->line;
    }
    b->series = p->npending;
    b->names = p->names.data; /* taken */
    p->names = (struct expo){0};
    return 0;
}

static char *dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

struct agent_block *agent_block_build(const struct agent_metrics_limits *limits,
                                      const char *worker, const char *site, const char *text,
                                      size_t len,
                                      void (*refused)(void *ctx, size_t line, const char *error),
                                      void *ctx)
{
    struct agent_block *b = calloc(1, sizeof *b);
    struct build p = {.limits = limits, .refused_cb = refused, .ctx = ctx};
    expo_reserve(&p.ours, strlen(worker) + (site ? strlen(site) : 0) + 32);
    if (site && *site) {
        expo_puts(&p.ours, "site=\"");
        expo_label_value(&p.ours, site);
        expo_puts(&p.ours, "\",");
    }
    expo_puts(&p.ours, "worker=\"");
    expo_label_value(&p.ours, worker);
    expo_puts(&p.ours, "\"");
    /* First sizes are exact (exposition.h): the text and the labels added, most often, up to
     * BUILD_RESERVE_MAX (a large push grows as it goes: its lines may be refused); names. */
    size_t guess = len + len / 2 + 1024;
    expo_reserve(&p.lines, guess < BUILD_RESERVE_MAX ? guess : BUILD_RESERVE_MAX);
    expo_reserve(&p.names, 1024);
    int rc = !b || !(b->worker = dup_text(worker)) || p.ours.oom || p.lines.oom
                 ? -1
                 : metric_text_each(text, len, on_sample, build_refused, &p);
    if (rc >= 0 && p.over && refused) {
        char err[160];
        snprintf(err, sizeof err,
                 "over the series cap (METRICS_MAX_SERIES, %zu): %zu samples "
                 "from this line on refused",
                 limits->max_series, p.over);
        refused(ctx, p.over_first, err);
    }
    if (rc >= 0)
        rc = block_fill(b, &p);
    expo_free(&p.lines);
    expo_free(&p.names);
    expo_free(&p.ours);
    free(p.pending);
    if (rc < 0) {
        agent_block_free(b);
        return NULL;
    }
    b->refused = p.refused;
    return b;
}

/* ---- swapping a block in (the loop) ---- */

/* The metric called name, created (with no holder yet) when new; NULL when out of memory. */
static struct family *family_for(struct agent_metrics *am, const char *name, const char *type,
                                 const char *help)
{
    struct family *f;
    HASH_FIND_STR(am->families, name, f);
    if (f)
        return f;
    f = calloc(1, sizeof *f);
    if (!f || !(f->name = dup_text(name)) || (help && !(f->help = dup_text(help)))) {
        if (f)
            free(f->name);
        free(f);
        return NULL;
    }
    f->type = type;
    HASH_ADD_KEYPTR(hh, am->families, f->name, strlen(f->name), f);
    return f;
}

/* Gives each span of b its family, leaving out (and refusing) those whose TYPE other agents
 * push differently. Returns 0 or -1 (out of memory). */
static int block_hold(struct agent_metrics *am, struct agent_block *b,
                      void (*refused)(void *ctx, size_t line, const char *error), void *ctx)
{
    size_t kept = 0;
    for (size_t i = 0; i < b->nspans; i++) {
        struct span *s = &b->spans[i];
        const char *name = b->names + s->name;
        struct family *f;
        HASH_FIND_STR(am->families, name, f);
        if (f && strcmp(f->type, s->type) != 0) {
            char err[512];
            snprintf(err, sizeof err, "metric \"%s\": TYPE %s here, but other workers push it as %s",
                     name, s->type, f->type);
            for (size_t l = 0; l < s->nlines; l++)
                if (refused)
                    refused(ctx, b->lines[s->first_line + l], err);
            b->series -= s->nlines;
            b->refused += s->nlines;
            continue;
        }
        if (!f && !(f = family_for(am, name, s->type,
                                   s->help == NO_HELP ? NULL : b->names + s->help))) {
            b->nspans = kept; /* the spans kept so far are let go by the caller */
            return -1;
        }
        f->holders++;
        f->refs++;
        s->family = f;
        b->spans[kept++] = *s;
    }
    b->nspans = kept;
    free(b->lines); /* needed no more: the families hold the names */
    free(b->names);
    b->lines = NULL;
    b->names = NULL;
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

int agent_metrics_swap(struct agent_metrics *am, const char *worker, struct agent_block *b,
                       int64_t now_mono, int64_t now_wall,
                       void (*refused)(void *ctx, size_t line, const char *error), void *ctx,
                       struct agent_metrics_push *result)
{
    *result = (struct agent_metrics_push){.refused = b->refused};
    struct agent *a = agent_get(am, worker);
    if (!a) {
        agent_block_free(b);
        return -1;
    }
    agent_clear(am, a); /* first, so its own metrics do not stand in the way of a new TYPE */
    a->pushed_mono = now_mono;
    b->pushed_wall = now_wall;
    b->refs = 1;
    a->block = b;
    if (block_hold(am, b, refused, ctx) != 0) {
        agent_clear(am, a);
        return -1;
    }
    result->accepted = b->series;
    result->refused = b->refused;
    return 0;
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

struct agent_metrics_snapshot {
    struct family **families; /* in name order */
    size_t nfamilies;
    struct agent_block **blocks;
    size_t nblocks;
};

static int family_name_cmp(const void *a, const void *b)
{
    return strcmp((*(struct family *const *)a)->name, (*(struct family *const *)b)->name);
}

struct agent_metrics_snapshot *agent_metrics_snapshot(struct agent_metrics *am, int64_t now_mono)
{
    agent_metrics_expire(am, now_mono);
    struct agent_metrics_snapshot *snap = calloc(1, sizeof *snap);
    size_t nfam = HASH_COUNT(am->families), nagents = HASH_COUNT(am->agents);
    if (!snap || !(snap->families = malloc((nfam ? nfam : 1) * sizeof *snap->families)) ||
        !(snap->blocks = malloc((nagents ? nagents : 1) * sizeof *snap->blocks))) {
        if (snap)
            free(snap->families);
        free(snap);
        return NULL;
    }
    for (struct family *f = am->families; f; f = f->hh.next) {
        f->refs++;
        snap->families[snap->nfamilies++] = f;
    }
    for (struct agent *a = am->agents; a; a = a->hh.next)
        if (a->block) {
            a->block->refs++;
            snap->blocks[snap->nblocks++] = a->block;
        }
    qsort(snap->families, snap->nfamilies, sizeof *snap->families, family_name_cmp);
    return snap;
}

void agent_metrics_snapshot_free(struct agent_metrics_snapshot *snap)
{
    if (!snap)
        return;
    for (size_t i = 0; i < snap->nfamilies; i++)
        family_unref(snap->families[i]);
    for (size_t i = 0; i < snap->nblocks; i++)
        block_unref(snap->blocks[i]);
    free(snap->families);
    free(snap->blocks);
    free(snap);
}

/* A metric of the snapshot by address, with its place in name order. */
struct family_place {
    const struct family *family;
    size_t index;
};

static int place_cmp(const void *a, const void *b)
{
    const struct family_place *x = a, *y = b;
    return (uintptr_t)x->family < (uintptr_t)y->family   ? -1
           : (uintptr_t)x->family > (uintptr_t)y->family ? 1
                                                         : 0;
}

/* One block's lines of one metric. */
struct piece {
    const char *text;
    size_t len;
};

static void write_blocks(const struct agent_metrics_snapshot *snap, struct expo *out)
{
    size_t nfam = snap->nfamilies, npieces = 0, bytes = 0;
    struct family_place *places = malloc((nfam ? nfam : 1) * sizeof *places);
    size_t *first = calloc(nfam + 1, sizeof *first);
    size_t *index = NULL; /* each span's metric, in name order, block after block */
    struct piece *pieces = NULL;
    if (!places || !first)
        goto oom;
    for (size_t i = 0; i < nfam; i++)
        places[i] = (struct family_place){snap->families[i], i};
    qsort(places, nfam, sizeof *places, place_cmp);
    for (size_t b = 0; b < snap->nblocks; b++)
        npieces += snap->blocks[b]->nspans;
    index = malloc((npieces ? npieces : 1) * sizeof *index);
    pieces = malloc((npieces ? npieces : 1) * sizeof *pieces);
    if (!index || !pieces)
        goto oom;
    for (size_t b = 0, k = 0; b < snap->nblocks; b++)
        for (size_t i = 0; i < snap->blocks[b]->nspans; i++, k++) {
            const struct span *s = &snap->blocks[b]->spans[i];
            struct family_place key = {s->family, 0};
            const struct family_place *at = bsearch(&key, places, nfam, sizeof *places, place_cmp);
            index[k] = at->index; /* every held metric is in the snapshot */
            first[index[k] + 1]++;
            bytes += s->len;
        }
    if (!expo_reserve(out, bytes + nfam * 256))
        goto oom;
    for (size_t i = 1; i <= nfam; i++)
        first[i] += first[i - 1];
    size_t *next = first; /* first[i] becomes where metric i's next piece goes */
    for (size_t b = 0, k = 0; b < snap->nblocks; b++)
        for (size_t i = 0; i < snap->blocks[b]->nspans; i++, k++) {
            const struct span *s = &snap->blocks[b]->spans[i];
            pieces[next[index[k]]++] = (struct piece){snap->blocks[b]->text + s->offset, s->len};
        }
    /* next[i] is now the end of metric i's pieces, and so the start of metric i+1's */
    for (size_t f = 0, p = 0; f < nfam; f++) {
        const struct family *fam = snap->families[f];
        expo_family(out, fam->name, fam->type, fam->help ? fam->help : DEFAULT_HELP);
        for (; p < next[f]; p++)
            expo_write(out, pieces[p].text, pieces[p].len);
    }
    goto done;
oom:
    out->oom = true;
done:
    free(pieces);
    free(index);
    free(first);
    free(places);
}

void agent_metrics_snapshot_write(const struct agent_metrics_snapshot *snap, struct expo *out)
{
    write_blocks(snap, out);
    if (!snap->nblocks)
        return;
    expo_family(out, "faultline_push_time_seconds", "gauge",
                "When the worker last pushed its metrics, in seconds since the epoch.");
    for (size_t b = 0; b < snap->nblocks; b++)
        expo_sample(out, "faultline_push_time_seconds",
                    (double)snap->blocks[b]->pushed_wall / 1000.0, 1, "worker",
                    snap->blocks[b]->worker);
}

void agent_metrics_summarize(struct agent_metrics *am, int64_t now_mono,
                             struct agent_metrics_summary *out)
{
    agent_metrics_expire(am, now_mono);
    *out = (struct agent_metrics_summary){0};
    for (struct agent *a = am->agents; a; a = a->hh.next) {
        out->agents++;
        if (!a->block)
            continue;
        out->series += a->block->series;
        if (a->block->pushed_wall > out->last_push_wall_ms)
            out->last_push_wall_ms = a->block->pushed_wall;
    }
}
