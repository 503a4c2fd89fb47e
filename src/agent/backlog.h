/* backlog.h — what the agent recorded while its heartbeats failed, kept in
 * DATA_DIR/logs/backlog.jsonl until the server has acknowledged it (docs/rca.md "Backlog
 * upload"). Each line is a metrics or diagnostics record with "kind" put first. backlog.offset
 * holds how many bytes of backlog.jsonl the server has acknowledged (decimal text, replaced
 * atomically: temporary file + rename).
 *
 * The upload itself (HTTP, retries) is the agent's; this module gives it the next chunk to send
 * and moves the offset when a chunk is acknowledged, so records go out oldest first, are never
 * skipped, and a chunk whose answer was lost is simply sent again (the server drops duplicate
 * ids). When everything is acknowledged the file is emptied and the offset reset.
 *
 * Crash safety: lines are appended with jsonl_append (never half a line). An offset file that
 * is missing, unreadable, past the end of the file, or not at a line boundary counts as 0: the
 * worst a crash can cause is records sent twice, never records lost.
 *
 * Not thread-safe: use a handle from one thread. backlog_free(NULL) is a no-op. */
#ifndef FAULTLINE_AGENT_BACKLOG_H
#define FAULTLINE_AGENT_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKLOG_CHUNK_RECORDS 100
#define BACKLOG_CHUNK_BYTES (256 * 1024)

struct backlog;

/* Opens (creating) <logs_dir>/backlog.jsonl and reads backlog.offset. NULL with err on
 * failure. */
struct backlog *backlog_open(const char *logs_dir, char *err, size_t errlen);
void backlog_free(struct backlog *b);

/* Appends a record: record is one JSON object text ("{...}", len bytes, no newline); the line
 * written is the same object with "kind":kind as its first member. Returns 0 or -1 with err. */
int backlog_append(struct backlog *b, const char *kind, const char *record, size_t len, char *err,
                   size_t errlen);

int64_t backlog_size(const struct backlog *b);   /* bytes in backlog.jsonl */
int64_t backlog_offset(const struct backlog *b); /* bytes acknowledged */
bool backlog_pending(const struct backlog *b);   /* offset < size */

/* The next upload: body is {"name":name,"records":[...]} with the records from the offset on,
 * at most max_records of them and at most about max_bytes of body (a single larger record goes
 * alone). records is 0 (and body NULL) when nothing is pending. Lines that are not JSON objects
 * (a file edited by hand) are skipped with a count in skipped. end is where the acknowledged
 * offset moves with backlog_ack. */
struct backlog_chunk {
    char *body; /* malloc'd, freed by backlog_chunk_free */
    size_t body_len;
    int records;
    int skipped;
    int64_t start, end;
    uint64_t generation; /* of the file it was read from (each cut starts a new one) */
};

int backlog_next_chunk(struct backlog *b, const char *name, int max_records, size_t max_bytes,
                       struct backlog_chunk *out, char *err, size_t errlen);
void backlog_chunk_free(struct backlog_chunk *c);

/* The server acknowledged chunk c: moves the offset to c->end, and when that is the end of the
 * file, empties the file and resets the offset to 0. A chunk read before a backlog_cut, or
 * that no longer starts at the current offset, is ignored (returns 1): it is sent again. Returns 0,
 * 1, or -1 with err when the offset could not be written (then it is unchanged: the chunk will be
 * sent again). */
int backlog_ack(struct backlog *b, const struct backlog_chunk *c, char *err, size_t errlen);

/* Keeps backlog.jsonl within cap bytes: when it is larger, rewrites it with only the records
 * not yet acknowledged and, if those are still over 3/4 of cap, without the oldest metric
 * records first and then the oldest diagnostics until they fit. The new file replaces the old
 * one by rename after the offset is reset. *dropped_metrics and *dropped_diagnostics say what
 * was lost. Returns 0 (also when nothing had to be done) or -1 with err (file unchanged). */
int backlog_cut(struct backlog *b, int64_t cap, int *dropped_metrics, int *dropped_diagnostics,
                char *err, size_t errlen);

#endif
