/* channel.h — an alert channel type (telegram, slack, pagerduty, email, webhook, exec) is one
 * const table of functions plus one row in alert_channel_types (channels.c); the `channels:`
 * section makes named instances of them (settings.h). A channel turns a message into a delivery
 * attempt and reports the outcome; it never touches the store: the outbox (outbox.h) decides
 * about retries and records results. A channel that can change a
 * message it delivered (Telegram's editMessageText) says so with edit: corrections then replace
 * the text in place instead of arriving as new messages. */
#ifndef FAULTLINE_ALERT_CHANNEL_H
#define FAULTLINE_ALERT_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "alert/settings.h"
#include "base/httpc.h"
#include "model/alert.h"
#include "model/message.h"

enum alert_result {
    ALERT_SENT,     /* delivered */
    ALERT_RETRY,    /* not delivered; worth trying again later (network, 5xx, 429) */
    ALERT_REJECTED, /* refused for good (bad token, unknown chat): retrying cannot help */
};

struct alert_outcome {
    enum alert_result result;
    int64_t retry_after_ms; /* > 0 when the peer said how long to wait (Telegram 429) */
    char error[256];        /* what went wrong, for logs and the outbox row */
    char ref[CHANNEL_REF_MAX]; /* ALERT_SENT: the channel's id of the message in the chat
                                  (Telegram: message_id), for a later edit; "" when none */
};

/* One message for one channel, as the outbox hands it over; everything is borrowed for the call
 * to send (copy what the attempt needs). Text is plain: the channel escapes it for its format. */
struct alert_delivery {
    int64_t id;          /* the outbox row: stable across retries and restarts, so a duplicate
                          * after a crash carries the same idempotency key */
    int64_t event_id;    /* 0 when none */
    const char *text;    /* the whole message, plain text */
    const char *subject; /* one line; "" for rows stored before subjects existed */
    const char *name;    /* the worker, check or incident; "" when unknown */
    const char *link;    /* "" when PUBLIC_URL is unset */
    const char *dedup_key; /* "" for a one-off message */
    enum alert_kind kind;
    enum alert_severity severity;
    bool resolve;
    const char *fields_json; /* all of the above as a JSON object (templates, exec's stdin) */
};

typedef void (*alert_sent_cb)(const struct alert_outcome *outcome, void *ctx);

/* The fields an instance of a type may have (checked by the `channels:` reader, which names
 * file, line and column). */
enum alert_field_flags {
    ALERT_FIELD_REQUIRED = 1,
    ALERT_FIELD_SECRET = 2, /* may come from KEY_file; never shown in errors, logs or the API */
    ALERT_FIELD_LIST = 4,   /* a list of texts; a single text is a list of one */
    ALERT_FIELD_MAP = 8,    /* a mapping of texts, kept as "key: value" items (headers) */
};

struct alert_field_spec {
    const char *key;
    unsigned flags; /* enum alert_field_flags */
};

/* What an open channel may use for its lifetime: the loop and its HTTP client. */
struct alert_channel_env {
    uv_loop_t *loop;
    struct httpc *http;
};

struct alert_channel_type {
    /* MUST: short lower-case name, the `type:` of its instances ("telegram"). */
    const char *name;
    /* MUST: the fields its instances may have, besides name and type. */
    const struct alert_field_spec *fields;
    size_t n_fields;
    /* MUST: returns the state of instance cfg, or NULL with err set ("FIELD: ...", without
     * secret values) when a field is wrong. The state may keep env and cfg (which outlive it). */
    void *(*open)(const struct alert_channel_config *cfg, const struct alert_channel_env *env,
                  char *err, size_t errlen);
    /* MUST: sends msg; done runs exactly once, on the loop thread. */
    void (*send)(void *state, const struct alert_delivery *msg, alert_sent_cb done, void *ctx);
    /* MAY (NULL: the channel cannot edit): replaces the text of the message it delivered as ref
     * (alert_outcome.ref of that send) with text; done runs exactly once, on the loop thread,
     * with ref set again on success. */
    void (*edit)(void *state, const char *ref, const char *text, alert_sent_cb done, void *ctx);
    /* MAY (NULL: no pacing): the destination this instance sends to, as a key (a string the
     * state owns, valid until close; it may hold a secret such as a token, so it is compared,
     * never logged), with *gap_ms set to the least time between two sends there (Telegram: 1 s
     * per chat, 3 s per group; Slack 1 s per webhook; PagerDuty 0.5 s per routing key; email
     * 1 s per SMTP account). The outbox gives all instances of a type with the same key one
     * bucket of one token, refilled gap_ms after it is taken. */
    const char *(*destination)(void *state, int64_t *gap_ms);
    /* Whether messages the pace held back may be merged into one digest (not for PagerDuty,
     * where every event keeps its own dedup_key). */
    bool digest;
    /* MUST: frees the state. Not called while a send or edit is in flight. */
    void (*close)(void *state);
};

/* NULL-terminated registration table. */
extern const struct alert_channel_type *const alert_channel_types[];

/* ---- helpers the HTTP channels share (channels.c) ---- */

/* Sorts an HTTP answer into out: 2xx sent; 429 retry after Retry-After (or the default
 * backoff); 408, 425, 5xx and transport errors retry; 400, 401, 403, 404 and other 4xx are
 * refused for good. what names the peer in out->error ("slack: HTTP 404: no_service"); the
 * answer's first line is kept, never the URL (it may hold a secret). */
void alert_http_outcome(const struct httpc_response *res, const char *what,
                        struct alert_outcome *out);

/* Sends one HTTP request for a channel: done gets alert_http_outcome's verdict, on the loop
 * thread, exactly once. Everything is copied; the URL is never logged. */
void alert_http_send(struct httpc *http, const struct httpc_request *req, const char *what,
                     alert_sent_cb done, void *ctx);

/* The seconds in text ("10", "2.5") as ms into *ms, between 1 ms and 10 min; -1 otherwise. */
int alert_timeout_ms(const char *text, int64_t *ms);

/* The type called name, or NULL. */
const struct alert_channel_type *alert_channel_type_find(const char *name);

#endif
