/* settings.h — the alerting settings: the flat ones (TELEGRAM_TOKEN, CHAT_ID, TELEGRAM_API_URL,
 * PUBLIC_URL) and the `channels:` and `routes:` sections of the --config file, read here into
 * plain data: the channel types (channel.h) interpret their instances' fields when the outbox
 * opens them, the router (router.h) the routes. Attached by the commands that send alerts or
 * talk to a channel (server, alert, telegram). */
#ifndef FAULTLINE_ALERT_SETTINGS_H
#define FAULTLINE_ALERT_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

#define ALERT_WHERE_MAX 192 /* "FILE:LINE:COLUMN: channels[2]" */

/* One field of a channel instance: a text, or a list (a YAML sequence of scalars; a mapping's
 * pairs become "key: value" items, as headers are written). ${NAME} in a text is replaced by
 * the environment variable NAME; a secret field may instead come from a file (KEY_file: PATH,
 * its content without the trailing newline). */
struct alert_channel_field {
    char *key;
    char *text;   /* a scalar's text; NULL for a list */
    char **items; /* a list's n_items texts */
    size_t n_items;
};

/* A named channel instance from `channels:` (or the Telegram channel of TELEGRAM_TOKEN and
 * CHAT_ID, made by the outbox). */
struct alert_channel_config {
    char *name, *type;
    struct alert_channel_field *fields;
    size_t n_fields;
    char where[ALERT_WHERE_MAX]; /* names it in errors found when it is opened */
};

/* One rule of `routes:`: a message that matches every condition given goes to channels. */
struct alert_route_config {
    unsigned kinds;      /* bit (1 << enum alert_kind) per kind allowed; 0: any */
    unsigned severities; /* bit (1 << enum alert_severity) per severity allowed; 0: any */
    char *name;          /* a glob (fnmatch) the message's name must match; NULL: any */
    struct alert_channel_field *labels; /* each: key and a glob its value must match */
    size_t n_labels;
    char **channels;
    size_t n_channels;
    /* group_wait and repeat_interval: this route's timing for the messages it sends, in ms
     * (0: at once / no reminders); ALERT_TIMING_GLOBAL: GROUP_WAIT and REPEAT_INTERVAL. */
    int64_t group_wait_ms, repeat_interval_ms;
    char where[ALERT_WHERE_MAX];
};

#define ALERT_TIMING_GLOBAL (-1)

/* Strings are owned by the config the table is attached to; NULL when unset. */
struct alert_settings {
    char *telegram_token;
    char *chat_id;
    char *telegram_api_url;
    char *public_url; /* PUBLIC_URL: links in messages point under it */
    struct alert_channel_config *channels; /* `channels:` */
    size_t n_channels;
    struct alert_route_config *routes; /* `routes:`; none: every message to every channel */
    size_t n_routes;
};

extern const struct config_table alert_settings_table;

/* The text of field key of ch, or NULL when it has none (or it is a list). */
const char *alert_channel_text(const struct alert_channel_config *ch, const char *key);
/* The field key of ch, or NULL. */
const struct alert_channel_field *alert_channel_field(const struct alert_channel_config *ch,
                                                      const char *key);

/* The channel "telegram" that TELEGRAM_TOKEN and CHAT_ID make (TELEGRAM_API_URL its url), into
 * out, whose fields (fields) and strings borrow from s. Returns 1 when they make one, 0 when
 * neither is set, -1 with err when only one is, or `channels:` has a channel of that name. */
int alert_settings_env_telegram(const struct alert_settings *s, struct alert_channel_config *out,
                                struct alert_channel_field fields[3], char *err, size_t errlen);

/* Whether v is a channel name: 1-63 letters, digits or ._- */
bool alert_channel_name_valid(const char *v);

#endif
