/* test_rca_classify.c — places, groups and classes (rca/rca_classify.h) as tables: each row is
 * a set of workers (name, address, site tag) and the settings, with the class, rule, number of
 * groups and scope label expected. Covers every rule of rca.h and docs/rca.md, the boundaries of
 * the threshold and of server_fraction, IPv4 /24 and IPv6 /48 prefixes and site tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rca/rca_classify.h"

#define MAX_ROW_WORKERS 12

/* ---- a worker's place ---------------------------------------------------------------------- */

struct place_case {
    const char *ip, *site;
    const char *want_ip, *want_prefix, *want_key;
};

static const struct place_case place_cases[] = {
    {"203.0.113.7", "", "203.0.113.7", "203.0.113.0/24", "net:203.0.113.0/24"},
    {"203.0.113.255", "", "203.0.113.255", "203.0.113.0/24", "net:203.0.113.0/24"},
    {"203.0.114.0", "", "203.0.114.0", "203.0.114.0/24", "net:203.0.114.0/24"},
    {"::ffff:203.0.113.9", "", "203.0.113.9", "203.0.113.0/24", "net:203.0.113.0/24"},
    {"2001:db8:1:ffff::1", "", "2001:db8:1:ffff::1", "2001:db8:1::/48", "net:2001:db8:1::/48"},
    {"2001:DB8:1::2", "", "2001:db8:1::2", "2001:db8:1::/48", "net:2001:db8:1::/48"},
    {"2001:db8:2::1", "", "2001:db8:2::1", "2001:db8:2::/48", "net:2001:db8:2::/48"},
    {"203.0.113.7", "fra1", "203.0.113.7", "203.0.113.0/24", "site:fra1"},
    {"", "fra1", "", "", "site:fra1"},
    {"", "", "", "", "net:unknown"},
};

static void test_places(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof place_cases / sizeof place_cases[0]; i++) {
        const struct place_case *c = &place_cases[i];
        struct rca_worker w = {0};
        char err[256];
        if (rca_worker_identify(&w, "box", c->ip, c->site, err, sizeof err) != 0)
            fail_msg("%s: %s", c->ip, err);
        assert_string_equal(w.name, "box");
        assert_string_equal(w.ip, c->want_ip);
        assert_string_equal(w.prefix, c->want_prefix);
        assert_string_equal(w.key, c->want_key);
    }
}

/* ---- classes ------------------------------------------------------------------------------- */

struct member {
    const char *ip, *site;
};

struct class_case {
    const char *what;
    int threshold;
    double server_fraction;
    int fleet;
    bool canary_driven;
    struct member workers[MAX_ROW_WORKERS]; /* up to the first {NULL} */
    enum incident_class want_cls;
    const char *want_rule;
    size_t want_groups;
    const char *want_label; /* the scope label; "" when not network */
};

#define FRA1                                                                                       \
    {                                                                                              \
        "203.0.113.7", "fra1"                                                                      \
    }
#define NET_A(n)                                                                                   \
    {                                                                                              \
        "203.0.113." #n, ""                                                                        \
    }
#define NET_B(n)                                                                                   \
    {                                                                                              \
        "198.51.100." #n, ""                                                                       \
    }

static const struct class_case class_cases[] = {
    {"one worker", 5, 0.8, 100, false, {NET_A(1)}, INCIDENT_INDIVIDUAL, "below_threshold", 1, ""},
    {"threshold - 1 in one place",
     5,
     0.8,
     100,
     false,
     {FRA1, FRA1, FRA1, FRA1},
     INCIDENT_INDIVIDUAL,
     "below_threshold",
     1,
     ""},
    {"threshold in one place: one site behind one address",
     5,
     0.8,
     100,
     false,
     {FRA1, FRA1, FRA1, FRA1, FRA1},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "behind 203.0.113.7 (site fra1)"},
    {"threshold in one /24, several addresses",
     5,
     0.8,
     100,
     false,
     {NET_A(1), NET_A(2), NET_A(3), NET_A(4), NET_A(255)},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "behind 203.0.113.0/24"},
    {"a group at fault and one elsewhere",
     5,
     0.8,
     100,
     false,
     {NET_A(1), NET_A(2), NET_A(3), NET_B(9), NET_A(4), NET_A(5)},
     INCIDENT_NETWORK,
     "shared_group",
     2,
     "behind 203.0.113.0/24"},
    {"/24 boundary: .255 and the next /24 are two groups",
     5,
     0.8,
     100,
     false,
     {NET_A(1), NET_A(2), NET_A(3), NET_A(255), {"203.0.114.0", ""}},
     INCIDENT_WIDESPREAD,
     "spread",
     2,
     ""},
    {"threshold workers, no group reaches it",
     5,
     0.8,
     100,
     false,
     {NET_A(1), {"192.0.2.1", ""}, {"192.0.2.2", "ams1"}, {"", "nyc1"}, {"2001:db8:9::1", ""}},
     INCIDENT_WIDESPREAD,
     "spread",
     5,
     ""},
    {"two groups with 2 or more, one at the threshold",
     5,
     0.8,
     100,
     false,
     {NET_A(1), NET_A(2), NET_A(3), NET_A(4), NET_A(5), NET_B(1), NET_B(2)},
     INCIDENT_WIDESPREAD,
     "groups_with_2_or_more",
     2,
     ""},
    {"two sites with 2 or more",
     5,
     0.8,
     100,
     false,
     {FRA1, FRA1, FRA1, {"192.0.2.1", "ams1"}, {"192.0.2.1", "ams1"}},
     INCIDENT_WIDESPREAD,
     "groups_with_2_or_more",
     2,
     ""},
    {"below the threshold two groups of 2 are individual",
     5,
     0.8,
     100,
     false,
     {NET_A(1), NET_A(2), NET_B(1), NET_B(2)},
     INCIDENT_INDIVIDUAL,
     "below_threshold",
     2,
     ""},
    {"IPv6: one /48",
     3,
     0.8,
     100,
     false,
     {{"2001:db8:1::1", ""}, {"2001:db8:1:ffff::2", ""}, {"2001:db8:1:7::3", ""}},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "behind 2001:db8:1::/48"},
    {"IPv6: the next /48 is another group",
     3,
     0.8,
     100,
     false,
     {{"2001:db8:1::1", ""}, {"2001:db8:1::2", ""}, {"2001:db8:2::1", ""}},
     INCIDENT_WIDESPREAD,
     "spread",
     2,
     ""},
    {"IPv4-mapped IPv6 groups with IPv4",
     3,
     0.8,
     100,
     false,
     {{"::ffff:203.0.113.7", ""}, NET_A(7), NET_A(7)},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "behind 203.0.113.7"},
    {"a site tag groups across networks",
     3,
     0.8,
     100,
     false,
     {{"203.0.113.1", "fra1"}, {"198.51.100.1", "fra1"}, {"2001:db8::1", "fra1"}},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "behind 3 addresses (site fra1)"},
    {"a site tag without addresses",
     3,
     0.8,
     100,
     false,
     {{"", "fra1"}, {"", "fra1"}, {"", "fra1"}},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "at site fra1"},
    {"the same /24 with and without a site tag are two groups",
     3,
     0.8,
     100,
     false,
     {{"203.0.113.1", "fra1"}, {"203.0.113.2", "fra1"}, NET_A(3)},
     INCIDENT_WIDESPREAD,
     "spread",
     2,
     ""},
    {"no address and no site",
     3,
     0.8,
     100,
     false,
     {{"", ""}, {"", ""}, {"", ""}},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "with no known address"},
    {"threshold 1: one worker is a network issue",
     1,
     0.8,
     100,
     false,
     {NET_A(9)},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "behind 203.0.113.9"},
    {"server_fraction: exactly the fraction of the fleet",
     5,
     0.5,
     10,
     false,
     {FRA1, FRA1, FRA1, FRA1, FRA1},
     INCIDENT_SERVER,
     "fleet_fraction",
     1,
     ""},
    {"server_fraction: just below the fraction",
     5,
     0.5,
     11,
     false,
     {FRA1, FRA1, FRA1, FRA1, FRA1},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "behind 203.0.113.7 (site fra1)"},
    {"server_fraction: the whole fleet, below the threshold",
     5,
     0.8,
     4,
     false,
     {NET_A(1), NET_A(2), NET_B(1), NET_B(2)},
     INCIDENT_INDIVIDUAL,
     "below_threshold",
     2,
     ""},
    {"server_fraction 1: all of the fleet",
     5,
     1.0,
     5,
     false,
     {NET_A(1), NET_A(2), NET_B(1), NET_B(2), {"192.0.2.1", ""}},
     INCIDENT_SERVER,
     "fleet_fraction",
     3,
     ""},
    {"fleet unknown: never server by fraction",
     5,
     0.8,
     0,
     false,
     {NET_A(1), NET_A(2), NET_A(3), NET_A(4), NET_A(5)},
     INCIDENT_NETWORK,
     "shared_group",
     1,
     "behind 203.0.113.0/24"},
    {"canaries, nobody yet", 5, 0.8, 100, true, {{NULL, NULL}}, INCIDENT_SERVER, "canaries", 0, ""},
    {"canaries win over every other rule",
     5,
     0.8,
     100,
     true,
     {FRA1, FRA1, FRA1, FRA1, FRA1},
     INCIDENT_SERVER,
     "canaries",
     1,
     ""},
};

static void classify_row(const struct class_case *c, struct rca_verdict *v, size_t *n_groups,
                         char *label, size_t labellen)
{
    struct rca_worker workers[MAX_ROW_WORKERS] = {0};
    size_t n = 0;
    char err[256];
    for (; n < MAX_ROW_WORKERS && c->workers[n].ip; n++) {
        char name[16];
        snprintf(name, sizeof name, "w-%zu", n + 1);
        if (rca_worker_identify(&workers[n], name, c->workers[n].ip, c->workers[n].site, err,
                                sizeof err) != 0)
            fail_msg("%s: %s", c->what, err);
    }
    struct rca_config cfg = {.window_ms = 60000,
                             .hold_ms = 30000,
                             .threshold = c->threshold,
                             .server_fraction = c->server_fraction};
    struct rca_grouping g;
    assert_int_equal(rca_group_workers(workers, n, &g), 0);
    rca_classify(&cfg, &g, n, c->fleet, c->canary_driven, v);
    *n_groups = g.n_groups;
    label[0] = '\0';
    const struct rca_group *at_fault = rca_scope_group(v->cls, &g);
    if (at_fault)
        rca_scope_label(workers, n, at_fault, label, labellen);
    rca_grouping_free(&g);
}

static void test_classes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof class_cases / sizeof class_cases[0]; i++) {
        const struct class_case *c = &class_cases[i];
        struct rca_verdict v;
        size_t n_groups;
        char label[RCA_LABEL_MAX];
        classify_row(c, &v, &n_groups, label, sizeof label);
        if (v.cls != c->want_cls || strcmp(v.rule, c->want_rule) != 0 ||
            n_groups != c->want_groups || strcmp(label, c->want_label) != 0)
            fail_msg("%s:\n got %s/%s, %zu groups, \"%s\" (%s)\nwant %s/%s, %zu groups, \"%s\"",
                     c->what, incident_class_name(v.cls), v.rule, n_groups, label, v.reason,
                     incident_class_name(c->want_cls), c->want_rule, c->want_groups, c->want_label);
    }
}

/* The reasons people read in the evidence, one per rule. */
static void test_reasons(void **state)
{
    (void)state;
    static const struct {
        size_t row;
        const char *reason;
    } cases[] = {
        {0, "1 worker down, fewer than 5 in any one place"},
        {2, "5 of 5 workers down share site fra1 (threshold 5)"},
        {3, "5 of 5 workers down share 203.0.113.0/24 (threshold 5)"},
        {6, "5 workers down in 5 groups, none with 5 or more"},
        {7, "7 workers down in 2 groups; 2 groups have 2 or more"},
        {18, "5 of 10 monitored workers went down at once (at least 5 and 50%)"},
        {23, "the monitor's own canary probes failed during the incident"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rca_verdict v;
        size_t n_groups;
        char label[RCA_LABEL_MAX];
        classify_row(&class_cases[cases[i].row], &v, &n_groups, label, sizeof label);
        assert_string_equal(v.reason, cases[i].reason);
    }
}

/* Groups keep the order of their first worker; the largest is the earliest among equals. */
static void test_grouping_order(void **state)
{
    (void)state;
    const struct member m[] = {NET_B(1), NET_A(1), NET_A(2), NET_B(2), {"", "fra1"}};
    struct rca_worker w[5] = {0};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(rca_worker_identify(&w[i], "x", m[i].ip, m[i].site, NULL, 0), 0);
    struct rca_grouping g;
    assert_int_equal(rca_group_workers(w, 5, &g), 0);
    assert_int_equal(g.n_groups, 3);
    assert_string_equal(g.groups[0].first->key, "net:198.51.100.0/24");
    assert_string_equal(g.groups[1].first->key, "net:203.0.113.0/24");
    assert_string_equal(g.groups[2].first->key, "site:fra1");
    assert_int_equal(g.largest, 0);
    assert_int_equal(g.two_plus, 2);
    assert_int_equal(g.sites, 1);
    assert_int_equal(g.networks, 2);
    rca_grouping_free(&g);
    assert_int_equal(rca_group_workers(w, 0, &g), 0);
    assert_int_equal(g.n_groups, 0);
    rca_grouping_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_places),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_grouping_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
