/* test_rca.c — the correlation engine: grouping into incidents, the hold, classification, the
 * per-worker verdicts, growth, closing, restore after a restart and the analysis JSON. Every
 * change the engine reports is recorded, with the text the server would send for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alert/format.h"
#include "model/incident.h"
#include "rca/rca.h"

#define T0 1795255332000LL /* 2026-11-21 10:02:12 UTC */
#define SEC 1000LL
#define MAX_SEEN 64

struct seen_change {
    enum incident_change change;
    int64_t id;
    enum incident_class cls, previous;
    bool announced;
    int workers, down, unreachable;
    int64_t opened_ms, updated_ms, closed_ms;
    char notify[256]; /* names of notify_down, comma separated */
    bool message;     /* it carries an incident message (alert_format_incident_message) */
    char text[1024];  /* and this is it */
    char *scope, *workers_json, *evidence;
};

struct recorder {
    int n;
    struct seen_change seen[MAX_SEEN];
};

static void record(enum incident_change change, const struct rca_incident_view *v, void *ctx)
{
    struct recorder *r = ctx;
    assert_true(r->n < MAX_SEEN);
    struct seen_change *s = &r->seen[r->n++];
    *s = (struct seen_change){.change = change,
                              .id = v->record.id,
                              .previous = v->previous_class,
                              .announced = v->announced,
                              .workers = v->workers,
                              .down = v->down,
                              .unreachable = v->unreachable,
                              .opened_ms = v->record.opened_ms,
                              .updated_ms = v->record.updated_ms,
                              .closed_ms = v->record.closed_ms,
                              .scope = strdup(v->record.scope_json),
                              .workers_json = strdup(v->record.workers_json),
                              .evidence = strdup(v->record.evidence_json)};
    assert_int_equal(incident_class_parse(v->record.classification, &s->cls), 0);
    for (size_t i = 0; i < v->n_notify_down; i++) {
        size_t used = strlen(s->notify);
        snprintf(s->notify + used, sizeof s->notify - used, "%s%s", i ? "," : "",
                 v->notify_down[i]);
    }
    s->message = alert_format_incident_message(change, v->alert, s->text, sizeof s->text);
    assert_int_equal(s->message, s->text[0] != '\0');
}

/* The id source: hands out *ctx, then one more each time (as the server does). */
static int64_t next_id(void *ctx)
{
    int64_t *id = ctx;
    return (*id)++;
}

struct fixture {
    struct recorder rec;
    int64_t next_id;
    struct rca *rca;
};

static const struct rca_config CFG = {
    .window_ms = 60 * SEC, .hold_ms = 30 * SEC, .threshold = 5, .server_fraction = 0.8};

static void clear(struct recorder *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->seen[i].scope);
        free(r->seen[i].workers_json);
        free(r->seen[i].evidence);
    }
    r->n = 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!f)
        return -1;
    f->next_id = 1;
    if (rca_new(&CFG, next_id, &f->next_id, record, &f->rec, &f->rca, err, sizeof err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rca_free(f->rca);
    clear(&f->rec);
    free(f);
    return 0;
}

static void down(struct fixture *f, const char *name, const char *ip, const char *site, int fleet,
                 int64_t t)
{
    char err[256] = "";
    if (rca_worker_down(f->rca, name, ip, site, fleet, t, err, sizeof err) != 0)
        fail_msg("down %s: %s", name, err);
}

static int count(const struct recorder *r, enum incident_change change)
{
    int n = 0;
    for (int i = 0; i < r->n; i++)
        n += r->seen[i].change == change;
    return n;
}

static int count_messages(const struct recorder *r)
{
    int n = 0;
    for (int i = 0; i < r->n; i++)
        n += r->seen[i].message;
    return n;
}

static const struct seen_change *last(const struct recorder *r)
{
    assert_true(r->n > 0);
    return &r->seen[r->n - 1];
}

static const struct seen_change *find(const struct recorder *r, enum incident_change change)
{
    for (int i = 0; i < r->n; i++) {
        if (r->seen[i].change == change)
            return &r->seen[i];
    }
    fail_msg("no %s reported", incident_change_name(change));
    return NULL;
}

/* value of a JSON text at a path of object keys, dumped compactly (caller frees) */
static char *json_at(const char *text, const char *key, const char *key2)
{
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    json_t *v = json_object_get(root, key);
    if (v && key2)
        v = json_object_get(v, key2);
    char *out = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("(missing)");
    json_decref(root);
    return out;
}

static void assert_json_at(const char *text, const char *key, const char *key2, const char *want)
{
    char *got = json_at(text, key, key2);
    if (strcmp(got, want) != 0)
        fail_msg("%s%s%s: got %s, want %s", key, key2 ? "." : "", key2 ? key2 : "", got, want);
    free(got);
}

/* Five workers of one site behind one address, DOWN over 20 s: held, then one network
 * incident, no per-worker messages, then closed once all are back. */
static void test_network_one_site(void **state)
{
    struct fixture *f = *state;
    char name[16];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        down(f, name, "203.0.113.7", "fra1", 20, T0 + (i - 1) * 5 * SEC);
    }
    assert_int_equal(f->rec.n, 5);
    assert_int_equal(count(&f->rec, INCIDENT_UPDATED), 5);
    assert_false(last(&f->rec)->announced);
    assert_int_equal(last(&f->rec)->cls, INCIDENT_NETWORK);
    assert_int_equal(rca_next_deadline(f->rca), T0 + 30 * SEC);

    rca_tick(f->rca, T0 + 30 * SEC - 1);
    assert_int_equal(f->rec.n, 5);
    rca_tick(f->rca, T0 + 30 * SEC);
    assert_int_equal(f->rec.n, 6);
    const struct seen_change *o = last(&f->rec);
    assert_int_equal(o->change, INCIDENT_OPENED);
    assert_int_equal(o->id, 1);
    assert_int_equal(o->cls, INCIDENT_NETWORK);
    assert_string_equal(o->notify, "");
    assert_string_equal(o->text,
                        "🔴 NETWORK ISSUE: 5 workers behind 203.0.113.7 (site fra1) went down\n"
                        "box-1, box-2, box-3, box-4, box-5");
    assert_string_equal(o->scope,
                        "{\"label\":\"behind 203.0.113.7 (site fra1)\",\"ips\":[\"203.0.113.7\"],"
                        "\"prefixes\":[\"203.0.113.0/24\"],\"sites\":[\"fra1\"],\"groups\":[{"
                        "\"key\":\"site:fra1\",\"site\":\"fra1\",\"ips\":[\"203.0.113.7\"],"
                        "\"prefixes\":[\"203.0.113.0/24\"],\"workers\":5,\"names\":[\"box-1\","
                        "\"box-2\",\"box-3\",\"box-4\",\"box-5\"]}],\"group\":\"site:fra1\"}");
    assert_json_at(o->evidence, "rule", NULL, "\"shared_group\"");
    assert_json_at(o->evidence, "reason", NULL,
                   "\"5 of 5 workers down share site fra1 (threshold 5)\"");
    assert_json_at(o->evidence, "fleet", NULL, "20");
    assert_json_at(o->evidence, "largest_group", "key", "\"site:fra1\"");
    assert_int_equal(rca_next_deadline(f->rca), RCA_NO_DEADLINE);

    /* Per-worker UP texts are not sent: the closing message covers them. */
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        assert_false(rca_worker_up(f->rca, name, T0 + 4 * 60 * SEC));
    }
    assert_int_equal(count(&f->rec, INCIDENT_CLOSED), 1);
    const struct seen_change *c = last(&f->rec);
    assert_int_equal(c->change, INCIDENT_CLOSED);
    assert_int_equal(c->closed_ms, T0 + 4 * 60 * SEC);
    assert_string_equal(c->text, "✅ RESOLVED: network issue behind 203.0.113.7 (site fra1): 5 "
                                 "workers back after 4m 00s");
    assert_int_equal(rca_open_count(f->rca), 0);
    assert_int_equal(count_messages(&f->rec), 2); /* OPENED and CLOSED, nothing per worker */
    /* A worker the engine does not know as down: the core behaviour applies. */
    assert_true(rca_worker_up(f->rca, "box-1", T0 + 5 * 60 * SEC));
}

/* Two sites with two or more down each: widespread, even though the total only just reaches
 * the threshold. */
static void test_widespread_two_sites(void **state)
{
    struct fixture *f = *state;
    down(f, "fra-1", "203.0.113.7", "fra1", 50, T0);
    down(f, "fra-2", "203.0.113.8", "fra1", 50, T0 + SEC);
    down(f, "fra-3", "203.0.113.9", "fra1", 50, T0 + 2 * SEC);
    down(f, "ams-1", "198.51.100.1", "ams1", 50, T0 + 3 * SEC);
    down(f, "ams-2", "198.51.100.1", "ams1", 50, T0 + 4 * SEC);
    rca_tick(f->rca, T0 + 30 * SEC);
    const struct seen_change *o = find(&f->rec, INCIDENT_OPENED);
    assert_int_equal(o->cls, INCIDENT_WIDESPREAD);
    assert_string_equal(o->notify, "");
    assert_json_at(o->evidence, "rule", NULL, "\"groups_with_2_or_more\"");
    assert_string_equal(o->text, "🔴 WIDESPREAD: 5 workers at 2 sites went down — possible DDoS "
                                 "or upstream outage\nfra-1, fra-2, fra-3, ams-1, ams-2");
    assert_json_at(o->scope, "sites", NULL, "[\"fra1\",\"ams1\"]");
}

/* Five workers in five different /24s: no place has enough for a network issue. */
static void test_widespread_five_networks(void **state)
{
    struct fixture *f = *state;
    char name[16], ip[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "w-%d", i);
        snprintf(ip, sizeof ip, "198.51.%d.10", i);
        down(f, name, ip, "", 100, T0 + i * SEC);
    }
    rca_tick(f->rca, T0 + 40 * SEC);
    const struct seen_change *o = find(&f->rec, INCIDENT_OPENED);
    assert_int_equal(o->cls, INCIDENT_WIDESPREAD);
    assert_json_at(o->evidence, "rule", NULL, "\"spread\"");
    assert_json_at(o->evidence, "groups", NULL, "5");
    assert_string_equal(o->text, "🔴 WIDESPREAD: 5 workers in 5 networks went down — possible "
                                 "DDoS or upstream outage\nw-1, w-2, w-3, w-4, w-5");
}

/* One worker: individual. Its DOWN text is due at announcement, its UP text when back; a
 * second worker joining the announced incident gets its DOWN text at once. */
static void test_individual(void **state)
{
    struct fixture *f = *state;
    down(f, "brickbox-43", "203.0.113.7", "", 20, T0);
    assert_int_equal(f->rec.n, 1);
    assert_int_equal(last(&f->rec)->change, INCIDENT_UPDATED);
    assert_string_equal(last(&f->rec)->notify, "");
    rca_tick(f->rca, T0 + 30 * SEC);
    const struct seen_change *o = last(&f->rec);
    assert_int_equal(o->change, INCIDENT_OPENED);
    assert_int_equal(o->cls, INCIDENT_INDIVIDUAL);
    assert_string_equal(o->notify, "brickbox-43");
    assert_false(o->message); /* per-worker texts instead */
    assert_string_equal(o->workers_json,
                        "[{\"name\":\"brickbox-43\",\"ip\":\"203.0.113.7\",\"site\":null,"
                        "\"group\":\"net:203.0.113.0/24\",\"down_at\":\"2026-11-21T10:02:12.000Z\","
                        "\"up_at\":null,\"unreachable\":false,\"down_message\":true}]");

    down(f, "db-1", "192.0.2.5", "", 20, T0 + 40 * SEC);
    assert_int_equal(last(&f->rec)->change, INCIDENT_UPDATED);
    assert_int_equal(last(&f->rec)->cls, INCIDENT_INDIVIDUAL);
    assert_string_equal(last(&f->rec)->notify, "db-1");

    assert_true(rca_worker_up(f->rca, "brickbox-43", T0 + 60 * SEC));
    assert_int_equal(last(&f->rec)->change, INCIDENT_UPDATED);
    assert_true(rca_worker_up(f->rca, "db-1", T0 + 90 * SEC));
    assert_int_equal(last(&f->rec)->change, INCIDENT_CLOSED);
    assert_int_equal(count(&f->rec, INCIDENT_OPENED), 1);
    assert_int_equal(count_messages(&f->rec), 0);
    assert_int_equal(rca_open_count(f->rca), 0);
}

/* Most of the fleet at once (canaries fine): the monitor's side. */
static void test_server_by_fleet_fraction(void **state)
{
    struct fixture *f = *state;
    char name[16], ip[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "g-%d", i);
        snprintf(ip, sizeof ip, "198.51.%d.10", i);
        down(f, name, ip, "", 6, T0 + i * SEC);
    }
    rca_tick(f->rca, T0 + 31 * SEC);
    const struct seen_change *o = find(&f->rec, INCIDENT_OPENED);
    assert_int_equal(o->cls, INCIDENT_SERVER);
    assert_string_equal(o->notify, "");
    assert_json_at(o->evidence, "rule", NULL, "\"fleet_fraction\"");
    assert_string_equal(o->text, "⚠️ 5 of 6 workers went down at once — likely the monitor's "
                                 "own connection (its canaries still answer, so they count as "
                                 "down)\ng-1, g-2, g-3, g-4, g-5");
    /* 5 of 7 is below 80%: widespread. */
    clear(&f->rec);
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "h-%d", i);
        snprintf(ip, sizeof ip, "198.51.%d.10", i);
        down(f, name, ip, "", 7, T0 + 5 * 60 * SEC + i * SEC);
    }
    rca_tick(f->rca, T0 + 6 * 60 * SEC);
    assert_int_equal(find(&f->rec, INCIDENT_OPENED)->cls, INCIDENT_WIDESPREAD);
}

/* The canaries fail: the server hands overdue workers over as unreachable. One server
 * incident, nobody counted down, closed when the canaries recover. */
static void test_server_by_canaries(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    assert_int_equal(
        rca_worker_unreachable(f->rca, "u-1", "203.0.113.7", "", 45, T0, err, sizeof err), -1);
    assert_non_null(strstr(err, "canaries are not failing"));
    assert_int_equal(f->rec.n, 0);

    assert_int_equal(rca_canaries(f->rca, true, "{\"gateway\":\"down\",\"1.1.1.1\":\"down\"}", T0,
                                  err, sizeof err),
                     0);
    assert_int_equal(f->rec.n, 1);
    assert_int_equal(last(&f->rec)->change, INCIDENT_UPDATED);
    assert_int_equal(last(&f->rec)->cls, INCIDENT_SERVER);
    assert_int_equal(last(&f->rec)->workers, 0);
    assert_int_equal(rca_next_deadline(f->rca), RCA_NO_DEADLINE); /* nobody to tell about yet */

    /* Handed over long after the window would have shut: still the same incident. */
    int64_t t = T0 + 3 * 60 * SEC;
    const char *names[] = {"u-1", "u-2", "u-3"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rca_worker_unreachable(f->rca, names[i], "203.0.113.7", "", 45,
                                                t + i * SEC, err, sizeof err),
                         0);
    }
    assert_int_equal(rca_next_deadline(f->rca), t + 30 * SEC);
    rca_tick(f->rca, t + 30 * SEC);
    const struct seen_change *o = find(&f->rec, INCIDENT_OPENED);
    assert_int_equal(o->cls, INCIDENT_SERVER);
    assert_int_equal(o->unreachable, 3);
    assert_int_equal(o->down, 0);
    assert_string_equal(o->notify, "");
    assert_string_equal(o->text, "⚠️ The monitor itself lost connectivity; 3 workers "
                                 "unreachable, not counted as down\nu-1, u-2, u-3");
    assert_json_at(o->evidence, "canaries", "gateway", "\"down\"");
    assert_json_at(o->evidence, "rule", NULL, "\"canaries\"");

    json_t *a = rca_analysis(f->rca, t + 31 * SEC);
    assert_int_equal(json_integer_value(json_object_get(a, "down")), 0);
    assert_int_equal(json_integer_value(json_object_get(a, "unreachable")), 3);
    assert_string_equal(json_string_value(json_object_get(a, "classification")), "server");
    assert_true(json_is_true(json_object_get(json_object_get(a, "canaries"), "failing")));
    json_decref(a);

    /* An unreachable worker heard again gets no per-worker UP text. */
    assert_false(rca_worker_up(f->rca, "u-2", t + 40 * SEC));
    assert_int_equal(last(&f->rec)->change, INCIDENT_UPDATED);

    assert_int_equal(rca_canaries(f->rca, false, NULL, t + 2 * 60 * SEC, err, sizeof err), 0);
    const struct seen_change *c = last(&f->rec);
    assert_int_equal(c->change, INCIDENT_CLOSED);
    assert_string_equal(c->text, "✅ RESOLVED: the monitor is connected again after 5m 00s; 3 "
                                 "workers were unreachable, not counted as down");
    assert_int_equal(rca_open_count(f->rca), 0);
    /* After recovery, a DOWN is a new incident of its own. */
    down(f, "u-1", "203.0.113.7", "", 45, t + 3 * 60 * SEC);
    assert_int_equal(last(&f->rec)->id, 2);
    assert_int_equal(last(&f->rec)->cls, INCIDENT_INDIVIDUAL);
    assert_int_equal(rca_canaries(f->rca, true, "not json", t, err, sizeof err), -1);
    assert_non_null(strstr(err, "not JSON"));
}

/* The canaries fail while an announced network incident is open: it becomes a server incident. */
static void test_canaries_reclassify_open_incident(void **state)
{
    struct fixture *f = *state;
    char name[16], err[256];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        down(f, name, "203.0.113.7", "fra1", 20, T0 + i * SEC);
    }
    rca_tick(f->rca, T0 + 31 * SEC);
    assert_int_equal(rca_canaries(f->rca, true, "{}", T0 + 40 * SEC, err, sizeof err), 0);
    const struct seen_change *r = last(&f->rec);
    assert_int_equal(r->change, INCIDENT_RECLASSIFIED);
    assert_int_equal(r->cls, INCIDENT_SERVER);
    assert_int_equal(r->previous, INCIDENT_NETWORK);
    assert_string_equal(r->text,
                        "⚠️ Now a monitor problem (was network issue): the monitor itself lost "
                        "connectivity; 5 workers unreachable, not counted as down\n"
                        "box-1, box-2, box-3, box-4, box-5");
    /* Its DOWN workers must still come back before it closes. */
    assert_int_equal(rca_canaries(f->rca, false, NULL, T0 + 50 * SEC, err, sizeof err), 0);
    assert_int_equal(last(&f->rec)->change, INCIDENT_UPDATED);
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        assert_false(rca_worker_up(f->rca, name, T0 + 60 * SEC));
    }
    assert_int_equal(last(&f->rec)->change, INCIDENT_CLOSED);
}

/* The canaries fail and recover before any worker is handed over: saved, never told. */
static void test_canary_blip(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(rca_canaries(f->rca, true, "{\"gateway\":\"timeout\"}", T0, err, sizeof err),
                     0);
    assert_int_equal(rca_canaries(f->rca, true, NULL, T0 + 10 * SEC, err, sizeof err), 0);
    assert_int_equal(rca_canaries(f->rca, false, NULL, T0 + 20 * SEC, err, sizeof err), 0);
    assert_int_equal(f->rec.n, 2);
    assert_int_equal(f->rec.seen[0].change, INCIDENT_UPDATED);
    assert_int_equal(f->rec.seen[1].change, INCIDENT_CLOSED);
    assert_false(f->rec.seen[1].announced);
    assert_int_equal(f->rec.seen[1].cls, INCIDENT_SERVER);
    assert_int_equal(count_messages(&f->rec), 0);
    assert_int_equal(rca_open_count(f->rca), 0);
}

/* A DOWN after the window of the open incident opens a new one. */
static void test_window_expiry(void **state)
{
    struct fixture *f = *state;
    down(f, "a", "203.0.113.1", "", 20, T0);
    /* Past the hold, nobody has ticked yet: the join announces it. */
    down(f, "b", "203.0.113.2", "", 20, T0 + 60 * SEC - 1);
    assert_int_equal(last(&f->rec)->id, 1);
    assert_int_equal(last(&f->rec)->change, INCIDENT_OPENED);
    assert_int_equal(last(&f->rec)->workers, 2);
    assert_string_equal(last(&f->rec)->notify, "a,b");
    down(f, "c", "203.0.113.3", "", 20, T0 + 60 * SEC);
    assert_int_equal(last(&f->rec)->id, 2);
    assert_int_equal(last(&f->rec)->change, INCIDENT_UPDATED);
    assert_int_equal(last(&f->rec)->workers, 1);
    assert_int_equal(rca_open_count(f->rca), 2);
    assert_int_equal(rca_next_deadline(f->rca), T0 + 90 * SEC);
    /* A duplicate DOWN changes nothing. */
    int before = f->rec.n;
    down(f, "a", "203.0.113.1", "", 20, T0 + 61 * SEC);
    assert_int_equal(f->rec.n, before);
}

/* Growth by >= 50% and >= 2 since last told is reported once; smaller steps are not. */
static void test_grows_a_lot_once(void **state)
{
    struct fixture *f = *state;
    char name[16];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        down(f, name, "203.0.113.7", "fra1", 100, T0 + i * SEC);
    }
    rca_tick(f->rca, T0 + 31 * SEC);
    clear(&f->rec);
    for (int i = 6; i <= 11; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        down(f, name, "203.0.113.7", "fra1", 100, T0 + 30 * SEC + i * SEC);
    }
    assert_int_equal(f->rec.n, 6);
    assert_int_equal(count(&f->rec, INCIDENT_GREW), 1);
    const struct seen_change *g = find(&f->rec, INCIDENT_GREW);
    assert_int_equal(g->workers, 8);
    assert_ptr_equal(g, &f->rec.seen[2]);
    assert_string_equal(g->text, "🔴 NETWORK ISSUE growing: 8 workers down now (was 5), behind "
                                 "203.0.113.7 (site fra1)\nbox-1, box-2, box-3, box-4, box-5, "
                                 "+3 more");
    assert_int_equal(count(&f->rec, INCIDENT_UPDATED), 5);

    /* 50% more but only one more worker is not "a lot". */
    struct recorder rec = {0};
    struct rca *r;
    char err[256];
    struct rca_config cfg = CFG;
    cfg.threshold = 2;
    cfg.hold_ms = 0;
    int64_t id = 1;
    assert_int_equal(rca_new(&cfg, next_id, &id, record, &rec, &r, err, sizeof err), 0);
    const char *names[] = {"n-1", "n-2", "n-3", "n-4"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            rca_worker_down(r, names[i], "203.0.113.9", "", 100, T0 + i * SEC, err, sizeof err), 0);
    assert_int_equal(rec.seen[1].change, INCIDENT_RECLASSIFIED); /* individual, then network */
    assert_int_equal(rec.seen[2].change, INCIDENT_UPDATED);      /* 2 -> 3 */
    assert_int_equal(rec.seen[3].change, INCIDENT_GREW);         /* 2 -> 4 */
    rca_free(r);
    clear(&rec);
}

/* With a pace, growth and reclassification are told at most once per pace, with the latest
 * figures: a cut-off server's count rising 2, 4, 6, 9, 14 within seconds makes the first
 * message after the hold and one update, not five messages. */
static void test_messages_are_paced(void **state)
{
    (void)state;
    struct recorder rec = {0};
    struct rca *r;
    char err[256];
    struct rca_config cfg = CFG;
    cfg.hold_ms = 3 * SEC;
    cfg.pace_ms = 3 * SEC;
    int64_t id = 1;
    assert_int_equal(rca_new(&cfg, next_id, &id, record, &rec, &r, err, sizeof err), 0);
    assert_int_equal(rca_canaries(r, true, "{}", T0, err, sizeof err), 0);
    static const int totals[] = {2, 4, 6, 9, 14};
    int n = 0;
    for (int step = 0; step < 5; step++) {
        int64_t t = T0 + step * SEC;
        rca_tick(r, t);
        for (; n < totals[step]; n++) {
            char name[16];
            snprintf(name, sizeof name, "w-%02d", n + 1);
            assert_int_equal(
                rca_worker_unreachable(r, name, "203.0.113.7", "", 20, t, err, sizeof err), 0);
        }
    }
    /* The hold: nothing told before T0 + 3 s. */
    assert_int_equal(count_messages(&rec), 1);
    const struct seen_change *opened = find(&rec, INCIDENT_OPENED);
    assert_int_equal(opened->updated_ms, T0 + 3 * SEC);
    assert_int_equal(opened->workers, 6);
    assert_int_equal(count(&rec, INCIDENT_GREW), 0);
    assert_int_equal(rca_next_deadline(r), T0 + 6 * SEC);

    /* Restored from its last save, the growth not yet told is told a pace after that save. */
    const struct seen_change *saved = last(&rec);
    struct incident_record stored = {.id = saved->id,
                                     .scope_json = saved->scope,
                                     .workers_json = saved->workers_json,
                                     .evidence_json = saved->evidence,
                                     .opened_ms = saved->opened_ms,
                                     .updated_ms = saved->updated_ms};
    snprintf(stored.classification, sizeof stored.classification, "server");
    struct recorder rec2 = {0};
    struct rca *again;
    int64_t id2 = 2;
    assert_int_equal(rca_new(&cfg, next_id, &id2, record, &rec2, &again, err, sizeof err), 0);
    assert_int_equal(rca_restore(again, &stored, err, sizeof err), 0);
    assert_int_equal(rec2.n, 0);
    assert_int_equal(rca_next_deadline(again), saved->updated_ms + 3 * SEC);
    rca_tick(again, saved->updated_ms + 3 * SEC);
    assert_int_equal(count(&rec2, INCIDENT_GREW), 1);
    assert_int_equal(last(&rec2)->workers, 14);
    rca_free(again);
    clear(&rec2);

    rca_tick(r, T0 + 5 * SEC);
    assert_int_equal(count(&rec, INCIDENT_GREW), 0);
    rca_tick(r, T0 + 6 * SEC);
    assert_int_equal(count(&rec, INCIDENT_GREW), 1);
    assert_string_equal(last(&rec)->text, "⚠️ The monitor is still cut off: 14 workers "
                                          "unreachable now (was 6), not counted as down\n"
                                          "w-01, w-02, w-03, w-04, w-05, +9 more");
    assert_int_equal(count_messages(&rec), 2);
    rca_free(r);
    clear(&rec);

    /* A reclassification due within the pace is told when it ends, with the class of then. */
    cfg = CFG;
    cfg.hold_ms = 0;
    cfg.pace_ms = 10 * SEC;
    cfg.threshold = 2;
    id = 1;
    assert_int_equal(rca_new(&cfg, next_id, &id, record, &rec, &r, err, sizeof err), 0);
    assert_int_equal(rca_worker_down(r, "a-1", "203.0.113.9", "", 100, T0, err, sizeof err), 0);
    assert_int_equal(rca_worker_down(r, "a-2", "203.0.113.9", "", 100, T0 + SEC, err, sizeof err),
                     0);
    assert_int_equal(
        rca_worker_down(r, "b-1", "198.51.100.9", "", 100, T0 + 2 * SEC, err, sizeof err), 0);
    assert_int_equal(
        rca_worker_down(r, "b-2", "198.51.100.9", "", 100, T0 + 3 * SEC, err, sizeof err), 0);
    assert_int_equal(count(&rec, INCIDENT_RECLASSIFIED), 0);
    assert_int_equal(rca_next_deadline(r), T0 + 10 * SEC);
    rca_tick(r, T0 + 10 * SEC);
    assert_int_equal(count(&rec, INCIDENT_RECLASSIFIED), 1);
    assert_int_equal(last(&rec)->cls, INCIDENT_WIDESPREAD);
    assert_int_equal(last(&rec)->previous, INCIDENT_INDIVIDUAL);
    assert_int_equal(last(&rec)->workers, 4);
    rca_free(r);
    clear(&rec);
}

/* A worker of a held incident comes back: DOWN is told (OPENED) before UP, then CLOSED. */
static void test_up_before_hold_ends(void **state)
{
    struct fixture *f = *state;
    down(f, "flaky", "203.0.113.7", "", 20, T0);
    assert_true(rca_worker_up(f->rca, "flaky", T0 + 10 * SEC));
    assert_int_equal(f->rec.n, 3);
    assert_int_equal(f->rec.seen[0].change, INCIDENT_UPDATED);
    assert_int_equal(f->rec.seen[1].change, INCIDENT_OPENED);
    assert_string_equal(f->rec.seen[1].notify, "flaky");
    assert_int_equal(f->rec.seen[1].down, 1);
    assert_int_equal(f->rec.seen[2].change, INCIDENT_CLOSED);
    assert_int_equal(f->rec.seen[2].closed_ms, T0 + 10 * SEC);
    assert_int_equal(rca_next_deadline(f->rca), RCA_NO_DEADLINE);

    /* The same for a network incident: announced at once, no per-worker UP. */
    clear(&f->rec);
    char name[16];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        down(f, name, "203.0.113.7", "fra1", 20, T0 + 60 * SEC + i * SEC);
    }
    assert_false(rca_worker_up(f->rca, "box-2", T0 + 70 * SEC));
    assert_int_equal(f->rec.seen[5].change, INCIDENT_OPENED);
    assert_int_equal(f->rec.seen[5].cls, INCIDENT_NETWORK);
    assert_int_equal(f->rec.seen[6].change, INCIDENT_UPDATED);
    assert_int_equal(f->rec.seen[6].down, 4);
}

/* IPv6 workers group by /48; a mapped IPv4 address is grouped as IPv4. */
static void test_ipv6_prefix(void **state)
{
    struct fixture *f = *state;
    const char *ips[] = {"2001:db8:1:a::1", "2001:db8:1:b::2", "2001:db8:1:ffff::3",
                         "2001:DB8:1::4", "2001:db8:1:0:1::5"};
    char name[16];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "v6-%d", i + 1);
        down(f, name, ips[i], "", 100, T0 + i * SEC);
    }
    down(f, "other", "2001:db8:2::1", "", 100, T0 + 6 * SEC);
    down(f, "mapped", "::ffff:198.51.100.9", "", 100, T0 + 7 * SEC);
    rca_tick(f->rca, T0 + 30 * SEC);
    const struct seen_change *o = find(&f->rec, INCIDENT_OPENED);
    assert_int_equal(o->cls, INCIDENT_NETWORK);
    assert_json_at(o->scope, "prefixes", NULL, "[\"2001:db8:1::/48\"]");
    assert_json_at(o->scope, "label", NULL, "\"behind 2001:db8:1::/48\"");
    assert_json_at(o->scope, "ips", NULL,
                   "[\"2001:db8:1:a::1\",\"2001:db8:1:b::2\",\"2001:db8:1:ffff::3\","
                   "\"2001:db8:1::4\",\"2001:db8:1:0:1::5\"]");
    assert_string_equal(o->text, "🔴 NETWORK ISSUE: 5 workers behind 2001:db8:1::/48 went down\n"
                                 "v6-1, v6-2, v6-3, v6-4, v6-5\nAlso down elsewhere: other, "
                                 "mapped");
    json_t *a = rca_analysis(f->rca, T0 + 30 * SEC);
    json_t *by_ip = json_object_get(a, "by_ip");
    assert_non_null(json_object_get(by_ip, "198.51.100.9"));
    json_t *groups = json_object_get(a, "groups");
    assert_int_equal(json_array_size(groups), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(groups, 2), "key")),
                        "net:198.51.100.0/24");
    json_decref(a);
}

/* What the callback saw is enough to carry on after a restart. */
static void test_restore_round_trip(void **state)
{
    struct fixture *f = *state;
    char name[16], err[256];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        down(f, name, "203.0.113.7", "fra1", 20, T0 + i * SEC);
    }
    rca_tick(f->rca, T0 + 31 * SEC);
    down(f, "solo", "192.0.2.1", "", 20, T0 + 2 * 60 * SEC);
    rca_tick(f->rca, T0 + 3 * 60 * SEC); /* solo: individual, its DOWN text sent */
    down(f, "late", "198.51.100.1", "", 20, T0 + 4 * 60 * SEC); /* held */
    assert_false(rca_worker_up(f->rca, "box-5", T0 + 4 * 60 * SEC + 1));
    assert_int_equal(rca_open_count(f->rca), 3);

    /* The latest saved state of each incident, as the store would keep it. */
    struct rca *again;
    struct recorder rec2 = {0};
    int64_t id2 = 4; /* as the server does: max stored id + 1 */
    assert_int_equal(rca_new(&CFG, next_id, &id2, record, &rec2, &again, err, sizeof err), 0);
    for (int64_t id = 1; id <= 3; id++) {
        const struct seen_change *s = NULL;
        for (int i = 0; i < f->rec.n; i++) {
            if (f->rec.seen[i].id == id)
                s = &f->rec.seen[i];
        }
        assert_non_null(s);
        struct incident_record stored = {.id = id,
                                         .scope_json = s->scope,
                                         .workers_json = s->workers_json,
                                         .evidence_json = s->evidence,
                                         .opened_ms = s->opened_ms,
                                         .updated_ms = s->updated_ms};
        snprintf(stored.classification, sizeof stored.classification, "%s",
                 incident_class_name(s->cls));
        if (rca_restore(again, &stored, err, sizeof err) != 0)
            fail_msg("restore %lld: %s", (long long)id, err);
    }
    assert_int_equal(rec2.n, 0);
    json_t *a1 = rca_analysis(f->rca, T0 + 5 * 60 * SEC);
    json_t *a2 = rca_analysis(again, T0 + 5 * 60 * SEC);
    char *t1 = json_dumps(a1, JSON_COMPACT), *t2 = json_dumps(a2, JSON_COMPACT);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    json_decref(a1);
    json_decref(a2);

    /* The held one is announced at its time; the ids go on after the restored ones. */
    assert_int_equal(rca_next_deadline(again), T0 + 4 * 60 * SEC + 30 * SEC);
    rca_tick(again, T0 + 5 * 60 * SEC);
    assert_int_equal(rec2.seen[0].change, INCIDENT_OPENED);
    assert_int_equal(rec2.seen[0].id, 3);
    assert_string_equal(rec2.seen[0].notify, "late");
    /* Who gets a per-worker UP survives too. */
    assert_true(rca_worker_up(again, "solo", T0 + 6 * 60 * SEC));
    assert_false(rca_worker_up(again, "box-1", T0 + 6 * 60 * SEC));
    assert_int_equal(
        rca_worker_down(again, "new", "192.0.2.99", "", 20, T0 + 10 * 60 * SEC, err, sizeof err),
        0);
    assert_int_equal(rec2.seen[rec2.n - 1].id, 4);
    for (int i = 2; i <= 4; i++) {
        snprintf(name, sizeof name, "box-%d", i);
        rca_worker_up(again, name, T0 + 11 * 60 * SEC);
    }
    assert_int_equal(rec2.seen[rec2.n - 1].change, INCIDENT_CLOSED);
    assert_string_equal(rec2.seen[rec2.n - 1].text, "✅ RESOLVED: network issue behind "
                                                    "203.0.113.7 (site fra1): 5 workers back "
                                                    "after 10m 59s");
    rca_free(again);
    clear(&rec2);
}

static void test_restore_bad_input(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct incident_record bad = {
        .id = 7,
        .workers_json = "[{\"name\":\"a\",\"ip\":\"\",\"site\":\"\",\"down_at\":\"yesterday\"}]",
        .evidence_json = "{}",
        .opened_ms = T0};
    assert_int_equal(rca_restore(f->rca, &bad, err, sizeof err), -1);
    assert_string_equal(err, "rca: workers[0].down_at must be an ISO 8601 time");
    bad.workers_json = "{}";
    assert_int_equal(rca_restore(f->rca, &bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "workers must be a JSON array"));
    bad.workers_json =
        "[{\"name\":\"a\",\"ip\":\"999.1.1.1\",\"down_at\":\"2026-11-21T10:00:00Z\"}]";
    assert_int_equal(rca_restore(f->rca, &bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "999.1.1.1"));
    bad.workers_json = "[]";
    bad.evidence_json = "{\"announced\":true,\"announced_classification\":\"bogus\"}";
    assert_int_equal(rca_restore(f->rca, &bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "announced_classification"));
    assert_int_equal(rca_open_count(f->rca), 0);
    bad.closed_ms = T0 + 1; /* closed ones are ignored */
    assert_int_equal(rca_restore(f->rca, &bad, err, sizeof err), 0);
    assert_int_equal(rca_open_count(f->rca), 0);
}

/* GET /admin/api/analysis: who is down, grouped by address and site, and the class. */
static void test_analysis(void **state)
{
    struct fixture *f = *state;
    json_t *a = rca_analysis(f->rca, T0);
    assert_string_equal(json_string_value(json_object_get(a, "classification")), "none");
    json_decref(a);

    down(f, "fra-1", "203.0.113.7", "fra1", 50, T0);
    down(f, "fra-2", "203.0.113.7", "fra1", 50, T0 + SEC);
    down(f, "solo", "192.0.2.1", "", 50, T0 + 2 * SEC);
    assert_true(rca_worker_up(f->rca, "solo", T0 + 3 * SEC));
    a = rca_analysis(f->rca, T0 + 4 * SEC);
    char *text = json_dumps(a, JSON_COMPACT);
    assert_json_at(text, "classification", NULL, "\"individual\"");
    assert_json_at(text, "down", NULL, "2");
    assert_json_at(text, "unreachable", NULL, "0");
    assert_json_at(text, "by_ip", NULL, "{\"203.0.113.7\":[\"fra-1\",\"fra-2\"]}");
    assert_json_at(text, "by_site", NULL, "{\"fra1\":[\"fra-1\",\"fra-2\"]}");
    assert_json_at(
        text, "groups", NULL,
        "[{\"key\":\"site:fra1\",\"site\":\"fra1\",\"ips\":[\"203.0.113.7\"],"
        "\"prefixes\":[\"203.0.113.0/24\"],\"workers\":2,\"names\":[\"fra-1\",\"fra-2\"]}]");
    assert_json_at(text, "canaries", NULL, "{\"failing\":false,\"since\":null,\"evidence\":null}");
    json_t *incidents = json_object_get(a, "incidents");
    assert_int_equal(json_array_size(incidents), 1);
    json_t *inc = json_array_get(incidents, 0);
    assert_int_equal(json_integer_value(json_object_get(inc, "workers")), 3);
    assert_int_equal(json_integer_value(json_object_get(inc, "down")), 2);
    assert_true(json_is_true(json_object_get(inc, "announced"))); /* solo came back */
    free(text);
    json_decref(a);
}

/* An id source that always hands out *ctx. */
static int64_t stuck_id(void *ctx)
{
    return *(int64_t *)ctx;
}

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    char err[256];
    char long_site[RCA_SITE_MAX + 2];
    memset(long_site, 's', sizeof long_site - 1);
    long_site[sizeof long_site - 1] = '\0';
    assert_int_equal(rca_worker_down(f->rca, "a", "not-an-ip", "", 5, T0, err, sizeof err), -1);
    assert_string_equal(err, "rca: ip \"not-an-ip\" of a is not an IPv4 or IPv6 address");
    assert_int_equal(rca_worker_down(f->rca, "", "192.0.2.1", "", 5, T0, err, sizeof err), -1);
    assert_non_null(strstr(err, "worker name"));
    assert_int_equal(rca_worker_down(f->rca, NULL, "192.0.2.1", "", 5, T0, err, sizeof err), -1);
    assert_int_equal(rca_worker_down(f->rca, "a", "192.0.2.1", long_site, 5, T0, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "site of a"));
    assert_int_equal(f->rec.n, 0);
    assert_int_equal(rca_open_count(f->rca), 0);
    /* No address and no site still groups (as "unknown"). */
    assert_int_equal(rca_worker_down(f->rca, "b", NULL, NULL, 5, T0, err, sizeof err), 0);
    assert_string_equal(last(&f->rec)->workers_json,
                        "[{\"name\":\"b\",\"ip\":\"\",\"site\":null,\"group\":\"net:unknown\","
                        "\"down_at\":\"2026-11-21T10:02:12.000Z\",\"up_at\":null,"
                        "\"unreachable\":false,\"down_message\":false}]");

    struct rca *r;
    struct rca_config cfg = CFG;
    cfg.threshold = 0;
    assert_int_equal(rca_new(&cfg, next_id, &f->next_id, record, NULL, &r, err, sizeof err), -1);
    assert_string_equal(err, "rca: threshold 0 must be >= 1");
    cfg = CFG;
    cfg.server_fraction = 1.5;
    assert_int_equal(rca_new(&cfg, next_id, &f->next_id, record, NULL, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "server_fraction 1.5"));
    cfg = CFG;
    cfg.hold_ms = -1;
    assert_int_equal(rca_new(&cfg, next_id, &f->next_id, record, NULL, &r, err, sizeof err), -1);
    assert_int_equal(rca_new(&CFG, next_id, &f->next_id, NULL, NULL, &r, err, sizeof err), -1);
    assert_int_equal(rca_new(&CFG, NULL, NULL, record, NULL, &r, err, sizeof err), -1);
    assert_string_equal(err, "rca: an id source and a change callback are required");
    assert_null(r);
    rca_free(NULL);

    /* An id source that hands out an id already open: nothing opens. */
    int64_t same = 1;
    assert_int_equal(rca_new(&CFG, stuck_id, &same, record, &f->rec, &r, err, sizeof err), 0);
    assert_int_equal(rca_worker_down(r, "c", "192.0.2.3", "", 5, T0, err, sizeof err), 0);
    assert_int_equal(
        rca_worker_down(r, "d", "192.0.2.4", "", 5, T0 + 2 * 60 * SEC, err, sizeof err), -1);
    assert_string_equal(err, "rca: the id source gave 1, which is already open");
    assert_int_equal(rca_open_count(r), 1);
    rca_free(r);
}

static void test_names(void **state)
{
    (void)state;
    enum incident_class cls;
    for (int i = INCIDENT_INDIVIDUAL; i <= INCIDENT_SERVER; i++) {
        assert_int_equal(incident_class_parse(incident_class_name((enum incident_class)i), &cls),
                         0);
        assert_int_equal(cls, i);
    }
    assert_int_equal(incident_class_parse("ddos", &cls), -1);
    assert_int_equal(incident_class_parse(NULL, &cls), -1);
    assert_string_equal(incident_class_name(INCIDENT_NETWORK), "network");
    assert_string_equal(incident_change_name(INCIDENT_RECLASSIFIED), "reclassified");
}

/* hold 0: announced with the DOWN itself. */
static void test_no_hold(void **state)
{
    (void)state;
    struct recorder rec = {0};
    struct rca *r;
    char err[256];
    struct rca_config cfg = CFG;
    cfg.hold_ms = 0;
    int64_t id = 42;
    assert_int_equal(rca_new(&cfg, next_id, &id, record, &rec, &r, err, sizeof err), 0);
    assert_int_equal(rca_worker_down(r, "a", "192.0.2.1", "", 5, T0, err, sizeof err), 0);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.seen[0].change, INCIDENT_OPENED);
    assert_int_equal(rec.seen[0].id, 42);
    assert_string_equal(rec.seen[0].notify, "a");
    rca_free(r);
    clear(&rec);
}

/* With save_delay_ms, plain updates are reported together; messages still go at once. */
static void test_save_delay(void **state)
{
    (void)state;
    struct recorder rec = {0};
    struct rca *r;
    char err[256];
    struct rca_config cfg = CFG;
    cfg.save_delay_ms = 1000;
    int64_t id = 1;
    assert_int_equal(rca_new(&cfg, next_id, &id, record, &rec, &r, err, sizeof err), 0);
    assert_int_equal(rca_worker_down(r, "a", "192.0.2.1", "", 50, T0, err, sizeof err), 0);
    assert_int_equal(rca_worker_down(r, "b", "192.0.2.2", "", 50, T0 + 100, err, sizeof err), 0);
    assert_int_equal(rca_worker_down(r, "c", "198.51.100.3", "", 50, T0 + 200, err, sizeof err), 0);
    assert_int_equal(rec.n, 0);
    assert_int_equal(rca_next_deadline(r), T0 + 1000);
    rca_tick(r, T0 + 999);
    assert_int_equal(rec.n, 0);
    rca_tick(r, T0 + 1000);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.seen[0].change, INCIDENT_UPDATED);
    assert_int_equal(rec.seen[0].workers, 3);
    assert_int_equal(rca_next_deadline(r), T0 + 30 * SEC);
    rca_tick(r, T0 + 30 * SEC);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.seen[1].change, INCIDENT_OPENED);
    assert_string_equal(rec.seen[1].notify, "a,b,c");
    /* A joining worker's DOWN text is due at once; a worker back is saved later. */
    assert_int_equal(rca_worker_down(r, "d", "203.0.113.4", "", 50, T0 + 31 * SEC, err, sizeof err),
                     0);
    assert_int_equal(rec.n, 3);
    assert_string_equal(rec.seen[2].notify, "d");
    assert_true(rca_worker_up(r, "a", T0 + 40 * SEC));
    assert_int_equal(rec.n, 3);
    rca_flush(r);
    assert_int_equal(rec.n, 4);
    assert_int_equal(rec.seen[3].down, 3);
    assert_int_equal(rca_next_deadline(r), RCA_NO_DEADLINE);
    rca_free(r);
    clear(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_network_one_site, setup, teardown),
        cmocka_unit_test_setup_teardown(test_widespread_two_sites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_widespread_five_networks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_individual, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_by_fleet_fraction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_by_canaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canaries_reclassify_open_incident, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canary_blip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grows_a_lot_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_up_before_hold_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_analysis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_no_hold),
        cmocka_unit_test(test_messages_are_paced),
        cmocka_unit_test(test_save_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
