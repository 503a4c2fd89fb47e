/* checks_files.c — the checks of CHECKS_DIR (checks.h): the directory read whole, applied only
 * when it has no error (unchanged checks keep their state), watched with inotify (uv_fs_event),
 * debounced, and looked for again while it cannot be watched. A change is read, parsed and
 * sorted on the thread pool (100,000 checks: 1.5 s) and merged into the running set on the loop
 * (50 ms). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "server/checks_internal.h"

#define DIR_RETRY_MS 250 /* while CHECKS_DIR cannot be watched, how often to try again */

/* ---- reading the directory ------------------------------------------------------------------ */

/* Takes one check of set in the merge: a new check for def, or old kept when def is the same
 * (then its state goes on). old: the running check of that name, or NULL. */
static void merge_one(struct checks *c, struct check *old, struct checkdef *def,
                      struct checkdef_set *set, struct check **next, size_t *n,
                      struct check **gone, size_t *n_gone)
{
    if (old && !old->def->file) {
        json_array_append_new(
            set->errors, json_pack("{ss ss ss}", "file", def->file, "field", "name", "message",
                                   "a check of this name was created through the API"));
        checkdef_free(def);
        next[(*n)++] = old;
        return;
    }
    if (old && checkdef_same(old->def, def)) {
        checkdef_free(def);
        next[(*n)++] = old;
        return;
    }
    if (old)
        gone[(*n_gone)++] = old;
    struct check *k = checks_new_check(c, def);
    if (k)
        next[(*n)++] = k;
}

/* Replaces the running set with set's checks (sorted by name, taken): unchanged checks are kept
 * with their state, the API's checks stay, the rest are new. One merge of the two sorted lists,
 * so that 100,000 checks apply in tens of ms on the loop. Returns the errors (a file check named
 * like an API one). */
static int apply_set(struct checks *c, struct checkdef_set *set)
{
    struct check **next = calloc(set->n + c->n + 1, sizeof *next);
    struct check **gone = calloc(c->n + 1, sizeof *gone);
    if (!next || !gone) {
        free(next);
        free(gone);
        return 1;
    }
    size_t n = 0, n_gone = 0, i = 0, j = 0;
    while (i < c->n || j < set->n) {
        struct check *old = i < c->n ? c->all[i] : NULL;
        int cmp = !old ? 1 : j == set->n ? -1 : strcmp(old->def->name, set->defs[j]->name);
        if (cmp < 0) { /* only running: an API check stays, a file's is gone */
            if (old->def->file)
                gone[n_gone++] = old;
            else
                next[n++] = old;
            i++;
            continue;
        }
        struct checkdef *def = set->defs[j];
        set->defs[j++] = NULL;
        i += cmp == 0;
        merge_one(c, cmp == 0 ? old : NULL, def, set, next, &n, gone, &n_gone);
    }
    if (json_array_size(set->errors)) { /* undo: what is new goes, the running set stays */
        for (size_t k = 0; k < n; k++)
            if (checks_find(c, next[k]->def->name) != next[k])
                checks_free_check(next[k]);
        free(next);
        free(gone);
        return (int)json_array_size(set->errors);
    }
    free(c->all);
    c->all = next;
    c->n = n;
    for (size_t k = 0; k < n_gone; k++)
        checks_free_check(gone[k]);
    free(gone);
    size_t fresh = 0;
    for (size_t k = 0; k < c->n; k++)
        fresh += !c->all[k]->entry.slot && c->all[k]->enabled;
    uint64_t spread = fresh > FIRST_RUNS_PER_S ? fresh * 1000 / FIRST_RUNS_PER_S : 1000;
    for (size_t k = 0; k < c->n; k++)
        if (!c->all[k]->entry.slot && c->all[k]->enabled)
            checks_schedule_check(c->all[k], spread);
    return 0;
}

/* Applies what was read (or keeps the running set and lists the errors). Takes set. */
static int finish_reload(struct checks *c, struct checkdef_set *set, int errors)
{
    uint64_t start = uv_hrtime();
    if (!errors)
        errors = apply_set(c, set);
    uint64_t applied_us = (uv_hrtime() - start) / 1000;
    json_decref(c->errors);
    c->errors = json_incref(set->errors);
    if (errors)
        log_warn("checks: %s has %d error(s); the running checks stay as they were", c->dir,
                 errors);
    else
        log_info("checks: %zu check(s) from %s (applied in %.1f ms)", c->n, c->dir,
                 applied_us / 1e3);
    checkdef_set_free(set);
    malloc_trim(0); /* the free space between the checks that reading left (measured: 3 ms, and
                       a third of the RSS of 100,000 checks) */
    return errors;
}

int checks_reload(struct checks *c)
{
    struct checkdef_set set;
    checkdef_set_init(&set);
    int errors = checkdef_load_dir(&set, c->dir, c->opts.find);
    checkdef_set_sort(&set);
    return finish_reload(c, &set, errors);
}

/* A read of the directory on the thread pool: it touches only its own set. */
struct checks_read {
    uv_work_t work;
    struct checks *c;
    char *dir;
    checkdef_find_fn find;
    struct checkdef_set set;
    int errors;
};

static void read_dir_work(uv_work_t *w)
{
    struct checks_read *r = w->data;
    r->errors = checkdef_load_dir(&r->set, r->dir, r->find);
    checkdef_set_sort(&r->set); /* here rather than on the loop */
}

static void start_read(struct checks *c);

static void read_dir_done(uv_work_t *w, int status)
{
    struct checks_read *r = w->data;
    struct checks *c = r->c;
    c->reading = NULL;
    if (c->closed || status != 0)
        checkdef_set_free(&r->set);
    else
        finish_reload(c, &r->set, r->errors);
    free(r->dir);
    free(r);
    if (c->closed)
        checks_free_closed(c);
    else if (c->read_again)
        start_read(c);
}

/* Reads dir off the loop; a change during a read makes one more read after it. */
static void start_read(struct checks *c)
{
    c->read_again = false;
    if (c->reading) {
        c->read_again = true;
        return;
    }
    struct checks_read *r = calloc(1, sizeof *r);
    if (r && (r->dir = strdup(c->dir))) {
        r->c = c;
        r->find = c->opts.find;
        r->work.data = r;
        checkdef_set_init(&r->set);
        if (uv_queue_work(c->reload_timer.loop, &r->work, read_dir_work, read_dir_done) == 0) {
            c->reading = r;
            return;
        }
        checkdef_set_free(&r->set);
        free(r->dir);
    }
    free(r);
    checks_reload(c); /* out of memory: read it here rather than not at all */
}

static void on_reload_timer(uv_timer_t *t);

static void on_dir_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct checks *c = h->data;
    uv_timer_start(&c->reload_timer, on_reload_timer, (uint64_t)c->opts.reload_delay_ms, 0);
}

/* Watches dir; while it does not exist, looks again every DIR_RETRY_MS. */
static void watch_dir(struct checks *c)
{
    if (c->watching)
        return;
    if (uv_fs_event_start(&c->watcher, on_dir_event, c->dir, 0) == 0) {
        c->watching = true;
        /* what changed before the watch began; read here, as at the start the states restored
         * from the store are matched to the checks it loads */
        checks_reload(c);
        return;
    }
    uv_timer_start(&c->reload_timer, on_reload_timer, DIR_RETRY_MS, 0);
}

static void on_reload_timer(uv_timer_t *t)
{
    struct checks *c = t->data;
    if (!c->watching) {
        watch_dir(c);
        return;
    }
    start_read(c);
}

void checks_watch_start(struct checks *c)
{
    if (mkdir(c->dir, 0755) == 0)
        log_info("checks: created %s", c->dir);
    watch_dir(c);
    if (!c->watching)
        log_info("checks: %s cannot be watched (yet): looking again every %d ms", c->dir,
                 DIR_RETRY_MS);
}
