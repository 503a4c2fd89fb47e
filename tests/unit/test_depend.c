/* test_depend.c — worker dependencies: the `dependencies:` reader (alert/depend.c) with its
 * file:line:column errors, the matching of workers by name glob and labels, the first parent
 * down; and the server's held children (server/dependencies.c): held while a parent is down,
 * listed under it, told at its release only when their DOWN was due, forgotten when back; the
 * engine's answer to "which open network or widespread incident has this site out?" (the check
 * engine holds back the checks run only from that site: rca_site_incident). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alert/depend.h"
#include "rca/rca.h"
#include "server/dependencies.h"
#include "server/fleet.h"

/* Reads text as the --config file "f.yaml" into ds; cfg stays attached (config_free frees ds). */
static int load(struct config *cfg, struct depend_settings *ds, const char *text, char *err)
{
    config_init(cfg);
    config_attach(cfg, &depend_settings_table, ds);
    return config_apply_yaml_text(cfg, "f.yaml", text, strlen(text), err, 300);
}

static void test_reads_rules(void **state)
{
    struct config cfg;
    struct depend_settings ds;
    char err[300] = "";
    const char *yaml = "dependencies:\n"
                       "  - match: {name: \"gpu-fra1-*\"}\n"
                       "    depends_on: [fra1-uplink, core-router]\n"
                       "  - match: {labels: {site: \"ams*\"}}\n"
                       "    depends_on: [ams-uplink]\n";
    assert_int_equal(load(&cfg, &ds, yaml, err), 0);
    assert_int_equal(ds.n_rules, 2);
    assert_string_equal(ds.rules[0].name, "gpu-fra1-*");
    assert_int_equal(ds.rules[0].n_parents, 2);
    assert_string_equal(ds.rules[0].parents[1].name, "core-router");
    assert_string_equal(ds.rules[0].parents[1].where, "f.yaml:3:31: dependencies[0].depends_on[1]");
    assert_null(ds.rules[1].name);
    assert_int_equal(ds.rules[1].n_labels, 1);
    assert_string_equal(ds.rules[1].labels[0].key, "site");
    assert_string_equal(ds.rules[1].labels[0].value, "ams*");
    config_free(&cfg);
}

static void test_errors_name_the_place(void **state)
{
    static const struct {
        const char *yaml, *err;
    } cases[] = {
        {"dependencies: {a: b}\n", "f.yaml:1:15: dependencies: expected a list of dependencies"},
        {"dependencies:\n  - depends_on: [x]\n",
         "f.yaml:2:5: dependencies[0].match: required: match, the workers"},
        {"dependencies:\n  - match: {name: a}\n",
         "f.yaml:2:5: dependencies[0].depends_on: required: depends_on, a list of checks or "
         "workers"},
        {"dependencies:\n  - match: {name: a}\n    depends_on: x\n",
         "f.yaml:3:17: dependencies[0].depends_on: expected a list of check or worker names"},
        {"dependencies:\n  - match: {name: a}\n    depends_on: []\n",
         "f.yaml:3:17: dependencies[0].depends_on: expected a list of check or worker names"},
        {"dependencies:\n  - match: {name: a}\n    depends_on: [x, \"\"]\n",
         "f.yaml:3:21: dependencies[0].depends_on[1]: expected a check or worker name"},
        {"dependencies:\n  - match: {site: a}\n    depends_on: [x]\n",
         "f.yaml:2:13: dependencies[0].match.site: expected one of name, labels"},
        {"dependencies:\n  - match: {labels: fra1}\n    depends_on: [x]\n",
         "f.yaml:2:21: dependencies[0].match.labels: expected a mapping of labels to globs"},
        {"dependencies:\n  - match: {name: a}\n    depends_on: [x]\n    channels: [y]\n",
         "f.yaml:4:5: dependencies[0].channels: expected one of match, depends_on"},
        {"dependencies:\n  - x\n",
         "f.yaml:2:5: dependencies[0]: expected a mapping {match, depends_on}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config cfg;
        struct depend_settings ds;
        char err[300] = "";
        assert_int_equal(load(&cfg, &ds, cases[i].yaml, err), -1);
        if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
            fail_msg("case %zu: got \"%s\", expected \"%s...\"", i, err, cases[i].err);
        assert_int_equal(ds.n_rules, 0);
        config_free(&cfg);
    }
}

static void test_rule_matches(void **state)
{
    struct label fra = {"site", "fra1"};
    struct label labels[] = {{"site", "ams2"}};
    struct depend_rule by_name = {.name = "gpu-fra1-*"};
    struct depend_rule by_site = {.labels = labels, .n_labels = 1};
    labels[0].value = "ams*";
    assert_true(depend_rule_matches(&by_name, "gpu-fra1-7", NULL, 0));
    assert_false(depend_rule_matches(&by_name, "gpu-ams2-7", &fra, 1));
    struct label ams = {"site", "ams2"};
    assert_true(depend_rule_matches(&by_site, "any", &ams, 1));
    assert_false(depend_rule_matches(&by_site, "any", &fra, 1));
    assert_false(depend_rule_matches(&by_site, "any", NULL, 0)); /* no site: no match */
}

/* "down" lists the parents that are down, comma-separated. */
static bool listed_down(const char *parent, void *ctx)
{
    char item[64];
    snprintf(item, sizeof item, ",%s,", parent);
    char list[256];
    snprintf(list, sizeof list, ",%s,", (const char *)ctx);
    return strstr(list, item) != NULL;
}

static void test_first_parent_down(void **state)
{
    struct config cfg;
    struct depend_settings ds;
    char err[300] = "";
    const char *yaml = "dependencies:\n"
                       "  - match: {name: \"gpu-*\"}\n"
                       "    depends_on: [uplink, router, gpu-1]\n"
                       "  - match: {labels: {site: fra1}}\n"
                       "    depends_on: [fra1-switch]\n";
    assert_int_equal(load(&cfg, &ds, yaml, err), 0);
    struct label fra = {"site", "fra1"};
    assert_null(depend_down_parent(&ds, "gpu-1", NULL, 0, listed_down, "other"));
    assert_string_equal(depend_down_parent(&ds, "gpu-1", NULL, 0, listed_down, "router,uplink"),
                        "uplink");
    /* never its own parent */
    assert_null(depend_down_parent(&ds, "gpu-1", NULL, 0, listed_down, "gpu-1"));
    assert_string_equal(depend_down_parent(&ds, "gpu-2", NULL, 0, listed_down, "gpu-1"), "gpu-1");
    assert_string_equal(depend_down_parent(&ds, "db-1", &fra, 1, listed_down, "fra1-switch"),
                        "fra1-switch");
    assert_null(depend_down_parent(&ds, "db-1", NULL, 0, listed_down, "fra1-switch"));
    assert_null(depend_down_parent(NULL, "gpu-1", NULL, 0, listed_down, "uplink"));
    config_free(&cfg);
}

/* ---- the server's held children ---- */

static void no_transition(const struct worker_record *w, enum event_kind kind,
                          enum worker_state prev_state, int64_t prev_since_ms, void *cause,
                          void *ctx)
{
}

struct told {
    int n;
    char last[WORKER_NAME_MAX + 1];
};

static void count_told(const struct worker_record *w, void *ctx)
{
    struct told *t = ctx;
    t->n++;
    snprintf(t->last, sizeof t->last, "%s", w->name);
}

static void restore(struct fleet *f, const char *name, const char *site, enum worker_state st)
{
    struct worker_record w = {.state = st, .last_seen_ms = 1};
    snprintf(w.name, sizeof w.name, "%s", name);
    snprintf(w.site, sizeof w.site, "%s", site);
    fleet_restore(f, &w, 1000);
}

static void heartbeat_of(struct fleet *f, const char *name)
{
    struct heartbeat hb = {.gpus = 1};
    snprintf(hb.name, sizeof hb.name, "%s", name);
    assert_int_equal(fleet_heartbeat(f, &hb, "127.0.0.1", 2000, 2000, NULL),
                     FLEET_HEARTBEAT_CHANGED);
}

static void test_held_children(void **state)
{
    struct config cfg;
    struct depend_settings ds;
    char err[300] = "";
    const char *yaml = "dependencies:\n"
                       "  - match: {labels: {site: fra1}}\n"
                       "    depends_on: [fra1-uplink, core]\n";
    assert_int_equal(load(&cfg, &ds, yaml, err), 0);
    struct fleet *f = fleet_new(60000, no_transition, NULL);
    restore(f, "core", "", WORKER_DOWN);
    restore(f, "fra1-uplink", "", WORKER_UP);
    restore(f, "gpu-a", "fra1", WORKER_DOWN);
    restore(f, "gpu-b", "fra1", WORKER_DOWN);
    restore(f, "gpu-c", "fra1", WORKER_DOWN);
    restore(f, "gpu-x", "ams1", WORKER_DOWN);
    struct dependencies *d = dependencies_new(&ds, f);
    struct told told = {0};
    dependencies_set_tell(d, count_told, &told);
    assert_int_equal(dependencies_warn_unknown(d), 0);

    assert_string_equal(dependencies_hold_down(d, fleet_find(f, "gpu-a")), "core");
    assert_string_equal(dependencies_hold_down(d, fleet_find(f, "gpu-b")), "core");
    assert_string_equal(dependencies_hold_down(d, fleet_find(f, "gpu-c")), "core");
    assert_null(dependencies_hold_down(d, fleet_find(f, "gpu-x"))); /* another site */
    const char *names[8];
    assert_int_equal(dependencies_held_names(d, "core", names, 8), 3);
    assert_string_equal(names[0], "gpu-a");
    char text[64] = "core is UP";
    dependencies_append_held(d, "core", text, sizeof text);
    assert_string_equal(text, "core is UP\nHeld back, depending on it: gpu-a, gpu-b, gpu-c");
    char small[40] = "core is UP";
    dependencies_append_held(d, "core", small, sizeof small); /* cut, never overrun */
    assert_int_equal(strlen(small), sizeof small - 1);
    char none[16] = "x";
    dependencies_append_held(d, "fra1-uplink", none, sizeof none);
    assert_string_equal(none, "x");
    /* the engine says gpu-a's and gpu-c's DOWNs are due (gpu-b's not yet) */
    assert_true(dependencies_take_due(d, "gpu-a"));
    assert_true(dependencies_take_due(d, "gpu-c"));
    assert_false(dependencies_take_due(d, "gpu-x"));
    /* gpu-c is back before its parent: forgotten, never told */
    heartbeat_of(f, "gpu-c");
    dependencies_up(d, "gpu-c");
    assert_int_equal(dependencies_held_names(d, "core", names, 8), 2);

    /* core is back: gpu-a (due) is told, gpu-b (not due: the engine tells it) forgotten */
    heartbeat_of(f, "core");
    dependencies_up(d, "core");
    assert_int_equal(told.n, 1);
    assert_string_equal(told.last, "gpu-a");
    assert_int_equal(dependencies_held_names(d, "core", names, 8), 0);
    assert_false(dependencies_take_due(d, "gpu-b"));
    dependencies_free(d);
    fleet_free(f);
    config_free(&cfg);
}

static void test_held_by_the_next_parent(void **state)
{
    struct config cfg;
    struct depend_settings ds;
    char err[300] = "";
    const char *yaml = "dependencies:\n"
                       "  - match: {name: \"gpu-*\"}\n"
                       "    depends_on: [sw1, sw2, nobody]\n";
    assert_int_equal(load(&cfg, &ds, yaml, err), 0);
    struct fleet *f = fleet_new(60000, no_transition, NULL);
    restore(f, "sw1", "", WORKER_DOWN);
    restore(f, "sw2", "", WORKER_DOWN);
    restore(f, "gpu-a", "", WORKER_DOWN);
    struct dependencies *d = dependencies_new(&ds, f);
    struct told told = {0};
    dependencies_set_tell(d, count_told, &told);
    assert_int_equal(dependencies_warn_unknown(d), 1); /* "nobody" */
    assert_string_equal(dependencies_hold_down(d, fleet_find(f, "gpu-a")), "sw1");
    assert_true(dependencies_take_due(d, "gpu-a"));
    heartbeat_of(f, "sw1");
    dependencies_up(d, "sw1");
    assert_int_equal(told.n, 0); /* sw2 still holds it, and lists it */
    const char *names[4];
    assert_int_equal(dependencies_held_names(d, "sw2", names, 4), 1);
    heartbeat_of(f, "sw2");
    dependencies_up(d, "sw2");
    assert_int_equal(told.n, 1);
    /* no rules, no dependencies: nothing held */
    assert_null(dependencies_hold_down(NULL, fleet_find(f, "gpu-a")));
    assert_false(dependencies_take_due(NULL, "gpu-a"));
    dependencies_up(NULL, "sw1");
    dependencies_free(d);
    fleet_free(f);
    config_free(&cfg);
}

/* ---- sites cut off (rca_site_incident) ---- */

static void ignore_change(enum incident_change change, const struct rca_incident_view *inc,
                          void *ctx)
{
}

static int64_t ids(void *ctx)
{
    return ++*(int64_t *)ctx;
}

#define T0 1795255332000LL

static struct rca *engine(int64_t *id)
{
    static const struct rca_config cfg = {
        .window_ms = 60000, .hold_ms = 0, .threshold = 3, .server_fraction = 0.8, .pace_ms = 0};
    struct rca *r = NULL;
    char err[200];
    assert_int_equal(rca_new(&cfg, ids, id, ignore_change, NULL, &r, err, sizeof err), 0);
    return r;
}

static void down(struct rca *r, const char *name, const char *site, int64_t at)
{
    char err[200];
    assert_int_equal(rca_worker_down(r, name, "", site, 20, at, err, sizeof err), 0);
}

static void test_site_incident(void **state)
{
    int64_t id = 0;
    struct rca *r = engine(&id);
    down(r, "fra-a", "fra1", T0);
    assert_int_equal(rca_site_incident(r, "fra1"), 0); /* one worker: individual */
    down(r, "fra-b", "fra1", T0 + 1);
    down(r, "fra-c", "fra1", T0 + 2);
    rca_tick(r, T0 + 10);
    assert_int_equal(rca_site_incident(r, "fra1"), 1); /* network, at fra1 */
    assert_int_equal(rca_site_incident(r, "ams1"), 0);
    assert_int_equal(rca_site_incident(r, ""), 0);
    assert_int_equal(rca_site_incident(r, NULL), 0);
    rca_worker_up(r, "fra-a", T0 + 20);
    assert_int_equal(rca_site_incident(r, "fra1"), 1); /* two of its workers still out */
    rca_worker_up(r, "fra-b", T0 + 21);
    rca_worker_up(r, "fra-c", T0 + 22);
    assert_int_equal(rca_site_incident(r, "fra1"), 0); /* closed */
    rca_free(r);
}

static void test_site_incident_widespread(void **state)
{
    int64_t id = 0;
    struct rca *r = engine(&id);
    down(r, "fra-a", "fra1", T0);
    down(r, "fra-b", "fra1", T0 + 1);
    down(r, "ams-a", "ams1", T0 + 2);
    down(r, "ams-b", "ams1", T0 + 3);
    rca_tick(r, T0 + 10);
    assert_int_equal(rca_site_incident(r, "fra1"), 1); /* widespread: both sites */
    assert_int_equal(rca_site_incident(r, "ams1"), 1);
    rca_worker_up(r, "ams-a", T0 + 20);
    rca_worker_up(r, "ams-b", T0 + 21);
    assert_int_equal(rca_site_incident(r, "ams1"), 0); /* its workers are back */
    assert_int_equal(rca_site_incident(r, "fra1"), 1);
    rca_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_rules),   cmocka_unit_test(test_errors_name_the_place),
        cmocka_unit_test(test_rule_matches),  cmocka_unit_test(test_first_parent_down),
        cmocka_unit_test(test_held_children), cmocka_unit_test(test_held_by_the_next_parent),
        cmocka_unit_test(test_site_incident), cmocka_unit_test(test_site_incident_widespread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
