/* silence.c — silences: their definition read from JSON (the API) or YAML (the --config
 * section), their matchers and their time; see silence.h. The time zones of recurring windows
 * are loaded once per name and shared (zone_get). */
#include "alert/silence.h"

#include <fnmatch.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/cron.h"
#include "base/err.h"
#include "base/regex_size.h"
#include "base/tz.h"

#define SILENCE_NAME_MAX 256
#define SILENCE_WORD_MAX 64     /* kind, severity, label keys */
#define SILENCE_VALUE_MAX 256   /* label values and patterns */
#define SILENCE_AUTHOR_MAX 128
#define SILENCE_DURATION_MAX_S (366LL * 86400)
#define SILENCE_MEMBERS                                                                           \
    "name, kind, severity, labels, starts_at, ends_at, duration, cron, tz, comment, author"

enum silence_op { SILENCE_EQ, SILENCE_NE, SILENCE_RE };
static const char *const op_text[] = {"=", "!=", "=~"};

struct silence_label {
    char *key, *value;
    enum silence_op op;
    regex_t re; /* SILENCE_RE: value anchored at both ends */
};

struct silence {
    char id[SILENCE_ID_MAX];
    char *source; /* the config file, or NULL (the API) */
    char *name, *kind, *severity; /* NULL: any */
    struct silence_label labels[SILENCE_LABELS_MAX];
    size_t label_count;
    int64_t starts_ms, ends_ms; /* one-off */
    bool recurring;
    char *cron_text;
    struct cron cron;
    const struct tz *tz; /* recurring; the zone cache's (zone_get) */
    int64_t duration_s; /* recurring */
    char *comment, *author;
    int64_t created_ms, expired_ms;
};

struct silences {
    struct silence **items;
    size_t count, cap;
};

/* ---- reading a definition ---- */

/* The text of member key of def, or NULL (absent or null); -1 when it is not text or too long. */
static int member_text(const json_t *def, const char *key, size_t max, const char **out,
                       char *err, size_t errlen)
{
    const json_t *v = json_object_get(def, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return err_set(err, errlen, "%s: expected text of 1 to %zu bytes", key, max);
    *out = json_string_value(v);
    return 0;
}

static int copy_member(const json_t *def, const char *key, size_t max, char **out, char *err,
                       size_t errlen)
{
    const char *text;
    if (member_text(def, key, max, &text, err, errlen) != 0)
        return -1;
    *out = text ? strdup(text) : NULL;
    return text && !*out ? err_set(err, errlen, "%s: out of memory", key) : 0;
}

/* The seconds text says: "2h", "1h30m", "90m", "45s", "1d", or digits alone; -1 when it is none
 * of those or more than SILENCE_DURATION_MAX_S. */
static int64_t duration_seconds(const char *p)
{
    static const char units[] = "dhms";
    static const int64_t unit_s[] = {86400, 3600, 60, 1};
    bool digits_only = *p && strspn(p, "0123456789") == strlen(p);
    int64_t total = 0;
    while (*p) {
        int64_t n = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits <= 12) {
            n = n * 10 + (*p++ - '0');
            digits++;
        }
        if (digits > 12)
            return -1;
        const char *unit = *p ? strchr(units, *p++) : digits_only ? units + 3 : NULL;
        if (digits == 0 || !unit)
            return -1;
        total += n * unit_s[unit - units];
        if (total > SILENCE_DURATION_MAX_S)
            return -1;
    }
    return total;
}

/* A duration member: text (duration_seconds) or a JSON integer of seconds. */
static int parse_duration(const json_t *v, int64_t *out_s, char *err, size_t errlen)
{
    int64_t total = json_is_integer(v)  ? json_integer_value(v)
                    : json_is_string(v) ? duration_seconds(json_string_value(v))
                                        : -1;
    if (total <= 0 || total > SILENCE_DURATION_MAX_S) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        err_set(err, errlen,
                "duration: expected a positive duration of at most 366d such as 2h, 1h30m, 90m "
                "or 45s, got %.60s",
                text ? text : "?");
        free(text);
        return -1;
    }
    *out_s = total;
    return 0;
}

/* A time member: ISO 8601 text (clock_parse_iso) or a JSON integer of ms. */
static int parse_time(const json_t *def, const char *key, int64_t *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(def, key);
    if (json_is_integer(v) && json_integer_value(v) >= CLOCK_PARSE_MIN_MS &&
        json_integer_value(v) < CLOCK_PARSE_END_MS) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && clock_parse_iso(json_string_value(v), out) == 0)
        return 0;
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    err_set(err, errlen,
            "%s: expected an ISO 8601 time such as 2026-11-30T22:00:00Z or ms since the epoch, "
            "got %.60s",
            key, text ? text : "?");
    free(text);
    return -1;
}

/* "key=value", "key!=value" or "key=~regex" into l. */
static int parse_label(const json_t *v, struct silence_label *l, char *err, size_t errlen)
{
    const char *text = json_is_string(v) ? json_string_value(v) : NULL;
    const char *eq = text ? strchr(text, '=') : NULL;
    if (!eq || eq == text || (eq == text + 1 && text[0] == '!') ||
        strlen(text) > SILENCE_WORD_MAX + 2 + SILENCE_VALUE_MAX ||
        json_string_length(v) != strlen(text)) {
        char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        err_set(err, errlen, "labels: expected key=value, key!=value or key=~regex, got %.60s",
                dump ? dump : "?");
        free(dump);
        return -1;
    }
    size_t key_len = (size_t)(eq - text);
    l->op = SILENCE_EQ;
    const char *value = eq + 1;
    if (eq[-1] == '!') {
        l->op = SILENCE_NE;
        key_len--;
    } else if (*value == '~') {
        l->op = SILENCE_RE;
        value++;
    }
    l->key = strndup(text, key_len);
    l->value = strdup(value);
    if (!l->key || !l->value)
        return err_set(err, errlen, "labels: out of memory");
    if (l->op == SILENCE_RE && !regex_size_ok(value)) {
        l->op = SILENCE_EQ; /* nothing compiled to free */
        return err_set(err, errlen, "labels: the regex after =~ repeats too much (a repetition "
                                    "of a repetition such as a+*, or more than %d characters "
                                    "once its repetitions are unrolled), got \"%.60s\"",
                       REGEX_UNROLLED_MAX, value);
    }
    if (l->op == SILENCE_RE) {
        char anchored[SILENCE_VALUE_MAX + 8];
        snprintf(anchored, sizeof anchored, "^(%s)$", value);
        if (regcomp(&l->re, anchored, REG_EXTENDED | REG_NOSUB) != 0) {
            l->op = SILENCE_EQ; /* nothing compiled to free */
            return err_set(err, errlen, "labels: expected a POSIX extended regex after =~, got "
                                        "\"%.60s\"",
                           value);
        }
    }
    return 0;
}

static int parse_labels(const json_t *def, struct silence *s, char *err, size_t errlen)
{
    const json_t *labels = json_object_get(def, "labels");
    if (!labels || json_is_null(labels))
        return 0;
    if (!json_is_array(labels) || json_array_size(labels) > SILENCE_LABELS_MAX)
        return err_set(err, errlen, "labels: expected a list of at most %d matchers such as "
                                    "\"region=eu\"",
                       SILENCE_LABELS_MAX);
    for (size_t i = 0; i < json_array_size(labels); i++) {
        if (parse_label(json_array_get(labels, i), &s->labels[i], err, errlen) != 0) {
            s->label_count = i + 1; /* so silence_free frees what it took */
            return -1;
        }
        s->label_count = i + 1;
    }
    return 0;
}

/* Zones loaded by name, shared by all silences and kept until the process ends. A silence with a
 * cron window names one of a handful of zones; reading its TZif file costs about 10 us with the
 * file in the page cache but a disk read without, on the loop for POST /api/v1/silences, so each
 * zone is read once. Only zones that loaded are kept: at most as many as the tz database has. */
struct zone {
    struct zone *next;
    char *dir;
    struct tz *tz;
};
static struct zone *zones;
static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;

/* The zone called name in dir (NULL: TZ_DIR), loaded on first use; NULL with err set when it
 * cannot be loaded (tz_load's message). */
static const struct tz *zone_get(const char *name, const char *dir, char *err, size_t errlen)
{
    const char *in = dir ? dir : TZ_DIR;
    pthread_mutex_lock(&zones_lock);
    struct zone *z = zones;
    while (z && (strcmp(tz_name(z->tz), name) != 0 || strcmp(z->dir, in) != 0))
        z = z->next;
    if (!z) {
        struct tz *tz = tz_load(name, dir, err, errlen);
        z = tz ? calloc(1, sizeof *z) : NULL;
        if (z && (z->dir = strdup(in))) {
            z->tz = tz;
            z->next = zones;
            zones = z;
        } else if (tz) {
            free(z);
            z = NULL;
            tz_free(tz);
            err_set(err, errlen, "out of memory");
        }
    }
    pthread_mutex_unlock(&zones_lock);
    return z ? z->tz : NULL;
}

/* The time: one-off (starts_at, ends_at or duration) or recurring (cron, duration, tz). */
static int parse_when(const json_t *def, int64_t now_ms, const char *tz_dir, struct silence *s,
                      const char **field, char *err, size_t errlen)
{
    const json_t *duration = json_object_get(def, "duration");
    int64_t duration_s = 0;
    if (duration && !json_is_null(duration) &&
        (*field = "duration", parse_duration(duration, &duration_s, err, errlen)) != 0)
        return -1;
    const char *cron, *tz;
    if ((*field = "cron", member_text(def, "cron", 256, &cron, err, errlen)) != 0 ||
        (*field = "tz", member_text(def, "tz", TZ_NAME_MAX, &tz, err, errlen)) != 0)
        return -1;
    if (cron) {
        s->recurring = true;
        char inner[200];
        *field = "cron";
        if (cron_parse(cron, &s->cron, inner, sizeof inner) != 0)
            return err_set(err, errlen, "cron: %s", inner);
        if (!(s->cron_text = strdup(cron)))
            return err_set(err, errlen, "cron: out of memory");
        *field = "duration";
        if (!duration_s)
            return err_set(err, errlen, "duration: required with cron (how long each window "
                                        "lasts, such as 3h)");
        *field = json_object_get(def, "starts_at") ? "starts_at" : "ends_at";
        if (json_object_get(def, "starts_at") || json_object_get(def, "ends_at"))
            return err_set(err, errlen, "%s: not allowed with cron (a recurring window)", *field);
        s->duration_s = duration_s;
        *field = "tz";
        if (!(s->tz = zone_get(tz ? tz : "UTC", tz_dir, inner, sizeof inner)))
            return err_set(err, errlen, "tz: %s", inner);
        return 0;
    }
    *field = "tz";
    if (tz)
        return err_set(err, errlen, "tz: only with cron (a recurring window)");
    s->starts_ms = now_ms;
    if (json_object_get(def, "starts_at") &&
        (*field = "starts_at", parse_time(def, "starts_at", &s->starts_ms, err, errlen)) != 0)
        return -1;
    *field = "ends_at";
    if (json_object_get(def, "ends_at")) {
        if (duration_s)
            return err_set(err, errlen, "ends_at: give ends_at or duration, not both");
        if (parse_time(def, "ends_at", &s->ends_ms, err, errlen) != 0)
            return -1;
        if (s->ends_ms <= s->starts_ms)
            return err_set(err, errlen, "ends_at: expected a time after starts_at");
        return 0;
    }
    if (!duration_s)
        return err_set(err, errlen, "ends_at: required (or duration, or cron with duration)");
    s->ends_ms = s->starts_ms + duration_s * 1000;
    return 0;
}

/* Member names a definition may have. */
static int check_members(const json_t *def, const char **field, char *err, size_t errlen)
{
    static const char *const known[] = {"name", "kind",     "severity", "labels",
                                        "starts_at", "ends_at", "duration", "cron",
                                        "tz",   "comment",  "author",
                                        /* read-only parts of the API's shape, ignored */
                                        "id",   "source",   "created_at", "expired_ms",
                                        "active", "next_start"};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)def, key, v) {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(key, known[i]) != 0)
            i++;
        if (i == sizeof known / sizeof known[0]) {
            *field = "body";
            return err_set(err, errlen, "%.40s: unknown member (expected " SILENCE_MEMBERS ")",
                           key);
        }
    }
    return 0;
}

struct silence *silence_parse(const json_t *def, int64_t now_ms, const char *tz_dir,
                              const char **field, char *err, size_t errlen)
{
    *field = "body";
    if (!json_is_object(def)) {
        err_set(err, errlen, "body: expected a JSON object");
        return NULL;
    }
    struct silence *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(err, errlen, "body: out of memory");
        return NULL;
    }
    int rc = check_members(def, field, err, errlen);
    if (!rc)
        rc = (*field = "name", copy_member(def, "name", SILENCE_NAME_MAX, &s->name, err, errlen)) ||
             (*field = "kind", copy_member(def, "kind", SILENCE_WORD_MAX, &s->kind, err, errlen)) ||
             (*field = "severity",
              copy_member(def, "severity", SILENCE_WORD_MAX, &s->severity, err, errlen)) ||
             (*field = "labels", parse_labels(def, s, err, errlen)) ||
             (*field = "comment",
              copy_member(def, "comment", SILENCE_TEXT_MAX, &s->comment, err, errlen)) ||
             (*field = "author",
              copy_member(def, "author", SILENCE_AUTHOR_MAX, &s->author, err, errlen));
    if (!rc && !s->name && !s->kind && !s->severity && !s->label_count) {
        *field = "name";
        rc = err_set(err, errlen,
                     "name: at least one matcher is required (name, kind, severity or labels)");
    }
    if (!rc)
        rc = parse_when(def, now_ms, tz_dir, s, field, err, errlen);
    if (rc) {
        silence_free(s);
        return NULL;
    }
    s->created_ms = now_ms;
    return s;
}

void silence_free(struct silence *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->label_count; i++) {
        free(s->labels[i].key);
        free(s->labels[i].value);
        if (s->labels[i].op == SILENCE_RE)
            regfree(&s->labels[i].re);
    }
    free(s->source);
    free(s->name);
    free(s->kind);
    free(s->severity);
    free(s->cron_text);
    free(s->comment);
    free(s->author);
    free(s);
}

const char *silence_id(const struct silence *s)
{
    return s->id;
}

const char *silence_comment(const struct silence *s)
{
    return s->comment;
}

void silence_set_id(struct silence *s, const char *id)
{
    snprintf(s->id, sizeof s->id, "%s", id);
}

const char *silence_source(const struct silence *s)
{
    return s->source;
}

void silence_set_source(struct silence *s, const char *file)
{
    free(s->source);
    s->source = file ? strdup(file) : NULL;
}

int64_t silence_expired_ms(const struct silence *s)
{
    return s->expired_ms;
}

void silence_set_times(struct silence *s, int64_t created_ms, int64_t expired_ms)
{
    s->created_ms = created_ms;
    s->expired_ms = expired_ms;
}

void silence_set_expired(struct silence *s, int64_t expired_ms)
{
    s->expired_ms = expired_ms;
}

/* ---- matching ---- */

static bool label_matches(const struct silence_label *l, const struct label_set *labels)
{
    const char *v = label_set_get(labels, l->key);
    switch (l->op) {
    case SILENCE_EQ:
        return v && strcmp(v, l->value) == 0;
    case SILENCE_NE: /* as Alertmanager: a missing label is the empty value */
        return strcmp(v ? v : "", l->value) != 0;
    case SILENCE_RE:
        return regexec(&l->re, v ? v : "", 0, NULL, 0) == 0;
    }
    return false;
}

bool silence_matches(const struct silence *s, const struct alert_match_input *in)
{
    if (s->name && (!in->name || fnmatch(s->name, in->name, 0) != 0))
        return false;
    if (s->kind && (!in->kind || strcmp(s->kind, in->kind) != 0))
        return false;
    if (s->severity && (!in->severity || strcmp(s->severity, in->severity) != 0))
        return false;
    for (size_t i = 0; i < s->label_count; i++)
        if (!label_matches(&s->labels[i], in->labels))
            return false;
    return true;
}

bool silence_active(const struct silence *s, int64_t now_ms)
{
    if (s->expired_ms > 0 && s->expired_ms <= now_ms)
        return false;
    if (!s->recurring)
        return now_ms >= s->starts_ms && now_ms < s->ends_ms;
    /* The first firing after (now - duration) is still running at now if it began by now. */
    int64_t now_s = now_ms / 1000, at = cron_next(&s->cron, s->tz, now_s - s->duration_s);
    return at >= 0 && at <= now_s;
}

int64_t silence_next_start(const struct silence *s, int64_t now_ms)
{
    if (s->expired_ms > 0 && s->expired_ms <= now_ms)
        return -1;
    if (!s->recurring)
        return s->starts_ms > now_ms ? s->starts_ms : -1;
    int64_t at = cron_next(&s->cron, s->tz, now_ms / 1000);
    return at < 0 ? -1 : at * 1000;
}

/* ---- JSON shapes ---- */

static json_t *iso(int64_t ms)
{
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *duration_text(int64_t s)
{
    char buf[64];
    size_t n = 0;
    static const int64_t unit_s[] = {86400, 3600, 60, 1};
    static const char units[] = "dhms";
    for (int i = 0; i < 4; i++)
        if (s >= unit_s[i]) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%lld%c", (long long)(s / unit_s[i]),
                                  units[i]);
            s %= unit_s[i];
        }
    return json_string(buf);
}

static void set_text(json_t *obj, const char *key, const char *text)
{
    if (text)
        json_object_set_new(obj, key, json_string(text));
}

json_t *silence_definition_json(const struct silence *s)
{
    json_t *d = json_object(), *labels = json_array();
    set_text(d, "name", s->name);
    set_text(d, "kind", s->kind);
    set_text(d, "severity", s->severity);
    for (size_t i = 0; i < s->label_count; i++) {
        char buf[SILENCE_WORD_MAX + SILENCE_VALUE_MAX + 4];
        snprintf(buf, sizeof buf, "%s%s%s", s->labels[i].key, op_text[s->labels[i].op],
                 s->labels[i].value);
        json_array_append_new(labels, json_string(buf));
    }
    json_object_set_new(d, "labels", labels);
    if (s->recurring) {
        set_text(d, "cron", s->cron_text);
        json_object_set_new(d, "duration", duration_text(s->duration_s));
        set_text(d, "tz", tz_name(s->tz));
    } else {
        json_object_set_new(d, "starts_at", iso(s->starts_ms));
        json_object_set_new(d, "ends_at", iso(s->ends_ms));
    }
    set_text(d, "comment", s->comment);
    set_text(d, "author", s->author);
    return d;
}

json_t *silence_json(const struct silence *s, int64_t now_ms)
{
    json_t *d = silence_definition_json(s);
    json_object_set_new(d, "id", json_string(s->id));
    json_object_set_new(d, "source", json_string(s->source ? s->source : "api"));
    json_object_set_new(d, "created_at", iso(s->created_ms));
    json_object_set_new(d, "expired_ms",
                        s->expired_ms > 0 ? json_integer(s->expired_ms) : json_null());
    json_object_set_new(d, "active", json_boolean(silence_active(s, now_ms)));
    int64_t next = silence_next_start(s, now_ms);
    json_object_set_new(d, "next_start", next >= 0 ? iso(next) : json_null());
    return d;
}

/* ---- sets ---- */

struct silences *silences_new(void)
{
    return calloc(1, sizeof(struct silences));
}

void silences_free(struct silences *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        silence_free(set->items[i]);
    free(set->items);
    free(set);
}

int silences_add(struct silences *set, struct silence *s)
{
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        struct silence **items = realloc(set->items, cap * sizeof *items);
        if (!items) {
            silence_free(s);
            return -1;
        }
        set->items = items;
        set->cap = cap;
    }
    set->items[set->count++] = s;
    return 0;
}

size_t silences_count(const struct silences *set)
{
    return set ? set->count : 0;
}

struct silence *silences_at(const struct silences *set, size_t i)
{
    return set->items[i];
}

struct silence *silences_find(const struct silences *set, const char *id)
{
    for (size_t i = 0; set && i < set->count; i++)
        if (strcmp(set->items[i]->id, id) == 0)
            return set->items[i];
    return NULL;
}

int silences_move(struct silences *to, struct silences *from)
{
    for (size_t i = 0; from && i < from->count; i++) {
        if (silences_add(to, from->items[i]) != 0) {
            memmove(from->items, from->items + i + 1, (from->count - i - 1) * sizeof *from->items);
            from->count -= i + 1;
            return -1;
        }
    }
    if (from)
        from->count = 0;
    return 0;
}

const struct silence *silences_match(const struct silences *set,
                                     const struct alert_match_input *in, int64_t now_ms)
{
    for (size_t i = 0; set && i < set->count; i++)
        if (silence_matches(set->items[i], in) && silence_active(set->items[i], now_ms))
            return set->items[i];
    return NULL;
}

/* ---- the YAML section ---- */

/* The node as JSON: scalars as text, sequences as arrays, mappings as objects. */
static json_t *node_json(const struct config_node *n)
{
    switch (config_node_type(n)) {
    case CONFIG_NODE_SCALAR:
        return json_string(config_node_text(n));
    case CONFIG_NODE_SEQUENCE: {
        json_t *a = json_array();
        for (size_t i = 0; i < config_node_length(n); i++) {
            struct config_node item = config_node_item(n, i);
            json_array_append_new(a, node_json(&item));
        }
        return a;
    }
    case CONFIG_NODE_MAPPING: {
        json_t *o = json_object();
        for (size_t i = 0; i < config_node_length(n); i++) {
            struct config_node k = config_node_key_at(n, i), v = config_node_value_at(n, i);
            const char *key = config_node_text(&k);
            if (key)
                json_object_set_new(o, key, node_json(&v));
        }
        return o;
    }
    default:
        return json_null();
    }
}

static int silences_read_section(const struct config_node *value, void *settings, char *err,
                                 size_t errlen)
{
    struct silence_settings *ss = settings;
    if (config_node_type(value) != CONFIG_NODE_SEQUENCE)
        return config_node_fail(value, err, errlen, "expected a list of silences");
    struct silences *set = silences_new();
    if (!set)
        return config_node_fail(value, err, errlen, "out of memory");
    for (size_t i = 0; i < config_node_length(value); i++) {
        struct config_node item = config_node_item(value, i);
        if (config_node_type(&item) != CONFIG_NODE_MAPPING) {
            silences_free(set);
            return config_node_fail(&item, err, errlen, "expected a mapping");
        }
        json_t *def = node_json(&item);
        const char *field;
        char inner[300];
        struct silence *s = silence_parse(def, clock_wall_ms(), NULL, &field, inner, sizeof inner);
        json_decref(def);
        if (!s) {
            /* At the member when it is there ("silences[0].cron: ..."), else at the item
             * ("silences[1]: ends_at: required ..."). */
            struct config_node at = config_node_get(&item, field);
            bool present = config_node_type(&at) != CONFIG_NODE_NONE;
            size_t skip = strlen(field);
            const char *message =
                present && strncmp(inner, field, skip) == 0 && inner[skip] == ':' ? inner + skip + 2
                                                                                  : inner;
            silences_free(set);
            return config_node_fail(present ? &at : &item, err, errlen, "%s", message);
        }
        char id[SILENCE_ID_MAX];
        snprintf(id, sizeof id, "config-%zu", i + 1);
        silence_set_id(s, id);
        silence_set_source(s, value->file ? value->file : "the --config file");
        if (silences_add(set, s) != 0) {
            silences_free(set);
            return config_node_fail(value, err, errlen, "out of memory");
        }
    }
    if (ss) {
        silences_free(ss->configured);
        ss->configured = set;
    } else {
        silences_free(set);
    }
    return 0;
}

static const struct config_section silence_sections[] = {{"silences", silences_read_section}};

const struct config_table silence_settings_table = {
    .module = "silences",
    .sections = silence_sections,
    .section_count = 1,
};
