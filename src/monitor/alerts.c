/* alerts.c — the alert rules over a snapshot; see alerts.h. Every value is read defensively: a
 * report without a member (an older faultline, a section that failed) skips the rule. */
#include "monitor/alerts.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

const char *monitor_severity_name(enum monitor_severity s)
{
    return s == MONITOR_CRITICAL ? "critical" : s == MONITOR_WARNING ? "warning" : "info";
}

void monitor_alerts_free(struct monitor_alerts *a)
{
    if (!a)
        return;
    free(a->items);
    memset(a, 0, sizeof *a);
}

__attribute__((format(printf, 5, 6))) static int add(struct monitor_alerts *a,
                                                     enum monitor_severity sev,
                                                     const char *subsystem, const char *node,
                                                     const char *fmt, ...)
{
    if (a->count == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct monitor_alert *items = realloc(a->items, cap * sizeof *items);
        if (!items)
            return -1;
        a->items = items;
        a->cap = cap;
    }
    struct monitor_alert *al = &a->items[a->count++];
    al->severity = sev;
    snprintf(al->subsystem, sizeof al->subsystem, "%s", subsystem);
    snprintf(al->node, sizeof al->node, "%s", node);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(al->message, sizeof al->message, fmt, ap);
    va_end(ap);
    return 0;
}

/* The number at a path of members ("system", "mem_used_pct", NULL); NAN when absent. */
static double num_at(const json_t *j, ...)
{
    va_list ap;
    va_start(ap, j);
    for (const char *k; j && (k = va_arg(ap, const char *));)
        j = json_object_get(j, k);
    va_end(ap);
    return json_is_number(j) ? json_number_value(j) : NAN;
}

static const char *text_of(const json_t *j, const char *key)
{
    const char *t = json_string_value(json_object_get(j, key));
    return t ? t : "?";
}

/* ---- per node ----------------------------------------------------------------------------- */

static void rule_system(const json_t *r, const char *node, const struct monitor_thresholds *t,
                        struct monitor_alerts *a)
{
    double mem = num_at(r, "system", "mem_used_pct", NULL);
    if (mem > t->mem_used_pct)
        add(a, MONITOR_WARNING, "system", node, "memory %.1f%% used (threshold %g%%)", mem,
            t->mem_used_pct);
    double swap = num_at(r, "system", "swap_used_pct", NULL);
    if (swap > t->swap_used_pct)
        add(a, MONITOR_INFO, "system", node, "swap %.1f%% used (threshold %g%%)", swap,
            t->swap_used_pct);
    double ooms = num_at(r, "system", "oom_kills", NULL);
    if (ooms > 0)
        add(a, MONITOR_CRITICAL, "system", node, "%.0f OOM kill%s since boot", ooms,
            ooms == 1 ? "" : "s");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(json_object_get(r, "system"), "disks"), i, d)
    {
        double used = num_at(d, "used_pct", NULL);
        if (used > t->disk_used_pct)
            add(a, MONITOR_WARNING, "system", node, "disk %s %.1f%% used (threshold %g%%)",
                text_of(d, "mountpoint"), used, t->disk_used_pct);
    }
}

static void rule_services(const json_t *r, const char *node, struct monitor_alerts *a)
{
    json_t *services = json_object_get(r, "services");
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(services, "failed_units"), i, u)
    {
        if (json_is_string(u))
            add(a, MONITOR_CRITICAL, "services", node, "unit %s failed", json_string_value(u));
    }
    json_array_foreach(json_object_get(services, "units"), i, u)
    {
        if (json_is_true(json_object_get(u, "restart_loop")))
            add(a, MONITOR_WARNING, "services", node,
                "unit %s is in a restart loop (%.0f restarts)", text_of(u, "name"),
                num_at(u, "restarts", NULL));
    }
}

static void rule_processes_network(const json_t *r, const char *node, struct monitor_alerts *a)
{
    double zombies = num_at(r, "processes", "zombie_count", NULL);
    if (zombies > 0)
        add(a, MONITOR_INFO, "processes", node, "%.0f zombie process%s", zombies,
            zombies == 1 ? "" : "es");
    if (json_is_false(json_object_get(json_object_get(r, "network"), "internet_reachable")))
        add(a, MONITOR_WARNING, "network", node,
            "internet unreachable (no configured target answered)");
}

static void rule_tls(const json_t *r, const char *node, const struct monitor_thresholds *t,
                     struct monitor_alerts *a)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(r, "tls"), "endpoints"), i, e)
    {
        double days = num_at(e, "days_left", NULL);
        if (days < 0)
            add(a, MONITOR_CRITICAL, "tls", node, "certificate of %s expired %.0f days ago",
                text_of(e, "endpoint"), -days);
        else if (days < t->tls_days_left)
            add(a, MONITOR_WARNING, "tls", node,
                "certificate of %s expires in %.0f days (threshold %g)", text_of(e, "endpoint"),
                days, t->tls_days_left);
    }
}

static json_t *wg_interfaces(const json_t *r)
{
    return json_object_get(json_object_get(json_object_get(r, "network"), "wireguard"),
                           "interfaces");
}

static void rule_wg_handshakes(const json_t *r, const char *node,
                               const struct monitor_thresholds *t, struct monitor_alerts *a)
{
    size_t i, j;
    json_t *itf, *peer;
    json_array_foreach(wg_interfaces(r), i, itf)
    {
        json_array_foreach(json_object_get(itf, "peers"), j, peer)
        {
            json_t *age = json_object_get(peer, "latest_handshake_age_s");
            const char *key = text_of(peer, "public_key");
            if (json_is_null(age))
                add(a, MONITOR_CRITICAL, "wireguard", node,
                    "%s: peer %.12s... never completed a handshake", text_of(itf, "name"), key);
            else if (json_number_value(age) > t->wg_handshake_age_s)
                add(a, MONITOR_WARNING, "wireguard", node,
                    "%s: peer %.12s... last handshake %.0f s ago (threshold %g s)",
                    text_of(itf, "name"), key, json_number_value(age), t->wg_handshake_age_s);
        }
    }
}

/* ---- across nodes ------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Each clock against the median of all: the report's timestamp_ms less the time it was seen
 * here (the midpoint of the ssh round trip, or the server's received). */
static void rule_clock_skew(const struct monitor_snapshot *s, const struct monitor_thresholds *t,
                            struct monitor_alerts *a)
{
    double *offsets = calloc(s->count + 1, sizeof *offsets),
           *sorted = calloc(s->count + 1, sizeof *sorted);
    size_t n = 0;
    for (size_t i = 0; offsets && sorted && i < s->count; i++) {
        double ts = num_at(s->results[i].report, "timestamp_ms", NULL);
        offsets[i] = NAN;
        if (!isnan(ts) && s->results[i].seen_at_ms >= 0)
            sorted[n++] = offsets[i] = ts - (double)s->results[i].seen_at_ms;
    }
    if (n >= 2) {
        qsort(sorted, n, sizeof *sorted, cmp_double);
        double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        for (size_t i = 0; i < s->count; i++) {
            double off = (offsets[i] - median) / 1000;
            if (!isnan(off) && fabs(off) > t->clock_skew_s)
                add(a, MONITOR_WARNING, "clock", s->results[i].name,
                    "clock %.1f s %s the other nodes' (threshold %g s)", fabs(off),
                    off > 0 ? "ahead of" : "behind", t->clock_skew_s);
        }
    }
    free(offsets);
    free(sorted);
}

/* Compares dotted version numbers ("0.10.1" > "0.9.7"); text after the numbers is ignored. */
static int version_cmp(const char *x, const char *y)
{
    while (*x || *y) {
        char *ex, *ey;
        long a = strtol(x, &ex, 10), b = strtol(y, &ey, 10);
        if (a != b)
            return a < b ? -1 : 1;
        if (ex == x && ey == y)
            return 0;
        x = *ex == '.' ? ex + 1 : ex + strlen(ex);
        y = *ey == '.' ? ey + 1 : ey + strlen(ey);
    }
    return 0;
}

static void rule_versions(const struct monitor_snapshot *s, struct monitor_alerts *a)
{
    const char *newest = NULL;
    for (size_t i = 0; i < s->count; i++) {
        const char *v = json_string_value(json_object_get(s->results[i].report, "version"));
        if (v && (!newest || version_cmp(v, newest) > 0))
            newest = v;
    }
    size_t on_newest = 0;
    for (size_t i = 0; newest && i < s->count; i++) {
        const char *v = json_string_value(json_object_get(s->results[i].report, "version"));
        on_newest += v && strcmp(v, newest) == 0;
    }
    for (size_t i = 0; newest && i < s->count; i++) {
        const char *v = json_string_value(json_object_get(s->results[i].report, "version"));
        if (v && strcmp(v, newest) != 0)
            add(a, MONITOR_WARNING, "version", s->results[i].name,
                "runs faultline %.40s, older than %.40s on %zu other node%s", v, newest, on_newest,
                on_newest == 1 ? "" : "s");
    }
}

/* Whether report r has a WireGuard peer with public key key. */
static bool wg_has_peer(const json_t *r, const char *key)
{
    size_t i, j;
    json_t *itf, *peer;
    json_array_foreach(wg_interfaces(r), i, itf)
    {
        json_array_foreach(json_object_get(itf, "peers"), j, peer)
        {
            const char *k = json_string_value(json_object_get(peer, "public_key"));
            if (k && strcmp(k, key) == 0)
                return true;
        }
    }
    return false;
}

size_t monitor_wg_peer_count(const json_t *r)
{
    size_t n = 0, i;
    json_t *itf;
    json_array_foreach(wg_interfaces(r), i, itf) n +=
        json_array_size(json_object_get(itf, "peers"));
    return n;
}

/* The first interface's public key: the node's identity in the mesh. */
static const char *wg_key(const json_t *r)
{
    return json_string_value(json_object_get(json_array_get(wg_interfaces(r), 0), "public_key"));
}

static void rule_wg_symmetry(const struct monitor_snapshot *s, struct monitor_alerts *a)
{
    size_t meshed = 0;
    for (size_t i = 0; i < s->count; i++)
        meshed += wg_key(s->results[i].report) != NULL;
    if (meshed < 2)
        return;
    for (size_t i = 0; i < s->count; i++) {
        const json_t *r = s->results[i].report;
        if (!wg_key(r))
            continue;
        size_t peers = monitor_wg_peer_count(r);
        if (peers != meshed - 1)
            add(a, MONITOR_WARNING, "wireguard", s->results[i].name,
                "has %zu WireGuard peer%s, expected %zu (one per other node in the mesh)", peers,
                peers == 1 ? "" : "s", meshed - 1);
        for (size_t j = 0; j < s->count; j++) {
            const json_t *other = s->results[j].report;
            if (j == i || !wg_key(other))
                continue;
            if (wg_has_peer(other, wg_key(r)) && !wg_has_peer(r, wg_key(other)))
                add(a, MONITOR_WARNING, "wireguard", s->results[i].name,
                    "lacks %s as a WireGuard peer, while %s has it as one", s->results[j].name,
                    s->results[j].name);
        }
    }
}

static void rule_report_age(const struct monitor_snapshot *s, const struct monitor_thresholds *t,
                            struct monitor_alerts *a)
{
    int64_t newest = -1;
    for (size_t i = 0; i < s->count; i++)
        if (s->results[i].received_ms > newest)
            newest = s->results[i].received_ms;
    for (size_t i = 0; newest >= 0 && i < s->count; i++) {
        int64_t behind = s->results[i].received_ms >= 0 ? newest - s->results[i].received_ms : 0;
        if ((double)behind > t->report_age_s * 1000) {
            char age[32], limit[32];
            clock_format_duration(behind, age, sizeof age);
            clock_format_duration((int64_t)(t->report_age_s * 1000), limit, sizeof limit);
            add(a, MONITOR_WARNING, "report", s->results[i].name,
                "last report %s older than the newest (threshold %s)", age, limit);
        }
    }
}

/* ---- all ---------------------------------------------------------------------------------- */

/* Stable sort by severity: each severity class is copied out in order. */
static void sort_alerts(struct monitor_alerts *a)
{
    if (a->count == 0)
        return;
    struct monitor_alert *sorted = malloc(a->count * sizeof *sorted);
    if (!sorted)
        return;
    size_t n = 0;
    for (int sev = MONITOR_CRITICAL; sev <= MONITOR_INFO; sev++)
        for (size_t i = 0; i < a->count; i++)
            if ((int)a->items[i].severity == sev)
                sorted[n++] = a->items[i];
    memcpy(a->items, sorted, n * sizeof *sorted);
    free(sorted);
}

int monitor_alerts_derive(const struct monitor_snapshot *snap, const struct monitor_thresholds *t,
                          struct monitor_alerts *out)
{
    if (snap->error[0])
        add(out, MONITOR_CRITICAL, "server", "server", "%s", snap->error);
    for (size_t i = 0; i < snap->count; i++) {
        const struct monitor_result *res = &snap->results[i];
        if (!res->report) {
            add(out, MONITOR_CRITICAL, "ssh", res->name, "unreachable: %s", res->error);
            continue;
        }
        rule_system(res->report, res->name, t, out);
        rule_services(res->report, res->name, out);
        rule_processes_network(res->report, res->name, out);
        rule_tls(res->report, res->name, t, out);
        rule_wg_handshakes(res->report, res->name, t, out);
    }
    rule_clock_skew(snap, t, out);
    rule_versions(snap, out);
    rule_wg_symmetry(snap, out);
    rule_report_age(snap, t, out);
    sort_alerts(out);
    return 0;
}

size_t monitor_alerts_count(const struct monitor_alerts *a, enum monitor_severity s)
{
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++)
        n += a->items[i].severity == s;
    return n;
}

const char *monitor_node_status(const struct monitor_result *r, const struct monitor_alerts *a)
{
    if (!r->report)
        return "unreachable";
    int worst = MONITOR_INFO + 1;
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->items[i].node, r->name) == 0 && (int)a->items[i].severity < worst)
            worst = (int)a->items[i].severity;
    return worst == MONITOR_CRITICAL  ? "critical"
           : worst == MONITOR_WARNING ? "warning"
                                      : "healthy";
}

json_t *monitor_alerts_json(const struct monitor_alerts *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->count; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "severity",
                                             monitor_severity_name(a->items[i].severity),
                                             "subsystem", a->items[i].subsystem, "node",
                                             a->items[i].node, "message", a->items[i].message));
    return arr;
}
