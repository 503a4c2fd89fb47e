/* schema.c — the store's migration steps in portable SQL (see schema.h) and the filling in of
 * a dialect's words. */
#include "store/schema.h"

#include <stdlib.h>
#include <string.h>

/* Step v moves the schema from version v to v + 1. Append only; never edit one that has
 * shipped (a database that ran it keeps what it made). */
static const char *const migrations[SCHEMA_VERSION] = {
    /* 0 -> 1: workers, events and the notification outbox. */
    "CREATE TABLE workers("
    " name TEXT PRIMARY KEY, state TEXT NOT NULL, ip TEXT NOT NULL, version TEXT NOT NULL,"
    " site TEXT NOT NULL, gpus INTEGER NOT NULL, uptime_s {int64} NOT NULL,"
    " first_seen_ms {int64} NOT NULL, last_seen_ms {int64} NOT NULL,"
    " state_since_ms {int64} NOT NULL);"
    "CREATE TABLE events("
    " id {serial_id}, time_ms {int64} NOT NULL, worker TEXT NOT NULL,"
    " kind TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX events_worker ON events(worker, id);"
    "CREATE INDEX events_kind ON events(kind, id);"
    "CREATE INDEX events_time ON events(time_ms);"
    "CREATE TABLE outbox("
    " id {serial_id}, event_id {int64}, channel TEXT NOT NULL,"
    " text TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending'"
    " CHECK (status IN ('pending', 'sent', 'failed')),"
    " attempts INTEGER NOT NULL DEFAULT 0, created_ms {int64} NOT NULL,"
    " next_attempt_ms {int64} NOT NULL DEFAULT 0, sent_ms {int64}, last_error TEXT);"
    "CREATE INDEX outbox_status ON outbox(status);",
    /* 1 -> 2: incidents (root-cause analysis) and the diagnostics agents upload. An open
     * incident has closed_ms NULL. */
    "CREATE TABLE incidents("
    " id {int64} PRIMARY KEY, classification TEXT NOT NULL, scope TEXT NOT NULL,"
    " workers TEXT NOT NULL, evidence TEXT NOT NULL, opened_ms {int64} NOT NULL,"
    " updated_ms {int64} NOT NULL, closed_ms {int64});"
    "CREATE INDEX incidents_open ON incidents(id) WHERE closed_ms IS NULL;"
    "CREATE INDEX incidents_updated ON incidents(updated_ms);"
    "CREATE TABLE diagnostics("
    " id {serial_id}, worker TEXT NOT NULL, record_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, time_ms {int64} NOT NULL, received_ms {int64} NOT NULL,"
    " body TEXT NOT NULL, UNIQUE(worker, record_id));"
    "CREATE INDEX diagnostics_worker_time ON diagnostics(worker, time_ms);"
    "CREATE INDEX diagnostics_time ON diagnostics(time_ms);",
    /* 2 -> 3: sequences the store reserves ids from in blocks; incident ids continue after
     * the largest one stored (they were the largest plus one, kept in the server's memory). */
    "CREATE TABLE sequences(name TEXT PRIMARY KEY, next_id {int64} NOT NULL);"
    "INSERT INTO sequences(name, next_id)"
    " SELECT 'incidents', COALESCE(MAX(id), 0) + 1 FROM incidents;",
    /* 3 -> 4: corrections edit the message they replace: each message keeps the channel's id
     * of it in the chat (ref), a correction the id of the message it replaces. */
    "ALTER TABLE outbox ADD COLUMN replaces {int64};"
    "ALTER TABLE outbox ADD COLUMN ref TEXT;",
    /* 4 -> 5: the latest report each worker's agent pushed (docs/report.md). */
    "CREATE TABLE reports("
    " worker TEXT PRIMARY KEY, received_ms {int64} NOT NULL, body TEXT NOT NULL);",
    /* 5 -> 6: silences made through the API (alert/silence.h): the definition as JSON; an
     * expired one is kept, with expired_ms set. */
    "CREATE TABLE silences("
    " id {serial_id}, body TEXT NOT NULL, created_ms {int64} NOT NULL, expired_ms {int64});",
    /* 6 -> 7: the definitions (JSON) of active checks created through the API. */
    "CREATE TABLE checks("
    " name TEXT PRIMARY KEY, definition TEXT NOT NULL, updated_ms {int64} NOT NULL);",
    /* 7 -> 8: one router, named channel instances (channel now holds the instance's name; the
     * Telegram channel of TELEGRAM_TOKEN keeps the name "telegram"). Each message keeps its
     * dedup key, whether it resolves, and its fields for the channels that render them; the
     * index finds which channels were told of a problem still open. */
    "ALTER TABLE outbox ADD COLUMN dedup_key TEXT;"
    "ALTER TABLE outbox ADD COLUMN resolve INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outbox ADD COLUMN fields TEXT;"
    "CREATE INDEX outbox_dedup ON outbox(dedup_key, channel, id) WHERE dedup_key IS NOT NULL;",
    /* 8 -> 9: small records by check or agent name, as JSON (store.h, enum store_check_table):
     * what the API's enable/disable decided over a check's definition, and the labels each
     * agent last sent, so its results are taken after a restart before its next heartbeat. */
    "CREATE TABLE check_overrides("
    " name TEXT PRIMARY KEY, body TEXT NOT NULL, updated_ms {int64} NOT NULL);"
    "CREATE TABLE check_agents("
    " name TEXT PRIMARY KEY, body TEXT NOT NULL, updated_ms {int64} NOT NULL);",
};

/* The placeholder at p (just after its '{'), or -1 when '{' starts no placeholder (e.g. the
 * JSON default '{}'); *len gets the placeholder's length with its braces. */
static const char *dialect_word(const char *p, const struct schema_dialect *d, size_t *len)
{
    static const char *const names[] = {"int64}", "serial_id}"};
    const char *words[] = {d->int64, d->serial_id};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(p, names[i], n) == 0) {
            *len = n + 1;
            return words[i];
        }
    }
    return NULL;
}

/* Writes sql with the dialect's words into out (may be NULL); returns the length. */
static size_t dialect_fill(const char *sql, const struct schema_dialect *d, char *out)
{
    size_t n = 0, skip;
    for (const char *p = sql; *p;) {
        const char *word = *p == '{' ? dialect_word(p + 1, d, &skip) : NULL;
        const char *piece = word ? word : p;
        size_t len = word ? strlen(word) : 1;
        if (out)
            memcpy(out + n, piece, len);
        n += len;
        p += word ? skip : 1;
    }
    if (out)
        out[n] = '\0';
    return n;
}

char *schema_migration_sql(int v, const struct schema_dialect *dialect)
{
    if (v < 0 || v >= SCHEMA_VERSION)
        return NULL;
    char *sql = malloc(dialect_fill(migrations[v], dialect, NULL) + 1);
    if (sql)
        dialect_fill(migrations[v], dialect, sql);
    return sql;
}
