/* group.h — grouping of alerts (docs/alerting.md#grouping). A group is a check's target (or its
 * tag set); the alerts of one group that come within wait_ms of the group's first are held.
 * Holding is durable: alert_groups_hold stamps the rows alert_route addressed with the group's
 * deadline (next_attempt_ms) and its key (a "group" field), and they are written with their
 * event like any row, so the outbox keeps them until the deadline (after a restart too) and
 * then sends the due rows of one group and channel as one message (alert_groups_merge_fields
 * names its subject). Problems and resolves are grouped apart. Loop thread only.
 *
 *     struct alert_groups *g = alert_groups_new(10000);
 *     alert_route(router, &msg, &batch);
 *     alert_groups_hold(g, "10.0.0.5:443", msg.resolve, clock_wall_ms(), &batch);
 *     store_append_event(store, NULL, &ev, batch.rows, batch.n, done, ctx); */
#ifndef FAULTLINE_ALERT_GROUP_H
#define FAULTLINE_ALERT_GROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert/router.h"

struct alert_groups;

/* wait_ms: for rows without a timing of their own. NULL when out of memory. */
struct alert_groups *alert_groups_new(int64_t wait_ms);
/* NULL: no-op. Held rows are in the store already: nothing is lost. */
void alert_groups_free(struct alert_groups *g);

/* Holds the rows of batch in group key (copied), with the problems or the resolves of it: each
 * row's next_attempt_ms becomes the group's deadline (its first member's now_ms + the wait) and
 * its fields gain "group": key. The wait is the row's group_wait (batch->timing, from its
 * route; a row whose wait is 0 goes at once), else wait_ms; rows of one key with different
 * waits are different groups. Returns 0, or -1 when out of memory (the rows then go at once,
 * ungrouped). */
int alert_groups_hold(struct alert_groups *g, const char *key, bool resolve, int64_t now_ms,
                      struct alert_batch *batch);

/* The fields of a message merging members (n of them) of group key: those of the first, with
 * the subject "3 alerts of KEY: a, b, c" (their "name" fields). A new reference; NULL when out
 * of memory. Pure; for tests too. */
json_t *alert_groups_merge_fields(json_t *const *members, size_t n, const char *key);

#endif
