/* router.c — addresses alert messages to channel instances (router.h). The channels told of
 * each open problem are a bit set per dedup key in a small chained hash table: set when a
 * warning or critical message is addressed, read and dropped by its resolve. Each entry keeps
 * its latest message and when each channel was last told, for reminders (repeat_interval). */
#include "alert/router.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"

#define TOLD_BUCKETS 1024

typedef uint64_t channel_set; /* bit i: channel i of the router */

/* What an open problem's reminders repeat: its latest message (text and fields, owned) and
 * when each channel was last told of it (wall clock, by channel index). */
struct reminder {
    char *text;
    json_t *fields;
    int64_t since_ms;
    int64_t told_ms[ALERT_CHANNELS_MAX];
};

struct told {
    struct told *next;
    channel_set channels;
    struct reminder *reminder; /* NULL: nothing to remind of (quiet, or not known) */
    char key[];                /* the dedup key */
};

struct alert_router {
    const struct alert_settings *settings;
    const char *const *channels;
    size_t n_channels;
    struct alert_filters filters;
    channel_set *route_sets; /* the channels of each route in settings->routes */
    struct told *told[TOLD_BUCKETS];
    size_t n_told;
    struct alert_timing defaults; /* GROUP_WAIT and REPEAT_INTERVAL */
    bool reminds;                 /* some channel has a repeat_interval */
};

/* ---- the told table ---------------------------------------------------------------------- */

static size_t key_hash(const char *key)
{
    size_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = h * 33 + *p;
    return h % TOLD_BUCKETS;
}

static struct told **told_find(struct alert_router *r, const char *key)
{
    struct told **at = &r->told[key_hash(key)];
    while (*at && strcmp((*at)->key, key) != 0)
        at = &(*at)->next;
    return at;
}

static void reminder_free(struct reminder *rem)
{
    if (rem) {
        free(rem->text);
        json_decref(rem->fields);
        free(rem);
    }
}

/* Key's entry with channels added (made if new); NULL when out of memory. */
static struct told *told_add(struct alert_router *r, const char *key, channel_set channels)
{
    struct told **at = told_find(r, key);
    if (*at) {
        (*at)->channels |= channels;
        return *at;
    }
    size_t len = strlen(key);
    struct told *t = malloc(sizeof *t + len + 1);
    if (!t)
        return NULL;
    t->next = NULL;
    t->channels = channels;
    t->reminder = NULL;
    memcpy(t->key, key, len + 1);
    *at = t;
    r->n_told++;
    return t;
}

/* Removes key's entry; returns the channels it had (0: none was told). */
static channel_set told_take(struct alert_router *r, const char *key)
{
    struct told **at = told_find(r, key);
    struct told *t = *at;
    if (!t)
        return 0;
    channel_set channels = t->channels;
    *at = t->next;
    reminder_free(t->reminder);
    free(t);
    r->n_told--;
    return channels;
}

/* t's reminder becomes text and fields (taken), told on set at now_ms; since_ms is kept from
 * an earlier message of the same problem. Returns -1 when out of memory. */
static int reminder_set(struct told *t, char *text, json_t *fields, int64_t since_ms,
                        channel_set set, int64_t now_ms)
{
    struct reminder *rem = t->reminder ? t->reminder : calloc(1, sizeof *rem);
    if (!rem || !text || !fields) {
        if (rem != t->reminder)
            free(rem);
        free(text);
        json_decref(fields);
        return -1;
    }
    if (!t->reminder)
        rem->since_ms = since_ms;
    free(rem->text);
    json_decref(rem->fields);
    rem->text = text;
    rem->fields = fields;
    for (size_t i = 0; i < ALERT_CHANNELS_MAX; i++)
        if ((set >> i) & 1 && rem->told_ms[i] < now_ms)
            rem->told_ms[i] = now_ms;
    t->reminder = rem;
    return 0;
}

static int channel_index(const struct alert_router *r, const char *name)
{
    for (size_t i = 0; name && i < r->n_channels; i++)
        if (strcmp(r->channels[i], name) == 0)
            return (int)i;
    return -1;
}

/* ---- life -------------------------------------------------------------------------------- */

void alert_router_set_timing(struct alert_router *r, const struct alert_timing *defaults)
{
    r->defaults = *defaults;
    r->reminds = defaults->repeat_interval_ms > 0;
    for (size_t i = 0; r->settings && i < r->settings->n_routes; i++)
        r->reminds |= r->settings->routes[i].repeat_interval_ms > 0;
}

struct alert_router *alert_router_new(const struct alert_settings *settings,
                                      const char *const *channels, size_t n_channels, char *err,
                                      size_t errlen)
{
    if (n_channels > ALERT_CHANNELS_MAX) {
        snprintf(err, errlen, "channels: at most %d channels, got %zu", ALERT_CHANNELS_MAX,
                 n_channels);
        return NULL;
    }
    struct alert_router *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "alert: out of memory");
        return NULL;
    }
    r->settings = settings;
    alert_router_set_timing(r, &(struct alert_timing){0});
    r->channels = channels;
    r->n_channels = n_channels;
    r->route_sets = calloc(settings->n_routes + 1, sizeof *r->route_sets);
    if (!r->route_sets) {
        snprintf(err, errlen, "alert: out of memory");
        alert_router_free(r);
        return NULL;
    }
    for (size_t i = 0; i < settings->n_routes; i++) {
        const struct alert_route_config *route = &settings->routes[i];
        for (size_t k = 0; k < route->n_channels; k++) {
            int at = channel_index(r, route->channels[k]);
            if (at < 0) {
                snprintf(err, errlen, "%s: channels: no channel named \"%s\" (see channels:)",
                         route->where, route->channels[k]);
                alert_router_free(r);
                return NULL;
            }
            r->route_sets[i] |= (channel_set)1 << at;
        }
    }
    return r;
}

void alert_router_free(struct alert_router *r)
{
    if (!r)
        return;
    for (size_t b = 0; b < TOLD_BUCKETS; b++)
        while (r->told[b]) {
            struct told *t = r->told[b];
            r->told[b] = t->next;
            reminder_free(t->reminder);
            free(t);
        }
    free(r->route_sets);
    free(r);
}

void alert_router_set_filters(struct alert_router *r, const struct alert_filters *filters)
{
    r->filters = filters ? *filters : (struct alert_filters){0};
}

/* The problem's message in a stored row: its text without a reminder's prefix, its fields
 * without a group's mark, and since when it is open. */
static void restore_reminder(struct told *t, const struct outbox_record *rec, int i)
{
    json_t *fields = rec->fields_json ? json_loads(rec->fields_json, 0, NULL) : NULL;
    const char *text = rec->text ? rec->text : "";
    int64_t since_ms = rec->created_ms;
    json_t *since = json_object_get(fields, "since_ms");
    if (json_is_integer(since)) { /* a reminder: "REMINDER (since ISO): TEXT" */
        since_ms = json_integer_value(since);
        const char *end = strstr(text, "): ");
        text = end ? end + 3 : text;
    } else {
        clock_parse_iso(json_string_value(json_object_get(fields, "time")), &since_ms);
    }
    if (!json_is_object(fields)) {
        json_decref(fields);
        return; /* a row from before fields existed: not reminded of */
    }
    json_object_del(fields, "group");
    json_object_del(fields, "since_ms");
    json_object_del(fields, "reminder");
    if (reminder_set(t, strdup(text), fields, since_ms, 0, 0) == 0 &&
        t->reminder->told_ms[i] < rec->created_ms)
        t->reminder->told_ms[i] = rec->created_ms;
    else if (!t->reminder)
        log_error("alert: out of memory restoring the reminders of %s", t->key);
}

void alert_router_told(struct alert_router *r, const struct outbox_record *rec)
{
    int i = r ? channel_index(r, rec->channel) : -1;
    if (i < 0 || !rec->dedup_key[0])
        return;
    struct told *t = told_add(r, rec->dedup_key, (channel_set)1 << i);
    if (!t)
        log_error("alert: out of memory restoring who was told of %s", rec->dedup_key);
    else
        restore_reminder(t, rec, i);
}

void alert_router_quiet(struct alert_router *r, const char *dedup_key)
{
    struct told *t = r && dedup_key ? *told_find(r, dedup_key) : NULL;
    if (t) {
        reminder_free(t->reminder);
        t->reminder = NULL;
    }
}

size_t alert_router_open_problems(const struct alert_router *r)
{
    return r ? r->n_told : 0;
}

bool alert_router_is_open(const struct alert_router *r, const char *dedup_key)
{
    const struct told *t = r ? r->told[key_hash(dedup_key)] : NULL;
    while (t && strcmp(t->key, dedup_key) != 0)
        t = t->next;
    return t != NULL;
}

/* ---- addressing -------------------------------------------------------------------------- */

static const char *label_value(const struct alert_message *msg, const char *key)
{
    for (size_t i = 0; i < msg->n_labels; i++)
        if (msg->labels[i].key && strcmp(msg->labels[i].key, key) == 0)
            return msg->labels[i].value;
    return NULL;
}

/* Whether route's match holds for msg; any_severity: the severity is not asked (a resolve's
 * timing is that of its problem's routes). */
static bool route_matches(const struct alert_route_config *route, const struct alert_message *msg,
                          bool any_severity)
{
    if (route->kinds && !(route->kinds & (1u << msg->kind)))
        return false;
    if (!any_severity && route->severities && !(route->severities & (1u << msg->severity)))
        return false;
    if (route->name && fnmatch(route->name, msg->name ? msg->name : "", 0) != 0)
        return false;
    for (size_t i = 0; i < route->n_labels; i++) {
        const char *value = label_value(msg, route->labels[i].key);
        if (!value || fnmatch(route->labels[i].text, value, 0) != 0)
            return false;
    }
    return true;
}

/* The channels the routes give msg: those of every route that matches it, or every channel
 * while there are no routes. */
static channel_set route_channels(const struct alert_router *r, const struct alert_message *msg)
{
    if (!r->settings || r->settings->n_routes == 0)
        return r->n_channels == 64 ? ~(channel_set)0 : ((channel_set)1 << r->n_channels) - 1;
    channel_set set = 0;
    for (size_t i = 0; i < r->settings->n_routes; i++)
        if (route_matches(&r->settings->routes[i], msg, false))
            set |= r->route_sets[i];
    return set;
}

/* The timing of msg on channel i: of the routes that match msg and name i, the shortest
 * group_wait and the shortest repeat_interval that is on (a route without its own has the
 * defaults'); the defaults when no route names it (no routes, or a check's alerters). */
static struct alert_timing channel_timing(const struct alert_router *r,
                                          const struct alert_message *msg, size_t i)
{
    struct alert_timing t = {-1, -1};
    for (size_t k = 0; r->settings && k < r->settings->n_routes; k++) {
        const struct alert_route_config *route = &r->settings->routes[k];
        if (!((r->route_sets[k] >> i) & 1) || !route_matches(route, msg, msg->resolve))
            continue;
        int64_t wait = route->group_wait_ms == ALERT_TIMING_GLOBAL ? r->defaults.group_wait_ms
                                                                   : route->group_wait_ms;
        int64_t repeat = route->repeat_interval_ms == ALERT_TIMING_GLOBAL
                             ? r->defaults.repeat_interval_ms
                             : route->repeat_interval_ms;
        if (t.group_wait_ms < 0 || wait < t.group_wait_ms)
            t.group_wait_ms = wait;
        if (repeat > 0 && (t.repeat_interval_ms <= 0 || repeat < t.repeat_interval_ms))
            t.repeat_interval_ms = repeat;
        else if (t.repeat_interval_ms < 0)
            t.repeat_interval_ms = 0;
    }
    if (t.group_wait_ms < 0)
        return r->defaults;
    return t;
}

/* The channels msg names itself (a check's alerters); unknown names are logged and skipped. */
static channel_set named_channels(const struct alert_router *r, const struct alert_message *msg)
{
    channel_set set = 0;
    for (size_t i = 0; i < msg->n_channels; i++) {
        int at = channel_index(r, msg->channels[i]);
        if (at >= 0)
            set |= (channel_set)1 << at;
        else
            log_warn("alert: %s names channel \"%s\", which is not configured", msg->name,
                     msg->channels[i]);
    }
    return set;
}

/* The page msg is about, under PUBLIC_URL. */
static void message_link(const struct alert_router *r, const struct alert_message *msg, char *buf,
                         size_t len)
{
    const char *base = r->settings ? r->settings->public_url : NULL;
    buf[0] = '\0';
    if (msg->link)
        snprintf(buf, len, "%s", msg->link);
    else if (base && base[0] && (msg->kind == ALERT_KIND_WORKER || msg->kind == ALERT_KIND_GPU))
        snprintf(buf, len, "%s/admin/api/worker/%s", base, msg->name ? msg->name : "");
    else if (base && base[0] && msg->kind == ALERT_KIND_CHECK)
        snprintf(buf, len, "%s/api/v1/checks/%s", base, msg->name ? msg->name : "");
    else if (base && base[0] && (msg->kind == ALERT_KIND_INCIDENT || msg->kind == ALERT_KIND_FOLLOWUP))
        snprintf(buf, len, "%s/admin/api/rca", base);
    else if (base && base[0])
        snprintf(buf, len, "%s/admin", base);
}

/* The message's fields for the outbox (a new reference), or NULL when out of memory. */
static json_t *message_fields(const struct alert_router *r, const struct alert_message *msg)
{
    char link[512];
    message_link(r, msg, link, sizeof link);
    json_t *labels = json_object();
    for (size_t i = 0; labels && i < msg->n_labels; i++)
        if (msg->labels[i].key && msg->labels[i].value)
            json_object_set_new(labels, msg->labels[i].key, json_string(msg->labels[i].value));
    char created[CLOCK_ISO_LEN];
    clock_format_iso(msg->created_ms ? msg->created_ms : clock_wall_ms(), created, sizeof created);
    return json_pack("{s:s, s:s, s:b, s:s?, s:s?, s:o?, s:s?, s:s?, s:s}", "kind",
                     alert_kind_name(msg->kind), "severity", alert_severity_name(msg->severity),
                     "resolve", msg->resolve, "name", msg->name, "subject", msg->subject,
                     "labels", labels, "link", link[0] ? link : NULL, "dedup_key",
                     msg->dedup_key && msg->dedup_key[0] ? msg->dedup_key : NULL, "time",
                     created);
}

static int batch_reserve(struct alert_batch *b, size_t more)
{
    if (b->n + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 8;
    while (cap < b->n + more)
        cap *= 2;
    struct outbox_record *rows = realloc(b->rows, cap * sizeof *rows);
    if (!rows)
        return -1;
    b->rows = rows;
    struct alert_timing *timing = realloc(b->timing, cap * sizeof *timing);
    if (!timing)
        return -1;
    b->timing = timing;
    b->cap = cap;
    return 0;
}

/* Appends one row of msg per channel in set, with fields (JSON text); -1 when out of memory. */
static int batch_add(const struct alert_router *r, const struct alert_message *msg,
                     const char *fields, channel_set set, struct alert_batch *b)
{
    size_t count = 0;
    for (size_t i = 0; i < r->n_channels; i++)
        count += (set >> i) & 1;
    if (count == 0)
        return 0;
    if (!fields || batch_reserve(b, count) != 0)
        return -1;
    size_t first = b->n;
    for (size_t i = 0; i < r->n_channels; i++) {
        if (!((set >> i) & 1))
            continue;
        struct outbox_record *row = &b->rows[b->n];
        *row = (struct outbox_record){.created_ms = msg->created_ms, .resolve = msg->resolve};
        snprintf(row->channel, sizeof row->channel, "%s", r->channels[i]);
        snprintf(row->dedup_key, sizeof row->dedup_key, "%s", msg->dedup_key ? msg->dedup_key : "");
        row->text = strdup(msg->text ? msg->text : "");
        row->fields_json = strdup(fields);
        b->timing[b->n] = channel_timing(r, msg, i);
        b->n++;
        if (!row->text || !row->fields_json) {
            for (size_t k = first; k < b->n; k++) {
                free((char *)b->rows[k].text);
                free((char *)b->rows[k].fields_json);
            }
            b->n = first;
            return -1;
        }
    }
    return (int)count;
}

/* A problem told on set: its entry (for its resolve) and its reminders. */
static int remember_problem(struct alert_router *r, const struct alert_message *msg,
                            json_t *fields, channel_set set)
{
    struct told *t = told_add(r, msg->dedup_key, set);
    if (!t)
        return -1;
    int64_t now = clock_wall_ms();
    return reminder_set(t, strdup(msg->text ? msg->text : ""), json_incref(fields),
                        msg->created_ms ? msg->created_ms : now, set, now);
}

int alert_route(struct alert_router *r, const struct alert_message *msg, struct alert_batch *batch)
{
    if (!r)
        return 0;
    bool keyed = msg->dedup_key && msg->dedup_key[0];
    channel_set set;
    if (msg->resolve && keyed) {
        set = told_take(r, msg->dedup_key);
    } else {
        if (r->filters.silenced &&
            r->filters.silenced(msg, msg->created_ms ? msg->created_ms : clock_wall_ms(),
                                r->filters.ctx)) {
            batch->silenced++;
            log_info("alert: %s (%s) silenced", msg->subject ? msg->subject : "message",
                     keyed ? msg->dedup_key : "no key");
            return 0;
        }
        set = route_channels(r, msg) | named_channels(r, msg);
        if (!set && r->n_channels > 0)
            log_warn("alert: no route matches %s (%s, %s); not sent",
                     msg->subject ? msg->subject : "a message", alert_kind_name(msg->kind),
                     alert_severity_name(msg->severity));
    }
    json_t *fields = set ? message_fields(r, msg) : NULL;
    char *text = fields ? json_dumps(fields, JSON_COMPACT) : NULL;
    int n = set ? batch_add(r, msg, text, set, batch) : 0;
    if (n > 0 && keyed && !msg->resolve && msg->severity >= ALERT_SEVERITY_WARNING &&
        remember_problem(r, msg, fields, set) != 0)
        n = -1;
    if (n < 0)
        log_error("alert: out of memory addressing %s", keyed ? msg->dedup_key : "a message");
    json_decref(fields);
    free(text);
    return n;
}

/* ---- reminders --------------------------------------------------------------------------- */

/* The message a reminder repeats, as routes and silences see it, from its fields; its labels
 * go into labels (ALERT_LABELS_MAX). */
static struct alert_message reminded_message(const struct told *t, struct label *labels)
{
    json_t *f = t->reminder->fields;
    struct alert_message msg = {.name = json_string_value(json_object_get(f, "name")),
                                .subject = json_string_value(json_object_get(f, "subject")),
                                .dedup_key = t->key,
                                .labels = labels};
    enum alert_kind kind = ALERT_KIND_WORKER;
    enum alert_severity severity = ALERT_SEVERITY_CRITICAL;
    alert_kind_parse(json_string_value(json_object_get(f, "kind")) ?: "", &kind);
    alert_severity_parse(json_string_value(json_object_get(f, "severity")) ?: "", &severity);
    msg.kind = kind;
    msg.severity = severity;
    const char *key;
    json_t *value;
    json_object_foreach(json_object_get(f, "labels"), key, value)
    {
        if (msg.n_labels < ALERT_LABELS_MAX && json_is_string(value))
            labels[msg.n_labels++] = (struct label){key, json_string_value(value)};
    }
    return msg;
}

/* The channels of t whose repeat_interval has passed at now_ms (0: none). */
static channel_set reminder_due(const struct alert_router *r, const struct told *t,
                                const struct alert_message *msg, int64_t now_ms)
{
    channel_set due = 0;
    for (size_t i = 0; i < r->n_channels; i++) {
        if (!((t->channels >> i) & 1))
            continue;
        int64_t every = channel_timing(r, msg, i).repeat_interval_ms;
        if (every > 0 && now_ms - t->reminder->told_ms[i] >= every)
            due |= (channel_set)1 << i;
    }
    return due;
}

/* Appends t's reminder for the channels in due, marked REMINDER with since when. */
static int reminder_add(struct alert_router *r, struct told *t, struct alert_message *msg,
                        channel_set due, int64_t now_ms, struct alert_batch *batch)
{
    struct reminder *rem = t->reminder;
    char since[CLOCK_ISO_LEN];
    clock_format_iso(rem->since_ms, since, sizeof since);
    size_t len = strlen(rem->text) + sizeof since + 32;
    char *text = malloc(len);
    json_t *fields = json_deep_copy(rem->fields);
    char created[CLOCK_ISO_LEN];
    clock_format_iso(now_ms, created, sizeof created);
    json_object_set_new(fields, "reminder", json_true());
    json_object_set_new(fields, "since_ms", json_integer(rem->since_ms));
    json_object_set_new(fields, "time", json_string(created));
    char *fields_text = text && fields ? json_dumps(fields, JSON_COMPACT) : NULL;
    json_decref(fields);
    int n = -1;
    if (fields_text) {
        snprintf(text, len, "REMINDER (since %s): %s", since, rem->text);
        msg->text = text;
        msg->created_ms = now_ms;
        n = batch_add(r, msg, fields_text, due, batch);
    }
    for (size_t i = 0; n > 0 && i < r->n_channels; i++)
        if ((due >> i) & 1)
            rem->told_ms[i] = now_ms;
    free(text);
    free(fields_text);
    return n;
}

int alert_router_remind(struct alert_router *r, int64_t now_ms, struct alert_batch *batch)
{
    int added = 0;
    if (!r || !r->reminds)
        return 0;
    for (size_t b = 0; b < TOLD_BUCKETS; b++)
        for (struct told *t = r->told[b]; t; t = t->next) {
            if (!t->reminder)
                continue;
            struct label labels[ALERT_LABELS_MAX];
            struct alert_message msg = reminded_message(t, labels);
            channel_set due = reminder_due(r, t, &msg, now_ms);
            if (!due || (r->filters.silenced && r->filters.silenced(&msg, now_ms, r->filters.ctx)))
                continue;
            int n = reminder_add(r, t, &msg, due, now_ms, batch);
            if (n < 0) {
                log_error("alert: out of memory reminding of %s", t->key);
                return -1;
            }
            log_info("alert: %s still open, reminded on %d channels", t->key, n);
            added += n;
        }
    return added;
}

void alert_batch_free(struct alert_batch *b)
{
    for (size_t i = 0; b && i < b->n; i++) {
        free((char *)b->rows[i].text);
        free((char *)b->rows[i].fields_json);
    }
    if (b) {
        free(b->rows);
        free(b->timing);
        *b = (struct alert_batch){0};
    }
}
