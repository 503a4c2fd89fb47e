/* checks_files.c — the checks of CHECKS_DIR (checks.h): the directory read whole, applied only
 * when it has no error (unchanged checks keep their state), watched with inotify (uv_fs_event),
 * debounced, and looked for again while it cannot be watched. A change is read and parsed on
 * the thread pool (100,000 checks take a minute) and applied on the loop. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "server/checks_internal.h"

#define DIR_RETRY_MS 250 /* while CHECKS_DIR cannot be watched, how often to try again */

/* ---- reading the directory ------------------------------------------------------------------ */

/* Replaces the running set with defs (taken): unchanged checks are kept with their state, the
 * API's checks stay, the rest are new. Returns the errors (a file check named like an API one). */
static int apply_set(struct checks *c, struct checkdef_set *set)
{
    struct check **next = calloc(set->n + c->n + 1, sizeof *next);
    if (!next)
        return 1;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!c->all[i]->def->file)
            next[n++] = c->all[i];
    for (size_t i = 0; i < set->n; i++) {
        struct checkdef *def = set->defs[i];
        set->defs[i] = NULL;
        struct check *old = checks_find(c, def->name);
        if (old && !old->def->file) {
            json_array_append_new(
                set->errors, json_pack("{ss ss ss}", "file", def->file, "field", "name", "message",
                                       "a check of this name was created through the API"));
            checkdef_free(def);
            continue;
        }
        if (old && checkdef_same(old->def, def)) {
            checkdef_free(def);
            next[n++] = old;
            continue;
        }
        struct check *k = checks_new_check(c, def);
        if (k)
            next[n++] = k;
    }
    if (json_array_size(set->errors)) { /* undo: what is new goes, the running set stays */
        for (size_t i = 0; i < n; i++)
            if (!checks_find(c, next[i]->def->name) ||
                checks_find(c, next[i]->def->name) != next[i])
                checks_free_check(next[i]);
        free(next);
        return (int)json_array_size(set->errors);
    }
    qsort(next, n, sizeof *next, checks_by_name);
    struct check **old = c->all;
    size_t old_n = c->n;
    c->all = next;
    c->n = n;
    for (size_t i = 0; i < old_n; i++)
        if (checks_find(c, old[i]->def->name) != old[i])
            checks_free_check(old[i]);
    free(old);
    size_t fresh = 0;
    for (size_t i = 0; i < c->n; i++)
        fresh += !c->all[i]->entry.slot && c->all[i]->enabled;
    uint64_t spread = fresh > FIRST_RUNS_PER_S ? fresh * 1000 / FIRST_RUNS_PER_S : 1000;
    for (size_t i = 0; i < c->n; i++)
        if (!c->all[i]->entry.slot && c->all[i]->enabled)
            checks_schedule_check(c->all[i], spread);
    return 0;
}

/* Applies what was read (or keeps the running set and lists the errors). Takes set. */
static int finish_reload(struct checks *c, struct checkdef_set *set, int errors)
{
    if (!errors)
        errors = apply_set(c, set);
    json_decref(c->errors);
    c->errors = json_incref(set->errors);
    if (errors)
        log_warn("checks: %s has %d error(s); the running checks stay as they were", c->dir,
                 errors);
    else
        log_info("checks: %zu check(s) from %s", c->n, c->dir);
    checkdef_set_free(set);
    return errors;
}

int checks_reload(struct checks *c)
{
    struct checkdef_set set;
    checkdef_set_init(&set);
    int errors = checkdef_load_dir(&set, c->dir, c->opts.find);
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
