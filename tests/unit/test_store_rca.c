/* test_store_rca.c — unit tests of the store's incidents, plain outbox messages and agent
 * diagnostics (the root-cause-analysis part of store.h) on the SQLite backend: each test opens a
 * fresh database in a mkdtemp directory, drives the libuv loop until the callbacks fire, and
 * checks what comes back, what survives a reopen and what a migrated old database keeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "store/store.h"

#define MAX_ROWS 16
#define TEXT_MAX 128

struct fixture {
    char dir[64];
    uv_loop_t loop;
    struct store *store;
};

/* ---- fixture ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fixture_open(struct fixture *fx)
{
    char err[256] = "";
    char uri[128];
    assert_int_equal(store_default_uri(fx->dir, uri, sizeof uri), 0);
    if (store_open(&fx->loop, uri, &fx->store, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
}

/* Closes the store and runs the loop so the store's handle is closed and freed. */
static void fixture_close(struct fixture *fx)
{
    store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
}

static void fixture_reopen(struct fixture *fx)
{
    fixture_close(fx);
    fixture_open(fx);
}

/* A fresh directory and loop; the store is opened by setup() only. */
static struct fixture *fixture_new(void)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/faultline-store-rca-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    return fx;
}

static int setup(void **state)
{
    struct fixture *fx = fixture_new();
    fixture_open(fx);
    *state = fx;
    return 0;
}

static int setup_no_store(void **state)
{
    *state = fixture_new();
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    fixture_close(fx);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    assert_int_equal(nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(fx);
    return 0;
}

static sqlite3 *open_side_connection(struct fixture *fx)
{
    char path[128];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/faultline.db", fx->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

/* ---- incidents ---- */

static struct incident_record make_incident(int64_t id, const char *cls, int64_t opened,
                                            int64_t updated, int64_t closed)
{
    struct incident_record inc = {
        .id = id, .opened_ms = opened, .updated_ms = updated, .closed_ms = closed};
    snprintf(inc.classification, sizeof inc.classification, "%s", cls);
    return inc;
}

/* Copies of incident records as a callback saw them. The records' string pointers are cleared
 * (the struct is returned by value): the texts are in the arrays beside them. */
struct incident_rows {
    int calls;
    int status;
    size_t n;
    struct incident_record recs[MAX_ROWS];
    char scope[MAX_ROWS][TEXT_MAX], workers[MAX_ROWS][TEXT_MAX], evidence[MAX_ROWS][TEXT_MAX];
};

static void incident_rows_add(struct incident_rows *rows, const struct incident_record *rec)
{
    size_t i = rows->n++;
    if (i >= MAX_ROWS)
        return;
    rows->recs[i] = *rec;
    snprintf(rows->scope[i], TEXT_MAX, "%s", rec->scope_json);
    snprintf(rows->workers[i], TEXT_MAX, "%s", rec->workers_json);
    snprintf(rows->evidence[i], TEXT_MAX, "%s", rec->evidence_json);
    rows->recs[i].scope_json = rows->recs[i].workers_json = rows->recs[i].evidence_json = NULL;
}

static void on_incident_row(const struct incident_record *rec, void *ctx)
{
    incident_rows_add(ctx, rec);
}

static void on_incidents(int status, const struct incident_record *incs, size_t n, void *ctx)
{
    struct incident_rows *rows = ctx;
    rows->calls++;
    rows->status = status;
    for (size_t i = 0; i < n; i++)
        incident_rows_add(rows, &incs[i]);
}

static struct incident_rows load_open_incidents(struct fixture *fx)
{
    struct incident_rows rows = {0};
    char err[256] = "";
    if (store_load_open_incidents(fx->store, on_incident_row, &rows, err, sizeof err) != 0)
        fail_msg("store_load_open_incidents: %s", err);
    return rows;
}

static struct incident_rows query_incidents(struct fixture *fx, const struct incident_query *q)
{
    struct incident_rows rows = {0};
    store_query_incidents(fx->store, q, on_incidents, &rows);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(rows.calls, 1);
    assert_int_equal(rows.status, 0);
    return rows;
}

/* The largest incident id stored (0 if none): queries come newest (highest id) first. */
static int64_t max_incident_id(struct fixture *fx)
{
    struct incident_query q = {.limit = 1};
    struct incident_rows rows = query_incidents(fx, &q);
    return rows.n ? rows.recs[0].id : 0;
}

/* What a save's or an append's done callback saw. */
struct save_result {
    int calls;
    int status;
    int64_t incident_id;
    size_t n_msgs;
    int64_t msg_ids[MAX_ROWS];
    int64_t msg_event_ids[MAX_ROWS];
    char msg_texts[MAX_ROWS][TEXT_MAX];
};

static void save_result_msgs(struct save_result *r, const struct outbox_record *msgs, size_t n)
{
    r->calls++;
    r->n_msgs = n;
    for (size_t i = 0; i < n && i < MAX_ROWS; i++) {
        r->msg_ids[i] = msgs[i].id;
        r->msg_event_ids[i] = msgs[i].event_id;
        snprintf(r->msg_texts[i], TEXT_MAX, "%s", msgs[i].text);
    }
}

static void on_incident_saved(int status, const struct incident_record *inc,
                              const struct outbox_record *msgs, size_t n, void *ctx)
{
    struct save_result *r = ctx;
    r->status = status;
    r->incident_id = inc ? inc->id : -1;
    save_result_msgs(r, msgs, n);
}

static void on_messages_appended(int status, const struct event_record *ev,
                                 const struct outbox_record *msgs, size_t n, void *ctx)
{
    struct save_result *r = ctx;
    r->status = status;
    r->incident_id = ev ? ev->id : 0;
    save_result_msgs(r, msgs, n);
}

static struct save_result save_incident(struct fixture *fx, const struct incident_record *inc,
                                        const struct outbox_record *msgs, size_t n)
{
    struct save_result r = {0};
    store_save_incident(fx->store, inc, msgs, n, on_incident_saved, &r);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    return r;
}

static struct outbox_record make_msg(const char *channel, const char *text)
{
    struct outbox_record m = {.text = text, .created_ms = 1700000000000};
    snprintf(m.channel, sizeof m.channel, "%s", channel);
    return m;
}

struct outbox_rows {
    size_t n;
    struct outbox_record recs[MAX_ROWS];
    char texts[MAX_ROWS][TEXT_MAX];
};

static void on_outbox(const struct outbox_record *rec, void *ctx)
{
    struct outbox_rows *rows = ctx;
    if (rows->n < MAX_ROWS) {
        rows->recs[rows->n] = *rec;
        snprintf(rows->texts[rows->n], TEXT_MAX, "%s", rec->text);
        rows->recs[rows->n].text = NULL; /* see texts: the struct is returned by value */
    }
    rows->n++;
}

static struct outbox_rows load_outbox(struct fixture *fx)
{
    struct outbox_rows rows = {0};
    char err[256] = "";
    if (store_load_pending_outbox(fx->store, on_outbox, &rows, err, sizeof err) != 0)
        fail_msg("store_load_pending_outbox: %s", err);
    return rows;
}

/* Row i of rows is want (NULL JSON fields read back as their defaults). */
static void assert_incident(const struct incident_rows *rows, size_t i,
                            const struct incident_record *want)
{
    const struct incident_record *got = &rows->recs[i];
    assert_int_equal(got->id, want->id);
    assert_string_equal(got->classification, want->classification);
    assert_string_equal(rows->scope[i], want->scope_json ? want->scope_json : "{}");
    assert_string_equal(rows->workers[i], want->workers_json ? want->workers_json : "[]");
    assert_string_equal(rows->evidence[i], want->evidence_json ? want->evidence_json : "{}");
    assert_int_equal(got->opened_ms, want->opened_ms);
    assert_int_equal(got->updated_ms, want->updated_ms);
    assert_int_equal(got->closed_ms, want->closed_ms);
}

/* ---- diagnostics ---- */

static struct diag_record make_diag(const char *worker, const char *record_id, const char *kind,
                                    int64_t t, const char *body)
{
    struct diag_record d = {.time_ms = t, .received_ms = t + 100000, .body_json = body};
    snprintf(d.worker, sizeof d.worker, "%s", worker);
    snprintf(d.record_id, sizeof d.record_id, "%s", record_id);
    snprintf(d.kind, sizeof d.kind, "%s", kind);
    return d;
}

struct backlog_result {
    int calls;
    int status;
    size_t stored, duplicates;
};

static void on_backlog(int status, size_t stored, size_t duplicates, void *ctx)
{
    struct backlog_result *r = ctx;
    r->calls++;
    r->status = status;
    r->stored = stored;
    r->duplicates = duplicates;
}

static struct backlog_result append_diags(struct fixture *fx, const struct diag_record *recs,
                                          size_t n)
{
    struct backlog_result r = {0};
    store_append_diagnostics(fx->store, recs, n, on_backlog, &r);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    return r;
}

struct diag_rows {
    int calls;
    int status;
    size_t n;
    struct diag_record recs[MAX_ROWS];
    char bodies[MAX_ROWS][TEXT_MAX];
};

static void on_diags(int status, const struct diag_record *recs, size_t n, void *ctx)
{
    struct diag_rows *rows = ctx;
    rows->calls++;
    rows->status = status;
    for (size_t i = 0; i < n; i++, rows->n++) {
        if (rows->n >= MAX_ROWS)
            continue;
        rows->recs[rows->n] = recs[i];
        snprintf(rows->bodies[rows->n], TEXT_MAX, "%s", recs[i].body_json);
        rows->recs[rows->n].body_json = NULL; /* see bodies: the struct is returned by value */
    }
}

static struct diag_rows query_diags(struct fixture *fx, const struct diag_query *q)
{
    struct diag_rows rows = {0};
    store_query_diagnostics(fx->store, q, on_diags, &rows);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(rows.calls, 1);
    assert_int_equal(rows.status, 0);
    return rows;
}

/* ---- tests: incidents ---- */

static void test_incidents_save_and_load_open(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(max_incident_id(fx), 0);
    assert_int_equal(load_open_incidents(fx).n, 0);

    struct incident_record incs[] = {
        make_incident(3, "network", 3000, 3500, 0),
        make_incident(1, "individual", 1000, 1000, 0),
        make_incident(2, "widespread", 2000, 2600, 2600),
    };
    incs[0].scope_json = "{\"site\":\"rack-7\"}";
    incs[0].workers_json = "[\"gpu-01\",\"gpu-02\"]";
    incs[0].evidence_json = "{\"canaries\":{\"1.1.1.1\":\"ok\"}}";
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(save_incident(fx, &incs[i], NULL, 0).status, 0);

    struct incident_rows open = load_open_incidents(fx);
    assert_int_equal(open.n, 2); /* oldest first; the closed one is left out */
    assert_incident(&open, 0, &incs[1]);
    assert_incident(&open, 1, &incs[0]);
    assert_int_equal(max_incident_id(fx), 3);
}

static void test_incident_upsert(void **state)
{
    struct fixture *fx = *state;
    struct incident_record inc = make_incident(5, "individual", 1000, 1000, 0);
    inc.workers_json = "[\"gpu-01\"]";
    assert_int_equal(save_incident(fx, &inc, NULL, 0).status, 0);

    struct incident_record grown = make_incident(5, "network", 1000, 4000, 0);
    grown.workers_json = "[\"gpu-01\",\"gpu-02\",\"gpu-03\"]";
    assert_int_equal(save_incident(fx, &grown, NULL, 0).status, 0);
    struct incident_rows open = load_open_incidents(fx);
    assert_int_equal(open.n, 1);
    assert_incident(&open, 0, &grown);

    struct incident_record closed = grown;
    closed.updated_ms = closed.closed_ms = 9000;
    assert_int_equal(save_incident(fx, &closed, NULL, 0).status, 0);
    assert_int_equal(load_open_incidents(fx).n, 0);
    struct incident_query q = {.limit = 10};
    struct incident_rows all = query_incidents(fx, &q);
    assert_int_equal(all.n, 1);
    assert_incident(&all, 0, &closed);
    assert_int_equal(max_incident_id(fx), 5);

    /* Reopened (closed_ms back to 0): open again. */
    assert_int_equal(save_incident(fx, &grown, NULL, 0).status, 0);
    assert_int_equal(load_open_incidents(fx).n, 1);
}

static void test_incident_bad_id_fails(void **state)
{
    struct fixture *fx = *state;
    struct outbox_record msg = make_msg("telegram", "never sent");
    static const int64_t ids[] = {0, -4};
    for (size_t i = 0; i < 2; i++) {
        struct incident_record inc = make_incident(ids[i], "network", 1000, 1000, 0);
        struct save_result r = save_incident(fx, &inc, &msg, 1);
        assert_true(r.status < 0);
        assert_int_equal(r.msg_ids[0], 0);
    }
    assert_int_equal(load_outbox(fx).n, 0);
    assert_int_equal(max_incident_id(fx), 0);
    /* Without a done callback the bad save is still dropped, and a good one passes. */
    struct incident_record bad = make_incident(0, "network", 1000, 1000, 0);
    store_save_incident(fx->store, &bad, &msg, 1, NULL, NULL);
    struct incident_record good = make_incident(1, "server", 1000, 1000, 0);
    store_save_incident(fx->store, &good, NULL, 0, NULL, NULL);
    assert_int_equal(max_incident_id(fx), 1);
    assert_int_equal(load_outbox(fx).n, 0);
}

static void test_incident_messages(void **state)
{
    struct fixture *fx = *state;
    struct incident_record inc = make_incident(1, "network", 1000, 1000, 0);
    struct outbox_record msgs[] = {make_msg("telegram", "rack-7 lost its uplink"),
                                   make_msg("slack", "network incident #1")};
    msgs[1].created_ms = 0; /* the store fills in now */
    int64_t before = clock_wall_ms();
    struct save_result r = save_incident(fx, &inc, msgs, 2);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.incident_id, 1);
    assert_int_equal(r.n_msgs, 2);
    assert_true(r.msg_ids[0] > 0);
    assert_true(r.msg_ids[1] > r.msg_ids[0]);
    assert_int_equal(r.msg_event_ids[0], 0);
    assert_string_equal(r.msg_texts[1], "network incident #1");

    /* A save without a callback is committed too: a synchronous read sees it. */
    struct incident_record closed = make_incident(1, "network", 1000, 5000, 5000);
    struct outbox_record resolved = make_msg("telegram", "incident #1 resolved");
    store_save_incident(fx->store, &closed, &resolved, 1, NULL, NULL);

    struct outbox_rows out = load_outbox(fx);
    assert_int_equal(out.n, 3);
    assert_int_equal(out.recs[0].id, r.msg_ids[0]);
    assert_string_equal(out.recs[0].channel, "telegram");
    assert_string_equal(out.texts[0], "rack-7 lost its uplink");
    assert_int_equal(out.recs[0].created_ms, 1700000000000);
    assert_int_equal(out.recs[1].id, r.msg_ids[1]);
    assert_true(out.recs[1].created_ms >= before);
    assert_int_equal(out.recs[1].event_id, 0);
    assert_string_equal(out.texts[2], "incident #1 resolved");
    assert_int_equal(load_open_incidents(fx).n, 0);
}

static void test_query_incidents(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        int64_t opened, updated, closed;
    } seed[] = {
        /* ids 1..5 */
        {1000, 1500, 1500}, {2000, 2000, 0}, {3000, 7000, 0}, {4000, 4500, 4500}, {5000, 5000, 0},
    };
    for (size_t i = 0; i < 5; i++) {
        struct incident_record inc = make_incident((int64_t)i + 1, "network", seed[i].opened,
                                                   seed[i].updated, seed[i].closed);
        assert_int_equal(save_incident(fx, &inc, NULL, 0).status, 0);
    }
    static const struct {
        int limit;
        int open_only;
        int64_t since_ms;
        int64_t id;
        int64_t want[7]; /* ids, newest first, 0-terminated */
    } rows[] = {
        {10, 0, 0, 0, {5, 4, 3, 2, 1}},
        {2, 0, 0, 0, {5, 4}},
        {10, 1, 0, 0, {5, 3, 2}},
        {10, 0, 4000, 0, {5, 4, 3}}, /* 3 was updated after 4000 */
        {10, 1, 4600, 0, {5, 3}},
        {10, 0, 9000, 0, {0}},
        {10, 0, 0, 4, {4}},
        {10, 1, 0, 4, {0}}, /* 4 is closed */
        {10, 0, 0, 99, {0}},
        {0, 0, 0, 0, {5, 4, 3, 2, 1}},    /* limit 0: the default */
        {5000, 0, 0, 0, {5, 4, 3, 2, 1}}, /* capped at 1000 */
        {1, 1, 0, 0, {5}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct incident_query q = {rows[i].limit, rows[i].open_only, rows[i].since_ms, rows[i].id};
        struct incident_rows got = query_incidents(fx, &q);
        size_t n = 0;
        while (rows[i].want[n])
            n++;
        assert_int_equal(got.n, n);
        for (size_t k = 0; k < n; k++) {
            int64_t id = rows[i].want[k];
            assert_int_equal(got.recs[k].id, id);
            assert_int_equal(got.recs[k].opened_ms, seed[id - 1].opened);
            assert_int_equal(got.recs[k].closed_ms, seed[id - 1].closed);
        }
    }
}

static void test_append_messages(void **state)
{
    struct fixture *fx = *state;
    struct outbox_record msgs[] = {make_msg("telegram", "gpu-01 backlog: 3 diagnoses"),
                                   make_msg("webhook", "backlog")};
    struct save_result r = {0};
    store_append_messages(fx->store, msgs, 2, on_messages_appended, &r);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.incident_id, 0); /* no event */
    assert_int_equal(r.n_msgs, 2);
    assert_true(r.msg_ids[0] > 0 && r.msg_ids[1] > r.msg_ids[0]);
    struct outbox_rows out = load_outbox(fx);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.recs[1].id, r.msg_ids[1]);
    assert_string_equal(out.texts[0], "gpu-01 backlog: 3 diagnoses");
    assert_string_equal(out.recs[1].channel, "webhook");
}

/* ---- tests: diagnostics ---- */

static void test_diagnostics_dedupe(void **state)
{
    struct fixture *fx = *state;
    struct diag_record first[] = {
        make_diag("gpu-01", "m-1", "metric", 1000, "{\"ok\":false}"),
        make_diag("gpu-01", "d-1", "diagnostic", 1100, "{\"mtr\":{}}"),
    };
    struct backlog_result r = append_diags(fx, first, 2);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.stored, 2);
    assert_int_equal(r.duplicates, 0);

    static const struct {
        const char *worker, *record_id;
        size_t stored, duplicates;
    } rows[] = {
        {"gpu-01", "m-1", 0, 1}, /* a retried upload */
        {"gpu-02", "m-1", 1, 0}, /* the same id from another worker is its own record */
        {"gpu-02", "m-1", 0, 1},
        {"gpu-01", "m-2", 1, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct diag_record d =
            make_diag(rows[i].worker, rows[i].record_id, "metric", 2000 + i, "{\"ok\":true}");
        r = append_diags(fx, &d, 1);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.stored, rows[i].stored);
        assert_int_equal(r.duplicates, rows[i].duplicates);
    }
    /* The same record twice in one upload, beside a new one. */
    struct diag_record twice[] = {
        make_diag("gpu-03", "m-9", "metric", 3000, "{}"),
        make_diag("gpu-03", "m-9", "metric", 3000, "{}"),
        make_diag("gpu-01", "d-1", "diagnostic", 1100, "{\"changed\":true}"),
    };
    r = append_diags(fx, twice, 3);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 2);
    r = append_diags(fx, NULL, 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.stored + r.duplicates, 0);

    struct diag_query q = {.limit = 100, .oldest_first = 1};
    struct diag_rows all = query_diags(fx, &q);
    assert_int_equal(all.n, 5);
    assert_string_equal(all.recs[1].record_id, "d-1");
    assert_string_equal(all.bodies[1], "{\"mtr\":{}}"); /* the first copy was kept */
}

static void test_query_diagnostics(void **state)
{
    struct fixture *fx = *state;
    struct diag_record seed[] = {
        /* 1 */ make_diag("gpu-01", "m-1", "metric", 1000, "{\"ok\":false}"),
        /* 2 */ make_diag("gpu-01", "d-1", "diagnostic", 2000, "{\"mtr\":{\"hops\":[]}}"),
        /* 3 */ make_diag("gpu-02", "d-1", "diagnostic", 3000, "{\"mtr\":null}"),
        /* 4 */ make_diag("gpu-02", "d-2", "diagnostic", 4000, "not json {"),
        /* 5 */ make_diag("gpu-02", "d-3", "diagnostic", 5000, "{\"mtr\":{\"reached\":true}}"),
        /* 6 */ make_diag("gpu-01", "m-2", "metric", 6000, NULL),
    };
    seed[5].received_ms = 0; /* the store fills in now */
    int64_t before = clock_wall_ms();
    assert_int_equal(append_diags(fx, seed, 6).stored, 6);

    static const struct {
        int limit;
        const char *worker, *kind;
        int64_t since_ms, until_ms;
        int with_mtr, oldest_first;
        int want[8]; /* 1-based seed rows in the order expected, 0-terminated */
    } rows[] = {
        {100, NULL, NULL, 0, 0, 0, 0, {6, 5, 4, 3, 2, 1}},
        {100, NULL, NULL, 0, 0, 0, 1, {1, 2, 3, 4, 5, 6}},
        {2, NULL, NULL, 0, 0, 0, 0, {6, 5}},
        {2, NULL, NULL, 0, 0, 0, 1, {1, 2}},
        {100, "gpu-01", NULL, 0, 0, 0, 0, {6, 2, 1}},
        {100, NULL, "metric", 0, 0, 0, 0, {6, 1}},
        {100, "gpu-02", "diagnostic", 0, 0, 0, 1, {3, 4, 5}},
        {100, NULL, NULL, 2000, 0, 0, 0, {6, 5, 4, 3, 2}},
        {100, NULL, NULL, 0, 4000, 0, 0, {4, 3, 2, 1}},
        {100, NULL, NULL, 2000, 4000, 0, 1, {2, 3, 4}},
        {100, NULL, NULL, 0, 0, 1, 0, {5, 2}}, /* an mtr object; null and bad JSON are not */
        {100, "gpu-02", NULL, 0, 0, 1, 0, {5}},
        {100, NULL, NULL, 0, 4500, 1, 1, {2}},
        {100, "nobody", NULL, 0, 0, 0, 0, {0}},
        {0, NULL, NULL, 0, 0, 0, 0, {6, 5, 4, 3, 2, 1}}, /* limit 0: the default */
        {9999, NULL, "metric", 0, 0, 0, 1, {1, 6}},      /* capped at 1000 */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct diag_query q = {rows[i].limit,       rows[i].worker,   rows[i].kind,
                               rows[i].since_ms,    rows[i].until_ms, rows[i].with_mtr,
                               rows[i].oldest_first};
        struct diag_rows got = query_diags(fx, &q);
        size_t n = 0;
        while (rows[i].want[n])
            n++;
        assert_int_equal(got.n, n);
        for (size_t k = 0; k < n; k++) {
            const struct diag_record *want = &seed[rows[i].want[k] - 1];
            const struct diag_record *d = &got.recs[k];
            assert_true(d->id > 0);
            assert_string_equal(d->worker, want->worker);
            assert_string_equal(d->record_id, want->record_id);
            assert_string_equal(d->kind, want->kind);
            assert_int_equal(d->time_ms, want->time_ms);
            assert_string_equal(got.bodies[k], want->body_json ? want->body_json : "{}");
            if (want->received_ms)
                assert_int_equal(d->received_ms, want->received_ms);
            else
                assert_true(d->received_ms >= before);
        }
    }
}

/* ---- tests: durability, closing, migration ---- */

static void test_reopen_keeps_everything(void **state)
{
    struct fixture *fx = *state;
    struct incident_record open = make_incident(7, "widespread", 1000, 2000, 0);
    open.evidence_json = "{\"down\":12}";
    struct incident_record closed = make_incident(8, "server", 3000, 4000, 4000);
    struct outbox_record msg = make_msg("telegram", "widespread outage");
    struct save_result r = save_incident(fx, &open, &msg, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(save_incident(fx, &closed, NULL, 0).status, 0);
    struct diag_record d = make_diag("gpu-04", "d-7", "diagnostic", 1500, "{\"mtr\":{}}");
    assert_int_equal(append_diags(fx, &d, 1).stored, 1);

    fixture_reopen(fx);
    assert_int_equal(max_incident_id(fx), 8);
    struct incident_rows rows = load_open_incidents(fx);
    assert_int_equal(rows.n, 1);
    assert_incident(&rows, 0, &open);
    struct incident_query q = {.limit = 10, .id = 8};
    struct incident_rows got = query_incidents(fx, &q);
    assert_int_equal(got.n, 1);
    assert_incident(&got, 0, &closed);
    struct outbox_rows out = load_outbox(fx);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.recs[0].id, r.msg_ids[0]);
    struct diag_query dq = {.limit = 10, .with_mtr = 1};
    struct diag_rows diags = query_diags(fx, &dq);
    assert_int_equal(diags.n, 1);
    assert_string_equal(diags.recs[0].record_id, "d-7");
    /* The dedupe key survives the reopen too. */
    struct backlog_result again = append_diags(fx, &d, 1);
    assert_int_equal(again.stored, 0);
    assert_int_equal(again.duplicates, 1);
}

/* Jobs still queued when store_close() is called are committed and their callbacks run. */
static void test_close_with_jobs_pending(void **state)
{
    struct fixture *fx = *state;
    struct incident_record inc = make_incident(1, "network", 1000, 1000, 0);
    struct outbox_record msg = make_msg("telegram", "network incident");
    struct diag_record d = make_diag("gpu-05", "m-1", "metric", 1000, "{}");
    struct save_result saved = {0};
    struct backlog_result uploaded = {0};
    struct incident_rows incidents = {0};
    struct diag_rows diags = {0};
    struct incident_query iq = {.limit = 10};
    struct diag_query dq = {.limit = 10};
    store_save_incident(fx->store, &inc, &msg, 1, on_incident_saved, &saved);
    store_append_diagnostics(fx->store, &d, 1, on_backlog, &uploaded);
    store_query_incidents(fx->store, &iq, on_incidents, &incidents);
    store_query_diagnostics(fx->store, &dq, on_diags, &diags);
    store_close(fx->store); /* without running the loop first */
    fx->store = NULL;
    assert_int_equal(saved.calls, 1);
    assert_int_equal(saved.status, 0);
    assert_true(saved.msg_ids[0] > 0);
    assert_int_equal(uploaded.calls, 1);
    assert_int_equal(uploaded.status, 0);
    assert_int_equal(uploaded.stored, 1);
    assert_int_equal(incidents.calls, 1);
    assert_int_equal(incidents.n, 1);
    assert_int_equal(diags.calls, 1);
    assert_int_equal(diags.n, 1);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);

    fixture_open(fx);
    assert_int_equal(load_open_incidents(fx).n, 1);
    assert_int_equal(load_outbox(fx).n, 1);
}

static void on_worker_count(const struct worker_record *rec, void *ctx);

/* Counts the callbacks of the event entity's jobs (append and query). */
struct event_calls {
    int appended, queried, status_sum;
    size_t events_seen;
};

static void on_event_appended(int status, const struct event_record *ev,
                              const struct outbox_record *msgs, size_t n, void *ctx)
{
    struct event_calls *c = ctx;
    c->appended++;
    c->status_sum += status;
}

static void on_events_read(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct event_calls *c = ctx;
    c->queried++;
    c->status_sum += status;
    c->events_seen = n;
}

/* One job of every kind each entity file defines, queued before the loop runs: they share
 * batches, every callback runs once with status 0, and each read sees the writes queued
 * before it. */
static void test_every_entity_in_one_batch(void **state)
{
    struct fixture *fx = *state;
    struct worker_record w = {.state = WORKER_UP, .gpus = 1};
    snprintf(w.name, sizeof w.name, "gpu-01");
    struct event_record ev = {.time_ms = 1000, .kind = EVENT_DOWN};
    snprintf(ev.worker, sizeof ev.worker, "gpu-01");
    struct outbox_record msg = make_msg("telegram", "gpu-01 is down");
    int64_t id = store_next_incident_id(fx->store);
    assert_true(id > 0);
    struct incident_record inc = make_incident(id, "individual", 1000, 1000, 0);
    struct diag_record d = make_diag("gpu-01", "m-1", "metric", 1000, "{}");
    struct event_query eq = {.limit = 10};
    struct incident_query iq = {.limit = 10};
    struct diag_query dq = {.limit = 10};
    struct event_calls events = {0};
    struct save_result saved = {0}, appended = {0};
    struct backlog_result uploaded = {0};
    struct incident_rows incidents = {0};
    struct diag_rows diags = {0};

    store_save_workers(fx->store, &w, 1);                                /* store_workers.c */
    store_append_event(fx->store, &w, &ev, &msg, 1, on_event_appended, &events); /* events */
    store_append_messages(fx->store, &msg, 1, on_messages_appended, &appended);
    store_query_events(fx->store, &eq, on_events_read, &events);
    store_outbox_sent(fx->store, 1, 1, 2000, NULL);                           /* store_outbox.c */
    store_outbox_retry(fx->store, 2, 1, 3000, "busy");
    store_save_incident(fx->store, &inc, &msg, 1, on_incident_saved, &saved); /* incidents */
    store_query_incidents(fx->store, &iq, on_incidents, &incidents);
    store_append_diagnostics(fx->store, &d, 1, on_backlog, &uploaded);  /* diagnostics */
    store_query_diagnostics(fx->store, &dq, on_diags, &diags);
    uv_run(&fx->loop, UV_RUN_DEFAULT);

    assert_int_equal(events.appended, 1);
    assert_int_equal(events.queried, 1);
    assert_int_equal(events.status_sum, 0);
    assert_int_equal(events.events_seen, 1);
    assert_int_equal(appended.calls, 1);
    assert_int_equal(appended.status, 0);
    assert_int_equal(saved.calls, 1);
    assert_int_equal(saved.status, 0);
    assert_int_equal(incidents.status, 0);
    assert_int_equal(incidents.n, 1);
    assert_int_equal(incidents.recs[0].id, id);
    assert_int_equal(uploaded.stored, 1);
    assert_int_equal(diags.n, 1);

    /* The synchronous reads of each entity. */
    struct outbox_rows pending = load_outbox(fx); /* 1 was sent: 2 (retried) and 3 remain */
    assert_int_equal(pending.n, 2);
    assert_int_equal(pending.recs[0].id, 2);
    assert_int_equal(load_open_incidents(fx).n, 1);
    assert_int_equal(max_incident_id(fx), id);
    size_t workers = 0;
    char err[256] = "";
    assert_int_equal(store_load_workers(fx->store, on_worker_count, &workers, err, sizeof err), 0);
    assert_int_equal(workers, 1);
}

static void on_commit_timer(uv_timer_t *timer)
{
    sqlite3 *db = timer->data;
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    uv_close((uv_handle_t *)timer, NULL);
}

/* Another writer holds the lock past the busy timeout: the writes wait, they do not fail. */
static void test_busy_database_is_retried(void **state)
{
    struct fixture *fx = *state;
    sqlite3 *db = open_side_connection(fx);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    uv_timer_t timer;
    assert_int_equal(uv_timer_init(&fx->loop, &timer), 0);
    timer.data = db;
    assert_int_equal(uv_timer_start(&timer, on_commit_timer, 5400, 0), 0);

    struct incident_record inc = make_incident(1, "network", 1000, 1000, 0);
    struct outbox_record msg = make_msg("telegram", "network incident");
    struct diag_record d = make_diag("gpu-06", "m-1", "metric", 1000, "{}");
    struct save_result saved = {0};
    struct backlog_result uploaded = {0};
    store_save_incident(fx->store, &inc, &msg, 1, on_incident_saved, &saved);
    store_append_diagnostics(fx->store, &d, 1, on_backlog, &uploaded);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(saved.calls, 1);
    assert_int_equal(saved.status, 0);
    assert_int_equal(uploaded.calls, 1);
    assert_int_equal(uploaded.status, 0);
    assert_int_equal(uploaded.stored, 1);
    assert_int_equal(load_outbox(fx).n, 1);
    sqlite3_close(db);
}

/* The schema and some rows as the previous release (user_version 1) left them. */
static const char OLD_SCHEMA_V1[] =
    "CREATE TABLE workers("
    " name TEXT PRIMARY KEY, state TEXT NOT NULL, ip TEXT NOT NULL, version TEXT NOT NULL,"
    " site TEXT NOT NULL, gpus INTEGER NOT NULL, uptime_s INTEGER NOT NULL,"
    " first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
    " state_since_ms INTEGER NOT NULL);"
    "CREATE TABLE events("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, worker TEXT NOT NULL,"
    " kind TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX events_worker ON events(worker, id);"
    "CREATE INDEX events_kind ON events(kind, id);"
    "CREATE INDEX events_time ON events(time_ms);"
    "CREATE TABLE outbox("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER, channel TEXT NOT NULL,"
    " text TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending'"
    " CHECK (status IN ('pending', 'sent', 'failed')),"
    " attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
    " next_attempt_ms INTEGER NOT NULL DEFAULT 0, sent_ms INTEGER, last_error TEXT);"
    "CREATE INDEX outbox_status ON outbox(status);"
    "INSERT INTO workers VALUES('old-1', 'down', '10.0.0.1', '0.9.0', 'a', 8, 60, 1, 2, 3);"
    "INSERT INTO events(time_ms, worker, kind) VALUES(3, 'old-1', 'down');"
    "INSERT INTO outbox(event_id, channel, text, created_ms) VALUES(1, 'telegram', 'old', 3);"
    "PRAGMA user_version = 1;";

static void create_database(struct fixture *fx, const char *sql)
{
    sqlite3 *db = open_side_connection(fx);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("creating the old database: %s", msg);
    sqlite3_close(db);
}

static int user_version(struct fixture *fx)
{
    sqlite3 *db = open_side_connection(fx);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return version;
}

static void on_worker_count(const struct worker_record *rec, void *ctx)
{
    (void)rec;
    ++*(size_t *)ctx;
}

static void test_migration_from_v1(void **state)
{
    struct fixture *fx = *state; /* no store open yet */
    create_database(fx, OLD_SCHEMA_V1);
    fixture_open(fx);
    assert_true(user_version(fx) > 1);

    size_t workers = 0;
    char err[256] = "";
    assert_int_equal(store_load_workers(fx->store, on_worker_count, &workers, err, sizeof err), 0);
    assert_int_equal(workers, 1);
    struct outbox_rows out = load_outbox(fx);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.texts[0], "old");
    assert_int_equal(out.recs[0].event_id, 1);

    assert_int_equal(max_incident_id(fx), 0);
    struct incident_record inc = make_incident(1, "individual", 10, 10, 0);
    struct outbox_record msg = make_msg("telegram", "new");
    struct save_result r = save_incident(fx, &inc, &msg, 1);
    assert_int_equal(r.status, 0);
    assert_true(r.msg_ids[0] > out.recs[0].id); /* outbox ids continue after the old ones */
    struct diag_record d = make_diag("old-1", "m-1", "metric", 10, "{}");
    assert_int_equal(append_diags(fx, &d, 1).stored, 1);

    fixture_reopen(fx); /* a second open finds nothing left to migrate */
    assert_int_equal(load_open_incidents(fx).n, 1);
    assert_int_equal(load_outbox(fx).n, 2);
}

static void test_newer_schema_is_refused(void **state)
{
    struct fixture *fx = *state;
    create_database(fx, "CREATE TABLE t(x); PRAGMA user_version = 999;");
    char err[256] = "", uri[128];
    struct store *s = NULL;
    assert_int_equal(store_default_uri(fx->dir, uri, sizeof uri), 0);
    assert_int_equal(store_open(&fx->loop, uri, &s, err, sizeof err), -1);
    assert_null(s);
    assert_non_null(strstr(err, "999"));
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(user_version(fx), 999); /* left as it was */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_incidents_save_and_load_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incident_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incident_bad_id_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incident_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_incidents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diagnostics_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_diagnostics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_jobs_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_database_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_entity_in_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v1, setup_no_store, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup_no_store, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
