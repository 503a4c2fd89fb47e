/* checkdef.c — reading check definitions (checkdef.h): YAML read into JSON with a map from each
 * member's path to its line and column, then one validator for JSON from files and from the API,
 * which collects every error instead of stopping at the first. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/err.h"
#include "check/checkdef.h"
#include "check/tags.h"

/* ---- errors ----------------------------------------------------------------------------- */

struct def_reader {
    const char *file;
    const json_t *positions;
    const char *prefix;
    json_t *errors;
    int n_errors;
};

/* The position of path, or of its closest parent that has one; false when none. */
static bool position_of(const json_t *positions, const char *path, json_int_t *line,
                        json_int_t *column)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (;;) {
        const json_t *p = json_object_get(positions, buf);
        if (json_is_array(p)) {
            *line = json_integer_value(json_array_get(p, 0));
            *column = json_integer_value(json_array_get(p, 1));
            return true;
        }
        char *cut = strrchr(buf, '.');
        char *bracket = strrchr(buf, '[');
        if (bracket && (!cut || bracket > cut))
            cut = bracket;
        if (!cut)
            return false;
        *cut = '\0';
    }
}

static void add_error(json_t *errors, const char *file, const json_t *positions, const char *field,
                      const char *message)
{
    json_t *e = json_object();
    json_int_t line, column;
    if (file)
        json_object_set_new(e, "file", json_string(file));
    if (positions && position_of(positions, field, &line, &column)) {
        json_object_set_new(e, "line", json_integer(line));
        json_object_set_new(e, "column", json_integer(column));
    }
    json_object_set_new(e, "field", json_string(field));
    json_object_set_new(e, "message", json_string(message));
    json_array_append_new(errors, e);
}

/* An error about member (a path inside the check, "" for the check itself). */
static void def_fail(struct def_reader *r, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void def_fail(struct def_reader *r, const char *member, const char *fmt, ...)
{
    char field[256], message[512];
    snprintf(field, sizeof field, "%s%s%s", r->prefix, *r->prefix && *member ? "." : "", member);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    add_error(r->errors, r->file, r->positions, *field ? field : "checks", message);
    r->n_errors++;
}

void checkdef_error_text(const json_t *e, char *out, size_t len)
{
    const char *file = json_string_value(json_object_get(e, "file"));
    json_int_t line = json_integer_value(json_object_get(e, "line"));
    json_int_t column = json_integer_value(json_object_get(e, "column"));
    size_t n = 0;
    if (file)
        n += (size_t)snprintf(out, len, "%s:", file);
    if (line && n < len)
        n += (size_t)snprintf(out + n, len - n, "%lld:%lld:", (long long)line, (long long)column);
    if (n < len)
        snprintf(out + n, len - n, "%s%s: %s", n ? " " : "",
                 json_string_value(json_object_get(e, "field")),
                 json_string_value(json_object_get(e, "message")));
}

/* ---- members ---------------------------------------------------------------------------- */

int checkdef_duration_parse(const char *text, int64_t *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1},     {"s", 1e3},     {"m", 60e3},
                 {"h", 3600e3}, {"d", 86400e3}, {"y", 365 * 86400e3}};
    char *end;
    if (!text || !isdigit((unsigned char)*text))
        return -1;
    double v = strtod(text, &end);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0 && isfinite(v) && v * units[i].ms < 9e15) {
            *ms = (int64_t)llround(v * units[i].ms);
            return 0;
        }
    return -1;
}

static int64_t read_duration(struct def_reader *r, const json_t *def, const char *member,
                             int64_t fallback)
{
    const json_t *v = json_object_get(def, member);
    if (!v)
        return fallback;
    int64_t ms;
    const char *text = json_string_value(v);
    if (checkdef_duration_parse(text, &ms) != 0) {
        char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        def_fail(r, member,
                 "%s is not a duration (expected a number and a unit: ms, s, m, h, d "
                 "or y, e.g. 30s)",
                 shown ? shown : "?");
        free(shown);
        return fallback;
    }
    if (ms < CHECK_INTERVAL_MIN_MS || ms > CHECK_INTERVAL_MAX_MS) {
        def_fail(r, member, "%s is out of range (expected 100ms to 1y)", text);
        return fallback;
    }
    return ms;
}

static int read_count(struct def_reader *r, const json_t *def, const char *member, int fallback,
                      int max)
{
    const json_t *v = json_object_get(def, member);
    if (!v)
        return fallback;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max) {
        char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        def_fail(r, member, "%s is not a count (expected a whole number 1 to %d)",
                 shown ? shown : "?", max);
        free(shown);
        return fallback;
    }
    return (int)json_integer_value(v);
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CHECK_NAME_MAX || !isalnum((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
            return false;
    return true;
}

/* A list of names ("depends_on", "alerters.warning"). */
static void check_name_list(struct def_reader *r, const json_t *v, const char *member)
{
    if (!json_is_array(v)) {
        def_fail(r, member, "expected a list of names");
        return;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || !name_ok(json_string_value(item))) {
            char path[96];
            snprintf(path, sizeof path, "%s[%zu]", member, i);
            def_fail(r, path, "expected a name (letters, digits, '_', '.', '-')");
        }
    }
}

/* A mapping of names to strings ("tags", "run_on.tags"). */
static void check_tags(struct def_reader *r, const json_t *v, const char *member)
{
    if (!json_is_object(v)) {
        def_fail(r, member, "expected a mapping of names to values, e.g. {region: eu}");
        return;
    }
    const char *k;
    const json_t *val;
    json_object_foreach((json_t *)v, k, val)
    {
        char path[192];
        snprintf(path, sizeof path, "%s.%s", member, k);
        if (!name_ok(k))
            def_fail(r, path, "a tag name is letters, digits, '_', '.', '-'");
        else if (!json_is_string(val))
            def_fail(r, path, "expected text (quote numbers: \"1\")");
    }
}

static void check_run_on(struct def_reader *r, const json_t *v)
{
    if (json_is_string(v) && strcmp(json_string_value(v), "server") == 0)
        return;
    const json_t *server = json_object_get(v, "server");
    if (!json_is_object(v) || !json_object_get(v, "tags") ||
        json_object_size(v) != 1u + (server != NULL)) {
        def_fail(r, "run_on", "expected server or {tags: {NAME: VALUE}, server: true|false}");
        return;
    }
    if (server && !json_is_boolean(server))
        def_fail(r, "run_on.server", "expected true or false");
    check_tags(r, json_object_get(v, "tags"), "run_on.tags");
}

static void check_alerters(struct def_reader *r, const json_t *v)
{
    if (!json_is_object(v)) {
        def_fail(r, "alerters", "expected {warning: [CHANNEL...], critical: [CHANNEL...]}");
        return;
    }
    const char *k;
    const json_t *val;
    json_object_foreach((json_t *)v, k, val)
    {
        char path[96];
        snprintf(path, sizeof path, "alerters.%.60s", k);
        if (strcmp(k, "warning") != 0 && strcmp(k, "critical") != 0)
            def_fail(r, path, "unknown member (expected warning or critical)");
        else
            check_name_list(r, val, path);
    }
}

/* The types' default conditions, parsed once for the process and shared by every check that
 * has none (a parsed condition is 300 bytes: 30 MB over 100,000 checks otherwise). Kept until
 * exit, as the types are. */
#define FALLBACKS_MAX 16
static pthread_mutex_t fallback_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const struct probe_type *type;
    const struct condition *condition;
} fallbacks[FALLBACKS_MAX];

static const struct condition *type_fallback(const struct probe_type *type, char *err,
                                             size_t errlen)
{
    const struct condition *c = NULL;
    pthread_mutex_lock(&fallback_lock);
    size_t i = 0;
    while (i < FALLBACKS_MAX && fallbacks[i].type && fallbacks[i].type != type)
        i++;
    if (i < FALLBACKS_MAX && fallbacks[i].type) {
        c = fallbacks[i].condition;
    } else {
        c = condition_parse(type->default_condition, type->placeholders, false, err, errlen);
        if (c && i < FALLBACKS_MAX)
            fallbacks[i].type = type, fallbacks[i].condition = c;
    }
    pthread_mutex_unlock(&fallback_lock);
    return c;
}

/* The type's default condition when the check has none (not for exec: its exit code judges). */
static void read_fallback(struct def_reader *r, struct checkdef *c)
{
    if (c->n_conditions || (c->type->placeholders & PH_BIT(PH_EXIT_CODE)) ||
        !c->type->default_condition)
        return;
    char err[128];
    c->fallback = type_fallback(c->type, err, sizeof err);
    if (!c->fallback)
        def_fail(r, "type", "its default condition does not read: %s", err);
}

static void read_conditions(struct def_reader *r, const json_t *v, struct checkdef *c)
{
    if (!v)
        return;
    if (!json_is_array(v)) {
        def_fail(r, "conditions", "expected a list of conditions");
        return;
    }
    c->conditions = calloc(json_array_size(v) + 1, sizeof *c->conditions);
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        char path[64], err[256];
        snprintf(path, sizeof path, "conditions[%zu]", i);
        bool warning = json_is_object(item);
        const json_t *text = warning ? json_object_get(item, "warning") : item;
        if (!json_is_string(text) || (warning && json_object_size(item) != 1)) {
            def_fail(r, path, "expected a condition as text, or warning: \"CONDITION\"");
            continue;
        }
        if (warning)
            strcat(path, ".warning");
        struct condition *cond = condition_parse(json_string_value(text), c->type->placeholders,
                                                 warning, err, sizeof err);
        if (!cond)
            def_fail(r, path, "%s: %s", json_string_value(text), err);
        else if (c->conditions)
            c->conditions[c->n_conditions++] = cond;
        else
            condition_free(cond);
    }
}

/* The members every check has; the rest (and target) belong to the type. */
static const char *const common_members[] = {
    "name",       "type",       "interval", "timeout", "fail_threshold", "success_threshold",
    "conditions", "tags",       "run_on",   "quorum",  "enabled",        "description",
    "alerters",   "depends_on", NULL};

static bool is_common(const char *member)
{
    for (size_t i = 0; common_members[i]; i++)
        if (strcmp(common_members[i], member) == 0)
            return true;
    return false;
}

static bool type_member(const struct probe_type *type, const char *member)
{
    for (size_t i = 0; type->members[i]; i++)
        if (strcmp(type->members[i], member) == 0)
            return true;
    return false;
}

/* "target, send, expect, tls" */
static void members_text(const struct probe_type *type, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; type->members[i] && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ", " : "", type->members[i]);
}

/* The type reads target and its own members: it gets def without the common ones, so that it
 * can name any member it does not know. */
static void read_options(struct def_reader *r, const json_t *def, struct checkdef *c)
{
    json_t *own = json_object();
    const char *k;
    const json_t *v;
    int unknown = 0;
    json_object_foreach((json_t *)def, k, v)
    {
        if (is_common(k))
            continue;
        if (c->type->members && !type_member(c->type, k)) {
            char expected[256];
            members_text(c->type, expected, sizeof expected);
            def_fail(r, k, "unknown member (expected a member of every check, or of %s: %s)",
                     c->type->name, expected);
            unknown++;
            continue;
        }
        json_object_set(own, k, (json_t *)v);
    }
    if (unknown) {
        json_decref(own);
        return;
    }
    const char *field = NULL;
    char err[256] = "";
    c->options = c->type->parse(own, &field, err, sizeof err);
    if (!c->options) {
        char member[128];
        snprintf(member, sizeof member, "%s", field ? field : "");
        def_fail(r, member, "%s", err[0] ? err : "invalid");
    }
    json_decref(own);
}

static void read_common(struct def_reader *r, const json_t *def, struct checkdef *c)
{
    c->interval_ms = read_duration(r, def, "interval", 60000);
    c->timeout_ms =
        read_duration(r, def, "timeout", c->interval_ms < 10000 ? c->interval_ms : 10000);
    c->fail_threshold = read_count(r, def, "fail_threshold", 1, 1000);
    c->success_threshold = read_count(r, def, "success_threshold", 1, 1000);
    c->quorum = read_count(r, def, "quorum", 0, 10000);
    const json_t *v;
    if ((v = json_object_get(def, "enabled")) && !json_is_boolean(v))
        def_fail(r, "enabled", "expected true or false");
    c->enabled = !v || json_is_true(v);
    if ((v = json_object_get(def, "description")) && !json_is_string(v))
        def_fail(r, "description", "expected text");
    if ((v = json_object_get(def, "tags")))
        check_tags(r, v, "tags");
    if ((v = json_object_get(def, "run_on")))
        check_run_on(r, v);
    c->on_server = tags_runs_on_server(def);
    if (tags_runs_on_agents(def))
        c->run_on_tags = json_deep_copy(json_object_get(json_object_get(def, "run_on"), "tags"));
    if ((v = json_object_get(def, "alerters")))
        check_alerters(r, v);
    if ((v = json_object_get(def, "depends_on")))
        check_name_list(r, v, "depends_on");
}

struct checkdef *checkdef_parse(const json_t *def, checkdef_find_fn find, const char *file,
                                const json_t *positions, const char *prefix, json_t *errors)
{
    struct def_reader r = {
        .file = file, .positions = positions, .prefix = prefix, .errors = errors};
    if (!json_is_object(def)) {
        def_fail(&r, "", "expected a check: a mapping with name and type");
        return NULL;
    }
    struct checkdef *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    const char *name = json_string_value(json_object_get(def, "name"));
    if (!name || !name_ok(name))
        def_fail(&r, "name",
                 name ? "\"%.140s\" is not a name (expected letters, digits, '_', "
                        "'.', '-', at most 64, starting with a letter or digit)"
                      : "%smissing (every check has a name)",
                 name ? name : "");
    else if (strcmp(name, "errors") == 0 || strcmp(name, "results") == 0)
        def_fail(&r, "name", "\"%s\" is reserved (/api/v1/checks/%s is a route of its own)",
                 name, name);
    const char *type = json_string_value(json_object_get(def, "type"));
    if (!type)
        def_fail(&r, "type", "missing (expected a check type such as tcp, http, dns, icmp, exec)");
    else if (!(c->type = find(type)))
        def_fail(&r, "type", "unknown type \"%.60s\" (expected tcp, http, dns, icmp or exec)",
                 type);
    c->name = strdup(name ? name : "");
    c->file = file ? strdup(file) : NULL;
    c->text = json_dumps(def, JSON_COMPACT);
    read_common(&r, def, c);
    if (c->type) {
        read_conditions(&r, json_object_get(def, "conditions"), c);
        read_options(&r, def, c);
        read_fallback(&r, c);
    }
    if (r.n_errors || !c->text) {
        checkdef_free(c);
        return NULL;
    }
    return c;
}

void checkdef_free(struct checkdef *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_conditions; i++)
        condition_free(c->conditions[i]);
    free(c->conditions);
    if (c->options)
        c->type->free_options(c->options);
    json_decref(c->run_on_tags);
    free(c->text);
    free(c->name);
    free(c->file);
    free(c);
}

bool checkdef_same(const struct checkdef *a, const struct checkdef *b)
{
    bool same_file = (!a->file && !b->file) || (a->file && b->file && !strcmp(a->file, b->file));
    if (!same_file)
        return false;
    if (strcmp(a->text, b->text) == 0) /* nearly always, for an unchanged check */
        return true;
    json_t *ja = checkdef_json(a), *jb = checkdef_json(b); /* the same members in another order */
    bool same = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}

json_t *checkdef_json(const struct checkdef *c)
{
    return json_loads(c->text, JSON_DECODE_ANY, NULL);
}

bool checkdef_member_text(const struct checkdef *c, const char *member, char *out, size_t len)
{
    json_t *def = checkdef_json(c);
    const char *v = json_string_value(json_object_get(def, member));
    if (v)
        snprintf(out, len, "%s", v);
    json_decref(def);
    return v != NULL;
}

/* ---- YAML into JSON ----------------------------------------------------------------------- */

/* A file's nodes, aliases expanded, are at most this many (a few aliases of aliases would
 * otherwise make billions). */
#define YAML_NODES_MAX 200000

struct yaml_reader {
    yaml_document_t *doc;
    json_t *positions;
    const char *file;
    json_t *errors;
    int n_errors;
    size_t nodes;
};

static void note_position(struct yaml_reader *y, const char *path, yaml_mark_t mark)
{
    json_object_set_new(y->positions, path,
                        json_pack("[II]", (json_int_t)mark.line + 1, (json_int_t)mark.column + 1));
}

/* A plain scalar's JSON: true/false, null, integers and reals; the rest, and quoted text,
 * strings. */
static json_t *scalar_json(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(s, n->data.scalar.length);
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null"))
        return json_null();
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0 && (isdigit((unsigned char)*s) || *s == '-'))
        return json_integer(i);
    double d = strtod(s, &end);
    if (*end == '\0' && isfinite(d) && (isdigit((unsigned char)*s) || *s == '-'))
        return json_real(d);
    return json_stringn(s, n->data.scalar.length);
}

static json_t *node_json(struct yaml_reader *y, yaml_node_t *n, const char *path, int depth);

static json_t *mapping_json(struct yaml_reader *y, yaml_node_t *n, const char *path, int depth)
{
    json_t *o = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
        if (!k || !v)
            continue;
        char sub[256];
        if (k->type != YAML_SCALAR_NODE) {
            add_error(y->errors, y->file, y->positions, path, "a key must be a name");
            y->n_errors++;
            continue;
        }
        const char *key = (const char *)k->data.scalar.value;
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
        note_position(y, sub, k->start_mark);
        if (json_object_get(o, key)) {
            add_error(y->errors, y->file, y->positions, sub, "given twice");
            y->n_errors++;
            continue;
        }
        json_object_set_new(o, key, node_json(y, v, sub, depth + 1));
    }
    return o;
}

static json_t *node_json(struct yaml_reader *y, yaml_node_t *n, const char *path, int depth)
{
    if (depth > 32 || ++y->nodes > YAML_NODES_MAX) {
        if (y->nodes == YAML_NODES_MAX + 1 || depth > 32) {
            add_error(y->errors, y->file, y->positions, path,
                      depth > 32 ? "nested too deep (32 levels at most)"
                                 : "too large (200000 values at most, aliases expanded)");
            y->n_errors++;
        }
        return json_null();
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar_json(n);
    case YAML_MAPPING_NODE:
        return mapping_json(y, n, path, depth);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        size_t i = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++, i++) {
            yaml_node_t *item = yaml_document_get_node(y->doc, *it);
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (item)
                note_position(y, sub, item->start_mark);
            json_array_append_new(a, item ? node_json(y, item, sub, depth + 1) : json_null());
        }
        return a;
    }
    default:
        return json_null();
    }
}

/* ---- sets --------------------------------------------------------------------------------- */

void checkdef_set_init(struct checkdef_set *set)
{
    *set = (struct checkdef_set){.errors = json_array()};
}

void checkdef_set_free(struct checkdef_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        checkdef_free(set->defs[i]);
    free(set->defs);
    free(set->index);
    json_decref(set->errors);
    *set = (struct checkdef_set){0};
}

/* FNV-1a of a name: where it starts looking in the set's index. */
static size_t name_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 16777619u;
    return h;
}

/* The index slot that holds name, or the empty one where it would go. */
static size_t *index_slot(const struct checkdef_set *set, const char *name)
{
    size_t mask = set->index_cap - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask)
        if (!set->index[i] || strcmp(set->defs[set->index[i] - 1]->name, name) == 0)
            return &set->index[i];
}

static const struct checkdef *set_find(const struct checkdef_set *set, const char *name)
{
    if (!set->index_cap)
        return NULL;
    size_t at = *index_slot(set, name);
    return at ? set->defs[at - 1] : NULL;
}

/* Makes room in defs and in the index for one more check; -1 when out of memory. */
static int set_grow(struct checkdef_set *set)
{
    if ((set->n + 1) * 2 <= set->index_cap)
        return 0;
    size_t cap = set->index_cap ? set->index_cap * 2 : 64;
    while (cap < (set->n + 1) * 2) /* after checkdef_set_sort dropped the index */
        cap *= 2;
    struct checkdef **defs = realloc(set->defs, cap / 2 * sizeof *defs);
    size_t *index = calloc(cap, sizeof *index);
    if (defs)
        set->defs = defs;
    if (!defs || !index) {
        free(index);
        return -1;
    }
    free(set->index);
    set->index = index;
    set->index_cap = cap;
    for (size_t i = 0; i < set->n; i++)
        *index_slot(set, set->defs[i]->name) = i + 1;
    return 0;
}

static int set_add(struct checkdef_set *set, struct checkdef *c, struct yaml_reader *y,
                   const char *prefix)
{
    const struct checkdef *other = set_find(set, c->name);
    if (other) {
        char field[96], msg[512];
        snprintf(field, sizeof field, "%s.name", prefix);
        snprintf(msg, sizeof msg, "duplicate check name \"%s\" (also defined in %s)", c->name,
                 other->file ? other->file : "the API");
        add_error(set->errors, y->file, y->positions, field, msg);
        checkdef_free(c);
        return 1;
    }
    if (set_grow(set) != 0) {
        checkdef_free(c);
        return 0;
    }
    set->defs[set->n++] = c;
    *index_slot(set, c->name) = set->n;
    return 0;
}

static int def_by_name(const void *a, const void *b)
{
    return strcmp((*(struct checkdef *const *)a)->name, (*(struct checkdef *const *)b)->name);
}

void checkdef_set_sort(struct checkdef_set *set)
{
    if (set->n)
        qsort(set->defs, set->n, sizeof *set->defs, def_by_name);
    free(set->index); /* its positions are stale now */
    set->index = NULL;
    set->index_cap = 0;
}

/* The checks of one YAML document's root: {checks: [...]}. */
static int read_document(struct checkdef_set *set, struct yaml_reader *y, checkdef_find_fn find)
{
    yaml_node_t *root = yaml_document_get_root_node(y->doc);
    if (!root)
        return 0;
    note_position(y, "", root->start_mark);
    json_t *doc = node_json(y, root, "", 0);
    const json_t *checks = json_object_get(doc, "checks");
    int errors = y->n_errors;
    if (!json_is_object(doc) || !json_is_array(checks) || json_object_size(doc) != 1) {
        const char *k;
        json_t *v;
        bool named = false;
        json_object_foreach(doc, k, v) if (strcmp(k, "checks") != 0)
        {
            add_error(set->errors, y->file, y->positions, k,
                      "unknown member (a checks file has one member: checks)");
            named = true;
            errors++;
        }
        if (!named && !json_is_array(checks)) {
            add_error(set->errors, y->file, y->positions, checks ? "checks" : "",
                      "expected checks: followed by a list of checks");
            errors++;
        }
    }
    size_t i;
    const json_t *def;
    json_array_foreach(checks, i, def)
    {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "checks[%zu]", i);
        size_t before = json_array_size(set->errors);
        struct checkdef *c = checkdef_parse(def, find, y->file, y->positions, prefix, set->errors);
        errors += (int)(json_array_size(set->errors) - before);
        if (c)
            errors += set_add(set, c, y, prefix);
    }
    json_decref(doc);
    return errors;
}

int checkdef_load_text(struct checkdef_set *set, const char *file, const char *text, size_t len,
                       checkdef_find_fn find)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_document_t doc;
    int errors = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        json_t *e = json_pack("{ss sI sI ss ss}", "file", file ? file : "", "line",
                              (json_int_t)parser.problem_mark.line + 1, "column",
                              (json_int_t)parser.problem_mark.column + 1, "field", "", "message",
                              parser.problem ? parser.problem : "invalid YAML");
        json_array_append_new(set->errors, e);
        yaml_parser_delete(&parser);
        return 1;
    }
    struct yaml_reader y = {
        .doc = &doc, .positions = json_object(), .file = file, .errors = set->errors};
    errors = read_document(set, &y, find);
    json_decref(y.positions);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return errors;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static bool is_yaml_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && ((n > 5 && !strcmp(d->d_name + n - 5, ".yaml")) ||
                                   (n > 4 && !strcmp(d->d_name + n - 4, ".yml")));
}

static int yaml_filter(const struct dirent *d)
{
    return is_yaml_name(d);
}

static char *read_whole(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, errlen, "cannot read: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap >= 16u << 20)
            break;
        char *grown = realloc(buf, cap *= 2);
        if (!grown)
            free(buf);
        buf = grown;
    }
    fclose(f);
    if (buf && n == cap) {
        free(buf);
        err_set(err, errlen, "larger than 16 MiB");
        return NULL;
    }
    *len = n;
    return buf;
}

int checkdef_load_dir(struct checkdef_set *set, const char *dir, checkdef_find_fn find)
{
    struct dirent **names;
    int n = scandir(dir, &names, yaml_filter, by_name);
    if (n < 0 && errno == ENOENT)
        return 0;
    if (n < 0) { /* e.g. out of descriptors: not an empty set, which would remove every check */
        char err[256];
        snprintf(err, sizeof err, "cannot read the directory: %s", strerror(errno));
        add_error(set->errors, dir, NULL, "", err);
        return 1;
    }
    int errors = 0;
    for (int i = 0; i < n; i++) {
        char path[4096], err[256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        size_t len = 0;
        char *text = read_whole(path, &len, err, sizeof err);
        if (text)
            errors += checkdef_load_text(set, path, text, len, find);
        else {
            add_error(set->errors, path, NULL, "", err);
            errors++;
        }
        free(text);
        free(names[i]);
    }
    free(names);
    return errors;
}
