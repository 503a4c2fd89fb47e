/* checks_api.c — the checks created through the API (checks.h): kept in the store (read back at
 * start), each write applied once the store has it; a check of CHECKS_DIR cannot be changed
 * here. Also the API's enable/disable of any check: an override of its definition's enabled,
 * kept in the store until that enabled changes. */
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

/* ---- enable and disable: overrides of the definitions' enabled ----------------------------- */

static void on_override_row(const char *name, const char *body, void *ctx)
{
    struct checks *c = ctx;
    json_t *o = json_loads(body, 0, NULL);
    if (json_is_boolean(json_object_get(o, "enabled")) &&
        json_is_boolean(json_object_get(o, "definition_enabled")))
        json_object_set_new(c->overrides, name, o);
    else {
        log_error("checks: the stored enable/disable of %s does not read; it is not applied", name);
        json_decref(o);
    }
}

static void on_override_dropped(int status, void *ctx)
{
    (void)ctx;
    if (status != 0)
        log_error("checks: an enable/disable no longer in force could not be deleted from the "
                  "store; it is dropped again at the next start");
}

bool checks_enabled_for(struct checks *c, const struct checkdef *def)
{
    const json_t *o = json_object_get(c->overrides, def->name);
    if (!o)
        return def->enabled;
    if (json_is_true(json_object_get(o, "definition_enabled")) == def->enabled)
        return json_is_true(json_object_get(o, "enabled"));
    log_info("checks: %s: its enabled was changed in its definition; the API's %s no longer "
             "holds",
             def->name, json_is_true(json_object_get(o, "enabled")) ? "enable" : "disable");
    json_object_del(c->overrides, def->name);
    if (c->opts.store)
        store_save_check_record(c->opts.store, STORE_CHECK_OVERRIDES, def->name, NULL, 0,
                                on_override_dropped, NULL);
    return def->enabled;
}

static json_t *iso_time(int64_t ms)
{
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

void checks_enabled_json(const struct check *k, json_t *o)
{
    const json_t *ov = json_object_get(k->owner->overrides, k->def->name);
    json_object_set_new(o, "enabled_by", json_string(ov ? "api" : "definition"));
    json_object_set_new(o, "override",
                        ov ? json_pack("{sO sO so}", "enabled", json_object_get(ov, "enabled"),
                                       "by", json_object_get(ov, "by"), "time",
                                       iso_time(json_integer_value(json_object_get(ov, "time_ms"))))
                           : json_null());
}

int checks_load_stored(struct checks *c, char *err, size_t errlen)
{
    c->overrides = json_object();
    if (!c->overrides) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (store_load_check_records(c->opts.store, STORE_CHECK_OVERRIDES, on_override_row, c, err,
                                 errlen) != 0 ||
        checks_agents_load(c, err, errlen) != 0)
        return -1;
    return store_load_checks(c->opts.store, on_stored_row, c, err, errlen);
}

/* An API write waiting for the store: a check's definition (def, NULL: a delete), or an
 * enable/disable (override: the record stored, NULL: none). */
struct pending_write {
    struct checks *owner; /* NULL once the engine closed: the store's answer only answers */
    bool is_enable;
    struct checkdef *def;
    json_t *override;
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

/* Applies a stored enable/disable to the engine; answers 200 with the check. */
static void enabled_stored(struct checks *c, struct pending_write *w)
{
    if (w->override)
        json_object_set(c->overrides, w->name, w->override);
    else
        json_object_del(c->overrides, w->name);
    struct check *k = checks_find(c, w->name);
    if (!k) { /* deleted meanwhile */
        w->done(404, error_body("no such check", "name"), w->ctx);
        return;
    }
    bool enabled = checks_enabled_for(c, k->def);
    if (enabled != k->enabled) {
        k->enabled = enabled;
        if (!enabled) {
            runner_cancel(k->run);
            k->run = NULL;
        }
        checks_schedule_check(k, 1000);
        log_info("checks: %s %s through the API", w->name, enabled ? "enabled" : "disabled");
    }
    w->done(200, checks_check_json(k, true), w->ctx);
}

static void on_write_stored(int status, void *ctx)
{
    struct pending_write *w = ctx;
    struct checks *c = w->owner;
    if (c)
        write_forget(c, w);
    if (status != 0 || !c) {
        w->done(503, error_body("the check could not be stored; try again", NULL), w->ctx);
    } else if (w->is_enable) {
        enabled_stored(c, w);
    } else if (!w->def) {
        struct check *k = checks_find(c, w->name);
        if (k && !k->def->file)
            remove_check(c, k);
        json_object_del(c->overrides, w->name); /* the store deleted it with the check */
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
    json_decref(w->override);
    free(w);
}

/* A pending write for name, listed in c->writes; NULL (done answered 503) when out of memory. */
static struct pending_write *write_new(struct checks *c, const char *name, checks_write_cb done,
                                       void *ctx)
{
    struct pending_write *w = calloc(1, sizeof *w);
    if (!w) {
        done(503, error_body("out of memory", NULL), ctx);
        return NULL;
    }
    *w = (struct pending_write){.owner = c, .done = done, .ctx = ctx, .next = c->writes};
    snprintf(w->name, sizeof w->name, "%s", name);
    c->writes = w;
    return w;
}

void checks_set_enabled(struct checks *c, const char *name, bool enabled, const char *by,
                        checks_write_cb done, void *ctx)
{
    const struct check *k = checks_find(c, name);
    if (!k) {
        done(404, error_body("no such check", "name"), ctx);
        return;
    }
    json_t *override = NULL; /* none when it asks what the definition says */
    char *text = NULL;
    if (enabled != k->def->enabled) {
        override =
            json_pack("{sb sb ss sI}", "enabled", enabled, "definition_enabled", k->def->enabled,
                      "by", by ? by : "", "time_ms", (json_int_t)clock_wall_ms());
        text = override ? json_dumps(override, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!text) {
            json_decref(override);
            done(503, error_body("out of memory", NULL), ctx);
            return;
        }
    }
    struct pending_write *w = write_new(c, name, done, ctx);
    if (w) {
        w->is_enable = true;
        w->override = override;
        store_save_check_record(c->opts.store, STORE_CHECK_OVERRIDES, name, text, clock_wall_ms(),
                                on_write_stored, w);
    } else {
        json_decref(override);
    }
    free(text);
}

static void write_start(struct checks *c, const char *name, struct checkdef *def,
                        checks_write_cb done, void *ctx)
{
    json_t *json = def ? checkdef_json(def) : NULL;
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(json);
    if (def && !text) {
        checkdef_free(def);
        done(503, error_body("out of memory", NULL), ctx);
        return;
    }
    struct pending_write *w = write_new(c, name, done, ctx);
    if (!w) {
        checkdef_free(def);
    } else if (def) {
        w->def = def;
        store_save_check(c->opts.store, name, text, clock_wall_ms(), on_write_stored, w);
    } else {
        store_delete_check(c->opts.store, name, on_write_stored, w);
    }
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
