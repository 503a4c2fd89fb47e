/* router.h — the one way into alerting: alert_route() takes an alert_message (model/alert.h)
 * and addresses it to channel instances, one outbox row per channel, for the caller to store in
 * the same transaction as the event that caused it and to hand to outbox_enqueue() once
 * committed (outbox.h). Which channels: those of every `routes:` rule that matches (every
 * channel when there are no routes) plus the ones the message names itself; a resolve goes to
 * exactly the channels that were told of its problem (by dedup key), once each, whatever routes
 * and silences say now. The told channels are remembered per dedup key in memory and come back
 * from the outbox table at a restart (alert_router_told). Each row carries its channel's timing
 * (group_wait, repeat_interval: of the routes that sent it there, else the defaults), and an
 * open problem is told again every repeat_interval (alert_router_remind) until its resolve.
 * Loop thread only.
 *
 * Use (the check engine does the same):
 *     struct alert_message msg = {.kind = ALERT_KIND_CHECK, .severity = ALERT_SEVERITY_CRITICAL,
 *                                 .name = "db-tcp", .subject = "db-tcp is CRITICAL",
 *                                 .text = text, .dedup_key = "check:db-tcp", .created_ms = now};
 *     struct alert_batch batch = {0};
 *     alert_route(router, &msg, &batch);
 *     store_append_messages(store, batch.rows, batch.n, done, ctx); // or with the event
 *     alert_batch_free(&batch);
 *     ... in done: outbox_enqueue(outbox, msgs, n);                  */
#ifndef FAULTLINE_ALERT_ROUTER_H
#define FAULTLINE_ALERT_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert/settings.h"
#include "model/alert.h"
#include "model/message.h"

#define ALERT_CHANNELS_MAX 64 /* channel instances one server may have */

struct alert_router;

/* HOOK for silences (src/alert/silence.h, wired by the server): silenced returns true when msg
 * is silenced at now_ms. A silenced message is not addressed (alert_batch.silenced counts it,
 * so the caller marks its event silenced); resolves are never asked about, so a problem that was
 * told and later silenced is still resolved everywhere it was told. */
struct alert_filters {
    bool (*silenced)(const struct alert_message *msg, int64_t now_ms, void *ctx);
    void *ctx;
};

/* A channel's timing for a message, in ms: how long its group gathers (0: sent at once) and how
 * often it is told again while open (0: never). */
struct alert_timing {
    int64_t group_wait_ms, repeat_interval_ms;
};

/* What alert_route addressed: rows (one per message and channel, with their own copies of the
 * text and fields) for the store, which copies them again, and each row's timing (timing[i]
 * for rows[i]). Start zeroed; free with alert_batch_free. */
struct alert_batch {
    struct outbox_record *rows;
    struct alert_timing *timing;
    size_t n, cap;
    size_t silenced; /* messages the filters held back */
};

/* channels: the names of the open channel instances (outbox_channel_names), borrowed for the
 * router's life; settings: its routes (borrowed too). Returns NULL with err set when a route
 * names a channel that does not exist or memory runs out. */
struct alert_router *alert_router_new(const struct alert_settings *settings,
                                      const char *const *channels, size_t n_channels, char *err,
                                      size_t errlen);
void alert_router_free(struct alert_router *router);

/* Sets (copies) the filters; NULL filters none. */
void alert_router_set_filters(struct alert_router *router, const struct alert_filters *filters);

/* The defaults (GROUP_WAIT, REPEAT_INTERVAL) for channels no route with its own names; both 0
 * until set. */
void alert_router_set_timing(struct alert_router *router, const struct alert_timing *defaults);

/* At start: rec's channel was told of the open problem rec->dedup_key at rec->created_ms, with
 * rec's text and fields (store_load_told_outbox's rows, the latest per problem and channel):
 * its resolve goes there, and its reminders go on from that time. An unknown channel (removed
 * from the configuration) is ignored. */
void alert_router_told(struct alert_router *router, const struct outbox_record *rec);

/* The open problem dedup_key is not reminded of any more (it is held back or flapping) until
 * its next message; its resolve still goes to every channel told. */
void alert_router_quiet(struct alert_router *router, const char *dedup_key);

/* Appends a reminder of every open problem whose repeat_interval has passed on a channel told
 * of it (since it was last told there), to those channels: its latest message, the text
 * prefixed "REMINDER (since ISO): ", the fields with "reminder": true and "since_ms". Silenced
 * problems are skipped. Call it every second or so. Returns the rows added, -1 when out of
 * memory. */
int alert_router_remind(struct alert_router *router, int64_t now_ms, struct alert_batch *batch);

/* Addresses msg (see above) and appends its rows to batch. Returns how many rows it added (0:
 * no channel, silenced, or a resolve nobody was told of), or -1 when out of memory (logged;
 * the batch keeps what it had). NULL router: 0. */
int alert_route(struct alert_router *router, const struct alert_message *msg,
                struct alert_batch *batch);

void alert_batch_free(struct alert_batch *batch);

/* How many problems have channels told of them and no resolve yet (tests, /metrics). */
size_t alert_router_open_problems(const struct alert_router *router);
/* Whether some channel was told of the problem dedup_key and had no resolve yet (NULL router:
 * false). */
bool alert_router_is_open(const struct alert_router *router, const char *dedup_key);

#endif
