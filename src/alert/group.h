/* group.h — grouping of alerts (docs/alerting.md#grouping): the rows alert_route addressed for
 * messages of one group (a check's target, or its tag set) that come within wait_ms of the
 * group's first are held, then handed to flush as one row per channel that lists them all
 * (problems and resolves are grouped apart). A group of one is handed on as it was. The rows
 * are written by flush, so a crash inside the wait loses the message (the events are already
 * written). Loop thread only.
 *
 *     struct alert_groups *g = alert_groups_new(loop, 10000, flush, ctx);
 *     alert_route(router, &msg, &batch);
 *     alert_groups_add(g, "10.0.0.5:443", msg.resolve, &batch); // takes the rows
 *     ... 10 s later: flush(rows, n, ctx) with one row per channel */
#ifndef FAULTLINE_ALERT_GROUP_H
#define FAULTLINE_ALERT_GROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "alert/router.h"

/* rows (n of them) are the group's, valid for the call only. */
typedef void (*alert_group_flush_fn)(const struct outbox_record *rows, size_t n, void *ctx);

struct alert_groups;

/* NULL when out of memory or the loop refuses the timer. */
struct alert_groups *alert_groups_new(uv_loop_t *loop, int64_t wait_ms, alert_group_flush_fn flush,
                                      void *ctx);
/* Flushes what is held, then frees (the timer closes on the next loop turn). NULL: no-op. */
void alert_groups_free(struct alert_groups *g);

/* Takes the rows of batch (left empty) into the group key (copied), with the problems or the
 * resolves of it. Returns 0, or -1 when out of memory (the rows are then flushed at once,
 * ungrouped). */
int alert_groups_add(struct alert_groups *g, const char *key, bool resolve,
                     struct alert_batch *batch);

/* Merges rows (n of them, of one group) into one row per channel, into out (cap n), listing
 * the members' names in the subject and their texts one per line. Returns how many rows; the merged rows own new
 * text and fields_json (free them). Pure; for tests too. */
size_t alert_groups_merge(const struct outbox_record *rows, size_t n, const char *key,
                          struct outbox_record *out);

#endif
