/* router.c — addresses alert messages to channel instances (router.h). The channels told of
 * each open problem are a bit set per dedup key in a small chained hash table: set when a
 * warning or critical message is addressed, read and dropped by its resolve. */
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

struct told {
    struct told *next;
    channel_set channels;
    char key[]; /* the dedup key */
};

struct alert_router {
    const struct alert_settings *settings;
    const char *const *channels;
    size_t n_channels;
    struct alert_filters filters;
    channel_set *route_sets; /* the channels of each route in settings->routes */
    struct told *told[TOLD_BUCKETS];
    size_t n_told;
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

static int told_add(struct alert_router *r, const char *key, channel_set channels)
{
    struct told **at = told_find(r, key);
    if (*at) {
        (*at)->channels |= channels;
        return 0;
    }
    size_t len = strlen(key);
    struct told *t = malloc(sizeof *t + len + 1);
    if (!t)
        return -1;
    t->next = NULL;
    t->channels = channels;
    memcpy(t->key, key, len + 1);
    *at = t;
    r->n_told++;
    return 0;
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
    free(t);
    r->n_told--;
    return channels;
}

static int channel_index(const struct alert_router *r, const char *name)
{
    for (size_t i = 0; name && i < r->n_channels; i++)
        if (strcmp(r->channels[i], name) == 0)
            return (int)i;
    return -1;
}

/* ---- life -------------------------------------------------------------------------------- */

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
            free(t);
        }
    free(r->route_sets);
    free(r);
}

void alert_router_set_filters(struct alert_router *r, const struct alert_filters *filters)
{
    r->filters = filters ? *filters : (struct alert_filters){0};
}

void alert_router_told(struct alert_router *r, const char *dedup_key, const char *channel)
{
    int i = r ? channel_index(r, channel) : -1;
    if (i >= 0 && dedup_key && dedup_key[0] && told_add(r, dedup_key, (channel_set)1 << i))
        log_error("alert: out of memory restoring who was told of %s", dedup_key);
}

size_t alert_router_open_problems(const struct alert_router *r)
{
    return r ? r->n_told : 0;
}

/* ---- addressing -------------------------------------------------------------------------- */

static const char *label_value(const struct alert_message *msg, const char *key)
{
    for (size_t i = 0; i < msg->n_labels; i++)
        if (msg->labels[i].key && strcmp(msg->labels[i].key, key) == 0)
            return msg->labels[i].value;
    return NULL;
}

static bool route_matches(const struct alert_route_config *route, const struct alert_message *msg)
{
    if (route->kinds && !(route->kinds & (1u << msg->kind)))
        return false;
    if (route->severities && !(route->severities & (1u << msg->severity)))
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
        if (route_matches(&r->settings->routes[i], msg))
            set |= r->route_sets[i];
    return set;
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

/* The message's fields as JSON text for the outbox (malloc'd), or NULL when out of memory. */
static char *message_fields(const struct alert_router *r, const struct alert_message *msg)
{
    char link[512];
    message_link(r, msg, link, sizeof link);
    json_t *labels = json_object();
    for (size_t i = 0; labels && i < msg->n_labels; i++)
        if (msg->labels[i].key && msg->labels[i].value)
            json_object_set_new(labels, msg->labels[i].key, json_string(msg->labels[i].value));
    char created[CLOCK_ISO_LEN];
    clock_format_iso(msg->created_ms ? msg->created_ms : clock_wall_ms(), created, sizeof created);
    json_t *f = json_pack("{s:s, s:s, s:b, s:s?, s:s?, s:o?, s:s?, s:s?, s:s}", "kind",
                          alert_kind_name(msg->kind), "severity",
                          alert_severity_name(msg->severity), "resolve", msg->resolve, "name",
                          msg->name, "subject", msg->subject, "labels", labels, "link",
                          link[0] ? link : NULL, "dedup_key",
                          msg->dedup_key && msg->dedup_key[0] ? msg->dedup_key : NULL, "time",
                          created);
    char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    return text;
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
    b->cap = cap;
    return 0;
}

/* Appends one row per channel in set; -1 when out of memory. */
static int batch_add(const struct alert_router *r, const struct alert_message *msg,
                     channel_set set, struct alert_batch *b)
{
    size_t count = 0;
    for (size_t i = 0; i < r->n_channels; i++)
        count += (set >> i) & 1;
    if (count == 0)
        return 0;
    char *fields = message_fields(r, msg); /* the same for every channel */
    if (!fields || batch_reserve(b, count) != 0) {
        free(fields);
        return -1;
    }
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
        b->n++;
        if (!row->text || !row->fields_json) {
            for (size_t k = first; k < b->n; k++) {
                free((char *)b->rows[k].text);
                free((char *)b->rows[k].fields_json);
            }
            b->n = first;
            free(fields);
            return -1;
        }
    }
    free(fields);
    return (int)count;
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
        if (keyed && !msg->resolve && msg->severity >= ALERT_SEVERITY_WARNING && set &&
            told_add(r, msg->dedup_key, set) != 0) {
            log_error("alert: out of memory addressing %s", msg->dedup_key);
            return -1;
        }
    }
    int n = batch_add(r, msg, set, batch);
    if (n < 0)
        log_error("alert: out of memory addressing %s", keyed ? msg->dedup_key : "a message");
    return n;
}

void alert_batch_free(struct alert_batch *b)
{
    for (size_t i = 0; b && i < b->n; i++) {
        free((char *)b->rows[i].text);
        free((char *)b->rows[i].fields_json);
    }
    if (b) {
        free(b->rows);
        *b = (struct alert_batch){0};
    }
}
