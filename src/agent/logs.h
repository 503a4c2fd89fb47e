/* logs.h — the agent's own records under DATA_DIR/logs (format: docs/rca.md "Agent logs"):
 * metrics.jsonl and diagnostics.jsonl (rotated to .1), mtr/<time>.json, all kept together under
 * a byte budget (LOG_MAX_MB). backlog.jsonl (backlog.h) lives in the same folder, is built on
 * the same line writer, and its size is counted in the budget through agent_logs_enforce().
 *
 * Writing model: every call here does its file I/O at once, on the caller's thread (the agent's
 * loop). We chose plain synchronous appends over a writer thread because a record is one small
 * write(2) (a few hundred bytes, a diagnosis at most ~20 KiB) into the page cache, which costs
 * microseconds and never waits for the disk (no fsync); a queue and a thread would add more
 * latency to the loop than they save. The slower operations — rotation (one rename), mtr pruning
 * (unlink of the oldest files, whose list is kept in memory) — are rare and also short.
 *
 * Never half a line: each record is one write(2) of the whole line on an O_APPEND descriptor; a
 * short write (disk full) is cut back off at once; a file whose last byte is not '\n' (a crash
 * in the middle of a write) is truncated to its last newline when it is opened. mtr files are
 * written to a temporary name and renamed into place.
 *
 * Ownership: an agent_logs or jsonl handle owns its descriptors and memory; *_free(NULL) is a
 * no-op. Not thread-safe: use a handle from one thread. */
#ifndef FAULTLINE_AGENT_LOGS_H
#define FAULTLINE_AGENT_LOGS_H

#include <stddef.h>
#include <stdint.h>

/* Share of the budget at which metrics.jsonl and diagnostics.jsonl each rotate to .1 (so each
 * pair stays under twice this), and the share backlog.jsonl may use before it is cut. What is
 * left (at least 10%) is for mtr/ files, the oldest of which go first. */
#define LOGS_STREAM_SHARE_PCT 15
#define LOGS_BACKLOG_SHARE_PCT 30

#define LOGS_ID_MAX 48       /* "d-1763719200123-18446744073709551615" fits */
#define LOGS_MTR_NAME_MAX 48 /* "mtr/20261121T100000.123Z.json" */

/* ---- one append-only JSONL file ------------------------------------------------------------- */

struct jsonl;

/* Opens (creating, mode 0644) path for appending. A last line without its '\n' is cut off;
 * *repaired_bytes (may be NULL) says how many bytes that removed. NULL with err on failure. */
struct jsonl *jsonl_open(const char *path, int64_t *repaired_bytes, char *err, size_t errlen);
void jsonl_free(struct jsonl *f);

/* Appends text (one JSON value, len bytes, no newline in it) and '\n' with a single write(2).
 * Returns 0, or -1 with err set; on -1 the file is as it was before the call. */
int jsonl_append(struct jsonl *f, const char *text, size_t len, char *err, size_t errlen);

int64_t jsonl_size(const struct jsonl *f);
const char *jsonl_path(const struct jsonl *f);
int jsonl_fd(const struct jsonl *f);

/* Empties the file (ftruncate to 0). Returns 0 or -1 with err. */
int jsonl_truncate(struct jsonl *f, char *err, size_t errlen);

/* Renames the file to "<path>.1" (replacing an older one) and starts an empty file. Returns 0
 * or -1 with err (the handle then still appends to the old file). */
int jsonl_rotate(struct jsonl *f, char *err, size_t errlen);

/* Re-opens the file after something replaced it on disk (backlog compaction). 0 or -1. */
int jsonl_reopen(struct jsonl *f, char *err, size_t errlen);

/* ---- the agent's log folder ----------------------------------------------------------------- */

enum logs_stream { LOGS_METRICS = 0, LOGS_DIAGNOSTICS = 1 };

struct agent_logs;

/* Creates DATA_DIR/logs and logs/mtr as needed (like mkdir -p), opens and repairs the two
 * streams, lists the existing mtr files, and applies the budget (max_bytes, e.g. LOG_MAX_MB <<
 * 20) to what it found. start_wall_ms goes into every record id. NULL with err on failure. */
struct agent_logs *agent_logs_open(const char *data_dir, int64_t max_bytes, int64_t start_wall_ms,
                                   char *err, size_t errlen);
void agent_logs_free(struct agent_logs *l);

/* The logs folder ("<data_dir>/logs"), valid as long as the handle. */
const char *agent_logs_dir(const struct agent_logs *l);

/* The byte budget, and the size backlog.jsonl may reach before it must be cut. */
int64_t agent_logs_budget(const struct agent_logs *l);
int64_t agent_logs_backlog_cap(const struct agent_logs *l);

/* Writes the next record id for kind 'm' (metric) or 'd' (diagnostic): "m-<start ms>-<n>", n
 * counting from 1 separately for each kind. buf holds at least LOGS_ID_MAX bytes. */
void agent_logs_next_id(struct agent_logs *l, char kind, char *buf, size_t len);

/* Appends one record line to a stream; rotates it to .1 first when the line would take it past
 * its share. Returns 0 or -1 with err (the record is then not written). */
int agent_logs_append(struct agent_logs *l, enum logs_stream s, const char *line, size_t len,
                      char *err, size_t errlen);

/* "mtr/20261121T100000.123Z.json" for a wall time. buf holds at least LOGS_MTR_NAME_MAX. */
void agent_logs_mtr_name(int64_t wall_ms, char *buf, size_t len);

/* Writes logs/<name> (name from agent_logs_mtr_name) through a temporary file and a rename.
 * Returns 0 or -1 with err. */
int agent_logs_write_mtr(struct agent_logs *l, const char *name, const char *json, size_t len,
                         char *err, size_t errlen);

/* Brings the folder under the budget, counting other_bytes (backlog.jsonl) too: deletes the
 * oldest mtr files, then metrics.jsonl.1, then diagnostics.jsonl.1, until it fits. Returns how
 * many files it removed. */
int agent_logs_enforce(struct agent_logs *l, int64_t other_bytes);

/* What the files this handle knows of take now (streams, their .1 files, mtr files). */
int64_t agent_logs_total(const struct agent_logs *l);

#endif
