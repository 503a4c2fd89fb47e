/* settings.c — the alerting option table and the readers of the `channels:` and `routes:`
 * sections (settings.h). The readers check everything they can without opening a channel: the
 * shape of each entry, names, known types, the fields each type allows, ${ENV} and *_file
 * secrets; every error names file, line and column, and never a secret's value. */
#include "alert/settings.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/channel.h"
#include "model/alert.h"

#define SECRET_FILE_MAX 4096

/* An integer of at most 20 digits, optionally negative, or @channel. */
static bool check_chat(const char *v)
{
    if (v[0] == '@')
        return v[1] != '\0' && strlen(v) <= 64;
    const char *p = v[0] == '-' ? v + 1 : v;
    if (!*p || strlen(p) > 20)
        return false;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    return true;
}

bool alert_channel_name_valid(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 63)
        return false;
    for (; *v; v++)
        if (!isalnum((unsigned char)*v) && !strchr("._-", *v))
            return false;
    return true;
}

const struct alert_channel_field *alert_channel_field(const struct alert_channel_config *ch,
                                                      const char *key)
{
    for (size_t i = 0; ch && i < ch->n_fields; i++)
        if (strcmp(ch->fields[i].key, key) == 0)
            return &ch->fields[i];
    return NULL;
}

const char *alert_channel_text(const struct alert_channel_config *ch, const char *key)
{
    const struct alert_channel_field *f = alert_channel_field(ch, key);
    return f ? f->text : NULL;
}

/* ---- freeing ----------------------------------------------------------------------------- */

static void field_free(struct alert_channel_field *f)
{
    free(f->key);
    free(f->text);
    for (size_t i = 0; i < f->n_items; i++)
        free(f->items[i]);
    free(f->items);
}

static void fields_free(struct alert_channel_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        field_free(&fields[i]);
    free(fields);
}

static void strings_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void sections_init(void *settings)
{
    struct alert_settings *s = settings;
    s->channels = NULL;
    s->routes = NULL;
    s->n_channels = s->n_routes = 0;
}

static void channels_free(struct alert_settings *s)
{
    for (size_t i = 0; i < s->n_channels; i++) {
        free(s->channels[i].name);
        free(s->channels[i].type);
        fields_free(s->channels[i].fields, s->channels[i].n_fields);
    }
    free(s->channels);
    s->channels = NULL;
    s->n_channels = 0;
}

static void routes_free(struct alert_settings *s)
{
    for (size_t i = 0; i < s->n_routes; i++) {
        free(s->routes[i].name);
        fields_free(s->routes[i].labels, s->routes[i].n_labels);
        strings_free(s->routes[i].channels, s->routes[i].n_channels);
    }
    free(s->routes);
    s->routes = NULL;
    s->n_routes = 0;
}

static void sections_free(void *settings)
{
    channels_free(settings);
    routes_free(settings);
}

/* ---- values ------------------------------------------------------------------------------ */

static int oom(const struct config_node *n, char *err, size_t errlen)
{
    return config_node_fail(n, err, errlen, "out of memory");
}

/* Appends len bytes of s to *out (at *used, *cap); -1 when out of memory. */
static int grow_append(char **out, size_t *used, size_t *cap, const char *s, size_t len)
{
    if (*used + len + 1 > *cap) {
        size_t cap2 = (*used + len + 1) * 2;
        char *p = realloc(*out, cap2);
        if (!p)
            return -1;
        *out = p;
        *cap = cap2;
    }
    memcpy(*out + *used, s, len);
    *used += len;
    (*out)[*used] = '\0';
    return 0;
}

/* text with every ${NAME} replaced by the environment's NAME, into *out (malloc'd). An unset
 * NAME or a "${" without its "}" is an error that names the variable, never the value. */
static int expand_env(const struct config_node *n, const char *text, char **out, char *err,
                      size_t errlen)
{
    size_t used = 0, cap = 0;
    *out = NULL;
    if (grow_append(out, &used, &cap, "", 0) != 0)
        return oom(n, err, errlen);
    for (const char *p = text;;) {
        const char *open = strstr(p, "${");
        if (!open)
            open = p + strlen(p);
        if (grow_append(out, &used, &cap, p, (size_t)(open - p)) != 0)
            break;
        if (!*open)
            return 0;
        const char *close = strchr(open + 2, '}');
        char name[128];
        size_t len = close ? (size_t)(close - open - 2) : 0;
        if (!close || len == 0 || len >= sizeof name) {
            free(*out);
            *out = NULL;
            return config_node_fail(n, err, errlen, "expected ${NAME} with NAME an environment "
                                                    "variable, got an unclosed or empty ${");
        }
        memcpy(name, open + 2, len);
        name[len] = '\0';
        const char *value = getenv(name);
        if (!value) {
            free(*out);
            *out = NULL;
            return config_node_fail(n, err, errlen, "environment variable %s is not set", name);
        }
        if (grow_append(out, &used, &cap, value, strlen(value)) != 0)
            break;
        p = close + 1;
    }
    free(*out); /* only out of memory leaves the loop */
    *out = NULL;
    return oom(n, err, errlen);
}

/* The content of file path (without trailing newlines) into *out. */
static int read_secret_file(const struct config_node *n, const char *path, char **out, char *err,
                            size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return config_node_fail(n, err, errlen, "cannot read %s: %s", path, strerror(errno));
    char *buf = malloc(SECRET_FILE_MAX + 1);
    size_t len = buf ? fread(buf, 1, SECRET_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf)
        return oom(n, err, errlen);
    if (len > SECRET_FILE_MAX) {
        free(buf);
        return config_node_fail(n, err, errlen, "%s is longer than %d bytes", path,
                                SECRET_FILE_MAX);
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (len == 0 || memchr(buf, '\0', len)) {
        free(buf);
        return config_node_fail(n, err, errlen, "%s is empty or not text", path);
    }
    *out = buf;
    return 0;
}

/* A scalar's text, expanded, into *out; "expected" names what it should have been. */
static int read_text(const struct config_node *n, const char *expected, char **out, char *err,
                     size_t errlen)
{
    const char *text = config_node_text(n);
    if (!text)
        return config_node_fail(n, err, errlen, "expected %s", expected);
    return expand_env(n, text, out, err, errlen);
}

/* A list field: a sequence of scalars, or (map) a mapping of scalars as "key: value" items; a
 * single scalar is a list of one. */
static int read_list(const struct config_node *n, bool map, struct alert_channel_field *f,
                     char *err, size_t errlen)
{
    enum config_node_type t = config_node_type(n);
    size_t count = t == CONFIG_NODE_SCALAR ? 1 : config_node_length(n);
    if ((map && t != CONFIG_NODE_MAPPING) || (!map && t == CONFIG_NODE_MAPPING))
        return config_node_fail(n, err, errlen, "expected %s",
                                map ? "a mapping of names to texts" : "a text or a list of texts");
    f->items = calloc(count ? count : 1, sizeof *f->items);
    if (!f->items)
        return oom(n, err, errlen);
    if (t == CONFIG_NODE_SCALAR)
        return read_text(n, "a text", &f->items[f->n_items++], err, errlen);
    for (size_t i = 0; i < count; i++) {
        struct config_node item = map ? config_node_value_at(n, i) : config_node_item(n, i);
        if (read_text(&item, "a text", &f->items[f->n_items], err, errlen) != 0)
            return -1;
        f->n_items++;
        if (!map)
            continue;
        struct config_node key = config_node_key_at(n, i);
        const char *k = config_node_text(&key);
        char *value = f->items[f->n_items - 1];
        if (!k || !*k || strpbrk(k, ": \r\n") || strpbrk(value, "\r\n"))
            return config_node_fail(&key, err, errlen,
                                    "expected a header name without ':', spaces or line breaks, "
                                    "and a value on one line");
        size_t len = strlen(k) + strlen(value) + 3;
        char *line = malloc(len);
        if (!line)
            return oom(n, err, errlen);
        snprintf(line, len, "%s: %s", k, value);
        free(value);
        f->items[f->n_items - 1] = line;
    }
    return 0;
}

/* ---- channels: --------------------------------------------------------------------------- */

/* The spec of key in type (key "password_file" finds the secret "password" with *from_file). */
static const struct alert_field_spec *field_spec(const struct alert_channel_type *type,
                                                 const char *key, bool *from_file)
{
    *from_file = false;
    for (size_t i = 0; i < type->n_fields; i++) {
        const struct alert_field_spec *s = &type->fields[i];
        size_t len = strlen(s->key);
        if (strcmp(key, s->key) == 0)
            return s;
        if ((s->flags & ALERT_FIELD_SECRET) && strncmp(key, s->key, len) == 0 &&
            strcmp(key + len, "_file") == 0) {
            *from_file = true;
            return s;
        }
    }
    return NULL;
}

static void fields_expected(const struct alert_channel_type *type, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "name, type");
    for (size_t i = 0; i < type->n_fields && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, ", %s%s", type->fields[i].key,
                                 type->fields[i].flags & ALERT_FIELD_SECRET ? " (or _file)" : "");
}

static void types_expected(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; alert_channel_types[i] && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                 alert_channel_types[i]->name);
}

/* One field (not name or type) of a channel into f. */
static int read_field(const struct config_node *key, const struct config_node *value,
                      const struct alert_channel_type *type, struct alert_channel_field *f,
                      char *err, size_t errlen)
{
    bool from_file;
    const char *k = config_node_text(key);
    const struct alert_field_spec *spec = k ? field_spec(type, k, &from_file) : NULL;
    if (!spec) {
        char expected[512];
        fields_expected(type, expected, sizeof expected);
        return config_node_fail(key, err, errlen, "unknown field \"%.40s\" for type %s (expected "
                                "one of %s)", k ? k : "?", type->name, expected);
    }
    f->key = strdup(spec->key);
    if (!f->key)
        return oom(key, err, errlen);
    if (from_file) {
        char *path = NULL;
        int rc = read_text(value, "a file name", &path, err, errlen);
        if (rc == 0)
            rc = read_secret_file(value, path, &f->text, err, errlen);
        free(path);
        return rc;
    }
    if (spec->flags & (ALERT_FIELD_LIST | ALERT_FIELD_MAP))
        return read_list(value, spec->flags & ALERT_FIELD_MAP, f, err, errlen);
    return read_text(value, "a text", &f->text, err, errlen);
}

static bool channel_name_taken(const struct alert_channel_config *chans, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(chans[i].name, name) == 0)
            return true;
    return false;
}

/* Fills ch from item (a mapping); ch is freed by the caller whatever happens. */
static int read_channel(const struct config_node *item, const struct alert_channel_config *before,
                        size_t n_before, struct alert_channel_config *ch, char *err, size_t errlen)
{
    if (config_node_type(item) != CONFIG_NODE_MAPPING)
        return config_node_fail(item, err, errlen, "expected a mapping with name, type and the "
                                                   "type's fields");
    struct config_node name = config_node_get(item, "name"), type = config_node_get(item, "type");
    const char *name_text = config_node_text(&name), *type_text = config_node_text(&type);
    if (!name_text || !alert_channel_name_valid(name_text))
        return config_node_fail(&name, err, errlen, "expected a name of 1-63 letters, digits or "
                                "._- (required)");
    if (channel_name_taken(before, n_before, name_text))
        return config_node_fail(&name, err, errlen, "a channel named \"%s\" is defined already",
                                name_text);
    const struct alert_channel_type *t = alert_channel_type_find(type_text);
    if (!t) {
        char types[256];
        types_expected(types, sizeof types);
        return config_node_fail(&type, err, errlen, "expected one of %s, got \"%.40s\"", types,
                                type_text ? type_text : "");
    }
    snprintf(ch->where, sizeof ch->where, "%s:%zu:%zu: %s", item->file ? item->file : "-",
             item->line, item->column, item->path);
    ch->name = strdup(name_text);
    ch->type = strdup(t->name);
    size_t pairs = config_node_length(item);
    ch->fields = calloc(pairs, sizeof *ch->fields);
    if (!ch->name || !ch->type || !ch->fields)
        return oom(item, err, errlen);
    for (size_t i = 0; i < pairs; i++) {
        struct config_node key = config_node_key_at(item, i);
        struct config_node value = config_node_value_at(item, i);
        const char *k = config_node_text(&key);
        if (k && (strcmp(k, "name") == 0 || strcmp(k, "type") == 0))
            continue;
        if (read_field(&key, &value, t, &ch->fields[ch->n_fields], err, errlen) != 0) {
            ch->n_fields++; /* freed with the rest */
            return -1;
        }
        if (alert_channel_field(ch, ch->fields[ch->n_fields].key) != NULL) {
            ch->n_fields++;
            return config_node_fail(&key, err, errlen, "given twice (as %s and %s_file?)",
                                    ch->fields[ch->n_fields - 1].key,
                                    ch->fields[ch->n_fields - 1].key);
        }
        ch->n_fields++;
    }
    for (size_t i = 0; i < t->n_fields; i++)
        if ((t->fields[i].flags & ALERT_FIELD_REQUIRED) && !alert_channel_field(ch, t->fields[i].key))
            return config_node_fail(item, err, errlen, "%s: required for type %s%s",
                                    t->fields[i].key, t->name,
                                    t->fields[i].flags & ALERT_FIELD_SECRET ? " (or its _file)"
                                                                             : "");
    return 0;
}

static int read_channels(const struct config_node *value, void *settings, char *err,
                         size_t errlen)
{
    if (config_node_type(value) != CONFIG_NODE_SEQUENCE)
        return config_node_fail(value, err, errlen, "expected a list of channels ({name, type, "
                                                    "...})");
    struct alert_settings scratch = {0}, *s = settings ? settings : &scratch;
    channels_free(s);
    size_t n = config_node_length(value);
    s->channels = calloc(n ? n : 1, sizeof *s->channels);
    if (!s->channels)
        return oom(value, err, errlen);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct config_node item = config_node_item(value, i);
        rc = read_channel(&item, s->channels, s->n_channels, &s->channels[s->n_channels], err,
                          errlen);
        s->n_channels++;
    }
    if (rc != 0 || s == &scratch)
        channels_free(s);
    return rc;
}

/* ---- routes: ----------------------------------------------------------------------------- */

/* A scalar or list of names into a bit set, through parse. */
static int read_name_set(const struct config_node *n, int (*parse)(const char *, unsigned *),
                         const char *expected, unsigned *set, char *err, size_t errlen)
{
    enum config_node_type t = config_node_type(n);
    size_t count = t == CONFIG_NODE_SCALAR ? 1 : t == CONFIG_NODE_SEQUENCE ? config_node_length(n) : 0;
    if (count == 0)
        return config_node_fail(n, err, errlen, "expected %s, or a list of them", expected);
    for (size_t i = 0; i < count; i++) {
        struct config_node item = t == CONFIG_NODE_SCALAR ? *n : config_node_item(n, i);
        const char *text = config_node_text(&item);
        unsigned bit;
        if (!text || parse(text, &bit) != 0)
            return config_node_fail(&item, err, errlen, "expected %s, got \"%.40s\"", expected,
                                    text ? text : "");
        *set |= bit;
    }
    return 0;
}

static int parse_kind(const char *text, unsigned *bit)
{
    enum alert_kind k;
    if (alert_kind_parse(text, &k) != 0)
        return -1;
    *bit = 1u << k;
    return 0;
}

static int parse_severity(const char *text, unsigned *bit)
{
    enum alert_severity s;
    if (alert_severity_parse(text, &s) != 0)
        return -1;
    *bit = 1u << s;
    return 0;
}

static int read_match(const struct config_node *m, struct alert_route_config *r, char *err,
                      size_t errlen)
{
    if (config_node_type(m) == CONFIG_NODE_NONE)
        return 0;
    if (config_node_type(m) != CONFIG_NODE_MAPPING)
        return config_node_fail(m, err, errlen, "expected a mapping of kind, severity, name, "
                                                "labels");
    for (size_t i = 0; i < config_node_length(m); i++) {
        struct config_node key = config_node_key_at(m, i), value = config_node_value_at(m, i);
        const char *k = config_node_text(&key);
        int rc;
        if (k && strcmp(k, "kind") == 0)
            rc = read_name_set(&value, parse_kind,
                               "worker, check, incident, followup, gpu, mesh or test", &r->kinds,
                               err, errlen);
        else if (k && strcmp(k, "severity") == 0)
            rc = read_name_set(&value, parse_severity, "info, warning or critical",
                               &r->severities, err, errlen);
        else if (k && strcmp(k, "name") == 0)
            rc = read_text(&value, "a name or glob", &r->name, err, errlen);
        else if (k && strcmp(k, "labels") == 0) {
            struct alert_channel_field f = {0};
            rc = read_list(&value, true, &f, err, errlen);
            /* kept as "key: glob" items; split once here */
            r->labels = rc ? NULL : calloc(f.n_items ? f.n_items : 1, sizeof *r->labels);
            for (size_t j = 0; r->labels && j < f.n_items; j++, r->n_labels++) {
                char *colon = strstr(f.items[j], ": ");
                *colon = '\0';
                r->labels[j].key = strdup(f.items[j]);
                r->labels[j].text = strdup(colon + 2);
            }
            if (!rc && !r->labels)
                rc = oom(&value, err, errlen);
            field_free(&f);
        } else
            rc = config_node_fail(&key, err, errlen,
                                  "expected one of kind, severity, name, labels");
        if (rc)
            return rc;
    }
    return 0;
}

/* A duration with its unit ("500ms", "1s", "5m", "2h", "1d"; "0s": none) into ms; -1 when it
 * is not one or is over a year. */
static int64_t duration_ms(const char *text)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char *end;
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    double v = strtod(text, &end);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0 && v * (double)units[i].ms <= 366 * 86400e3)
            return (int64_t)llround(v * (double)units[i].ms);
    return -1;
}

/* The route's member key (group_wait, repeat_interval), if it has it, into *ms. */
static int read_timing(const struct config_node *item, const char *key, int64_t *ms, char *err,
                       size_t errlen)
{
    struct config_node value = config_node_get(item, key);
    *ms = ALERT_TIMING_GLOBAL;
    if (config_node_type(&value) == CONFIG_NODE_NONE)
        return 0;
    const char *text = config_node_text(&value);
    *ms = config_node_type(&value) == CONFIG_NODE_SCALAR ? duration_ms(text) : -1;
    if (*ms < 0)
        return config_node_fail(&value, err, errlen,
                                "expected a duration with its unit (ms, s, m, h or d) such as "
                                "30s or 5m, at most 366d, got \"%.40s\"",
                                text ? text : "");
    return 0;
}

static int read_route(const struct config_node *item, struct alert_route_config *r, char *err,
                      size_t errlen)
{
    if (config_node_type(item) != CONFIG_NODE_MAPPING)
        return config_node_fail(item, err, errlen, "expected a mapping {match, channels}");
    snprintf(r->where, sizeof r->where, "%s:%zu:%zu: %s", item->file ? item->file : "-",
             item->line, item->column, item->path);
    for (size_t i = 0; i < config_node_length(item); i++) {
        struct config_node key = config_node_key_at(item, i);
        const char *k = config_node_text(&key);
        if (!k || (strcmp(k, "match") && strcmp(k, "channels") && strcmp(k, "group_wait") &&
                   strcmp(k, "repeat_interval")))
            return config_node_fail(&key, err, errlen,
                                    "expected one of match, channels, group_wait, "
                                    "repeat_interval");
    }
    if (read_timing(item, "group_wait", &r->group_wait_ms, err, errlen) != 0 ||
        read_timing(item, "repeat_interval", &r->repeat_interval_ms, err, errlen) != 0)
        return -1;
    struct config_node match = config_node_get(item, "match");
    if (read_match(&match, r, err, errlen) != 0)
        return -1;
    struct config_node chans = config_node_get(item, "channels");
    struct alert_channel_field f = {0};
    if (config_node_type(&chans) == CONFIG_NODE_NONE)
        return config_node_fail(&chans, err, errlen, "required: the channels to send to");
    if (read_list(&chans, false, &f, err, errlen) != 0) {
        field_free(&f);
        return -1;
    }
    r->channels = f.items;
    r->n_channels = f.n_items;
    for (size_t i = 0; i < r->n_channels; i++)
        if (!alert_channel_name_valid(r->channels[i]))
            return config_node_fail(&chans, err, errlen, "expected channel names, got \"%.40s\"",
                                    r->channels[i]);
    return 0;
}

static int read_routes(const struct config_node *value, void *settings, char *err, size_t errlen)
{
    if (config_node_type(value) != CONFIG_NODE_SEQUENCE)
        return config_node_fail(value, err, errlen, "expected a list of routes ({match, "
                                                    "channels})");
    struct alert_settings scratch = {0}, *s = settings ? settings : &scratch;
    routes_free(s);
    size_t n = config_node_length(value);
    s->routes = calloc(n ? n : 1, sizeof *s->routes);
    if (!s->routes)
        return oom(value, err, errlen);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct config_node item = config_node_item(value, i);
        rc = read_route(&item, &s->routes[s->n_routes++], err, errlen);
    }
    if (rc != 0 || s == &scratch)
        routes_free(s);
    return rc;
}

int alert_settings_env_telegram(const struct alert_settings *s, struct alert_channel_config *out,
                                struct alert_channel_field fields[3], char *err, size_t errlen)
{
    bool token = s->telegram_token && *s->telegram_token, chat = s->chat_id && *s->chat_id;
    if (!token && !chat)
        return 0;
    /* Half a configuration is a mistake that would otherwise silently drop every alert. */
    if (!token || !chat) {
        snprintf(err, errlen,
                 "%s: required when %s is set (set both to send Telegram alerts, or neither)",
                 token ? "CHAT_ID" : "TELEGRAM_TOKEN", token ? "TELEGRAM_TOKEN" : "CHAT_ID");
        return -1;
    }
    for (size_t i = 0; i < s->n_channels; i++)
        if (strcmp(s->channels[i].name, "telegram") == 0) {
            snprintf(err, errlen, "%s: the name \"telegram\" belongs to the channel "
                     "TELEGRAM_TOKEN and CHAT_ID make: name this one otherwise",
                     s->channels[i].where);
            return -1;
        }
    fields[0] = (struct alert_channel_field){.key = "token", .text = s->telegram_token};
    fields[1] = (struct alert_channel_field){.key = "chat_id", .text = s->chat_id};
    fields[2] = (struct alert_channel_field){.key = "url", .text = s->telegram_api_url};
    *out = (struct alert_channel_config){.name = "telegram",
                                         .type = "telegram",
                                         .fields = fields,
                                         .n_fields = s->telegram_api_url ? 3 : 2,
                                         .where = "TELEGRAM_TOKEN"};
    return 1;
}

/* ---- the table --------------------------------------------------------------------------- */

#define FIELD(f) offsetof(struct alert_settings, f)

static const struct config_option alert_options[] = {
    {"TELEGRAM_TOKEN", CONFIG_TEXT, FIELD(telegram_token), NULL, "bot token from BotFather",
     .flags = CONFIG_SECRET},
    {"CHAT_ID", CONFIG_TEXT, FIELD(chat_id), NULL, "Telegram chat to notify", .check = check_chat,
     .expected = "a numeric chat id (e.g. -123456789) or @channel"},
    {"TELEGRAM_API_URL", CONFIG_TEXT, FIELD(telegram_api_url), "https://api.telegram.org",
     "Telegram Bot API base URL", .check = config_check_url, .expected = CONFIG_EXPECT_URL,
     .flags = CONFIG_TRIM_SLASH},
    {"PUBLIC_URL", CONFIG_TEXT, FIELD(public_url), NULL,
     "the server's address as people reach it; alerts link to their page under it",
     .check = config_check_url, .expected = CONFIG_EXPECT_URL, .flags = CONFIG_TRIM_SLASH},
};

static const struct config_section alert_sections[] = {
    {"channels", read_channels},
    {"routes", read_routes},
};

const struct config_table alert_settings_table = {
    .module = "alert",
    .options = alert_options,
    .option_count = sizeof alert_options / sizeof alert_options[0],
    .sections = alert_sections,
    .section_count = sizeof alert_sections / sizeof alert_sections[0],
    .sections_init = sections_init,
    .sections_free = sections_free,
};
