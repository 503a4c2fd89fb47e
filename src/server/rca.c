/* rca.c — the correlation engine (see rca.h): incidents as a list ordered by id, each with the
 * workers that joined it in order of DOWN. Classification is recomputed from those workers on
 * every change; the JSON the store keeps is rebuilt for every report, and holds everything
 * rca_restore needs to carry on after a restart. */
#include "server/rca.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/format.h"
#include "base/clock.h"

#define KEY_MAX (RCA_SITE_MAX + RCA_IP_MAX + 16)
#define PREFIX_MAX (RCA_IP_MAX + 4)
#define REASON_MAX 256

struct worker {
    char name[RCA_NAME_MAX + 1];
    char ip[RCA_IP_MAX]; /* normalised; "" when unknown */
    char site[RCA_SITE_MAX + 1];
    char prefix[PREFIX_MAX]; /* "203.0.113.0/24", "2001:db8:1::/48"; "" when ip unknown */
    char key[KEY_MAX];       /* "site:fra1", "net:203.0.113.0/24", "net:unknown" */
    int64_t down_ms;
    int64_t up_ms;     /* 0 while not back */
    bool unreachable;  /* handed over by the server, never counted as down */
    bool down_message; /* its per-worker DOWN text was due */
};

struct incident {
    struct incident *next;
    int64_t id;
    enum rca_class cls;
    enum rca_class told_cls; /* as last announced */
    int told_workers;        /* workers when last announced */
    bool announced;
    bool canary_driven; /* the canaries failed during it: class server */
    int64_t opened_ms, updated_ms, closed_ms;
    int64_t window_end_ms;  /* takes new workers before this; INT64_MAX while canaries fail */
    int64_t announce_at_ms; /* 0: not yet known (no worker) or announced */
    int64_t canaries_ok_ms; /* canary_driven: when they recovered, 0 while failing */
    bool dirty;             /* changed since last reported: UPDATED is due at save_at_ms */
    int64_t save_at_ms;
    int fleet;
    json_t *canary_evidence; /* owned; NULL if none */
    char rule[32];
    char reason[REASON_MAX];
    struct worker *workers;
    size_t n_workers, cap_workers;
};

struct rca {
    struct rca_config cfg;
    int64_t next_id;
    rca_change_cb cb;
    void *ctx;
    struct incident *incidents; /* open ones, by id */
    bool canaries_failing;
    int64_t canaries_since_ms;
    json_t *canary_evidence; /* owned; the latest */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *const class_names[] = {"individual", "network", "widespread", "server"};
static const char *const change_names[] = {"opened", "grew", "reclassified", "closed", "updated"};

const char *rca_class_name(enum rca_class cls)
{
    return (unsigned)cls < 4 ? class_names[cls] : "unknown";
}

int rca_class_parse(const char *name, enum rca_class *out)
{
    for (int i = 0; name && i < 4; i++) {
        if (strcmp(name, class_names[i]) == 0) {
            *out = (enum rca_class)i;
            return 0;
        }
    }
    return -1;
}

const char *rca_change_name(enum rca_change change)
{
    return (unsigned)change < 5 ? change_names[change] : "unknown";
}

/* Most serious first when the analysis picks one class for the whole fleet. */
static int class_rank(enum rca_class cls)
{
    return (int)cls; /* individual < network < widespread < server */
}

/* ---- addresses and groups ------------------------------------------------------------------ */

/* Normalises ip (an IPv4-mapped IPv6 address becomes IPv4) and writes its /24 or /48 prefix.
 * Returns 0, or -1 when ip is not an address. */
static int ip_prefix(const char *ip, char norm[RCA_IP_MAX], char prefix[PREFIX_MAX])
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1) {
        snprintf(norm, RCA_IP_MAX, "%s", ip);
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, sizeof mapped) == 0) {
            memmove(a, a + 12, 4);
            inet_ntop(AF_INET, a, norm, RCA_IP_MAX);
        } else {
            inet_ntop(AF_INET6, a, norm, RCA_IP_MAX);
            memset(a + 6, 0, 10);
            char net[RCA_IP_MAX];
            inet_ntop(AF_INET6, a, net, sizeof net);
            snprintf(prefix, PREFIX_MAX, "%s/48", net);
            return 0;
        }
    } else {
        return -1;
    }
    a[3] = 0;
    char net[RCA_IP_MAX];
    inet_ntop(AF_INET, a, net, sizeof net);
    snprintf(prefix, PREFIX_MAX, "%s/24", net);
    return 0;
}

/* Checks and copies a worker's identity into w (times left alone). */
static int worker_identity(struct worker *w, const char *name, const char *ip, const char *site,
                           char *err, size_t errlen)
{
    ip = ip ? ip : "";
    site = site ? site : "";
    if (!name || !name[0] || strlen(name) > RCA_NAME_MAX) {
        set_err(err, errlen, "rca: worker name \"%.80s\" must be 1..%d characters",
                name ? name : "", RCA_NAME_MAX);
        return -1;
    }
    if (strlen(site) > RCA_SITE_MAX) {
        set_err(err, errlen, "rca: site of %s is longer than %d characters", name, RCA_SITE_MAX);
        return -1;
    }
    char norm[RCA_IP_MAX] = "", prefix[PREFIX_MAX] = "";
    if (ip[0] && (strlen(ip) >= RCA_IP_MAX || ip_prefix(ip, norm, prefix) != 0)) {
        set_err(err, errlen, "rca: ip \"%.80s\" of %s is not an IPv4 or IPv6 address", ip, name);
        return -1;
    }
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->site, sizeof w->site, "%s", site);
    snprintf(w->ip, sizeof w->ip, "%s", norm);
    snprintf(w->prefix, sizeof w->prefix, "%s", prefix);
    if (site[0])
        snprintf(w->key, sizeof w->key, "site:%s", site);
    else
        snprintf(w->key, sizeof w->key, "net:%s", prefix[0] ? prefix : "unknown");
    return 0;
}

struct group {
    const struct worker *first; /* key and site come from it */
    size_t count;
};

/* The workers of one incident, grouped by key in order of first appearance. */
struct grouping {
    struct group *groups;
    size_t n_groups;
    size_t largest;  /* index of the biggest group (the earliest among equals) */
    size_t two_plus; /* groups with >= 2 workers */
    int sites, networks;
};

static void grouping_free(struct grouping *g)
{
    free(g->groups);
    *g = (struct grouping){0};
}

static int group_workers(const struct incident *inc, struct grouping *g)
{
    *g = (struct grouping){0};
    g->groups = calloc(inc->n_workers ? inc->n_workers : 1, sizeof *g->groups);
    json_t *index = json_object();
    if (!g->groups || !index) {
        free(g->groups);
        json_decref(index);
        return -1;
    }
    for (size_t i = 0; i < inc->n_workers; i++) {
        const struct worker *w = &inc->workers[i];
        json_t *at = json_object_get(index, w->key);
        size_t gi = at ? (size_t)json_integer_value(at) : g->n_groups;
        if (!at) {
            json_object_set_new(index, w->key, json_integer((json_int_t)gi));
            g->groups[g->n_groups++] = (struct group){.first = w};
            if (w->site[0])
                g->sites++;
            else
                g->networks++;
        }
        g->groups[gi].count++;
    }
    json_decref(index);
    for (size_t i = 0; i < g->n_groups; i++) {
        if (g->groups[i].count > g->groups[g->largest].count)
            g->largest = i;
        if (g->groups[i].count >= 2)
            g->two_plus++;
    }
    return 0;
}

/* "site fra1" or "203.0.113.0/24", for reasons. */
static const char *group_place(const struct group *grp, char *buf, size_t buflen)
{
    if (grp->first->site[0])
        snprintf(buf, buflen, "site %s", grp->first->site);
    else
        snprintf(buf, buflen, "%s", grp->first->prefix[0] ? grp->first->prefix : "no address");
    return buf;
}

/* ---- classification ------------------------------------------------------------------------ */

static void classify(const struct rca_config *cfg, struct incident *inc, const struct grouping *g)
{
    int n = (int)inc->n_workers;
    int t = cfg->threshold;
    size_t big = g->n_groups ? g->groups[g->largest].count : 0;
    char place[KEY_MAX];
    if (inc->canary_driven) {
        inc->cls = RCA_SERVER;
        snprintf(inc->rule, sizeof inc->rule, "canaries");
        snprintf(inc->reason, sizeof inc->reason,
                 "the monitor's own canary probes failed during the incident");
    } else if (n >= t && inc->fleet > 0 && (double)n >= cfg->server_fraction * inc->fleet) {
        inc->cls = RCA_SERVER;
        snprintf(inc->rule, sizeof inc->rule, "fleet_fraction");
        snprintf(inc->reason, sizeof inc->reason,
                 "%d of %d monitored workers went down at once (at least %d and %g%%)", n,
                 inc->fleet, t, cfg->server_fraction * 100.0);
    } else if (n >= t && g->two_plus >= 2) {
        inc->cls = RCA_WIDESPREAD;
        snprintf(inc->rule, sizeof inc->rule, "groups_with_2_or_more");
        snprintf(inc->reason, sizeof inc->reason,
                 "%d workers down in %zu groups; %zu groups have 2 or more", n, g->n_groups,
                 g->two_plus);
    } else if (n >= t && big < (size_t)t) {
        inc->cls = RCA_WIDESPREAD;
        snprintf(inc->rule, sizeof inc->rule, "spread");
        snprintf(inc->reason, sizeof inc->reason,
                 "%d workers down in %zu groups, none with %d or more", n, g->n_groups, t);
    } else if (big >= (size_t)t) {
        inc->cls = RCA_NETWORK;
        snprintf(inc->rule, sizeof inc->rule, "shared_group");
        snprintf(inc->reason, sizeof inc->reason, "%zu of %d workers down share %s (threshold %d)",
                 big, n, group_place(&g->groups[g->largest], place, sizeof place), t);
    } else {
        inc->cls = RCA_INDIVIDUAL;
        snprintf(inc->rule, sizeof inc->rule, "below_threshold");
        snprintf(inc->reason, sizeof inc->reason,
                 "%d worker%s down, fewer than %d in any one place", n, n == 1 ? "" : "s", t);
    }
}

/* The group that defines a network incident's scope, or NULL for other classes. */
static const struct group *scope_group(const struct incident *inc, const struct grouping *g)
{
    return inc->cls == RCA_NETWORK && g->n_groups ? &g->groups[g->largest] : NULL;
}

/* ---- worker and incident state ------------------------------------------------------------- */

/* The canaries still hold it open: it needs them to recover before it can close. */
static bool canaries_hold(const struct incident *inc)
{
    return inc->canary_driven && inc->canaries_ok_ms == 0;
}

/* Not back yet, and not an unreachable worker the canaries have released. */
static bool worker_out(const struct incident *inc, const struct worker *w)
{
    return w->up_ms == 0 && (!w->unreachable || canaries_hold(inc));
}

static void incident_counts(const struct incident *inc, int *down, int *unreachable)
{
    *down = *unreachable = 0;
    for (size_t i = 0; i < inc->n_workers; i++) {
        const struct worker *w = &inc->workers[i];
        if (w->unreachable)
            (*unreachable)++;
        else if (w->up_ms == 0)
            (*down)++;
    }
}

static bool incident_done(const struct incident *inc)
{
    if (canaries_hold(inc))
        return false;
    if (inc->n_workers == 0)
        return inc->canary_driven;
    for (size_t i = 0; i < inc->n_workers; i++) {
        if (worker_out(inc, &inc->workers[i]))
            return false;
    }
    return true;
}

static void incident_free(struct incident *inc)
{
    if (!inc)
        return;
    json_decref(inc->canary_evidence);
    free(inc->workers);
    free(inc);
}

/* The open incident that takes new workers at now_ms: the newest, while its window is open. */
static struct incident *accepting(struct rca *rca, int64_t now_ms)
{
    struct incident *last = rca->incidents;
    while (last && last->next)
        last = last->next;
    return last && now_ms < last->window_end_ms ? last : NULL;
}

/* Where name is out (not back) in an open incident, newest first. */
static struct worker *find_out(struct rca *rca, const char *name, struct incident **in)
{
    struct worker *found = NULL;
    for (struct incident *inc = rca->incidents; inc; inc = inc->next) {
        for (size_t i = 0; i < inc->n_workers; i++) {
            if (strcmp(inc->workers[i].name, name) == 0 && worker_out(inc, &inc->workers[i])) {
                found = &inc->workers[i];
                *in = inc;
            }
        }
    }
    return found;
}

static struct worker *find_in(struct incident *inc, const char *name)
{
    for (size_t i = 0; i < inc->n_workers; i++) {
        if (strcmp(inc->workers[i].name, name) == 0)
            return &inc->workers[i];
    }
    return NULL;
}

static struct worker *add_worker(struct incident *inc)
{
    if (inc->n_workers == inc->cap_workers) {
        size_t cap = inc->cap_workers ? inc->cap_workers * 2 : 8;
        struct worker *grown = realloc(inc->workers, cap * sizeof *grown);
        if (!grown)
            return NULL;
        inc->workers = grown;
        inc->cap_workers = cap;
    }
    struct worker *w = &inc->workers[inc->n_workers++];
    memset(w, 0, sizeof *w);
    return w;
}

static void insert_incident(struct rca *rca, struct incident *inc)
{
    struct incident **at = &rca->incidents;
    while (*at && (*at)->id < inc->id)
        at = &(*at)->next;
    inc->next = *at;
    *at = inc;
}

static void unlink_incident(struct rca *rca, struct incident *inc)
{
    for (struct incident **at = &rca->incidents; *at; at = &(*at)->next) {
        if (*at == inc) {
            *at = inc->next;
            return;
        }
    }
}

static struct incident *open_incident(struct rca *rca, int64_t now_ms)
{
    struct incident *inc = calloc(1, sizeof *inc);
    if (!inc)
        return NULL;
    inc->id = rca->next_id++;
    inc->opened_ms = inc->updated_ms = now_ms;
    inc->window_end_ms = now_ms + rca->cfg.window_ms;
    insert_incident(rca, inc);
    return inc;
}

/* ---- what the store keeps ------------------------------------------------------------------ */

static json_t *iso_or_null(int64_t ms)
{
    if (ms == 0)
        return json_null();
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

/* Adds s to the ordered set (an object used for its keys); "" is left out. */
static void set_add(json_t *set, const char *s)
{
    if (s[0])
        json_object_set_new(set, s, json_true());
}

static json_t *set_to_array(json_t *set)
{
    json_t *arr = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(set, key, value) json_array_append_new(arr, json_string(key));
    json_decref(set);
    return arr;
}

/* "behind 203.0.113.7 (site fra1)", "behind 203.0.113.0/24", "at site fra1". */
static void scope_label(const struct incident *inc, const struct group *grp, char *buf,
                        size_t buflen)
{
    json_t *ips = json_object(), *prefixes = json_object();
    for (size_t i = 0; i < inc->n_workers; i++) {
        const struct worker *w = &inc->workers[i];
        if (strcmp(w->key, grp->first->key) == 0) {
            set_add(ips, w->ip);
            set_add(prefixes, w->prefix);
        }
    }
    char addr[PREFIX_MAX + 32] = "";
    if (json_object_size(ips) == 1)
        snprintf(addr, sizeof addr, "behind %s", json_object_iter_key(json_object_iter(ips)));
    else if (json_object_size(prefixes) == 1)
        snprintf(addr, sizeof addr, "behind %s", json_object_iter_key(json_object_iter(prefixes)));
    else if (json_object_size(ips) > 1)
        snprintf(addr, sizeof addr, "behind %zu addresses", json_object_size(ips));
    const char *site = grp->first->site;
    if (addr[0] && site[0])
        snprintf(buf, buflen, "%s (site %s)", addr, site);
    else if (site[0])
        snprintf(buf, buflen, "at site %s", site);
    else
        snprintf(buf, buflen, "%s", addr[0] ? addr : "with no known address");
    json_decref(ips);
    json_decref(prefixes);
}

/* Groups as JSON, built in one pass: groups_add each worker to by_key (an object key -> group,
 * whose "ips" and "prefixes" are ordered sets while building), then groups_finish. */
static void groups_add(json_t *by_key, const struct worker *w)
{
    json_t *grp = json_object_get(by_key, w->key);
    if (!grp) {
        grp = json_pack("{s:s, s:s?, s:o, s:o, s:i, s:o}", "key", w->key, "site",
                        w->site[0] ? w->site : NULL, "ips", json_object(), "prefixes",
                        json_object(), "workers", 0, "names", json_array());
        json_object_set_new(by_key, w->key, grp);
    }
    set_add(json_object_get(grp, "ips"), w->ip);
    set_add(json_object_get(grp, "prefixes"), w->prefix);
    json_t *count = json_object_get(grp, "workers");
    json_integer_set(count, json_integer_value(count) + 1);
    json_array_append_new(json_object_get(grp, "names"), json_string(w->name));
}

/* [{"key","site","ips","prefixes","workers","names"}] in order of first worker; frees by_key. */
static json_t *groups_finish(json_t *by_key)
{
    json_t *arr = json_array();
    const char *key;
    json_t *grp;
    json_object_foreach(by_key, key, grp)
    {
        json_object_set_new(grp, "ips", set_to_array(json_incref(json_object_get(grp, "ips"))));
        json_object_set_new(grp, "prefixes",
                            set_to_array(json_incref(json_object_get(grp, "prefixes"))));
        json_array_append(arr, grp);
    }
    json_decref(by_key);
    return arr;
}

static json_t *scope_json(const struct incident *inc, const struct grouping *g, const char *label)
{
    const struct group *at_fault = scope_group(inc, g);
    json_t *ips = json_object(), *prefixes = json_object(), *sites = json_object();
    for (size_t i = 0; i < inc->n_workers; i++) {
        const struct worker *w = &inc->workers[i];
        if (at_fault && strcmp(w->key, at_fault->first->key) != 0)
            continue;
        set_add(ips, w->ip);
        set_add(prefixes, w->prefix);
        set_add(sites, w->site);
    }
    json_t *by_key = json_object();
    for (size_t i = 0; i < inc->n_workers; i++)
        groups_add(by_key, &inc->workers[i]);
    json_t *groups = groups_finish(by_key);
    json_t *scope =
        json_pack("{s:s, s:o, s:o, s:o, s:o}", "label", label, "ips", set_to_array(ips), "prefixes",
                  set_to_array(prefixes), "sites", set_to_array(sites), "groups", groups);
    if (scope && at_fault)
        json_object_set_new(scope, "group", json_string(at_fault->first->key));
    return scope;
}

static json_t *workers_json(const struct incident *inc)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < inc->n_workers; i++) {
        const struct worker *w = &inc->workers[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:b}", "name",
                                             w->name, "ip", w->ip, "site", w->site, "group", w->key,
                                             "down_at", iso_or_null(w->down_ms), "up_at",
                                             iso_or_null(w->up_ms), "unreachable", w->unreachable,
                                             "down_message", w->down_message));
    }
    return arr;
}

static json_t *evidence_json(const struct rca *rca, const struct incident *inc,
                             const struct grouping *g)
{
    int down, unreachable;
    incident_counts(inc, &down, &unreachable);
    int back = (int)inc->n_workers - down - unreachable;
    json_t *largest = g->n_groups ? json_pack("{s:s, s:i}", "key", g->groups[g->largest].first->key,
                                              "workers", (int)g->groups[g->largest].count)
                                  : json_null();
    json_t *ev = json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:i, s:i, s:f, s:I, s:I}", "rule", inc->rule,
        "reason", inc->reason, "workers", (int)inc->n_workers, "down", (int)down, "back", (int)back,
        "unreachable", (int)unreachable, "fleet", (int)inc->fleet, "groups", (int)g->n_groups,
        "largest_group", largest, "groups_with_2_or_more", (int)g->two_plus, "threshold",
        (int)rca->cfg.threshold, "server_fraction", rca->cfg.server_fraction, "window_ms",
        (json_int_t)rca->cfg.window_ms, "hold_ms", (json_int_t)rca->cfg.hold_ms);
    if (!ev)
        return NULL;
    json_object_set_new(ev, "canary_driven", json_boolean(inc->canary_driven));
    json_object_set_new(ev, "canaries",
                        inc->canary_evidence ? json_incref(inc->canary_evidence) : json_null());
    json_object_set_new(ev, "canaries_ok_at", iso_or_null(inc->canaries_ok_ms));
    json_object_set_new(ev, "announced", json_boolean(inc->announced));
    json_object_set_new(ev, "announced_classification",
                        inc->announced ? json_string(rca_class_name(inc->told_cls)) : json_null());
    json_object_set_new(ev, "announced_workers", json_integer(inc->told_workers));
    return ev;
}

/* ---- reporting ----------------------------------------------------------------------------- */

static char *dump(json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(value);
    return text;
}

/* Hands one change to the callback, with the incident's JSON and texts built for it.
 * notify_down lists the names whose per-worker DOWN text is due (borrowed). */
static void report(struct rca *rca, struct incident *inc, enum rca_change change,
                   enum rca_class previous_class, int previous_workers,
                   const char *const *notify_down, size_t n_notify_down)
{
    if (change != RCA_RECLASSIFIED)
        previous_class = inc->cls;
    if (change != RCA_GREW)
        previous_workers = (int)inc->n_workers;
    struct grouping g;
    if (group_workers(inc, &g) != 0)
        return;
    const struct group *at_fault = scope_group(inc, &g);
    char label[PREFIX_MAX + RCA_SITE_MAX + 64] = "";
    if (at_fault)
        scope_label(inc, at_fault, label, sizeof label);
    char *scope = dump(scope_json(inc, &g, label));
    char *workers = dump(workers_json(inc));
    char *evidence = dump(evidence_json(rca, inc, &g));
    const char **names = calloc(inc->n_workers ? inc->n_workers : 1, sizeof *names);
    if (!scope || !workers || !evidence || !names)
        goto out;
    size_t n_names = 0;
    for (size_t i = 0; i < inc->n_workers; i++) {
        if (!at_fault || strcmp(inc->workers[i].key, at_fault->first->key) == 0)
            names[n_names++] = inc->workers[i].name;
    }
    for (size_t i = 0; at_fault && i < inc->n_workers; i++) {
        if (strcmp(inc->workers[i].key, at_fault->first->key) != 0)
            names[n_names++] = inc->workers[i].name;
    }
    int down, unreachable;
    incident_counts(inc, &down, &unreachable);
    struct alert_incident alert = {
        .id = inc->id,
        .classification = rca_class_name(inc->cls),
        .previous_classification =
            change == RCA_RECLASSIFIED ? rca_class_name(previous_class) : NULL,
        .workers = (int)inc->n_workers,
        .previous_workers = previous_workers,
        .scope_workers = at_fault ? (int)at_fault->count : (int)inc->n_workers,
        .scope = label,
        .sites = g.sites,
        .networks = g.networks,
        .fleet = inc->fleet,
        .canaries_failing = inc->canary_driven,
        .names = names,
        .n_names = n_names,
        .opened_ms = inc->opened_ms,
        .closed_ms = inc->closed_ms,
    };
    struct rca_incident_view view = {
        .id = inc->id,
        .classification = inc->cls,
        .previous_class = previous_class,
        .announced = inc->announced,
        .opened_ms = inc->opened_ms,
        .updated_ms = inc->updated_ms,
        .closed_ms = inc->closed_ms,
        .workers = (int)inc->n_workers,
        .down = down,
        .unreachable = unreachable,
        .previous_workers = previous_workers,
        .scope_json = scope,
        .workers_json = workers,
        .evidence_json = evidence,
        .notify_down = notify_down,
        .n_notify_down = n_notify_down,
        .alert = &alert,
    };
    inc->dirty = false;
    rca->cb(change, &view, rca->ctx);
out:
    free(names);
    free(scope);
    free(workers);
    free(evidence);
    grouping_free(&g);
}

/* A change with nothing to tell: reported now, or with others at most save_delay_ms later. */
static void mark_updated(struct rca *rca, struct incident *inc)
{
    if (rca->cfg.save_delay_ms == 0) {
        report(rca, inc, RCA_UPDATED, inc->told_cls, inc->told_workers, NULL, 0);
    } else if (!inc->dirty) {
        inc->dirty = true;
        inc->save_at_ms = inc->updated_ms + rca->cfg.save_delay_ms;
    }
}

static void reclassify(struct rca *rca, struct incident *inc)
{
    struct grouping g;
    if (group_workers(inc, &g) != 0)
        return;
    classify(&rca->cfg, inc, &g);
    grouping_free(&g);
}

/* First message after the hold. For an individual incident, every worker that is out gets its
 * per-worker DOWN text now. */
static void announce(struct rca *rca, struct incident *inc, int64_t now_ms)
{
    const char **notify = calloc(inc->n_workers ? inc->n_workers : 1, sizeof *notify);
    size_t n_notify = 0;
    for (size_t i = 0; notify && inc->cls == RCA_INDIVIDUAL && i < inc->n_workers; i++) {
        struct worker *w = &inc->workers[i];
        if (!w->unreachable && w->up_ms == 0 && !w->down_message) {
            w->down_message = true;
            notify[n_notify++] = w->name;
        }
    }
    inc->announced = true;
    inc->announce_at_ms = 0;
    inc->told_cls = inc->cls;
    inc->told_workers = (int)inc->n_workers;
    inc->updated_ms = now_ms;
    report(rca, inc, RCA_OPENED, inc->cls, (int)inc->n_workers, notify, n_notify);
    free(notify);
}

/* Closes it (reporting CLOSED and freeing it) when all its workers are back; otherwise
 * reports UPDATED. */
static void close_or_update(struct rca *rca, struct incident *inc, int64_t now_ms)
{
    inc->updated_ms = now_ms;
    if (!incident_done(inc)) {
        mark_updated(rca, inc);
        return;
    }
    inc->closed_ms = now_ms;
    inc->announce_at_ms = 0;
    report(rca, inc, RCA_CLOSED, inc->cls, (int)inc->n_workers, NULL, 0);
    unlink_incident(rca, inc);
    incident_free(inc);
}

static bool grew_a_lot(const struct incident *inc)
{
    int now = (int)inc->n_workers, told = inc->told_workers;
    return now - told >= 2 && 2 * (int64_t)now >= 3 * (int64_t)told;
}

/* After a worker joined (w) or the class may have changed (w NULL): the one report due. */
static void after_change(struct rca *rca, struct incident *inc, struct worker *w, int64_t now_ms)
{
    reclassify(rca, inc);
    inc->updated_ms = now_ms;
    if (!inc->announced) {
        if (inc->announce_at_ms == 0 && inc->n_workers > 0)
            inc->announce_at_ms = inc->workers[0].down_ms + rca->cfg.hold_ms;
        if (inc->announce_at_ms != 0 && now_ms >= inc->announce_at_ms)
            announce(rca, inc, now_ms);
        else
            mark_updated(rca, inc);
        return;
    }
    enum rca_class told = inc->told_cls;
    int told_workers = inc->told_workers;
    if (inc->cls != told) {
        inc->told_cls = inc->cls;
        inc->told_workers = (int)inc->n_workers;
        report(rca, inc, RCA_RECLASSIFIED, told, told_workers, NULL, 0);
    } else if (inc->cls == RCA_INDIVIDUAL && w && !w->unreachable && !w->down_message) {
        w->down_message = true;
        const char *name = w->name;
        report(rca, inc, RCA_UPDATED, told, told_workers, &name, 1);
    } else if (inc->cls != RCA_INDIVIDUAL && grew_a_lot(inc)) {
        inc->told_workers = (int)inc->n_workers;
        report(rca, inc, RCA_GREW, told, told_workers, NULL, 0);
    } else {
        mark_updated(rca, inc);
    }
}

/* ---- the public interface ------------------------------------------------------------------ */

bool rca_message(enum rca_change change, const struct rca_incident_view *inc, char *buf,
                 size_t buflen)
{
    if (buflen > 0)
        buf[0] = '\0';
    if (inc->classification == RCA_INDIVIDUAL || !inc->announced)
        return false;
    switch (change) {
    case RCA_OPENED:
        alert_format_incident_opened(inc->alert, buf, buflen);
        return true;
    case RCA_GREW:
        alert_format_incident_grew(inc->alert, buf, buflen);
        return true;
    case RCA_RECLASSIFIED:
        alert_format_incident_reclassified(inc->alert, buf, buflen);
        return true;
    case RCA_CLOSED:
        alert_format_incident_closed(inc->alert, buf, buflen);
        return true;
    case RCA_UPDATED:
        break;
    }
    return false;
}

int rca_new(const struct rca_config *cfg, int64_t first_id, rca_change_cb cb, void *ctx,
            struct rca **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->window_ms < 0 || cfg->hold_ms < 0 || cfg->save_delay_ms < 0) {
        set_err(err, errlen,
                "rca: window_ms (%lld), hold_ms (%lld) and save_delay_ms (%lld) must be >= 0",
                (long long)cfg->window_ms, (long long)cfg->hold_ms, (long long)cfg->save_delay_ms);
        return -1;
    }
    if (cfg->threshold < 1) {
        set_err(err, errlen, "rca: threshold %d must be >= 1", cfg->threshold);
        return -1;
    }
    if (!(cfg->server_fraction > 0.0 && cfg->server_fraction <= 1.0)) {
        set_err(err, errlen, "rca: server_fraction %g must be in (0, 1]", cfg->server_fraction);
        return -1;
    }
    if (!cb || first_id < 1) {
        set_err(err, errlen, "rca: a callback and a first id >= 1 are required (got %lld)",
                (long long)first_id);
        return -1;
    }
    struct rca *rca = calloc(1, sizeof *rca);
    if (!rca) {
        set_err(err, errlen, "rca: out of memory");
        return -1;
    }
    *rca = (struct rca){.cfg = *cfg, .next_id = first_id, .cb = cb, .ctx = ctx};
    *out = rca;
    return 0;
}

void rca_free(struct rca *rca)
{
    if (!rca)
        return;
    while (rca->incidents) {
        struct incident *next = rca->incidents->next;
        incident_free(rca->incidents);
        rca->incidents = next;
    }
    json_decref(rca->canary_evidence);
    free(rca);
}

/* The common path of a DOWN and of an unreachable hand-over. */
static int worker_joins(struct rca *rca, const char *name, const char *ip, const char *site,
                        int fleet, int64_t now_ms, bool unreachable, char *err, size_t errlen)
{
    struct worker id = {0};
    if (worker_identity(&id, name, ip, site, err, errlen) != 0)
        return -1;
    struct incident *in;
    if (find_out(rca, id.name, &in))
        return 0;
    struct incident *inc = accepting(rca, now_ms);
    bool opened = !inc;
    if (opened && !(inc = open_incident(rca, now_ms))) {
        set_err(err, errlen, "rca: out of memory");
        return -1;
    }
    struct worker *w = find_in(inc, id.name);
    if (!w && !(w = add_worker(inc))) {
        if (opened) {
            unlink_incident(rca, inc);
            incident_free(inc);
        }
        set_err(err, errlen, "rca: out of memory");
        return -1;
    }
    *w = id;
    w->down_ms = now_ms;
    w->unreachable = unreachable;
    if (fleet > 0)
        inc->fleet = fleet;
    if (unreachable && !inc->canary_driven) {
        inc->canary_driven = true;
        inc->window_end_ms = INT64_MAX;
    }
    after_change(rca, inc, w, now_ms);
    return 0;
}

int rca_worker_down(struct rca *rca, const char *name, const char *ip, const char *site, int fleet,
                    int64_t now_ms, char *err, size_t errlen)
{
    return worker_joins(rca, name, ip, site, fleet, now_ms, false, err, errlen);
}

int rca_worker_unreachable(struct rca *rca, const char *name, const char *ip, const char *site,
                           int fleet, int64_t now_ms, char *err, size_t errlen)
{
    if (!rca->canaries_failing) {
        set_err(err, errlen, "rca: %s handed over as unreachable, but the canaries are not failing",
                name ? name : "");
        return -1;
    }
    return worker_joins(rca, name, ip, site, fleet, now_ms, true, err, errlen);
}

bool rca_worker_up(struct rca *rca, const char *name, int64_t now_ms)
{
    struct incident *inc;
    struct worker *w = name ? find_out(rca, name, &inc) : NULL;
    if (!w)
        return true;
    if (!inc->announced && inc->n_workers > 0)
        announce(rca, inc, now_ms);
    w->up_ms = now_ms;
    bool send_up = w->down_message && !w->unreachable;
    close_or_update(rca, inc, now_ms);
    return send_up;
}

static int parse_evidence(const char *text, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!text)
        return 0;
    json_error_t jerr;
    *out = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!*out) {
        set_err(err, errlen, "rca: canary evidence is not JSON: %s", jerr.text);
        return -1;
    }
    return 0;
}

int rca_canaries(struct rca *rca, bool failing, const char *evidence_json, int64_t now_ms,
                 char *err, size_t errlen)
{
    json_t *evidence;
    if (parse_evidence(evidence_json, &evidence, err, errlen) != 0)
        return -1;
    if (evidence) {
        json_decref(rca->canary_evidence);
        rca->canary_evidence = evidence;
    }
    if (failing == rca->canaries_failing)
        return 0;
    rca->canaries_failing = failing;
    rca->canaries_since_ms = now_ms;
    if (failing) {
        struct incident *inc = accepting(rca, now_ms);
        if (!inc && !(inc = open_incident(rca, now_ms))) {
            set_err(err, errlen, "rca: out of memory");
            return -1;
        }
        inc->canary_driven = true;
        inc->canaries_ok_ms = 0;
        inc->window_end_ms = INT64_MAX;
        json_decref(inc->canary_evidence);
        inc->canary_evidence = json_incref(rca->canary_evidence);
        after_change(rca, inc, NULL, now_ms);
        return 0;
    }
    struct incident *next;
    for (struct incident *inc = rca->incidents; inc; inc = next) {
        next = inc->next;
        if (!canaries_hold(inc))
            continue;
        inc->canaries_ok_ms = now_ms;
        inc->window_end_ms = now_ms;
        close_or_update(rca, inc, now_ms);
    }
    return 0;
}

void rca_tick(struct rca *rca, int64_t now_ms)
{
    for (struct incident *inc = rca->incidents; inc; inc = inc->next) {
        if (!inc->announced && inc->announce_at_ms != 0 && now_ms >= inc->announce_at_ms)
            announce(rca, inc, now_ms);
        else if (inc->dirty && now_ms >= inc->save_at_ms)
            report(rca, inc, RCA_UPDATED, inc->told_cls, inc->told_workers, NULL, 0);
    }
}

void rca_flush(struct rca *rca)
{
    for (struct incident *inc = rca->incidents; inc; inc = inc->next) {
        if (inc->dirty)
            report(rca, inc, RCA_UPDATED, inc->told_cls, inc->told_workers, NULL, 0);
    }
}

int64_t rca_next_deadline(const struct rca *rca)
{
    int64_t next = RCA_NO_DEADLINE;
    for (const struct incident *inc = rca->incidents; inc; inc = inc->next) {
        if (!inc->announced && inc->announce_at_ms != 0 && inc->announce_at_ms < next)
            next = inc->announce_at_ms;
        if (inc->dirty && inc->save_at_ms < next)
            next = inc->save_at_ms;
    }
    return next;
}

size_t rca_open_count(const struct rca *rca)
{
    size_t n = 0;
    for (const struct incident *inc = rca->incidents; inc; inc = inc->next)
        n++;
    return n;
}

/* ---- restore ------------------------------------------------------------------------------- */

static int restore_time(json_t *obj, const char *field, size_t index, bool nullable, int64_t *out,
                        char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, field);
    *out = 0;
    if (nullable && (!v || json_is_null(v)))
        return 0;
    if (!json_is_string(v) || clock_parse_iso(json_string_value(v), out) != 0) {
        set_err(err, errlen, "rca: workers[%zu].%s must be an ISO 8601 time%s", index, field,
                nullable ? " or null" : "");
        return -1;
    }
    return 0;
}

static const char *restore_string(json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    return json_is_string(v) ? json_string_value(v) : "";
}

static int restore_workers(struct incident *inc, const char *text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *arr = json_loads(text ? text : "[]", 0, &jerr);
    if (!json_is_array(arr)) {
        set_err(err, errlen, "rca: workers must be a JSON array (%s)",
                arr ? "got another value" : jerr.text);
        json_decref(arr);
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        struct worker *w = add_worker(inc);
        json_t *name = json_object_get(item, "name");
        if (!w || !json_is_string(name)) {
            set_err(err, errlen, "rca: workers[%zu].name must be a string", i);
            goto fail;
        }
        if (worker_identity(w, json_string_value(name), restore_string(item, "ip"),
                            restore_string(item, "site"), err, errlen) != 0 ||
            restore_time(item, "down_at", i, false, &w->down_ms, err, errlen) != 0 ||
            restore_time(item, "up_at", i, true, &w->up_ms, err, errlen) != 0)
            goto fail;
        w->unreachable = json_is_true(json_object_get(item, "unreachable"));
        w->down_message = json_is_true(json_object_get(item, "down_message"));
    }
    json_decref(arr);
    return 0;
fail:
    json_decref(arr);
    return -1;
}

static int restore_evidence(struct rca *rca, struct incident *inc, const char *text, char *err,
                            size_t errlen)
{
    json_error_t jerr;
    json_t *ev = json_loads(text ? text : "{}", 0, &jerr);
    if (!json_is_object(ev)) {
        set_err(err, errlen, "rca: evidence must be a JSON object (%s)",
                ev ? "got another value" : jerr.text);
        json_decref(ev);
        return -1;
    }
    inc->announced = json_is_true(json_object_get(ev, "announced"));
    inc->canary_driven = json_is_true(json_object_get(ev, "canary_driven"));
    inc->fleet = (int)json_integer_value(json_object_get(ev, "fleet"));
    inc->told_workers = (int)json_integer_value(json_object_get(ev, "announced_workers"));
    const char *told = json_string_value(json_object_get(ev, "announced_classification"));
    if (inc->announced && rca_class_parse(told, &inc->told_cls) != 0) {
        set_err(err, errlen, "rca: evidence.announced_classification \"%s\" is not a class",
                told ? told : "");
        json_decref(ev);
        return -1;
    }
    json_t *canaries = json_object_get(ev, "canaries");
    if (canaries && !json_is_null(canaries))
        inc->canary_evidence = json_incref(canaries);
    const char *ok = json_string_value(json_object_get(ev, "canaries_ok_at"));
    if (ok && clock_parse_iso(ok, &inc->canaries_ok_ms) != 0) {
        set_err(err, errlen, "rca: evidence.canaries_ok_at \"%s\" is not an ISO 8601 time", ok);
        json_decref(ev);
        return -1;
    }
    json_decref(ev);
    return 0;
}

int rca_restore(struct rca *rca, const struct rca_stored_incident *rec, char *err, size_t errlen)
{
    if (rec->closed_ms != 0)
        return 0;
    if (rec->id < 1) {
        set_err(err, errlen, "rca: incident id %lld must be >= 1", (long long)rec->id);
        return -1;
    }
    for (struct incident *inc = rca->incidents; inc; inc = inc->next) {
        if (inc->id == rec->id) {
            set_err(err, errlen, "rca: incident %lld is already open", (long long)rec->id);
            return -1;
        }
    }
    struct incident *inc = calloc(1, sizeof *inc);
    if (!inc) {
        set_err(err, errlen, "rca: out of memory");
        return -1;
    }
    inc->id = rec->id;
    inc->opened_ms = rec->opened_ms;
    inc->updated_ms = rec->updated_ms;
    if (restore_workers(inc, rec->workers_json, err, errlen) != 0 ||
        restore_evidence(rca, inc, rec->evidence_json, err, errlen) != 0) {
        incident_free(inc);
        return -1;
    }
    reclassify(rca, inc);
    if (canaries_hold(inc)) {
        inc->window_end_ms = INT64_MAX;
        /* Until told otherwise, the canaries are taken to be failing still. */
        rca->canaries_failing = true;
        if (!rca->canary_evidence && inc->canary_evidence)
            rca->canary_evidence = json_incref(inc->canary_evidence);
    } else if (inc->canary_driven) {
        inc->window_end_ms = inc->canaries_ok_ms;
    } else {
        inc->window_end_ms = inc->opened_ms + rca->cfg.window_ms;
    }
    if (!inc->announced && inc->n_workers > 0)
        inc->announce_at_ms = inc->workers[0].down_ms + rca->cfg.hold_ms;
    insert_incident(rca, inc);
    if (rca->next_id <= inc->id)
        rca->next_id = inc->id + 1;
    return 0;
}

/* ---- analysis ------------------------------------------------------------------------------ */

static void list_add(json_t *lists, const char *key, const char *name)
{
    json_t *list = json_object_get(lists, key);
    if (!list) {
        list = json_array();
        json_object_set_new(lists, key, list);
    }
    json_array_append_new(list, json_string(name));
}

static json_t *analysis_incident(const struct rca *rca, const struct incident *inc)
{
    struct grouping g;
    if (group_workers(inc, &g) != 0)
        return NULL;
    const struct group *at_fault = scope_group(inc, &g);
    char label[PREFIX_MAX + RCA_SITE_MAX + 64] = "";
    if (at_fault)
        scope_label(inc, at_fault, label, sizeof label);
    int down, unreachable;
    incident_counts(inc, &down, &unreachable);
    json_t *item =
        json_pack("{s:I, s:s, s:b, s:o, s:i, s:i, s:i, s:o, s:o}", "id", (json_int_t)inc->id,
                  "classification", rca_class_name(inc->cls), "announced", inc->announced,
                  "opened_at", iso_or_null(inc->opened_ms), "workers", (int)inc->n_workers, "down",
                  (int)down, "unreachable", (int)unreachable, "scope", scope_json(inc, &g, label),
                  "evidence", evidence_json(rca, inc, &g));
    grouping_free(&g);
    return item;
}

json_t *rca_analysis(const struct rca *rca, int64_t now_ms)
{
    json_t *by_ip = json_object(), *by_site = json_object(), *groups = json_object();
    json_t *incidents = json_array();
    int down = 0, unreachable = 0;
    const struct incident *worst = NULL;
    for (const struct incident *inc = rca->incidents; inc; inc = inc->next) {
        bool any_out = false;
        for (size_t i = 0; i < inc->n_workers; i++) {
            const struct worker *w = &inc->workers[i];
            if (!worker_out(inc, w))
                continue;
            any_out = true;
            if (w->unreachable)
                unreachable++;
            else
                down++;
            list_add(by_ip, w->ip[0] ? w->ip : "unknown", w->name);
            if (w->site[0])
                list_add(by_site, w->site, w->name);
            groups_add(groups, w);
        }
        if ((any_out || inc->canary_driven) &&
            (!worst || class_rank(inc->cls) > class_rank(worst->cls)))
            worst = inc;
        json_array_append_new(incidents, analysis_incident(rca, inc));
    }
    json_t *group_list = groups_finish(groups);
    json_t *canaries = json_pack("{s:b, s:o, s:O?}", "failing", rca->canaries_failing, "since",
                                 iso_or_null(rca->canaries_failing ? rca->canaries_since_ms : 0),
                                 "evidence", rca->canary_evidence);
    return json_pack("{s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "classification",
                     worst ? rca_class_name(worst->cls) : "none", "down", (int)down, "unreachable",
                     (int)unreachable, "canaries", canaries, "by_ip", by_ip, "by_site", by_site,
                     "groups", group_list, "incidents", incidents, "at", iso_or_null(now_ms));
}
