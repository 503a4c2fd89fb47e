/* checks_api.c — the checks created through the API (checks.h): kept in the store (read back at
 * start), each write applied once the store has it; a check of CHECKS_DIR cannot be changed
 * here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/checks_internal.h"
#include "store/store.h"

/* ---- checks created through the API -------------------------------------------------------- */

/* Inserts k into the sorted set and schedules it. */
static void insert_check(struct checks *c, struct check *k)
{
    struct check **grown = realloc(c->all, (c->n + 1) * sizeof *grown);
    if (!grown) {
        checks_free_check(k);
        return;
    }
    c->all = grown;
    size_t at = 0;
    while (at < c->n && strcmp(c->all[at]->def->name, k->def->name) < 0)
        at++;
    memmove(&c->all[at + 1], &c->all[at], (c->n - at) * sizeof *c->all);
    c->all[at] = k;
    c->n++;
    checks_schedule_check(k, 1000);
}

static size_t index_of(const struct checks *c, const struct check *k)
{
    size_t i = 0;
    while (c->all[i] != k)
        i++;
    return i;
}

static void remove_check(struct checks *c, struct check *k)
{
    size_t at = index_of(c, k);
    memmove(&c->all[at], &c->all[at + 1], (c->n - at - 1) * sizeof *c->all);
    c->n--;
    checks_free_check(k);
}

/* Runs def (taken) in place of the check of its name, or as a new one; returns it. */
static struct check *put_check(struct checks *c, struct checkdef *def)
{
    struct check *old = checks_find(c, def->name);
    if (old && checkdef_same(old->def, def)) {
        checkdef_free(def);
        return old;
    }
    struct check *k = checks_new_check(c, def);
    if (!k)
        return NULL;
    if (old) {
        c->all[index_of(c, old)] = k;
        checks_free_check(old);
        checks_schedule_check(k, 1000);
    } else {
        insert_check(c, k);
    }
    return k;
}

static void on_stored_row(const char *name, const char *definition, void *ctx)
{
    struct checks *c = ctx;
    json_t *def = json_loads(definition, 0, NULL);
    json_t *errors = json_array();
    struct checkdef *d = def ? checkdef_parse(def, c->opts.find, NULL, NULL, "", errors) : NULL;
    if (d) {
        put_check(c, d);
    } else {
        char text[512] = "not JSON";
        if (json_array_size(errors))
            checkdef_error_text(json_array_get(errors, 0), text, sizeof text);
        log_error("checks: the stored check %s does not read (%s); it does not run", name, text);
    }
    json_decref(errors);
    json_decref(def);
}

int checks_load_stored(struct checks *c, char *err, size_t errlen)
{
    return store_load_checks(c->opts.store, on_stored_row, c, err, errlen);
}

/* An API write waiting for the store. def: the check to run once stored (NULL: a delete). */
struct pending_write {
    struct checks *owner; /* NULL once the engine closed: the store's answer only answers */
    struct checkdef *def;
    char name[CHECK_NAME_MAX + 1];
    checks_write_cb done;
    void *ctx;
    struct pending_write *next;
};

void checks_writes_orphan(struct checks *c)
{
    for (struct pending_write *w = c->writes; w; w = w->next)
        w->owner = NULL;
    c->writes = NULL;
}

static void write_forget(struct checks *c, struct pending_write *w)
{
    for (struct pending_write **p = &c->writes; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

static json_t *error_body(const char *message, const char *field)
{
    return json_pack("{ss ss*}", "error", message, "field", field);
}

static void on_write_stored(int status, void *ctx)
{
    struct pending_write *w = ctx;
    struct checks *c = w->owner;
    if (c)
        write_forget(c, w);
    if (status != 0 || !c) {
        w->done(503, error_body("the check could not be stored; try again", NULL), w->ctx);
    } else if (!w->def) {
        struct check *k = checks_find(c, w->name);
        if (k && !k->def->file)
            remove_check(c, k);
        log_info("checks: %s deleted through the API", w->name);
        w->done(204, NULL, w->ctx);
    } else {
        bool created = !checks_find(c, w->def->name);
        struct check *k = put_check(c, w->def);
        w->def = NULL;
        log_info("checks: %s %s through the API", w->name, created ? "created" : "replaced");
        w->done(created ? 201 : 200, k ? checks_check_json(k, true) : NULL, w->ctx);
    }
    checkdef_free(w->def);
    free(w);
}

static void write_start(struct checks *c, const char *name, struct checkdef *def,
                        checks_write_cb done, void *ctx)
{
    struct pending_write *w = calloc(1, sizeof *w);
    char *text = def ? json_dumps(def->def, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!w || (def && !text)) {
        free(w);
        free(text);
        checkdef_free(def);
        done(503, error_body("out of memory", NULL), ctx);
        return;
    }
    *w =
        (struct pending_write){.owner = c, .def = def, .done = done, .ctx = ctx, .next = c->writes};
    snprintf(w->name, sizeof w->name, "%s", name);
    c->writes = w;
    if (def)
        store_save_check(c->opts.store, name, text, clock_wall_ms(), on_write_stored, w);
    else
        store_delete_check(c->opts.store, name, on_write_stored, w);
    free(text);
}

/* 409 when name is defined in a file; true when it answered. */
static bool refuse_file_check(struct checks *c, const char *name, checks_write_cb done, void *ctx)
{
    const struct check *k = checks_find(c, name);
    if (!k || !k->def->file)
        return false;
    char msg[4200];
    snprintf(msg, sizeof msg, "check %s is defined in %s: change it there", name, k->def->file);
    json_t *body = error_body(msg, "name");
    json_object_set_new(body, "file", json_string(k->def->file));
    done(409, body, ctx);
    return true;
}

void checks_put(struct checks *c, const char *name, const json_t *def, checks_write_cb done,
                void *ctx)
{
    if (!json_is_object(def)) {
        done(400, error_body("expected a check: a JSON object with name and type", NULL), ctx);
        return;
    }
    json_t *copy = json_deep_copy(def);
    const json_t *given = json_object_get(copy, "name");
    if (name && !given)
        json_object_set_new(copy, "name", json_string(name));
    else if (name && (!json_is_string(given) || strcmp(json_string_value(given), name) != 0)) {
        json_decref(copy);
        done(400, error_body("the name in the body is not the one in the path", "name"), ctx);
        return;
    }
    json_t *errors = json_array();
    struct checkdef *d = checkdef_parse(copy, c->opts.find, NULL, NULL, "", errors);
    json_decref(copy);
    if (!d) {
        const json_t *first = json_array_get(errors, 0);
        char text[600];
        checkdef_error_text(first, text, sizeof text);
        json_t *body = error_body(text, json_string_value(json_object_get(first, "field")));
        json_object_set_new(body, "errors", errors);
        done(400, body, ctx);
        return;
    }
    json_decref(errors);
    if (refuse_file_check(c, d->name, done, ctx)) {
        checkdef_free(d);
        return;
    }
    if (!name && checks_find(c, d->name)) {
        char msg[200];
        snprintf(msg, sizeof msg, "check %s exists: PUT /api/v1/checks/%s replaces it", d->name,
                 d->name);
        checkdef_free(d);
        done(409, error_body(msg, "name"), ctx);
        return;
    }
    char stored_name[CHECK_NAME_MAX + 1];
    snprintf(stored_name, sizeof stored_name, "%s", d->name);
    write_start(c, stored_name, d, done, ctx);
}

void checks_delete(struct checks *c, const char *name, checks_write_cb done, void *ctx)
{
    if (refuse_file_check(c, name, done, ctx))
        return;
    if (!checks_find(c, name)) {
        done(404, error_body("no such check", "name"), ctx);
        return;
    }
    write_start(c, name, NULL, done, ctx);
}
