/* test_store_ids.c — unit tests of the ids the store hands out from the database
 * (store_next_incident_id, store_ids.c) and of the SQLite backend's reservations underneath:
 * blocks continue across a reopen, are refilled in the background, start after the largest
 * incident id of a migrated database, and two handles on one database never share an id. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store/store_backend.h"

#define ID_BLOCK 256 /* STORE_ID_BLOCK in store_ids.c */
#define ID_LOW 64    /* STORE_ID_LOW */
#define MANY_IDS 200

struct fixture {
    char dir[64];
    char uri[128];
    char path[128]; /* the database file */
    uv_loop_t loop;
    struct store *store;
};

/* The backend refuses a second handle on a database (an flock beside it). To test what two
 * servers would do if that lock were lost, the tests may turn it off: this definition of
 * flock() takes the place of the C library's in this program only. */
static bool flock_bypassed;

int flock(int fd, int operation)
{
    if (flock_bypassed)
        return 0;
    int (*real)(int, int) = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
    return real(fd, operation);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fixture_open(struct fixture *fx)
{
    char err[256] = "";
    if (store_open(&fx->loop, fx->uri, &fx->store, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
}

static void fixture_close(struct fixture *fx)
{
    store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/faultline-ids-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/faultline.db", fx->dir);
    assert_int_equal(store_default_uri(fx->dir, fx->uri, sizeof fx->uri), 0);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    flock_bypassed = false;
    if (fx->store)
        fixture_close(fx);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    assert_int_equal(nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(fx);
    return 0;
}

static void exec_sql(struct fixture *fx, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* The one number a query on the database file gives. */
static int64_t sql_number(struct fixture *fx, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t next = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return next;
}

/* The sequences row of incidents: the first id no store has reserved yet. */
static int64_t incidents_next_id(struct fixture *fx)
{
    return sql_number(fx, "SELECT next_id FROM sequences WHERE name = 'incidents'");
}

/* ---- through the store ---- */

static void test_ids_start_at_one_and_increase(void **state)
{
    struct fixture *fx = *state;
    fixture_open(fx);
    assert_int_equal(incidents_next_id(fx), 1 + ID_BLOCK); /* the first block, at open */
    int64_t prev = 0;
    for (int i = 0; i < MANY_IDS; i++) {
        int64_t id = store_next_incident_id(fx->store);
        assert_int_equal(id, prev + 1); /* one store alone uses its blocks without gaps */
        prev = id;
        if (i % 10 == 0)
            uv_run(&fx->loop, UV_RUN_NOWAIT); /* now and then a refill lands */
    }
    assert_int_equal(store_next_incident_id(NULL), -1);
}

/* Once fewer than ID_LOW ids are left, the next block is reserved without the loop waiting;
 * when it arrives it waits as the spare, and is used once the block in use runs out. */
static void test_refill_in_background(void **state)
{
    struct fixture *fx = *state;
    fixture_open(fx);
    for (int i = 1; i <= ID_BLOCK - ID_LOW; i++)
        assert_int_equal(store_next_incident_id(fx->store), i);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(incidents_next_id(fx), 1 + ID_BLOCK); /* ID_LOW left: not low yet */
    assert_int_equal(store_next_incident_id(fx->store), ID_BLOCK - ID_LOW + 1);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0); /* the refill completes */
    assert_int_equal(incidents_next_id(fx), 1 + 2 * ID_BLOCK);
    for (int i = ID_BLOCK - ID_LOW + 2; i <= 2 * ID_BLOCK; i++)
        assert_int_equal(store_next_incident_id(fx->store), i);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(incidents_next_id(fx), 1 + 3 * ID_BLOCK);
}

/* With the loop never running, refills never complete: an exhausted block is refilled
 * synchronously, and ids still increase without a gap. */
static void test_exhausted_block_reserves_at_once(void **state)
{
    struct fixture *fx = *state;
    fixture_open(fx);
    for (int i = 1; i <= 6 * ID_BLOCK; i++)
        assert_int_equal(store_next_incident_id(fx->store), i); /* no loop run in between */
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(store_next_incident_id(fx->store), 6 * ID_BLOCK + 1);
}

/* A reopened store continues after every id the last one reserved: none is handed out twice,
 * unused ones are skipped. */
static void test_ids_continue_across_reopen(void **state)
{
    struct fixture *fx = *state;
    fixture_open(fx);
    int64_t last = 0;
    for (int i = 0; i < 5; i++)
        last = store_next_incident_id(fx->store);
    assert_int_equal(last, 5);
    fixture_close(fx);
    fixture_open(fx);
    assert_int_equal(store_next_incident_id(fx->store), 1 + ID_BLOCK);
    fixture_close(fx);
    fixture_open(fx);
    assert_int_equal(store_next_incident_id(fx->store), 1 + 2 * ID_BLOCK);
}

/* A database from before the sequences table (schema version 2) continues after its largest
 * incident id. */
static void test_migration_starts_after_max_id(void **state)
{
    struct fixture *fx = *state;
    fixture_open(fx); /* creates the current schema: take it back to version 2 */
    fixture_close(fx);
    exec_sql(fx, "DROP TABLE check_overrides;"
                 "DROP TABLE check_agents;"
                 "DROP TABLE reports;"
                 "DROP TABLE silences;"
                 "DROP TABLE checks;"
                 "DROP TABLE sequences;"
                 "DROP INDEX outbox_dedup;"
                 "ALTER TABLE outbox DROP COLUMN dedup_key;"
                 "ALTER TABLE outbox DROP COLUMN resolve;"
                 "ALTER TABLE outbox DROP COLUMN fields;"
                 "ALTER TABLE outbox DROP COLUMN replaces;"
                 "ALTER TABLE outbox DROP COLUMN ref;"
                 "INSERT INTO incidents VALUES(7, 'network', '{}', '[]', '{}', 1, 1, NULL);"
                 "INSERT INTO incidents VALUES(42, 'server', '{}', '[]', '{}', 2, 2, 3);"
                 "PRAGMA user_version = 2;");
    fixture_open(fx);
    assert_int_equal(store_next_incident_id(fx->store), 43);
    assert_int_equal(sql_number(fx, "SELECT MAX(id) FROM incidents"), 42);
}

/* ---- the backend underneath ---- */

static void *backend_open(struct fixture *fx)
{
    void *db = NULL;
    char err[256] = "";
    if (store_backend_sqlite.open(fx->path, &db, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    return db;
}

/* Reserves count ids of "incidents" on db in a transaction of its own. */
static int64_t backend_reserve(void *db, int64_t count)
{
    const struct store_backend *b = &store_backend_sqlite;
    char err[256] = "";
    int64_t first = 0;
    if (b->begin(db, err, sizeof err) != 0 ||
        b->reserve_ids(db, "incidents", count, &first, err, sizeof err) != 0 ||
        b->commit(db, err, sizeof err) != 0)
        fail_msg("reserve: %s", err);
    return first;
}

static void test_backend_second_handle_is_locked_out(void **state)
{
    struct fixture *fx = *state;
    void *first = backend_open(fx);
    void *second = NULL;
    char err[256] = "";
    assert_int_equal(store_backend_sqlite.open(fx->path, &second, err, sizeof err), -1);
    assert_non_null(strstr(err, "is in use by another faultline server"));
    store_backend_sqlite.close(first);
    second = backend_open(fx); /* closing released the lock */
    store_backend_sqlite.close(second);
}

/* Two handles on one file (the lock bypassed), reserving in turn and with blocks of different
 * sizes: no id is in two blocks. */
static void test_backend_two_handles_never_collide(void **state)
{
    struct fixture *fx = *state;
    flock_bypassed = true;
    void *db[2] = {backend_open(fx), backend_open(fx)};
    static int64_t seen[MANY_IDS * 4];
    size_t n = 0;
    for (int round = 0; round < MANY_IDS / 4; round++) {
        for (int h = 0; h < 2; h++) {
            int64_t count = 1 + (round + h) % 3;
            int64_t first = backend_reserve(db[h], count);
            for (int64_t id = first; id < first + count; id++) {
                for (size_t i = 0; i < n; i++)
                    if (seen[i] == id)
                        fail_msg("id %lld reserved twice", (long long)id);
                seen[n++] = id;
            }
        }
    }
    store_backend_sqlite.close(db[0]);
    store_backend_sqlite.close(db[1]);
}

static void test_backend_unknown_sequence(void **state)
{
    struct fixture *fx = *state;
    void *db = backend_open(fx);
    const struct store_backend *b = &store_backend_sqlite;
    char err[256] = "";
    int64_t first = 0;
    assert_int_equal(b->begin(db, err, sizeof err), 0);
    assert_int_equal(b->reserve_ids(db, "nothing", 1, &first, err, sizeof err), STORE_ERR_JOB);
    assert_string_equal(err, "reserve ids: no sequence \"nothing\"");
    b->rollback(db);
    b->close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_start_at_one_and_increase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refill_in_background, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_block_reserves_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_continue_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_starts_after_max_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_second_handle_is_locked_out, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_backend_two_handles_never_collide, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_unknown_sequence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
