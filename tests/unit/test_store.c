/* test_store.c — unit tests of the store (store.h) on its SQLite backend: every test opens a
 * fresh database in a mkdtemp directory, drives the libuv loop until the callbacks fire, and
 * checks what comes back and what survives a reopen. */
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

#include "store/store.h"

#define MAX_IDS 16
#define BIG_BATCH 100000

struct fixture {
    char dir[64];
    uv_loop_t loop;
    struct store *store;
};

/* ---- helpers ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fixture_open(struct fixture *fx)
{
    char err[256] = "", uri[128];
    assert_int_equal(store_default_uri(fx->dir, uri, sizeof uri), 0);
    int rc = store_open(&fx->loop, uri, &fx->store, err, sizeof err);
    if (rc != 0)
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

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/faultline-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    fixture_open(fx);
    *state = fx;
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

static struct worker_record make_worker(const char *name, enum worker_state state, int64_t t)
{
    struct worker_record w = {.gpus = 8, .uptime_s = 3600, .state = state};
    snprintf(w.name, sizeof w.name, "%s", name);
    snprintf(w.ip, sizeof w.ip, "10.0.0.%d", (int)(t % 250));
    snprintf(w.version, sizeof w.version, "1.2.%d", (int)(t % 10));
    snprintf(w.site, sizeof w.site, "site-%c", name[0]);
    w.first_seen_ms = t;
    w.last_seen_ms = t + 1000;
    w.state_since_ms = t + 500;
    return w;
}

static struct event_record make_event(const char *worker, enum event_kind kind, int64_t t,
                                      const char *details)
{
    struct event_record ev = {.time_ms = t, .kind = kind, .details_json = details};
    snprintf(ev.worker, sizeof ev.worker, "%s", worker);
    return ev;
}

static struct outbox_record make_msg(const char *channel, const char *text)
{
    struct outbox_record m = {.text = text, .created_ms = 1700000000000};
    snprintf(m.channel, sizeof m.channel, "%s", channel);
    return m;
}

/* What an append's done callback saw. */
struct append_result {
    int calls;
    int status;
    int64_t event_id;
    char details[64];
    int64_t msg_ids[MAX_IDS];
    int64_t msg_event_ids[MAX_IDS];
    char msg_texts[MAX_IDS][32];
    size_t n_msgs;
};

static void on_append(int status, const struct event_record *ev, const struct outbox_record *msgs,
                      size_t n, void *ctx)
{
    struct append_result *r = ctx;
    r->calls++;
    r->status = status;
    r->event_id = ev ? ev->id : 0;
    if (ev)
        snprintf(r->details, sizeof r->details, "%s", ev->details_json);
    r->n_msgs = n;
    for (size_t i = 0; i < n && i < MAX_IDS; i++) {
        r->msg_ids[i] = msgs[i].id;
        r->msg_event_ids[i] = msgs[i].event_id;
        snprintf(r->msg_texts[i], sizeof r->msg_texts[i], "%s", msgs[i].text);
    }
}

/* Appends and runs the loop until the done callback has run. */
static struct append_result append_and_wait(struct fixture *fx, const struct worker_record *w,
                                            const struct event_record *ev,
                                            const struct outbox_record *msgs, size_t n)
{
    struct append_result r = {0};
    store_append_event(fx->store, w, ev, msgs, n, on_append, &r);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    return r;
}

struct query_result {
    int calls;
    int status;
    size_t n;
    int64_t ids[MAX_IDS];
    char details[MAX_IDS][64];
    char workers[MAX_IDS][WORKER_NAME_MAX + 1];
    enum event_kind kinds[MAX_IDS];
};

static void on_query(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct query_result *r = ctx;
    r->calls++;
    r->status = status;
    r->n = n;
    for (size_t i = 0; i < n && i < MAX_IDS; i++) {
        r->ids[i] = evs[i].id;
        r->kinds[i] = evs[i].kind;
        snprintf(r->details[i], sizeof r->details[i], "%s", evs[i].details_json);
        snprintf(r->workers[i], sizeof r->workers[i], "%s", evs[i].worker);
    }
}

static struct query_result query_and_wait(struct fixture *fx, const struct event_query *q)
{
    struct query_result r = {0};
    store_query_events(fx->store, q, on_query, &r);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    return r;
}

struct worker_rows {
    size_t n;
    struct worker_record first[8];
};

static void on_worker(const struct worker_record *rec, void *ctx)
{
    struct worker_rows *rows = ctx;
    if (rows->n < 8)
        rows->first[rows->n] = *rec;
    rows->n++;
}

static struct worker_rows load_workers(struct fixture *fx)
{
    struct worker_rows rows = {0};
    char err[256] = "";
    if (store_load_workers(fx->store, on_worker, &rows, err, sizeof err) != 0)
        fail_msg("store_load_workers: %s", err);
    return rows;
}

struct outbox_rows {
    size_t n;
    struct outbox_record recs[MAX_IDS];
    char texts[MAX_IDS][32];
};

static void on_outbox(const struct outbox_record *rec, void *ctx)
{
    struct outbox_rows *rows = ctx;
    if (rows->n < MAX_IDS) {
        rows->recs[rows->n] = *rec;
        snprintf(rows->texts[rows->n], sizeof rows->texts[0], "%s", rec->text);
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

static sqlite3 *open_side_connection(struct fixture *fx)
{
    char path[128];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/faultline.db", fx->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

/* The outbox row's status and last_error, read on a second connection. */
static void outbox_row_status(struct fixture *fx, int64_t id, char *status, char *error, size_t len)
{
    sqlite3 *db = open_side_connection(fx);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT status, last_error FROM outbox WHERE id = ?",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(stmt, 1, id);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    const unsigned char *s = sqlite3_column_text(stmt, 0);
    const unsigned char *e = sqlite3_column_text(stmt, 1);
    snprintf(status, len, "%s", s ? (const char *)s : "");
    snprintf(error, len, "%s", e ? (const char *)e : "");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* ---- tests ---- */

static void test_names(void **state)
{
    (void)state;
    static const struct {
        int value;
        const char *state_name;
        const char *kind_name;
        int kind_parses;
    } rows[] = {
        {0, "unknown", "unknown", 0},     {WORKER_UP, "up", "up", 1},
        {WORKER_DOWN, "down", "down", 1}, {7, "unknown", "unknown", 0},
        {-1, "unknown", "unknown", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_string_equal(worker_state_name((enum worker_state)rows[i].value),
                            rows[i].state_name);
        assert_string_equal(event_kind_name((enum event_kind)rows[i].value), rows[i].kind_name);
        enum event_kind kind = 0;
        int rc = event_kind_parse(rows[i].kind_name, &kind);
        assert_int_equal(rc, rows[i].kind_parses ? 0 : -1);
        if (rows[i].kind_parses)
            assert_int_equal(kind, rows[i].value);
    }
    enum event_kind kind;
    assert_int_equal(event_kind_parse(NULL, &kind), -1);
    assert_int_equal(event_kind_parse("UP", &kind), -1);
    assert_int_equal(event_kind_parse("", &kind), -1);
}

static void test_open_errors(void **state)
{
    struct fixture *fx = *state;
    char file[128], err[256];
    snprintf(file, sizeof file, "%s/plain-file", fx->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    static const struct {
        const char *scheme, *path; /* the URI: scheme, the fixture's directory, path */
        int rc;
        const char *err_part;
    } rows[] = {
        {"sqlite://", "/a/b/c/new.db", 0, ""},       /* missing directories are made */
        {"SQLite://", "/upper-case-scheme.db", 0, ""}, /* schemes ignore case */
        {"mysql://", "/x.db", -1, "unknown backend \"mysql\" (known: sqlite)"},
        {"sqlite://", "/plain-file/x.db", -1, "plain-file"},
        {"sqlite://", "/", -1, "expected sqlite://PATH"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char uri[256];
        snprintf(uri, sizeof uri, "%s%s%s", rows[i].scheme, fx->dir, rows[i].path);
        struct store *s = NULL;
        err[0] = '\0';
        assert_int_equal(store_open(&fx->loop, uri, &s, err, sizeof err), rows[i].rc);
        if (rows[i].rc != 0) {
            assert_null(s);
            if (!strstr(err, rows[i].err_part))
                fail_msg("%s: got \"%s\", expected \"%s\" in it", uri, err, rows[i].err_part);
            continue;
        }
        store_close(s);
        assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    }
    assert_int_equal(store_open(&fx->loop, NULL, NULL, err, sizeof err), -1);
    store_close(NULL);
}

/* Each form of STORE and what store_uri_check says about it, word for word. */
static void test_uri_check(void **state)
{
    (void)state;
    static const struct {
        const char *uri;
        const char *err; /* NULL: valid */
    } rows[] = {
        {"sqlite://faultline.db", NULL},
        {"sqlite://data/faultline.db", NULL},
        {"sqlite://./data/faultline.db", NULL},
        {"sqlite:///var/lib/faultline/faultline.db", NULL},
        {"SQLITE:///tmp/x.db", NULL},
        {"sqlite://", "expected sqlite://PATH, got \"sqlite://\""},
        {"sqlite:///var/lib/faultline/", "expected sqlite://PATH, got \"sqlite:///var/lib/faultline/\""},
        {"postgres://x", "unknown backend \"postgres\" (known: sqlite)"},
        {"sqlite3://x.db", "unknown backend \"sqlite3\" (known: sqlite)"},
        {"/var/lib/faultline/faultline.db",
         "expected BACKEND://LOCATION (e.g. sqlite://PATH), got \"/var/lib/faultline/faultline.db\""},
        {"sqlite:faultline.db",
         "expected BACKEND://LOCATION (e.g. sqlite://PATH), got \"sqlite:faultline.db\""},
        {"://x.db", "expected BACKEND://LOCATION (e.g. sqlite://PATH), got \"://x.db\""},
        {"", "expected BACKEND://LOCATION (e.g. sqlite://PATH), got \"\""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[256] = "";
        int rc = store_uri_check(rows[i].uri, err, sizeof err);
        if (!rows[i].err) {
            if (rc != 0)
                fail_msg("%s: refused: %s", rows[i].uri, err);
            continue;
        }
        assert_int_equal(rc, -1);
        assert_string_equal(err, rows[i].err);
    }
    char uri[64];
    assert_int_equal(store_default_uri("./data", uri, sizeof uri), 0);
    assert_string_equal(uri, "sqlite://./data/faultline.db");
    assert_int_equal(store_default_uri("/var/lib/faultline", uri, 16), -1);
}

/* The SQLite backend locks beside its database: a second store on it is refused while the
 * first is open, and opens once it closed. */
static void test_lock_in_backend(void **state)
{
    struct fixture *fx = *state;
    char uri[128], err[256] = "", lock[128];
    assert_int_equal(store_default_uri(fx->dir, uri, sizeof uri), 0);
    struct store *second = NULL;
    assert_int_equal(store_open(&fx->loop, uri, &second, err, sizeof err), -1);
    assert_null(second);
    char expected[256];
    snprintf(expected, sizeof expected,
             "database %s/faultline.db is in use by another faultline server", fx->dir);
    assert_string_equal(err, expected);
    snprintf(lock, sizeof lock, "%s/faultline.lock", fx->dir);
    assert_int_equal(access(lock, F_OK), 0); /* the name servers always used */

    /* Another database in the same directory has its own lock. */
    char other[160];
    snprintf(other, sizeof other, "sqlite://%s/other", fx->dir);
    assert_int_equal(store_open(&fx->loop, other, &second, err, sizeof err), 0);
    snprintf(lock, sizeof lock, "%s/other.lock", fx->dir);
    assert_int_equal(access(lock, F_OK), 0);
    store_close(second);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);

    fixture_close(fx);
    assert_int_equal(store_open(&fx->loop, uri, &second, err, sizeof err), 0);
    fx->store = second;
}

static void test_workers_roundtrip(void **state)
{
    struct fixture *fx = *state;
    struct worker_record ws[] = {
        make_worker("gpu-02", WORKER_UP, 2000),
        make_worker("gpu-01", WORKER_DOWN, 1000),
        make_worker("cpu-01", WORKER_UNKNOWN, 3000),
    };
    store_save_workers(fx->store, ws, 3);
    /* An upsert by name replaces the row. */
    struct worker_record changed = make_worker("gpu-02", WORKER_DOWN, 9000);
    snprintf(changed.version, sizeof changed.version, "2.0.0");
    store_save_workers(fx->store, &changed, 1);

    struct worker_rows rows = load_workers(fx);
    assert_int_equal(rows.n, 3);
    const struct worker_record *want[] = {&ws[2], &ws[1], &changed}; /* by name */
    for (size_t i = 0; i < 3; i++) {
        const struct worker_record *got = &rows.first[i];
        assert_string_equal(got->name, want[i]->name);
        assert_string_equal(got->ip, want[i]->ip);
        assert_string_equal(got->version, want[i]->version);
        assert_string_equal(got->site, want[i]->site);
        assert_int_equal(got->state, want[i]->state);
        assert_int_equal(got->gpus, want[i]->gpus);
        assert_int_equal(got->uptime_s, want[i]->uptime_s);
        assert_int_equal(got->first_seen_ms, want[i]->first_seen_ms);
        assert_int_equal(got->last_seen_ms, want[i]->last_seen_ms);
        assert_int_equal(got->state_since_ms, want[i]->state_since_ms);
    }
}

static void test_append_event_ids(void **state)
{
    struct fixture *fx = *state;
    struct worker_record w = make_worker("gpu-07", WORKER_DOWN, 5000);
    struct event_record ev = make_event("gpu-07", EVENT_DOWN, 5000, "{\"reason\":\"timeout\"}");
    struct outbox_record msgs[] = {make_msg("telegram", "gpu-07 is DOWN"),
                                   make_msg("slack", "gpu-07 down")};

    struct append_result r = append_and_wait(fx, &w, &ev, msgs, 2);
    assert_int_equal(r.status, 0);
    assert_true(r.event_id > 0);
    assert_string_equal(r.details, "{\"reason\":\"timeout\"}");
    assert_int_equal(r.n_msgs, 2);
    assert_true(r.msg_ids[0] > 0);
    assert_true(r.msg_ids[1] > r.msg_ids[0]);
    assert_int_equal(r.msg_event_ids[0], r.event_id);
    assert_int_equal(r.msg_event_ids[1], r.event_id);
    assert_string_equal(r.msg_texts[0], "gpu-07 is DOWN");

    /* NULL details are stored as "{}"; ids keep growing. */
    struct event_record up = make_event("gpu-07", EVENT_UP, 6000, NULL);
    struct append_result r2 = append_and_wait(fx, NULL, &up, NULL, 0);
    assert_int_equal(r2.status, 0);
    assert_true(r2.event_id > r.event_id);
    assert_string_equal(r2.details, "{}");

    struct worker_rows rows = load_workers(fx);
    assert_int_equal(rows.n, 1);
    assert_string_equal(rows.first[0].name, "gpu-07");
    struct outbox_rows out = load_outbox(fx);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.recs[0].event_id, r.event_id);
    assert_string_equal(out.recs[0].channel, "telegram");
    assert_string_equal(out.texts[1], "gpu-07 down");
}

static void test_append_messages_without_event(void **state)
{
    struct fixture *fx = *state;
    struct outbox_record msg = make_msg("telegram", "test alert");
    struct append_result r = append_and_wait(fx, NULL, NULL, &msg, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.event_id, 0);
    assert_true(r.msg_ids[0] > 0);
    assert_int_equal(r.msg_event_ids[0], 0);
    struct outbox_rows out = load_outbox(fx);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.recs[0].event_id, 0);
}

static void test_append_unknown_kind_fails(void **state)
{
    struct fixture *fx = *state;
    struct event_record ev = make_event("gpu-01", (enum event_kind)99, 1000, NULL);
    struct outbox_record msg = make_msg("telegram", "never");
    struct append_result r = append_and_wait(fx, NULL, &ev, &msg, 1);
    assert_true(r.status < 0);
    assert_int_equal(r.event_id, 0);
    assert_int_equal(load_outbox(fx).n, 0);
    struct event_query q = {.limit = 10};
    assert_int_equal(query_and_wait(fx, &q).n, 0);
}

static void test_outbox_transitions(void **state)
{
    struct fixture *fx = *state;
    enum op { SENT, RETRY, FAILED };
    static const struct {
        enum op op;
        int msg; /* index into the appended messages */
        int attempts;
        int64_t time_ms; /* sent_ms or next_attempt_ms */
        const char *error;
    } steps[] = {
        {SENT, 0, 1, 1000, NULL},
        {RETRY, 1, 1, 9000, "timeout"},
        {FAILED, 2, 2, 0, "chat not found"},
        {RETRY, 3, 3, 12000, NULL},
        {RETRY, 1, 2, 15000, "HTTP 502"},
        {SENT, 1, 3, 16000, NULL},
    };
    struct outbox_record msgs[4];
    for (int i = 0; i < 4; i++)
        msgs[i] = make_msg("telegram", "text");
    struct event_record ev = make_event("gpu-03", EVENT_DOWN, 1000, NULL);
    struct append_result r = append_and_wait(fx, NULL, &ev, msgs, 4);
    assert_int_equal(r.status, 0);

    /* The model of what must be pending after each step. */
    struct {
        int pending, attempts;
        int64_t next;
    } model[4] = {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}, {1, 0, 0}};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        int m = steps[s].msg;
        if (steps[s].op == SENT) {
            store_outbox_sent(fx->store, r.msg_ids[m], 1, steps[s].time_ms, NULL);
            model[m].pending = 0;
        } else if (steps[s].op == RETRY) {
            store_outbox_retry(fx->store, r.msg_ids[m], steps[s].attempts, steps[s].time_ms,
                               steps[s].error);
            model[m].attempts = steps[s].attempts;
            model[m].next = steps[s].time_ms;
        } else {
            store_outbox_failed(fx->store, r.msg_ids[m], steps[s].attempts, steps[s].error);
            model[m].pending = 0;
        }
        struct outbox_rows out = load_outbox(fx);
        size_t k = 0;
        for (int i = 0; i < 4; i++) {
            if (!model[i].pending)
                continue;
            assert_true(k < out.n);
            assert_int_equal(out.recs[k].id, r.msg_ids[i]);
            assert_int_equal(out.recs[k].attempts, model[i].attempts);
            assert_int_equal(out.recs[k].next_attempt_ms, model[i].next);
            assert_int_equal(out.recs[k].event_id, r.event_id);
            k++;
        }
        assert_int_equal(out.n, k);
    }
    char status[64], error[64];
    outbox_row_status(fx, r.msg_ids[2], status, error, sizeof status);
    assert_string_equal(status, "failed");
    assert_string_equal(error, "chat not found");
    outbox_row_status(fx, r.msg_ids[1], status, error, sizeof status);
    assert_string_equal(status, "sent");
    assert_string_equal(error, "");
}

static void test_query_events(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *worker;
        enum event_kind kind;
        int64_t t;
        const char *details;
    } seed[] = {
        {"w1", EVENT_DOWN, 1000, NULL}, {"w2", EVENT_DOWN, 2000, NULL},
        {"w1", EVENT_UP, 3000, NULL},   {"w2", EVENT_UP, 4000, NULL},
        {"w1", EVENT_DOWN, 5000, NULL}, {"w3", EVENT_DOWN, 6000, "{\"rca\":\"uplink\"}"},
    };
    int64_t ids[6];
    for (size_t i = 0; i < 6; i++) {
        struct event_record ev =
            make_event(seed[i].worker, seed[i].kind, seed[i].t, seed[i].details);
        ids[i] = append_and_wait(fx, NULL, &ev, NULL, 0).event_id;
    }
    static const struct {
        int limit;
        unsigned kinds;
        const char *worker;
        int64_t since_ms;
        int want[7]; /* 1-based seed rows, newest first, 0-terminated */
    } rows[] = {
        {10, 0, NULL, 0, {6, 5, 4, 3, 2, 1}},
        {2, 0, NULL, 0, {6, 5}},
        {10, 1u << EVENT_UP, NULL, 0, {4, 3}},
        {10, 1u << EVENT_DOWN, "w1", 0, {5, 1}},
        {10, 0, NULL, 3000, {6, 5, 4, 3}},
        {10, 0, "w2", 2500, {4}},
        {10, 0, "nobody", 0, {0}},
        {3, (1u << EVENT_UP) | (1u << EVENT_DOWN), NULL, 0, {6, 5, 4}},
        {10, 1u << 7, NULL, 0, {0}},         /* a kind this build does not know */
        {0, 0, NULL, 0, {6, 5, 4, 3, 2, 1}}, /* limit 0: the default */
        {5000, 0, NULL, 0, {6, 5, 4, 3, 2, 1}},
        {1, 1u << EVENT_DOWN, "w1", 1500, {5}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct event_query q = {.limit = rows[i].limit, .kinds = rows[i].kinds,
                                .worker = rows[i].worker, .since_ms = rows[i].since_ms};
        struct query_result r = query_and_wait(fx, &q);
        size_t n = 0;
        while (rows[i].want[n])
            n++;
        assert_int_equal(r.n, n);
        for (size_t k = 0; k < n; k++) {
            int row = rows[i].want[k] - 1;
            assert_int_equal(r.ids[k], ids[row]);
            assert_string_equal(r.workers[k], seed[row].worker);
            assert_int_equal(r.kinds[k], seed[row].kind);
            assert_string_equal(r.details[k], seed[row].details ? seed[row].details : "{}");
        }
    }
    /* after_id (a resumed stream): only later ids, oldest first. */
    struct event_query after = {.limit = 2, .after_id = ids[2]};
    struct query_result r = query_and_wait(fx, &after);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.ids[0], ids[3]);
    assert_int_equal(r.ids[1], ids[4]);
    after = (struct event_query){.limit = 10, .kinds = 1u << EVENT_DOWN, .after_id = ids[1]};
    r = query_and_wait(fx, &after);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.ids[0], ids[4]);
    assert_int_equal(r.ids[1], ids[5]);
}

/* ---- silences ---- */

struct silence_done {
    int calls, status;
    int64_t id;
};

static void on_silence_done(int status, int64_t id, void *ctx)
{
    struct silence_done *d = ctx;
    d->calls++;
    d->status = status;
    d->id = id;
}

struct silence_rows {
    size_t n;
    int64_t ids[4], created[4], expired[4];
    char bodies[4][64];
};

static void on_silence_row(const struct silence_record *rec, void *ctx)
{
    struct silence_rows *rows = ctx;
    if (rows->n < 4) {
        rows->ids[rows->n] = rec->id;
        rows->created[rows->n] = rec->created_ms;
        rows->expired[rows->n] = rec->expired_ms;
        snprintf(rows->bodies[rows->n], sizeof rows->bodies[0], "%s", rec->body_json);
    }
    rows->n++;
}

/* Silences are appended with ids, expired in place and read back in order after a reopen. */
static void test_silences_kept(void **state)
{
    struct fixture *fx = *state;
    struct silence_done a = {0}, b = {0}, e = {0};
    struct silence_record rec = {.body_json = "{\"name\":\"gpu-*\"}", .created_ms = 1000};
    store_append_silence(fx->store, &rec, on_silence_done, &a);
    rec = (struct silence_record){.body_json = "{\"kind\":\"check\"}", .created_ms = 2000};
    store_append_silence(fx->store, &rec, on_silence_done, &b);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(a.calls + b.calls, 2);
    assert_int_equal(a.status, 0);
    assert_true(a.id > 0 && b.id > a.id);
    store_expire_silence(fx->store, a.id, 5000, on_silence_done, &e);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(e.calls, 1);
    assert_int_equal(e.status, 0);
    assert_int_equal(e.id, a.id);
    fixture_reopen(fx);
    struct silence_rows rows = {0};
    char err[256] = "";
    assert_int_equal(store_load_silences(fx->store, on_silence_row, &rows, err, sizeof err), 0);
    assert_int_equal(rows.n, 2);
    assert_int_equal(rows.ids[0], a.id);
    assert_int_equal(rows.created[0], 1000);
    assert_int_equal(rows.expired[0], 5000);
    assert_string_equal(rows.bodies[0], "{\"name\":\"gpu-*\"}");
    assert_int_equal(rows.ids[1], b.id);
    assert_int_equal(rows.expired[1], 0);
    assert_string_equal(rows.bodies[1], "{\"kind\":\"check\"}");
}

static void test_reopen_keeps_data(void **state)
{
    struct fixture *fx = *state;
    struct worker_record w = make_worker("edge-1", WORKER_UP, 7000);
    store_save_workers(fx->store, &w, 1);
    struct event_record ev = make_event("edge-1", EVENT_UP, 7000, "{\"k\":1}");
    struct outbox_record msg = make_msg("telegram", "edge-1 is UP");
    struct append_result r = append_and_wait(fx, NULL, &ev, &msg, 1);

    fixture_reopen(fx);
    struct worker_rows rows = load_workers(fx);
    assert_int_equal(rows.n, 1);
    assert_string_equal(rows.first[0].name, "edge-1");
    struct outbox_rows out = load_outbox(fx);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.recs[0].id, r.msg_ids[0]);
    assert_string_equal(out.texts[0], "edge-1 is UP");
    struct event_query q = {.limit = 10};
    struct query_result events = query_and_wait(fx, &q);
    assert_int_equal(events.n, 1);
    assert_int_equal(events.ids[0], r.event_id);
    assert_string_equal(events.details[0], "{\"k\":1}");

    /* New ids continue after the old ones. */
    struct append_result r2 = append_and_wait(fx, NULL, &ev, &msg, 1);
    assert_true(r2.event_id > r.event_id);
    assert_true(r2.msg_ids[0] > r.msg_ids[0]);
}

static void test_close_runs_pending_callbacks(void **state)
{
    struct fixture *fx = *state;
    struct append_result r[3] = {{0}};
    struct query_result q = {0};
    for (int i = 0; i < 3; i++) {
        struct event_record ev = make_event("gpu-09", EVENT_DOWN, 1000 + i, NULL);
        store_append_event(fx->store, NULL, &ev, NULL, 0, on_append, &r[i]);
    }
    struct event_query eq = {.limit = 10};
    store_query_events(fx->store, &eq, on_query, &q);
    store_close(fx->store); /* without running the loop first */
    fx->store = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, 0);
        assert_true(r[i].event_id > 0);
    }
    assert_int_equal(q.calls, 1);
    assert_int_equal(q.n, 3);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    fixture_open(fx);
}

struct close_in_callback {
    struct fixture *fx;
    int calls;
    int statuses;
    size_t pending_seen;
    size_t pending_seen_closing;
};

/* The first callback closes the store; later ones still run, inside store_close(). */
static void on_append_close(int status, const struct event_record *ev,
                            const struct outbox_record *msgs, size_t n, void *ctx)
{
    struct close_in_callback *c = ctx;
    c->calls++;
    c->statuses |= status;
    if (c->calls == 1) {
        struct outbox_rows out = load_outbox(c->fx); /* a read still works here */
        c->pending_seen = out.n;
        store_close(c->fx->store);
        c->fx->store = NULL;
    } else if (c->calls == 2) {
        c->pending_seen_closing = load_outbox(c->fx).n; /* the store thread is gone by now */
    }
}

static void test_close_inside_callback(void **state)
{
    struct fixture *fx = *state;
    struct close_in_callback c = {.fx = fx};
    struct outbox_record msg = make_msg("telegram", "down");
    for (int i = 0; i < 3; i++) {
        struct event_record ev = make_event("gpu-10", EVENT_DOWN, 1000 + i, NULL);
        store_append_event(fx->store, NULL, &ev, &msg, 1, on_append_close, &c);
    }
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.statuses, 0);
    assert_true(c.pending_seen >= 1);
    assert_int_equal(c.pending_seen_closing, 3);
    fixture_open(fx);
    assert_int_equal(load_outbox(fx).n, 3);
}

/* A done callback that writes back, as the alert engine does after a send. */
static void on_append_mark_sent(int status, const struct event_record *ev,
                                const struct outbox_record *msgs, size_t n, void *ctx)
{
    struct store *store = ctx;
    assert_int_equal(status, 0);
    for (size_t i = 0; i < n; i++)
        store_outbox_sent(store, msgs[i].id, 1, 42, NULL);
}

static void test_callback_writes_during_close(void **state)
{
    struct fixture *fx = *state;
    struct event_record ev = make_event("gpu-11", EVENT_DOWN, 1000, NULL);
    struct outbox_record msg = make_msg("telegram", "down");
    store_append_event(fx->store, NULL, &ev, &msg, 1, on_append_mark_sent, fx->store);
    fixture_reopen(fx);
    assert_int_equal(load_outbox(fx).n, 0);
}

static void on_commit_timer(uv_timer_t *timer)
{
    sqlite3 *db = timer->data;
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    uv_close((uv_handle_t *)timer, NULL);
}

/* Another writer holds the lock past the busy timeout: the batch is retried, not dropped. */
static void test_busy_database_is_retried(void **state)
{
    struct fixture *fx = *state;
    sqlite3 *db = open_side_connection(fx);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    uv_timer_t timer;
    assert_int_equal(uv_timer_init(&fx->loop, &timer), 0);
    timer.data = db;
    assert_int_equal(uv_timer_start(&timer, on_commit_timer, 5400, 0), 0);

    struct event_record ev = make_event("gpu-12", EVENT_DOWN, 1000, NULL);
    struct outbox_record msg = make_msg("telegram", "down");
    struct append_result r = append_and_wait(fx, NULL, &ev, &msg, 1);
    assert_int_equal(r.status, 0);
    assert_true(r.event_id > 0);
    assert_int_equal(load_outbox(fx).n, 1);
    sqlite3_close(db);
}

/* A read queued behind a batch of writes that keeps failing (here another writer holds the
 * lock, as a full disk would refuse them), and what it saw of them when it was answered. */
struct read_behind_failing_write {
    struct fixture *fx;
    struct append_result append;
    struct query_result query;
    int appends_done_at_query;
};

static void on_query_behind_write(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct read_behind_failing_write *r = ctx;
    r->appends_done_at_query = r->append.calls;
    on_query(status, evs, n, &r->query);
}

static void on_queue_query(uv_timer_t *timer)
{
    struct read_behind_failing_write *r = timer->data;
    struct event_query q = {.limit = 10};
    store_query_events(r->fx->store, &q, on_query_behind_write, r);
    uv_close((uv_handle_t *)timer, NULL);
}

static void test_reads_pass_failing_writes(void **state)
{
    struct fixture *fx = *state;
    sqlite3 *db = open_side_connection(fx);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    uv_timer_t commit, query;
    assert_int_equal(uv_timer_init(&fx->loop, &commit), 0);
    assert_int_equal(uv_timer_init(&fx->loop, &query), 0);
    commit.data = db;
    struct read_behind_failing_write r = {.fx = fx};
    query.data = &r;
    assert_int_equal(uv_timer_start(&commit, on_commit_timer, 9000, 0), 0);
    assert_int_equal(uv_timer_start(&query, on_queue_query, 200, 0), 0);

    struct event_record ev = make_event("gpu-13", EVENT_UP, 1000, NULL);
    store_append_event(fx->store, NULL, &ev, NULL, 0, on_append, &r.append);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.query.calls, 1);
    assert_int_equal(r.query.status, 0);
    assert_int_equal(r.query.n, 0);                 /* what was on disk */
    assert_int_equal(r.appends_done_at_query, 0);  /* answered while the write still failed */
    assert_int_equal(r.append.calls, 1);
    assert_int_equal(r.append.status, 0);          /* and the write passed later */
    assert_int_equal(query_and_wait(fx, &(struct event_query){.limit = 10}).n, 1);
    sqlite3_close(db);
}

static void test_big_batch(void **state)
{
    struct fixture *fx = *state;
    struct worker_record *ws = calloc(BIG_BATCH, sizeof *ws);
    assert_non_null(ws);
    for (int i = 0; i < BIG_BATCH; i++) {
        char name[32];
        snprintf(name, sizeof name, "node-%06d", i);
        ws[i] = make_worker(name, i % 3 ? WORKER_UP : WORKER_DOWN, i);
    }
    store_save_workers(fx->store, ws, BIG_BATCH);
    free(ws); /* the store copied them */
    struct worker_rows rows = load_workers(fx);
    assert_int_equal(rows.n, BIG_BATCH);
    assert_string_equal(rows.first[0].name, "node-000000");
    assert_int_equal(rows.first[0].state, WORKER_DOWN);
    assert_string_equal(rows.first[1].name, "node-000001");
    assert_int_equal(rows.first[1].state, WORKER_UP);

    fixture_reopen(fx);
    assert_int_equal(load_workers(fx).n, BIG_BATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test(test_uri_check),
        cmocka_unit_test_setup_teardown(test_lock_in_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_event_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_messages_without_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_unknown_kind_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_runs_pending_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_inside_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_writes_during_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_database_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_pass_failing_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silences_kept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
