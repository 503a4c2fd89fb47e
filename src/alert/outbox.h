/* outbox.h — delivers notifications that are already committed to the store's outbox. Each
 * configured channel sends its messages one at a time in id order; a failed attempt is retried
 * with exponential backoff (1 s doubling to 5 min), or after the wait the peer asked for (HTTP
 * 429 retry_after); channels that send to one destination (the same chat, webhook or routing
 * key) share its pace; every attempt's result is written back to the store. Messages pending at a
 * restart are loaded by the server and enqueued again, so nothing is lost. */
#ifndef FAULTLINE_ALERT_OUTBOX_H
#define FAULTLINE_ALERT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "alert/settings.h"
#include "store/store.h"

struct outbox;

/* Opens every configured channel. Returns NULL with err set when a channel is misconfigured; a
 * channel that is simply not configured is left out (and logged once). cfg must outlive it. */
struct outbox *outbox_new(uv_loop_t *loop, struct store *store,
                          const struct alert_settings *settings, char *err, size_t errlen);

/* The names of the open channel instances into names[0..max) (valid while box is open), for
 * the router (router.h); returns how many there are. NULL box: 0. */
size_t outbox_channel_names(const struct outbox *box, const char **names, size_t max);

/* Takes committed messages (copies them) and sends them. Messages for a channel that is not
 * configured are left pending in the store. */
void outbox_enqueue(struct outbox *box, const struct outbox_record *msgs, size_t n);

/* Number of messages not yet delivered (queued or waiting to retry). */
size_t outbox_pending(const struct outbox *box);

/* What one configured channel did since the server started (/metrics). */
struct outbox_channel_stats {
    const char *channel; /* the instance's name, valid while the outbox is open */
    size_t pending;      /* queued or waiting to retry */
    unsigned long long sent;   /* delivered (sent or edited) */
    unsigned long long failed; /* attempts that did not deliver (retried, or refused for good) */
};
/* Fills out with up to max channels; returns how many there are. NULL box: 0. */
size_t outbox_stats(const struct outbox *box, struct outbox_channel_stats *out, size_t max);

/* Stops sending (in-flight attempts are abandoned; they stay pending in the store), closes
 * channels and frees. NULL is a no-op. */
void outbox_close(struct outbox *box);

#endif
