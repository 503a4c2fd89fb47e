/* model/message.h — a notification for one channel instance, kept in the outbox until it is
 * sent (or refused for good). The router (alert/router.h) makes one per message and channel. */
#ifndef FAULTLINE_MODEL_MESSAGE_H
#define FAULTLINE_MODEL_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "model/alert.h"

#define CHANNEL_NAME_MAX 64 /* a channel instance's name (channels: name:) and its NUL */
#define CHANNEL_REF_MAX 32

/* A notification waiting to be sent, or sent. */
struct outbox_record {
    int64_t id;       /* assigned by the store */
    int64_t event_id; /* the event it tells of, 0 if none */
    char channel[CHANNEL_NAME_MAX]; /* the channel instance's name ("telegram", "ops-slack") */
    const char *text;               /* plain text, escaped by the channel for its format */
    /* The message's other fields as a JSON object (kind, severity, resolve, name, subject,
     * labels, link, dedup_key); NULL for rows written before they existed. */
    const char *fields_json;
    char dedup_key[ALERT_KEY_MAX]; /* "" for a one-off message */
    bool resolve;                  /* it resolves the problem under dedup_key */
    int attempts;
    int64_t created_ms;
    int64_t next_attempt_ms; /* wall clock; 0 = now */
    /* A correction: the message (outbox id) whose text it replaces, edited in place where the
     * channel can; 0 for a new message. */
    int64_t replaces;
    /* The channel's id of the message in the chat ("" when not known): of this one once
     * delivered; of a correction, that of the message it replaces, which it edits. */
    char ref[CHANNEL_REF_MAX];
};

#endif
