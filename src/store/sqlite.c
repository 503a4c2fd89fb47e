/* sqlite.c — the embedded store backend, sqlite://PATH: one database file in WAL mode,
 * synchronous=FULL so a committed batch survives a crash or power loss, with the shared schema
 * (schema.h) and an flock beside it so that one server at a time uses it. Only the store thread
 * calls it (see store_backend.h); prepared statements are kept in a small cache keyed by their
 * SQL. */
#include "store/store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/schema.h"

#define SQLITE_BUSY_TIMEOUT_MS 5000
#define SQLITE_STMT_CACHE 32
#define SQLITE_DIR_MODE 0700

/* How SQLite spells what schema.h leaves to the dialect. */
static const struct schema_dialect sqlite_dialect = {
    .int64 = "INTEGER",
    .serial_id = "INTEGER PRIMARY KEY AUTOINCREMENT",
};

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_SAVE_WORKER[] =
    "INSERT INTO workers(name, state, ip, version, site, gpus, uptime_s, first_seen_ms,"
    " last_seen_ms, state_since_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    " ON CONFLICT(name) DO UPDATE SET state = excluded.state, ip = excluded.ip,"
    " version = excluded.version, site = excluded.site, gpus = excluded.gpus,"
    " uptime_s = excluded.uptime_s, first_seen_ms = excluded.first_seen_ms,"
    " last_seen_ms = excluded.last_seen_ms, state_since_ms = excluded.state_since_ms";
static const char SQL_APPEND_EVENT[] =
    "INSERT INTO events(time_ms, worker, kind, details) VALUES(?1, ?2, ?3, ?4)";
static const char SQL_APPEND_OUTBOX[] =
    "INSERT INTO outbox(event_id, channel, text, status, attempts, created_ms, next_attempt_ms,"
    " replaces, ref, dedup_key, resolve, fields)"
    " VALUES(?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char SQL_OUTBOX_REF[] = "SELECT ref FROM outbox WHERE id = ?1";
static const char SQL_OUTBOX_SENT[] =
    "UPDATE outbox SET status = 'sent', attempts = ?2, sent_ms = ?3, last_error = NULL,"
    " ref = COALESCE(?5, ref) WHERE id = ?1";
static const char SQL_OUTBOX_RETRY[] = "UPDATE outbox SET status = 'pending', attempts = ?2,"
                                       " next_attempt_ms = ?3, last_error = ?4 WHERE id = ?1";
static const char SQL_OUTBOX_FAILED[] =
    "UPDATE outbox SET status = 'failed', attempts = ?2, last_error = ?4 WHERE id = ?1";
static const char SQL_LOAD_WORKERS[] =
    "SELECT name, state, ip, version, site, gpus, uptime_s, first_seen_ms, last_seen_ms,"
    " state_since_ms FROM workers ORDER BY name";
/* A correction's ref: its own, or that of the message it replaces if that was delivered since. */
static const char SQL_LOAD_OUTBOX[] =
    "SELECT id, event_id, channel, text, attempts, created_ms, next_attempt_ms, replaces,"
    " COALESCE(ref, (SELECT r.ref FROM outbox r WHERE r.id = outbox.replaces)),"
    " dedup_key, resolve, fields FROM outbox WHERE status = 'pending' ORDER BY id";
static const char SQL_LOAD_TOLD[] =
    "SELECT dedup_key, channel, text, fields, MAX(created_ms, COALESCE(sent_ms, 0))"
    " FROM outbox WHERE id IN (SELECT MAX(id) FROM outbox"
    " WHERE dedup_key IS NOT NULL GROUP BY dedup_key, channel) AND resolve = 0 ORDER BY id";
static const char SQL_SAVE_INCIDENT[] =
    "INSERT INTO incidents(id, classification, scope, workers, evidence, opened_ms, updated_ms,"
    " closed_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT(id) DO UPDATE SET classification = excluded.classification,"
    " scope = excluded.scope, workers = excluded.workers, evidence = excluded.evidence,"
    " opened_ms = excluded.opened_ms, updated_ms = excluded.updated_ms,"
    " closed_ms = excluded.closed_ms";
static const char SQL_RESERVE_IDS[] =
    "UPDATE sequences SET next_id = next_id + ?2 WHERE name = ?1 RETURNING next_id - ?2";
#define SQL_INCIDENT_COLUMNS                                                                       \
    "SELECT id, classification, scope, workers, evidence, opened_ms, updated_ms, closed_ms"        \
    " FROM incidents"
static const char SQL_LOAD_OPEN_INCIDENTS[] =
    SQL_INCIDENT_COLUMNS " WHERE closed_ms IS NULL ORDER BY id";
static const char SQL_SAVE_REPORT[] =
    "INSERT INTO reports(worker, received_ms, body) VALUES (?1, ?2, ?3)"
    " ON CONFLICT(worker) DO UPDATE SET received_ms = excluded.received_ms, body = excluded.body";
static const char SQL_ALL_REPORTS[] = "SELECT worker, received_ms, body FROM reports ORDER BY worker";
static const char SQL_ONE_REPORT[] = "SELECT worker, received_ms, body FROM reports WHERE worker = ?1";
static const char SQL_APPEND_SILENCE[] =
    "INSERT INTO silences(body, created_ms, expired_ms) VALUES(?1, ?2, NULL)";
static const char SQL_EXPIRE_SILENCE[] = "UPDATE silences SET expired_ms = ?2 WHERE id = ?1";
static const char SQL_LOAD_SILENCES[] =
    "SELECT id, body, created_ms, COALESCE(expired_ms, 0) FROM silences ORDER BY id";
static const char SQL_SAVE_CHECK[] =
    "INSERT INTO checks(name, definition, updated_ms) VALUES (?1, ?2, ?3)"
    " ON CONFLICT(name) DO UPDATE SET definition = excluded.definition,"
    " updated_ms = excluded.updated_ms";
static const char SQL_DELETE_CHECK[] = "DELETE FROM checks WHERE name = ?1";
static const char SQL_LOAD_CHECKS[] = "SELECT name, definition FROM checks ORDER BY name";
/* By enum store_check_table. */
static const char *const SQL_SAVE_CHECK_RECORD[] = {
    "INSERT INTO check_overrides(name, body, updated_ms) VALUES (?1, ?2, ?3)"
    " ON CONFLICT(name) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
    "INSERT INTO check_agents(name, body, updated_ms) VALUES (?1, ?2, ?3)"
    " ON CONFLICT(name) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
};
static const char *const SQL_DELETE_CHECK_RECORD[] = {
    "DELETE FROM check_overrides WHERE name = ?1",
    "DELETE FROM check_agents WHERE name = ?1",
};
static const char *const SQL_LOAD_CHECK_RECORDS[] = {
    "SELECT name, body FROM check_overrides ORDER BY name",
    "SELECT name, body FROM check_agents ORDER BY name",
};
static const char SQL_LOAD_CHECK_STATES[] =
    "SELECT id, time_ms, worker, kind, details FROM events WHERE id IN (SELECT MAX(id) FROM events"
    " WHERE kind = 'check_state' GROUP BY worker) ORDER BY id";
static const char SQL_APPEND_DIAGNOSTIC[] =
    "INSERT OR IGNORE INTO diagnostics(worker, record_id, kind, time_ms, received_ms, body)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)";

struct sqlite_stmt_slot {
    char *sql; /* owned copy: the cache key */
    sqlite3_stmt *stmt;
};

/* The handle behind the backend's void *db. */
struct sqlite_db {
    sqlite3 *conn;
    int lock_fd; /* holds the flock on the lock file while open; -1: none */
    struct sqlite_stmt_slot cache[SQLITE_STMT_CACHE];
    unsigned next_evict; /* round robin once the cache is full */
};

/* Errors that say something about the statement or its data; anything else (busy, locked,
 * I/O, full disk, corruption, out of memory) may pass, so the batch is retried. */
static bool sqlite_error_is_final(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_ERROR:
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISUSE:
    case SQLITE_AUTH:
    case SQLITE_FORMAT:
        return true;
    default:
        return false;
    }
}

/* Writes "what: sqlite's message" into err and returns the store_backend_result for rc. */
static int sqlite_fail(struct sqlite_db *db, int rc, const char *what, char *err, size_t errlen)
{
    const char *msg = db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc);
    snprintf(err, errlen, "%s: %s", what, msg);
    return sqlite_error_is_final(rc) ? STORE_ERR_JOB : STORE_ERR_RETRY;
}

static void sqlite_cache_clear(struct sqlite_db *db)
{
    for (int i = 0; i < SQLITE_STMT_CACHE; i++) {
        sqlite3_finalize(db->cache[i].stmt);
        free(db->cache[i].sql);
        db->cache[i] = (struct sqlite_stmt_slot){0};
    }
}

/* Returns the cached statement for sql, prepared on first use, reset and with no bindings. */
static int sqlite_stmt(struct sqlite_db *db, const char *sql, sqlite3_stmt **out, char *err,
                       size_t errlen)
{
    int free_slot = -1;
    for (int i = 0; i < SQLITE_STMT_CACHE; i++) {
        if (db->cache[i].sql && strcmp(db->cache[i].sql, sql) == 0) {
            sqlite3_reset(db->cache[i].stmt);
            sqlite3_clear_bindings(db->cache[i].stmt);
            *out = db->cache[i].stmt;
            return 0;
        }
        if (!db->cache[i].sql && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0) {
        free_slot = (int)(db->next_evict++ % SQLITE_STMT_CACHE);
        sqlite3_finalize(db->cache[free_slot].stmt);
        free(db->cache[free_slot].sql);
        db->cache[free_slot] = (struct sqlite_stmt_slot){0};
    }
    struct sqlite_stmt_slot slot = {strdup(sql), NULL};
    if (!slot.sql) {
        snprintf(err, errlen, "out of memory");
        return STORE_ERR_RETRY;
    }
    int rc = sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot.stmt, NULL);
    if (rc != SQLITE_OK) {
        free(slot.sql);
        return sqlite_fail(db, rc, "prepare", err, errlen);
    }
    db->cache[free_slot] = slot;
    *out = slot.stmt;
    return 0;
}

/* Steps a statement that returns no rows, then resets it. */
static int sqlite_step_done(struct sqlite_db *db, sqlite3_stmt *stmt, const char *what, char *err,
                            size_t errlen)
{
    int rc = sqlite3_step(stmt);
    int result = rc == SQLITE_DONE ? 0 : sqlite_fail(db, rc, what, err, errlen);
    sqlite3_reset(stmt);
    return result;
}

static int sqlite_exec_cached(struct sqlite_db *db, const char *sql, char *err, size_t errlen)
{
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, sql, &stmt, err, errlen);
    return rc ? rc : sqlite_step_done(db, stmt, sql, err, errlen);
}

static int sqlite_exec(struct sqlite_db *db, const char *sql, const char *what, char *err,
                       size_t errlen)
{
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sqlite_fail(db, rc, what, err, errlen);
}

/* Runs a statement that returns one integer or text row (PRAGMAs). */
static int sqlite_query_one(struct sqlite_db *db, const char *sql, char *text, size_t textlen,
                            int *number, char *err, size_t errlen)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(db, rc, sql, err, errlen);
    rc = sqlite3_step(stmt);
    int result = 0;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(stmt, 0);
        if (text)
            snprintf(text, textlen, "%s", t ? (const char *)t : "");
        if (number)
            *number = sqlite3_column_int(stmt, 0);
    } else {
        result = sqlite_fail(db, rc, sql, err, errlen);
    }
    sqlite3_finalize(stmt);
    return result;
}

/* Creates one directory; an existing one is fine. Returns 0 or an errno value. */
static int sqlite_mkdir_one(const char *path)
{
    if (mkdir(path, SQLITE_DIR_MODE) == 0 || errno == EEXIST)
        return 0;
    int saved = errno;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : saved;
}

/* mkdir -p: creates the directories above the database file path and their missing parents. */
static int sqlite_mkdir_parents(const char *file, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", file) >= (int)sizeof path) {
        snprintf(err, errlen, "database path is too long: %s", file);
        return -1;
    }
    char *last = strrchr(path, '/');
    if (!last || last == path)
        return 0; /* in the working directory, or in / */
    *last = '\0';
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        int e = sqlite_mkdir_one(path);
        if (e) {
            snprintf(err, errlen, "cannot create directory %s: %s", path, strerror(e));
            return -1;
        }
        if (end)
            break;
        *p = '/';
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", path);
        return -1;
    }
    return 0;
}

/* The lock file beside the database: PATH without a ".db" ending, plus ".lock" (the default
 * DATA_DIR/faultline.db locks DATA_DIR/faultline.lock, as servers always have). */
static int sqlite_lock_path(const char *db_path, char *out, size_t len)
{
    size_t n = strlen(db_path);
    if (n > 3 && strcmp(db_path + n - 3, ".db") == 0)
        n -= 3;
    int w = snprintf(out, len, "%.*s.lock", (int)n, db_path);
    return w >= 0 && (size_t)w < len ? 0 : -1;
}

/* Two servers on one database would both send every alert: the first one holds an flock on the
 * lock file until it closes the database. Returns the locked descriptor, or -1 with err set. */
static int sqlite_lock(const char *db_path, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (sqlite_lock_path(db_path, path, sizeof path) != 0) {
        snprintf(err, errlen, "database path is too long: %s", db_path);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %.300s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "database %.300s is in use by another faultline server", db_path);
        close(fd);
        return -1;
    }
    return fd;
}

static int sqlite_pragmas(struct sqlite_db *db, char *err, size_t errlen)
{
    char mode[16];
    sqlite3_busy_timeout(db->conn, SQLITE_BUSY_TIMEOUT_MS);
    int rc = sqlite_query_one(db, "PRAGMA journal_mode=WAL", mode, sizeof mode, NULL, err, errlen);
    if (rc)
        return rc;
    if (strcmp(mode, "wal") != 0) {
        snprintf(err, errlen, "cannot switch the database to WAL mode (journal_mode is %s)", mode);
        return STORE_ERR_JOB;
    }
    /* FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and the
     * store acknowledges a commit as "never lost". */
    return sqlite_exec(db, "PRAGMA synchronous=FULL", "PRAGMA synchronous", err, errlen);
}

/* Runs migration step v (schema.h) in SQLite's words. */
static int sqlite_migrate_step(struct sqlite_db *db, int v, char *err, size_t errlen)
{
    char *sql = schema_migration_sql(v, &sqlite_dialect);
    if (!sql) {
        snprintf(err, errlen, "schema migration: out of memory");
        return STORE_ERR_RETRY;
    }
    int rc = sqlite_exec(db, sql, "schema migration", err, errlen);
    free(sql);
    return rc;
}

/* Brings the schema to SCHEMA_VERSION inside one write transaction; the version is kept in
 * PRAGMA user_version. */
static int sqlite_migrate(struct sqlite_db *db, char *err, size_t errlen)
{
    int version = 0;
    int rc = sqlite_exec(db, SQL_BEGIN, "begin migration", err, errlen);
    if (!rc)
        rc = sqlite_query_one(db, "PRAGMA user_version", NULL, 0, &version, err, errlen);
    if (!rc && version > SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "database schema version %d is newer than this faultline understands (%d)",
                 version, SCHEMA_VERSION);
        rc = STORE_ERR_JOB;
    }
    for (int v = version; !rc && v < SCHEMA_VERSION; v++)
        rc = sqlite_migrate_step(db, v, err, errlen);
    if (!rc && version < SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
        rc = sqlite_exec(db, sql, "set schema version", err, errlen);
    }
    if (!rc)
        rc = sqlite_exec(db, SQL_COMMIT, "commit migration", err, errlen);
    if (rc && !sqlite3_get_autocommit(db->conn))
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void sqlite_backend_close(void *handle)
{
    struct sqlite_db *db = handle;
    if (!db)
        return;
    sqlite_cache_clear(db);
    sqlite3_close(db->conn);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* after the database: the lock guards it to the end */
    free(db);
}

/* PATH: not empty and not a directory (a trailing '/'). */
static bool sqlite_location_valid(const char *path)
{
    size_t n = strlen(path);
    return n > 0 && path[n - 1] != '/';
}

static int sqlite_backend_open(const char *path, void **out, char *err, size_t errlen)
{
    if (sqlite_mkdir_parents(path, err, errlen) != 0)
        return -1;
    struct sqlite_db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    db->lock_fd = sqlite_lock(path, err, errlen);
    if (db->lock_fd < 0) {
        free(db);
        return -1;
    }
    int rc = sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        char why[200];
        sqlite_fail(db, rc, path, why, sizeof why);
        snprintf(err, errlen, "cannot open %s", why);
        sqlite_backend_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    if (sqlite_pragmas(db, err, errlen) || sqlite_migrate(db, err, errlen)) {
        sqlite_backend_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

static int sqlite_begin(void *handle, char *err, size_t errlen)
{
    return sqlite_exec_cached(handle, SQL_BEGIN, err, errlen);
}

static int sqlite_commit(void *handle, char *err, size_t errlen)
{
    return sqlite_exec_cached(handle, SQL_COMMIT, err, errlen);
}

static void sqlite_rollback(void *handle)
{
    struct sqlite_db *db = handle;
    if (!sqlite3_get_autocommit(db->conn))
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
}

static void sqlite_bind_worker(sqlite3_stmt *stmt, const struct worker_record *w)
{
    sqlite3_bind_text(stmt, 1, w->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, worker_state_name(w->state), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, w->ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, w->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, w->site, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 6, w->gpus);
    sqlite3_bind_int64(stmt, 7, w->uptime_s);
    sqlite3_bind_int64(stmt, 8, w->first_seen_ms);
    sqlite3_bind_int64(stmt, 9, w->last_seen_ms);
    sqlite3_bind_int64(stmt, 10, w->state_since_ms);
}

static int sqlite_save_workers(void *handle, const struct worker_record *recs, size_t n, char *err,
                               size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_SAVE_WORKER, &stmt, err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite_bind_worker(stmt, &recs[i]);
        rc = sqlite_step_done(db, stmt, "save worker", err, errlen);
    }
    return rc;
}

static int sqlite_append_event(void *handle, const struct event_record *ev, int64_t *id, char *err,
                               size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_APPEND_EVENT, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(stmt, 1, ev->time_ms);
    sqlite3_bind_text(stmt, 2, ev->worker, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, event_kind_name(ev->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, ev->details_json ? ev->details_json : "{}", -1, SQLITE_STATIC);
    rc = sqlite_step_done(db, stmt, "append event", err, errlen);
    if (!rc)
        *id = sqlite3_last_insert_rowid(db->conn);
    return rc;
}

/* The ref of message id into msg->ref ("" when it has none). */
static int sqlite_outbox_ref(struct sqlite_db *db, int64_t id, struct outbox_record *msg, char *err,
                             size_t errlen)
{
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_OUTBOX_REF, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    int step = sqlite3_step(stmt);
    const unsigned char *ref = step == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
    snprintf(msg->ref, sizeof msg->ref, "%s", ref ? (const char *)ref : "");
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sqlite_fail(db, step, "read outbox ref", err, errlen);
    sqlite3_reset(stmt);
    return rc;
}

static int sqlite_append_outbox(void *handle, struct outbox_record *msg, int64_t *id, char *err,
                                size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = msg->replaces ? sqlite_outbox_ref(db, msg->replaces, msg, err, errlen) : 0;
    if (!rc)
        rc = sqlite_stmt(db, SQL_APPEND_OUTBOX, &stmt, err, errlen);
    if (rc)
        return rc;
    if (msg->event_id)
        sqlite3_bind_int64(stmt, 1, msg->event_id);
    sqlite3_bind_text(stmt, 2, msg->channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, msg->text ? msg->text : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 4, msg->attempts);
    sqlite3_bind_int64(stmt, 5, msg->created_ms);
    sqlite3_bind_int64(stmt, 6, msg->next_attempt_ms);
    if (msg->replaces)
        sqlite3_bind_int64(stmt, 7, msg->replaces);
    if (msg->ref[0])
        sqlite3_bind_text(stmt, 8, msg->ref, -1, SQLITE_STATIC);
    if (msg->dedup_key[0])
        sqlite3_bind_text(stmt, 9, msg->dedup_key, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 10, msg->resolve ? 1 : 0);
    if (msg->fields_json)
        sqlite3_bind_text(stmt, 11, msg->fields_json, -1, SQLITE_STATIC);
    rc = sqlite_step_done(db, stmt, "append outbox message", err, errlen);
    if (!rc)
        *id = sqlite3_last_insert_rowid(db->conn);
    return rc;
}

static int sqlite_outbox_update(void *handle, const struct outbox_update *u, char *err,
                                size_t errlen)
{
    static const char *const sql[] = {
        [OUTBOX_PENDING] = SQL_OUTBOX_RETRY,
        [OUTBOX_SENT] = SQL_OUTBOX_SENT,
        [OUTBOX_FAILED] = SQL_OUTBOX_FAILED,
    };
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    if ((unsigned)u->status >= sizeof sql / sizeof sql[0]) {
        snprintf(err, errlen, "unknown outbox status %d", (int)u->status);
        return STORE_ERR_JOB;
    }
    int rc = sqlite_stmt(db, sql[u->status], &stmt, err, errlen);
    if (rc)
        return rc;
    /* Each statement uses the parameters it names; binding the others is harmless. */
    sqlite3_bind_int64(stmt, 1, u->id);
    sqlite3_bind_int(stmt, 2, u->attempts);
    if (u->status != OUTBOX_FAILED)
        sqlite3_bind_int64(stmt, 3, u->time_ms);
    if (u->error)
        sqlite3_bind_text(stmt, 4, u->error, -1, SQLITE_STATIC);
    if (u->ref && u->ref[0])
        sqlite3_bind_text(stmt, 5, u->ref, -1, SQLITE_STATIC);
    return sqlite_step_done(db, stmt, "update outbox message", err, errlen);
}

/* Copies a text column into a fixed buffer, cutting it if it is longer. */
static void sqlite_copy_text(char *dst, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    size_t len = text ? (size_t)sqlite3_column_bytes(stmt, col) : 0;
    if (len >= size)
        len = size - 1;
    if (len)
        memcpy(dst, text, len);
    dst[len] = '\0';
}

static const char *sqlite_column_str(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    return text ? (const char *)text : "";
}

/* Steps stmt to the end, calling row_fn for each row; row_fn returns 0 or stops the walk. */
static int sqlite_each_row(struct sqlite_db *db, sqlite3_stmt *stmt,
                           int (*row_fn)(sqlite3_stmt *stmt, void *arg), void *arg,
                           const char *what, char *err, size_t errlen)
{
    int rc, result = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        result = row_fn(stmt, arg);
        if (result) {
            snprintf(err, errlen, "%s: out of memory", what);
            break;
        }
    }
    if (!result && rc != SQLITE_DONE)
        result = sqlite_fail(db, rc, what, err, errlen);
    sqlite3_reset(stmt);
    return result;
}

/* The caller's row function (one of them is set) and its context. */
struct sqlite_visit {
    store_worker_row_fn worker;
    store_outbox_row_fn outbox;
    store_event_row_fn event;
    store_incident_row_fn incident;
    store_diag_row_fn diag;
    store_report_row_fn report;
    store_silence_row_fn silence;
    store_check_row_fn check;
    void *ctx;
};

static int sqlite_worker_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    struct worker_record w = {0};
    sqlite_copy_text(w.name, sizeof w.name, stmt, 0);
    if (worker_state_parse(sqlite_column_str(stmt, 1), &w.state) != 0)
        w.state = WORKER_UNKNOWN;
    sqlite_copy_text(w.ip, sizeof w.ip, stmt, 2);
    sqlite_copy_text(w.version, sizeof w.version, stmt, 3);
    sqlite_copy_text(w.site, sizeof w.site, stmt, 4);
    w.gpus = sqlite3_column_int(stmt, 5);
    w.uptime_s = sqlite3_column_int64(stmt, 6);
    w.first_seen_ms = sqlite3_column_int64(stmt, 7);
    w.last_seen_ms = sqlite3_column_int64(stmt, 8);
    w.state_since_ms = sqlite3_column_int64(stmt, 9);
    return v->worker(&w, v->ctx);
}

static int sqlite_outbox_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    struct outbox_record m = {0};
    m.id = sqlite3_column_int64(stmt, 0);
    m.event_id = sqlite3_column_int64(stmt, 1);
    sqlite_copy_text(m.channel, sizeof m.channel, stmt, 2);
    m.text = sqlite_column_str(stmt, 3);
    m.attempts = sqlite3_column_int(stmt, 4);
    m.created_ms = sqlite3_column_int64(stmt, 5);
    m.next_attempt_ms = sqlite3_column_int64(stmt, 6);
    m.replaces = sqlite3_column_int64(stmt, 7);
    sqlite_copy_text(m.ref, sizeof m.ref, stmt, 8);
    sqlite_copy_text(m.dedup_key, sizeof m.dedup_key, stmt, 9);
    m.resolve = sqlite3_column_int(stmt, 10) != 0;
    m.fields_json = sqlite3_column_type(stmt, 11) == SQLITE_NULL ? NULL : sqlite_column_str(stmt, 11);
    return v->outbox(&m, v->ctx);
}

static int sqlite_told_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    struct outbox_record m = {0};
    sqlite_copy_text(m.dedup_key, sizeof m.dedup_key, stmt, 0);
    sqlite_copy_text(m.channel, sizeof m.channel, stmt, 1);
    m.text = sqlite_column_str(stmt, 2);
    m.fields_json = sqlite3_column_type(stmt, 3) == SQLITE_NULL ? NULL : sqlite_column_str(stmt, 3);
    m.created_ms = sqlite3_column_int64(stmt, 4); /* when it was told: sent, else written */
    return v->outbox(&m, v->ctx);
}

/* Rows of a kind this build does not know (written by a newer one) are skipped. */
static int sqlite_event_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    struct event_record ev = {0};
    ev.id = sqlite3_column_int64(stmt, 0);
    ev.time_ms = sqlite3_column_int64(stmt, 1);
    sqlite_copy_text(ev.worker, sizeof ev.worker, stmt, 2);
    if (event_kind_parse(sqlite_column_str(stmt, 3), &ev.kind) != 0)
        return 0;
    ev.details_json = sqlite_column_str(stmt, 4);
    return v->event(&ev, v->ctx);
}

static int sqlite_read(struct sqlite_db *db, const char *sql, int (*row_fn)(sqlite3_stmt *, void *),
                       struct sqlite_visit *visit, const char *what, char *err, size_t errlen)
{
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, sql, &stmt, err, errlen);
    return rc ? rc : sqlite_each_row(db, stmt, row_fn, visit, what, err, errlen);
}

static int sqlite_load_workers(void *handle, store_worker_row_fn row, void *ctx, char *err,
                               size_t errlen)
{
    struct sqlite_visit visit = {.worker = row, .ctx = ctx};
    return sqlite_read(handle, SQL_LOAD_WORKERS, sqlite_worker_row, &visit, "load workers", err,
                       errlen);
}

static int sqlite_load_told_outbox(void *handle, store_outbox_row_fn row, void *ctx, char *err,
                                   size_t errlen)
{
    struct sqlite_visit visit = {.outbox = row, .ctx = ctx};
    return sqlite_read(handle, SQL_LOAD_TOLD, sqlite_told_row, &visit, "load told channels", err,
                       errlen);
}

static int sqlite_load_pending_outbox(void *handle, store_outbox_row_fn row, void *ctx, char *err,
                                      size_t errlen)
{
    struct sqlite_visit visit = {.outbox = row, .ctx = ctx};
    return sqlite_read(handle, SQL_LOAD_OUTBOX, sqlite_outbox_row, &visit, "load outbox", err,
                       errlen);
}

/* The kinds q asks for, as names; returns how many (0 when q->kinds is 0, meaning all). */
static int sqlite_query_kinds(const struct event_query *q, const char **names, int max)
{
    int n = 0;
    for (int k = 0; k < (int)(sizeof q->kinds * CHAR_BIT) && n < max; k++) {
        enum event_kind kind;
        const char *name = event_kind_name((enum event_kind)k);
        if ((q->kinds & (1u << k)) && event_kind_parse(name, &kind) == 0)
            names[n++] = name;
    }
    return n;
}

/* SQL text built clause by clause; the shape (not the values) is the statement cache's key. A
 * text cut short by the buffer fails to prepare, so it is never run. */
struct sqlite_sql {
    char text[768];
    size_t len;
    const char *sep; /* before the next condition: " WHERE ", then " AND " */
};

static void sqlite_sql_append(struct sqlite_sql *sql, const char *text)
{
    size_t room = sizeof sql->text - sql->len;
    size_t n = strlen(text);
    if (n >= room)
        n = room - 1;
    memcpy(sql->text + sql->len, text, n);
    sql->len += n;
    sql->text[sql->len] = '\0';
}

static void sqlite_sql_start(struct sqlite_sql *sql, const char *select)
{
    sql->len = 0;
    sql->sep = " WHERE ";
    sqlite_sql_append(sql, select);
}

/* Adds a condition, joined to the others with AND. */
static void sqlite_sql_where(struct sqlite_sql *sql, const char *condition)
{
    sqlite_sql_append(sql, sql->sep);
    sqlite_sql_append(sql, condition);
    sql->sep = " AND ";
}

static void sqlite_query_sql(const struct event_query *q, int n_kinds, struct sqlite_sql *sql)
{
    sqlite_sql_start(sql, "SELECT id, time_ms, worker, kind, details FROM events");
    if (q->worker)
        sqlite_sql_where(sql, "worker = ?");
    if (q->since_ms > 0)
        sqlite_sql_where(sql, "time_ms >= ?");
    if (q->after_id > 0)
        sqlite_sql_where(sql, "id > ?");
    if (n_kinds > 0) {
        sqlite_sql_where(sql, "kind IN (?");
        for (int i = 1; i < n_kinds; i++)
            sqlite_sql_append(sql, ", ?");
        sqlite_sql_append(sql, ")");
    }
    sqlite_sql_append(sql, q->after_id > 0 ? " ORDER BY id LIMIT ?" : " ORDER BY id DESC LIMIT ?");
}

static int sqlite_query_events(void *handle, const struct event_query *q, store_event_row_fn row,
                               void *ctx, char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    const char *kinds[32];
    int n_kinds = sqlite_query_kinds(q, kinds, 32);
    if (q->kinds && n_kinds == 0)
        return 0; /* only kinds this build does not know: nothing can match */
    struct sqlite_sql sql;
    sqlite_query_sql(q, n_kinds, &sql);
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, sql.text, &stmt, err, errlen);
    if (rc)
        return rc;
    int p = 1;
    if (q->worker)
        sqlite3_bind_text(stmt, p++, q->worker, -1, SQLITE_STATIC);
    if (q->since_ms > 0)
        sqlite3_bind_int64(stmt, p++, q->since_ms);
    if (q->after_id > 0)
        sqlite3_bind_int64(stmt, p++, q->after_id);
    for (int i = 0; i < n_kinds; i++)
        sqlite3_bind_text(stmt, p++, kinds[i], -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, p, q->limit);
    struct sqlite_visit visit = {.event = row, .ctx = ctx};
    return sqlite_each_row(db, stmt, sqlite_event_row, &visit, "query events", err, errlen);
}

/* ---- silences ---- */

static int sqlite_append_silence(void *handle, const struct silence_record *rec, int64_t *id,
                                 char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_APPEND_SILENCE, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(stmt, 1, rec->body_json ? rec->body_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, rec->created_ms);
    rc = sqlite_step_done(db, stmt, "append silence", err, errlen);
    if (!rc)
        *id = sqlite3_last_insert_rowid(db->conn);
    return rc;
}

static int sqlite_expire_silence(void *handle, int64_t id, int64_t expired_ms, char *err,
                                 size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_EXPIRE_SILENCE, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, expired_ms);
    return sqlite_step_done(db, stmt, "expire silence", err, errlen);
}

static int sqlite_silence_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    struct silence_record rec = {
        .id = sqlite3_column_int64(stmt, 0),
        .body_json = sqlite_column_str(stmt, 1),
        .created_ms = sqlite3_column_int64(stmt, 2),
        .expired_ms = sqlite3_column_int64(stmt, 3),
    };
    return v->silence(&rec, v->ctx);
}

static int sqlite_load_silences(void *handle, store_silence_row_fn row, void *ctx, char *err,
                                size_t errlen)
{
    struct sqlite_visit visit = {.silence = row, .ctx = ctx};
    return sqlite_read(handle, SQL_LOAD_SILENCES, sqlite_silence_row, &visit, "load silences", err,
                       errlen);
}

/* ---- incidents ---- */

static int sqlite_save_incident(void *handle, const struct incident_record *inc, char *err,
                                size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_SAVE_INCIDENT, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(stmt, 1, inc->id);
    sqlite3_bind_text(stmt, 2, inc->classification, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, inc->scope_json ? inc->scope_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, inc->workers_json ? inc->workers_json : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, inc->evidence_json ? inc->evidence_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 6, inc->opened_ms);
    sqlite3_bind_int64(stmt, 7, inc->updated_ms);
    if (inc->closed_ms > 0)
        sqlite3_bind_int64(stmt, 8, inc->closed_ms); /* unbound: NULL, open */
    return sqlite_step_done(db, stmt, "save incident", err, errlen);
}

/* ---- checks ---- */

static int sqlite_save_check(void *handle, const char *name, const char *definition,
                             int64_t updated_ms, char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_SAVE_CHECK, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, definition, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, updated_ms);
    return sqlite_step_done(db, stmt, "save check", err, errlen);
}

static int sqlite_delete_check(void *handle, const char *name, char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_DELETE_CHECK, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    return sqlite_step_done(db, stmt, "delete check", err, errlen);
}

static int sqlite_check_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    return v->check(sqlite_column_str(stmt, 0), sqlite_column_str(stmt, 1), v->ctx);
}

static int sqlite_load_checks(void *handle, store_check_row_fn row, void *ctx, char *err,
                              size_t errlen)
{
    struct sqlite_visit visit = {.check = row, .ctx = ctx};
    return sqlite_read(handle, SQL_LOAD_CHECKS, sqlite_check_row, &visit, "load checks", err,
                       errlen);
}

static int sqlite_load_check_states(void *handle, store_event_row_fn row, void *ctx, char *err,
                                    size_t errlen)
{
    struct sqlite_visit visit = {.event = row, .ctx = ctx};
    return sqlite_read(handle, SQL_LOAD_CHECK_STATES, sqlite_event_row, &visit,
                       "load check states", err, errlen);
}

static int sqlite_save_check_record(void *handle, enum store_check_table table, const char *name,
                                    const char *body, int64_t updated_ms, char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, body ? SQL_SAVE_CHECK_RECORD[table] : SQL_DELETE_CHECK_RECORD[table],
                         &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (body) {
        sqlite3_bind_text(stmt, 2, body, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, updated_ms);
    }
    return sqlite_step_done(db, stmt, "save check record", err, errlen);
}

static int sqlite_load_check_records(void *handle, enum store_check_table table,
                                     store_check_row_fn row, void *ctx, char *err, size_t errlen)
{
    struct sqlite_visit visit = {.check = row, .ctx = ctx};
    return sqlite_read(handle, SQL_LOAD_CHECK_RECORDS[table], sqlite_check_row, &visit,
                       "load check records", err, errlen);
}

/* ---- ids ---- */

static int sqlite_reserve_ids(void *handle, const char *sequence, int64_t count, int64_t *first,
                              char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_RESERVE_IDS, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(stmt, 1, sequence, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, count);
    rc = sqlite3_step(stmt);
    int result = 0;
    if (rc == SQLITE_ROW) {
        *first = sqlite3_column_int64(stmt, 0);
    } else if (rc == SQLITE_DONE) {
        snprintf(err, errlen, "reserve ids: no sequence \"%s\"", sequence);
        result = STORE_ERR_JOB;
    } else {
        result = sqlite_fail(db, rc, "reserve ids", err, errlen);
    }
    sqlite3_reset(stmt);
    return result;
}

/* Columns in the order of SQL_INCIDENT_COLUMNS; closed_ms NULL (open) reads as 0. */
static int sqlite_incident_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    struct incident_record inc = {0};
    inc.id = sqlite3_column_int64(stmt, 0);
    sqlite_copy_text(inc.classification, sizeof inc.classification, stmt, 1);
    inc.scope_json = sqlite_column_str(stmt, 2);
    inc.workers_json = sqlite_column_str(stmt, 3);
    inc.evidence_json = sqlite_column_str(stmt, 4);
    inc.opened_ms = sqlite3_column_int64(stmt, 5);
    inc.updated_ms = sqlite3_column_int64(stmt, 6);
    inc.closed_ms = sqlite3_column_int64(stmt, 7);
    return v->incident(&inc, v->ctx);
}

static int sqlite_load_open_incidents(void *handle, store_incident_row_fn row, void *ctx, char *err,
                                      size_t errlen)
{
    struct sqlite_visit visit = {.incident = row, .ctx = ctx};
    return sqlite_read(handle, SQL_LOAD_OPEN_INCIDENTS, sqlite_incident_row, &visit,
                       "load open incidents", err, errlen);
}

static int sqlite_query_incidents(void *handle, const struct incident_query *q,
                                  store_incident_row_fn row, void *ctx, char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    struct sqlite_sql sql;
    sqlite_sql_start(&sql, SQL_INCIDENT_COLUMNS);
    if (q->id)
        sqlite_sql_where(&sql, "id = ?");
    if (q->open_only)
        sqlite_sql_where(&sql, "closed_ms IS NULL");
    if (q->since_ms > 0)
        sqlite_sql_where(&sql, "(updated_ms >= ? OR opened_ms >= ?)");
    sqlite_sql_append(&sql, " ORDER BY id DESC LIMIT ?");
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, sql.text, &stmt, err, errlen);
    if (rc)
        return rc;
    int p = 1;
    if (q->id)
        sqlite3_bind_int64(stmt, p++, q->id);
    if (q->since_ms > 0) {
        sqlite3_bind_int64(stmt, p++, q->since_ms);
        sqlite3_bind_int64(stmt, p++, q->since_ms);
    }
    sqlite3_bind_int(stmt, p, q->limit);
    struct sqlite_visit visit = {.incident = row, .ctx = ctx};
    return sqlite_each_row(db, stmt, sqlite_incident_row, &visit, "query incidents", err, errlen);
}

/* ---- diagnostics ---- */

static int sqlite_append_diagnostics(void *handle, const struct diag_record *recs, size_t n,
                                     size_t *stored, char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_APPEND_DIAGNOSTIC, &stmt, err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        const struct diag_record *d = &recs[i];
        sqlite3_bind_text(stmt, 1, d->worker, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, d->record_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, d->kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 4, d->time_ms);
        sqlite3_bind_int64(stmt, 5, d->received_ms);
        sqlite3_bind_text(stmt, 6, d->body_json ? d->body_json : "{}", -1, SQLITE_STATIC);
        rc = sqlite_step_done(db, stmt, "append diagnostic", err, errlen);
        if (!rc)
            *stored += (size_t)sqlite3_changes(db->conn); /* 0: OR IGNORE kept the stored one */
    }
    return rc;
}

static int sqlite_diag_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    struct diag_record d = {0};
    d.id = sqlite3_column_int64(stmt, 0);
    sqlite_copy_text(d.worker, sizeof d.worker, stmt, 1);
    sqlite_copy_text(d.record_id, sizeof d.record_id, stmt, 2);
    sqlite_copy_text(d.kind, sizeof d.kind, stmt, 3);
    d.time_ms = sqlite3_column_int64(stmt, 4);
    d.received_ms = sqlite3_column_int64(stmt, 5);
    d.body_json = sqlite_column_str(stmt, 6);
    return v->diag(&d, v->ctx);
}

static void sqlite_diag_query_sql(const struct diag_query *q, struct sqlite_sql *sql)
{
    sqlite_sql_start(sql, "SELECT id, worker, record_id, kind, time_ms, received_ms, body"
                          " FROM diagnostics");
    if (q->worker)
        sqlite_sql_where(sql, "worker = ?");
    if (q->kind)
        sqlite_sql_where(sql, "kind = ?");
    if (q->since_ms > 0)
        sqlite_sql_where(sql, "time_ms >= ?");
    if (q->until_ms > 0)
        sqlite_sql_where(sql, "time_ms <= ?");
    /* json_type() fails the whole query on malformed JSON, and bodies are stored as uploaded:
     * CASE evaluates it only for valid ones. */
    if (q->with_mtr)
        sqlite_sql_where(sql,
                         "CASE WHEN json_valid(body) THEN json_type(body, '$.mtr') END = 'object'");
    sqlite_sql_append(sql, q->oldest_first ? " ORDER BY time_ms, id LIMIT ?"
                                           : " ORDER BY time_ms DESC, id DESC LIMIT ?");
}

static int sqlite_query_diagnostics(void *handle, const struct diag_query *q, store_diag_row_fn row,
                                    void *ctx, char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    struct sqlite_sql sql;
    sqlite_diag_query_sql(q, &sql);
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, sql.text, &stmt, err, errlen);
    if (rc)
        return rc;
    int p = 1;
    if (q->worker)
        sqlite3_bind_text(stmt, p++, q->worker, -1, SQLITE_STATIC);
    if (q->kind)
        sqlite3_bind_text(stmt, p++, q->kind, -1, SQLITE_STATIC);
    if (q->since_ms > 0)
        sqlite3_bind_int64(stmt, p++, q->since_ms);
    if (q->until_ms > 0)
        sqlite3_bind_int64(stmt, p++, q->until_ms);
    sqlite3_bind_int(stmt, p, q->limit);
    struct sqlite_visit visit = {.diag = row, .ctx = ctx};
    return sqlite_each_row(db, stmt, sqlite_diag_row, &visit, "query diagnostics", err, errlen);
}

/* ---- reports ---- */

static int sqlite_save_report(void *handle, const struct node_report_record *rec, char *err,
                              size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, SQL_SAVE_REPORT, &stmt, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(stmt, 1, rec->worker, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, rec->received_ms);
    sqlite3_bind_text(stmt, 3, rec->body_json ? rec->body_json : "{}", -1, SQLITE_STATIC);
    return sqlite_step_done(db, stmt, "save report", err, errlen);
}

static int sqlite_report_row(sqlite3_stmt *stmt, void *arg)
{
    struct sqlite_visit *v = arg;
    struct node_report_record r = {0};
    sqlite_copy_text(r.worker, sizeof r.worker, stmt, 0);
    r.received_ms = sqlite3_column_int64(stmt, 1);
    r.body_json = sqlite_column_str(stmt, 2);
    return v->report(&r, v->ctx);
}

static int sqlite_query_reports(void *handle, const char *worker, store_report_row_fn row,
                                void *ctx, char *err, size_t errlen)
{
    struct sqlite_db *db = handle;
    sqlite3_stmt *stmt;
    int rc = sqlite_stmt(db, worker ? SQL_ONE_REPORT : SQL_ALL_REPORTS, &stmt, err, errlen);
    if (rc)
        return rc;
    if (worker)
        sqlite3_bind_text(stmt, 1, worker, -1, SQLITE_STATIC);
    struct sqlite_visit visit = {.report = row, .ctx = ctx};
    return sqlite_each_row(db, stmt, sqlite_report_row, &visit, "query reports", err, errlen);
}

const struct store_backend store_backend_sqlite = {
    .scheme = "sqlite",
    .uri_form = "sqlite://PATH",
    .location_valid = sqlite_location_valid,
    .open = sqlite_backend_open,
    .close = sqlite_backend_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .save_workers = sqlite_save_workers,
    .append_event = sqlite_append_event,
    .append_outbox = sqlite_append_outbox,
    .outbox_update = sqlite_outbox_update,
    .load_workers = sqlite_load_workers,
    .load_pending_outbox = sqlite_load_pending_outbox,
    .load_told_outbox = sqlite_load_told_outbox,
    .query_events = sqlite_query_events,
    .save_incident = sqlite_save_incident,
    .reserve_ids = sqlite_reserve_ids,
    .load_open_incidents = sqlite_load_open_incidents,
    .query_incidents = sqlite_query_incidents,
    .append_diagnostics = sqlite_append_diagnostics,
    .query_diagnostics = sqlite_query_diagnostics,
    .save_report = sqlite_save_report,
    .query_reports = sqlite_query_reports,
    .append_silence = sqlite_append_silence,
    .expire_silence = sqlite_expire_silence,
    .load_silences = sqlite_load_silences,
    .save_check = sqlite_save_check,
    .delete_check = sqlite_delete_check,
    .load_checks = sqlite_load_checks,
    .load_check_states = sqlite_load_check_states,
    .save_check_record = sqlite_save_check_record,
    .load_check_records = sqlite_load_check_records,
};
