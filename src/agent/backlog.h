/* backlog.h — what the agent recorded while its heartbeats failed, kept in
 * DATA_DIR/logs/backlog.jsonl until the server has acknowledged it (docs/rca.md "Backlog
 * upload"). Each line is a metrics or diagnostics record with "kind" put first. backlog.offset
 * holds how many bytes of backlog.jsonl the server has acknowledged (decimal text, replaced
 * atomically: temporary file + rename). A record the server refuses (its 400 names it) is set
 * aside in backlog.rejected.jsonl, with the server's reason, so that it blocks nothing
 * (backlog_set_aside); that file rotates to .1 past BACKLOG_REJECTED_MAX bytes.
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
 * Threads: use a handle from one thread, the agent's loop. The one heavy operation, cutting the
 * file to size (up to LOG_MAX_MB * 30%), runs on the loop's thread pool (backlog_cut_start) as a
 * job that owns everything its worker touches; its result comes back on the loop thread.
 * backlog_free(NULL) is a no-op. */
#ifndef FAULTLINE_AGENT_BACKLOG_H
#define FAULTLINE_AGENT_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define BACKLOG_CHUNK_RECORDS 100
#define BACKLOG_CHUNK_BYTES (256 * 1024)
#define BACKLOG_REJECTED_MAX (1024 * 1024)

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
 * offset moves with backlog_ack. While a cut runs (backlog_cutting) there is no chunk: records
 * is 0. */
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
 * file, empties the file and resets the offset to 0. A chunk read before a cut (whose answer
 * comes while the cut runs or after it: the file it came from is replaced), or that no longer
 * starts at the current offset, is ignored (returns 1): it is sent again, and the server counts
 * its records as duplicates. Returns 0, 1, or -1 with err when the offset could not be written
 * (then it is unchanged: the chunk will be sent again). */
int backlog_ack(struct backlog *b, const struct backlog_chunk *c, char *err, size_t errlen);

/* The server refused chunk c because of its record number index (0 is the first record of
 * c->body; expected_id, when not NULL, is the id the server gave for it and must be that
 * record's). When that record is the first of c, appends {"time": now, "error": reason,
 * "record": the record} to backlog.rejected.jsonl and moves the offset past the record: returns
 * 0. When records come before it, changes nothing and returns 1: send those index records
 * first (backlog_next_chunk with max_records = index), then this one comes first. Also returns
 * 1, changing nothing, for a chunk backlog_ack would ignore. Returns -1 with err when index or
 * expected_id do not match the chunk or a file could not be written: nothing is set aside. */
int backlog_set_aside(struct backlog *b, const struct backlog_chunk *c, int index,
                      const char *expected_id, const char *reason, char *err, size_t errlen);

/* ---- cutting to size, on the thread pool ------------------------------------------------- */

/* What a cut did, handed to its callback on the loop thread; valid during the call only. */
struct backlog_cut_result {
    int rc;              /* 0, or -1 with err: the file and offset are as they were */
    int dropped_metrics; /* records the cut lost (0 when rc is -1) */
    int dropped_diagnostics;
    int64_t size_before; /* bytes in backlog.jsonl when the cut started */
    char err[256];
};

typedef void (*backlog_cut_cb)(const struct backlog_cut_result *r, void *ctx);

#define BACKLOG_CUT_NOT_NEEDED 1 /* backlog.jsonl is within cap: nothing started */
#define BACKLOG_CUT_BUSY 2       /* a cut is already running: refused, not queued */

/* Keeps backlog.jsonl within cap bytes. When it is larger, starts a cut on loop's thread pool
 * and returns 0; cb(result, ctx) then runs once, on the loop thread, when the cut is over. The
 * cut rewrites the records not yet acknowledged and, if those are still over 3/4 of cap, drops
 * the oldest metric records first and then the oldest diagnostics until they fit. Records
 * appended while it runs are kept: they are carried over to the new file, which replaces the
 * old one by rename after the offset is reset to 0 (a crash in between resends records, never
 * loses them).
 *
 * One cut at a time: while one runs (backlog_cutting), a second call returns BACKLOG_CUT_BUSY
 * and starts nothing (call again from cb if still needed); backlog_next_chunk gives no chunk and
 * backlog_ack ignores every chunk (see there). backlog_free during a cut abandons it: cb is not
 * called, the job deletes its temporary file when it is over, and the file stays as it was;
 * the loop must still run until then (as uv_loop_close requires anyway).
 *
 * Returns 0 (started), BACKLOG_CUT_NOT_NEEDED, BACKLOG_CUT_BUSY, or -1 with err (nothing
 * started, cb not called). */
int backlog_cut_start(struct backlog *b, uv_loop_t *loop, int64_t cap, backlog_cut_cb cb, void *ctx,
                      char *err, size_t errlen);

bool backlog_cutting(const struct backlog *b); /* a cut started and its cb has not run yet */

#endif
