/* rca_classify.h — the pure half of the correlation engine (rca.h): a worker's place (site tag,
 * else the /24 or /48 prefix of its address), the grouping of an incident's workers by place,
 * and the class those groups give (docs/rca.md). No state, no clock, no I/O: each function is a
 * function of its arguments, table-tested in tests/unit/test_rca_classify.c. */
#ifndef FAULTLINE_SERVER_RCA_CLASSIFY_H
#define FAULTLINE_SERVER_RCA_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/incident.h"
#include "rca/rca.h"

#define RCA_PREFIX_MAX (RCA_IP_MAX + 4)
#define RCA_KEY_MAX (RCA_SITE_MAX + RCA_IP_MAX + 16)
#define RCA_RULE_MAX 32
#define RCA_REASON_MAX 256
/* "behind 203.0.113.7 (site fra1)" and the like. */
#define RCA_LABEL_MAX (RCA_PREFIX_MAX + RCA_SITE_MAX + 64)

/* A worker of an incident. Grouping and classification read only its identity (the first five
 * fields); the times and flags are the engine's. */
struct rca_worker {
    char name[RCA_NAME_MAX + 1];
    char ip[RCA_IP_MAX]; /* normalised; "" when unknown */
    char site[RCA_SITE_MAX + 1];
    char prefix[RCA_PREFIX_MAX]; /* "203.0.113.0/24", "2001:db8:1::/48"; "" when ip unknown */
    char key[RCA_KEY_MAX];       /* its group: "site:fra1", "net:203.0.113.0/24", "net:unknown" */
    int64_t down_ms;
    int64_t up_ms;     /* 0 while not back */
    bool unreachable;  /* handed over by the server, never counted as down */
    bool down_message; /* its per-worker DOWN text was due */
};

struct rca_group {
    const struct rca_worker *first; /* key and site come from it */
    size_t count;
};

/* The workers of one incident, grouped by key in order of first appearance. */
struct rca_grouping {
    struct rca_group *groups; /* owned; rca_grouping_free */
    size_t n_groups;
    size_t largest;      /* index of the biggest group (the earliest among equals) */
    size_t two_plus;     /* groups with >= 2 workers */
    int sites, networks; /* groups keyed by site tag, by address prefix */
};

/* The class and why: rule is a stable token ("shared_group"), reason a sentence. */
struct rca_verdict {
    enum incident_class cls;
    char rule[RCA_RULE_MAX];
    char reason[RCA_REASON_MAX];
};


/* Checks name (1..RCA_NAME_MAX), site (<= RCA_SITE_MAX, NULL = "") and ip (an IPv4 or IPv6
 * address, NULL or "" = unknown; an IPv4-mapped IPv6 address counts as IPv4) and sets w's
 * identity: name, ip, site, prefix and key. Times and flags are left alone. Returns 0, or -1
 * with err (w unchanged). */
int rca_worker_identify(struct rca_worker *w, const char *name, const char *ip, const char *site,
                        char *err, size_t errlen);

/* Groups workers[0, n) by key. Returns 0, or -1 when out of memory (g is then empty). */
int rca_group_workers(const struct rca_worker *workers, size_t n, struct rca_grouping *g);
void rca_grouping_free(struct rca_grouping *g);

/* The class of an incident of n workers grouped as g (rca.h lists the rules): canary_driven
 * means the canaries failed during it, fleet is the number of workers monitored (<= 0:
 * unknown, so never "server" by fraction). */
void rca_classify(const struct rca_config *cfg, const struct rca_grouping *g, size_t n, int fleet,
                  bool canary_driven, struct rca_verdict *out);

/* The group that defines a network incident's scope (the largest), or NULL for other classes. */
const struct rca_group *rca_scope_group(enum incident_class cls, const struct rca_grouping *g);

/* The scope label of group grp among workers[0, n): "behind 203.0.113.7 (site fra1)" when its
 * workers share one address, "behind 203.0.113.0/24" when they share one prefix, "behind 3
 * addresses", "at site fra1" (no address known), or "with no known address". */
void rca_scope_label(const struct rca_worker *workers, size_t n, const struct rca_group *grp,
                     char *buf, size_t buflen);

#endif
