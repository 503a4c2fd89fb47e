/* rca_classify.c — places, groups and classes (see rca_classify.h). */
#include "base/err.h"
#include "rca/rca_classify.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Normalises ip (an IPv4-mapped IPv6 address becomes IPv4) and writes its /24 or /48 prefix.
 * Returns 0, or -1 when ip is not an address. */
static int ip_prefix(const char *ip, char norm[RCA_IP_MAX], char prefix[RCA_PREFIX_MAX])
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
            snprintf(prefix, RCA_PREFIX_MAX, "%s/48", net);
            return 0;
        }
    } else {
        return -1;
    }
    a[3] = 0;
    char net[RCA_IP_MAX];
    inet_ntop(AF_INET, a, net, sizeof net);
    snprintf(prefix, RCA_PREFIX_MAX, "%s/24", net);
    return 0;
}

int rca_worker_identify(struct rca_worker *w, const char *name, const char *ip, const char *site,
                        char *err, size_t errlen)
{
    ip = ip ? ip : "";
    site = site ? site : "";
    if (!name || !name[0] || strlen(name) > RCA_NAME_MAX) {
        err_set(err, errlen, "rca: worker name \"%.80s\" must be 1..%d characters",
                 name ? name : "", RCA_NAME_MAX);
        return -1;
    }
    if (strlen(site) > RCA_SITE_MAX) {
        err_set(err, errlen, "rca: site of %s is longer than %d characters", name, RCA_SITE_MAX);
        return -1;
    }
    char norm[RCA_IP_MAX] = "", prefix[RCA_PREFIX_MAX] = "";
    if (ip[0] && (strlen(ip) >= RCA_IP_MAX || ip_prefix(ip, norm, prefix) != 0)) {
        err_set(err, errlen, "rca: ip \"%.80s\" of %s is not an IPv4 or IPv6 address", ip, name);
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

void rca_grouping_free(struct rca_grouping *g)
{
    free(g->groups);
    *g = (struct rca_grouping){0};
}

int rca_group_workers(const struct rca_worker *workers, size_t n, struct rca_grouping *g)
{
    *g = (struct rca_grouping){0};
    g->groups = calloc(n ? n : 1, sizeof *g->groups);
    json_t *index = json_object(); /* key -> index in g->groups */
    if (!g->groups || !index) {
        free(g->groups);
        g->groups = NULL;
        json_decref(index);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct rca_worker *w = &workers[i];
        json_t *at = json_object_get(index, w->key);
        size_t gi = at ? (size_t)json_integer_value(at) : g->n_groups;
        if (!at) {
            json_object_set_new(index, w->key, json_integer((json_int_t)gi));
            g->groups[g->n_groups++] = (struct rca_group){.first = w};
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
static const char *group_place(const struct rca_group *grp, char *buf, size_t buflen)
{
    if (grp->first->site[0])
        snprintf(buf, buflen, "site %s", grp->first->site);
    else
        snprintf(buf, buflen, "%s", grp->first->prefix[0] ? grp->first->prefix : "no address");
    return buf;
}

static void verdict(struct rca_verdict *out, enum incident_class cls, const char *rule,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void verdict(struct rca_verdict *out, enum incident_class cls, const char *rule,
                    const char *fmt, ...)
{
    out->cls = cls;
    snprintf(out->rule, sizeof out->rule, "%s", rule);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

void rca_classify(const struct rca_config *cfg, const struct rca_grouping *g, size_t n_workers,
                  int fleet, bool canary_driven, struct rca_verdict *out)
{
    int n = (int)n_workers;
    int t = cfg->threshold;
    size_t big = g->n_groups ? g->groups[g->largest].count : 0;
    char place[RCA_KEY_MAX];
    if (canary_driven)
        verdict(out, INCIDENT_SERVER, "canaries",
                "the monitor's own canary probes failed during the incident");
    else if (n >= t && fleet > 0 && (double)n >= cfg->server_fraction * fleet)
        verdict(out, INCIDENT_SERVER, "fleet_fraction",
                "%d of %d monitored workers went down at once (at least %d and %g%%)", n, fleet, t,
                cfg->server_fraction * 100.0);
    else if (n >= t && g->two_plus >= 2)
        verdict(out, INCIDENT_WIDESPREAD, "groups_with_2_or_more",
                "%d workers down in %zu groups; %zu groups have 2 or more", n, g->n_groups,
                g->two_plus);
    else if (n >= t && big < (size_t)t)
        verdict(out, INCIDENT_WIDESPREAD, "spread",
                "%d workers down in %zu groups, none with %d or more", n, g->n_groups, t);
    else if (big >= (size_t)t)
        verdict(out, INCIDENT_NETWORK, "shared_group",
                "%zu of %d workers down share %s (threshold %d)", big, n,
                group_place(&g->groups[g->largest], place, sizeof place), t);
    else
        verdict(out, INCIDENT_INDIVIDUAL, "below_threshold",
                "%d worker%s down, fewer than %d in any one place", n, n == 1 ? "" : "s", t);
}

const struct rca_group *rca_scope_group(enum incident_class cls, const struct rca_grouping *g)
{
    return cls == INCIDENT_NETWORK && g->n_groups ? &g->groups[g->largest] : NULL;
}

/* Adds s to the ordered set (an object used for its keys); "" is left out. */
static void set_add(json_t *set, const char *s)
{
    if (s[0])
        json_object_set_new(set, s, json_true());
}

static const char *set_first(json_t *set)
{
    return json_object_iter_key(json_object_iter(set));
}

void rca_scope_label(const struct rca_worker *workers, size_t n, const struct rca_group *grp,
                     char *buf, size_t buflen)
{
    json_t *ips = json_object(), *prefixes = json_object();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(workers[i].key, grp->first->key) == 0) {
            set_add(ips, workers[i].ip);
            set_add(prefixes, workers[i].prefix);
        }
    }
    char addr[RCA_PREFIX_MAX + 32] = "";
    if (json_object_size(ips) == 1)
        snprintf(addr, sizeof addr, "behind %s", set_first(ips));
    else if (json_object_size(prefixes) == 1)
        snprintf(addr, sizeof addr, "behind %s", set_first(prefixes));
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
