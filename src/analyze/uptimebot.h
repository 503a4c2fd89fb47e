/* uptimebot.h — the formats of the uptime-rca-bot's client scripts, read as faultline's own: the
 * worker names they send ("brickbox-43(4)", "brickbox-43(GPU_ERR)"), the lines of their
 * metrics.jsonl and diagnostics.jsonl (which are also the records of their recovery backlog),
 * and their three mtr shapes. Each bot record is mapped to the record faultline's agent writes
 * (docs/rca.md), so diagnose.h reads both alike. Used by the server's /ping route and by
 * `faultline analyze`. Pure functions: no I/O.
 *
 * The bot's shapes (docs/migration.md):
 *   metric      {"ts","worker","status":"ok"|"fail"|"gpu_error","http":"200","latency_ms",
 *                "error","consecutive_failures"}
 *   diagnostic  {"ts","worker","gateway":"10.0.0.1"|"none","gw_loss_pct","gw_avg_ms",
 *                "external_loss_pct","external_avg_ms","bot_loss_pct","bot_avg_ms","dns_ok",
 *                "dns_ms","tcp_port_ok","mtr":{...}} (older clients: "traceroute":"1:ADDR,2:*")
 *   mtr         `mtr -j`: {"report":{"mtr":{"dst",...},"hubs":[{"count","host","Loss%","Snt",
 *                "Avg","Best","Wrst"}]}}; parsed from `mtr -r`: {"ts","target","hops":[{"hop",
 *                "host","loss","avg"}]}; traceroute: {"ts","target","type":"traceroute",
 *                "hops":[{"hop","host","time"}]}; none ran: {"ts","target","error"}
 * Averages of -1 mean "no answer"; "???", "*" and "timeout" hosts are hops that did not answer. */
#ifndef FAULTLINE_ANALYZE_UPTIMEBOT_H
#define FAULTLINE_ANALYZE_UPTIMEBOT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "model/worker.h"

/* Splits a name as the bot's clients send it: "NAME(N)" is worker NAME with N GPUs (0-4096),
 * "NAME(GPU_ERR)" (or "NAME()", what a client sends when nvidia-smi prints no count) is NAME
 * whose GPU check failed (*gpus = WORKER_GPUS_FAILED), and a name without a "(...)" suffix is
 * itself with *gpus = 0. NAME must be a label (label.h). Returns 0, or -1 with err saying what
 * was expected ("worker: expected NAME(N) with N a whole number from 0 to 4096 or GPU_ERR, got
 * \"a(x)\""). name has room for WORKER_NAME_MAX + 1 bytes. */
int uptimebot_name_parse(const char *sent, char name[WORKER_NAME_MAX + 1], int *gpus, char *err,
                         size_t errlen);

/* Which of the bot's formats a JSON value is, told by its fields. */
enum uptimebot_format {
    UPTIMEBOT_NONE = 0,
    UPTIMEBOT_METRIC,     /* "ts" and "status" a string, with "http" or "consecutive_failures" */
    UPTIMEBOT_DIAGNOSTIC, /* "ts" and any of the *_loss_pct, "dns_ok" or "tcp_port_ok" */
    UPTIMEBOT_MTR,        /* "report" with "hubs", or "hops" whose hops have "hop" (an mtr file) */
};
enum uptimebot_format uptimebot_format_of(const json_t *j);

/* Maps one bot record (any format above) to faultline's: a new reference to
 *   metric      {"kind":"metric","id","time","ok","latency_ms","status","error","worker"}
 *   diagnostic  {"kind":"diagnostic","id","time","trigger","gateway","external","server",
 *                "tcp","dns","mtr","worker"} (an mtr file: a diagnostic with only "mtr")
 * "id" is "bot-" and 16 hex digits of a hash of the record's content, so the same record sent
 * twice maps to the same id; "mtr_id" is the same for the mtr object alone, so a copy of a
 * diagnosis' path in an mtr file can be told (both records have it). fallback_ms is the time of a
 * record without "ts" (an `mtr -j` file: the caller takes it from the file name); 0 makes "ts"
 * required. On a record that does not fit, returns NULL with field naming the member
 * ("gw_loss_pct", "mtr.hops[2].loss") and err "gw_loss_pct: expected a number from 0 to 100, got
 * \"x\"". */
json_t *uptimebot_record_map(const json_t *bot, int64_t fallback_ms, char *field, size_t fieldlen,
                             char *err, size_t errlen);

/* The time in the name of a bot's mtr file, "mtr_20261121_100005.json" (any folder before it),
 * read as UTC. Returns 0 and sets *ms, or -1 when the name has no such time. */
int uptimebot_mtr_file_time(const char *path, int64_t *ms);

#endif
